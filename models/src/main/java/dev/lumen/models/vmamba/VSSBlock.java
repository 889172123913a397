package dev.lumen.models.vmamba;

import dev.lumen.nn.DropPath;
import dev.lumen.nn.Layer;
import dev.lumen.nn.LayerNorm2d;
import dev.lumen.nn.Module;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * The visual state-space block, pre-norm residual: x + drop_path(op(norm(x))), then, where
 * mlp_ratio > 0 (v2), x + drop_path(mlp(norm2(x))). The v0 blocks have no MLP.
 */
final class VSSBlock extends Module implements Layer {
    private final LayerNorm2d norm, norm2;
    private final SS2D op;
    private final DropPath dropPath;
    private final Mlp mlp;

    VSSBlock(int dim, VMamba.Config c, double dropPath, Generator gen) {
        norm = registerModule("norm", new LayerNorm2d(dim, 1e-5));
        op = registerModule("op", new SS2D(dim, c.dState(), c.ssmRatio(), c.dtRank(dim), c.ssmConv(), c.convBias(), c.gated(), gen));
        this.dropPath = registerModule("drop_path", new DropPath(dropPath, true, gen));
        if (c.mlpRatio() > 0) {
            norm2 = registerModule("norm2", new LayerNorm2d(dim, 1e-5));
            mlp = registerModule("mlp", new Mlp(dim, (int) (dim * c.mlpRatio()), gen));
        } else {
            norm2 = null;
            mlp = null;
        }
    }

    @Override
    public Tensor forward(Tensor x) {
        x = x.add(dropPath.forward(op.forward(norm.forward(x))));
        if (mlp != null) x = x.add(dropPath.forward(mlp.forward(norm2.forward(x))));
        return x;
    }
}
