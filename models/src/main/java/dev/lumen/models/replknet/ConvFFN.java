package dev.lumen.models.replknet;

import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.DropPath;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.ops.Activations;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * The convolutional feed-forward block: x + drop_path(pw2(gelu(pw1(preffn_bn(x))))), 1x1
 * conv_bn layers to channels * ffn_ratio and back (a transformer MLP with BN in place of LN).
 */
final class ConvFFN extends Module implements Layer {
    private final ConvBn pw1, pw2;
    private BatchNorm2d preffnBn;
    private final DropPath dropPath;

    ConvFFN(int channels, int hidden, double dropPath, Generator gen) {
        // registration order as the official __init__
        this.dropPath = dropPath > 0 ? registerModule("drop_path", new DropPath(dropPath, true, gen)) : null;
        preffnBn = registerModule("preffn_bn", new BatchNorm2d(channels));
        pw1 = registerModule("pw1", new ConvBn(channels, hidden, 1, 1, 1, false, gen));
        pw2 = registerModule("pw2", new ConvBn(hidden, channels, 1, 1, 1, false, gen));
    }

    /** Folds pw1's and pw2's BNs into their convs and the pre-BN into pw1 (1x1, no padding: exact). */
    void fuseBatchNorms() {
        pw2.fuse();
        if (preffnBn != null) {
            pw1.absorbInputBn(preffnBn);
            Surgery.removeChild(this, "preffn_bn");
            preffnBn = null;
        }
    }

    @Override
    public Tensor forward(Tensor x) {
        Tensor y = preffnBn == null ? x : preffnBn.forward(x);
        y = pw2.forward(Activations.gelu(pw1.forward(y)));
        return x.add(dropPath == null ? y : dropPath.forward(y));
    }
}
