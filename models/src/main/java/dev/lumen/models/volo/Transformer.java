package dev.lumen.models.volo;

import dev.lumen.nn.Attention;
import dev.lumen.nn.LayerNorm;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.ops.Regularization;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * VOLO's second-stage block: pre-norm multi-head self-attention (attn.qkv without bias,
 * attn.proj) and Mlp, each residual. It runs on tokens [B, N, C]; the official module takes
 * [B, H, W, C] and flattens the grid inside the attention, which is the same computation.
 */
final class Transformer extends Module implements Layer {
    private final LayerNorm norm1, norm2;
    private final Attention attn;
    private final Mlp mlp;
    private final double dropPath;
    private final Generator gen;

    Transformer(int dim, int heads, double mlpRatio, boolean qkvBias, double dropPath, Generator gen) {
        this.dropPath = dropPath;
        this.gen = gen;
        norm1 = registerModule("norm1", new LayerNorm(dim));
        attn = registerModule("attn", new Attention(dim, heads, qkvBias, 0, 0));
        Layers.init(attn.qkv(), gen);
        Layers.init(attn.proj(), gen);
        norm2 = registerModule("norm2", new LayerNorm(dim));
        mlp = registerModule("mlp", new Mlp(dim, (int) (dim * mlpRatio), gen));
    }

    @Override
    public Tensor forward(Tensor x) {
        x = x.add(drop(attn.forward(norm1.forward(x))));
        return x.add(drop(mlp.forward(norm2.forward(x))));
    }

    private Tensor drop(Tensor y) { return dropPath > 0 ? Regularization.dropPath(y, dropPath, isTraining(), gen, true) : y; }
}
