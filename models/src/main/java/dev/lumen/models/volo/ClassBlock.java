package dev.lumen.models.volo;

import dev.lumen.nn.LayerNorm;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.ops.Shaping;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.List;

/**
 * A class-attention block on [B, 1 + N, C]: the class token gets
 * cls + ClassAttention(norm1(x)) and then cls + Mlp(norm2(cls)); the other tokens pass unchanged.
 */
final class ClassBlock extends Module implements Layer {
    private final LayerNorm norm1, norm2;
    private final ClassAttention attn;
    private final Mlp mlp;

    ClassBlock(int dim, int heads, double mlpRatio, boolean qkvBias, Generator gen) {
        norm1 = registerModule("norm1", new LayerNorm(dim));
        attn = registerModule("attn", new ClassAttention(dim, heads, qkvBias, gen));
        norm2 = registerModule("norm2", new LayerNorm(dim));
        mlp = registerModule("mlp", new Mlp(dim, (int) (dim * mlpRatio), gen));
    }

    @Override
    public Tensor forward(Tensor x) {
        int n = x.shape(1);
        Tensor cls = x.narrow(1, 0, 1).add(attn.forward(norm1.forward(x)));
        cls = cls.add(mlp.forward(norm2.forward(cls)));
        return Shaping.cat(List.of(cls, x.narrow(1, 1, n - 1)), 1);
    }
}
