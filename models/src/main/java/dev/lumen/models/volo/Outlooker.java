package dev.lumen.models.volo;

import dev.lumen.nn.LayerNorm;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.ops.Regularization;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/** VOLO's first-stage block on [B, H, W, C]: x + OutlookAttention(norm1(x)), then x + Mlp(norm2(x)). */
final class Outlooker extends Module implements Layer {
    private final LayerNorm norm1, norm2;
    private final OutlookAttentionLayer attn;
    private final Mlp mlp;
    private final double dropPath;
    private final Generator gen;

    Outlooker(int dim, int heads, double mlpRatio, int kernel, int padding, int stride, boolean qkvBias, double dropPath, Generator gen) {
        this.dropPath = dropPath;
        this.gen = gen;
        norm1 = registerModule("norm1", new LayerNorm(dim));
        attn = registerModule("attn", new OutlookAttentionLayer(dim, heads, kernel, padding, stride, qkvBias, gen));
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
