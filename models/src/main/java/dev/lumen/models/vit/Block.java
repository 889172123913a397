package dev.lumen.models.vit;

import dev.lumen.nn.Attention;
import dev.lumen.nn.DropPath;
import dev.lumen.nn.Layer;
import dev.lumen.nn.LayerNorm;
import dev.lumen.nn.Module;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * A pre-norm transformer encoder block, as timm's vision_transformer.Block:
 * x + dropPath(attn(norm1(x))), then x + dropPath(mlp(norm2(x))).
 */
final class Block extends Module implements Layer {
    private final LayerNorm norm1, norm2;
    private final Attention attn;
    private final Mlp mlp;
    private final DropPath dropPath1, dropPath2;

    Block(int dim, int heads, int mlpHidden, boolean qkvBias, double projDrop, double attnDrop, double dropPath, Generator gen) {
        norm1 = registerModule("norm1", new LayerNorm(dim, VisionTransformer.LN_EPS));
        attn = registerModule("attn", new Attention(dim, heads, qkvBias, attnDrop, projDrop));
        dropPath1 = registerModule("drop_path1", new DropPath(dropPath, true, gen));
        norm2 = registerModule("norm2", new LayerNorm(dim, VisionTransformer.LN_EPS));
        mlp = registerModule("mlp", new Mlp(dim, mlpHidden, projDrop));
        dropPath2 = registerModule("drop_path2", new DropPath(dropPath, true, gen));
    }

    double dropPathRate() { return dropPath1.p(); }

    @Override
    public Tensor forward(Tensor x) {
        x = x.add(dropPath1.forward(attn.forward(norm1.forward(x))));
        return x.add(dropPath2.forward(mlp.forward(norm2.forward(x))));
    }
}
