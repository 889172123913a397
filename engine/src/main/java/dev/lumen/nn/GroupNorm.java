package dev.lumen.nn;

import dev.lumen.ops.Normalization;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/** Group normalization of [N, C, ...] over groups of channels, as torch's nn.GroupNorm: weight and bias [C]. */
public class GroupNorm extends Module implements Layer {
    private final int groups, channels;
    private final double eps;

    public GroupNorm(int groups, int channels) { this(groups, channels, 1e-5, true); }

    public GroupNorm(int groups, int channels, double eps, boolean affine) {
        if (groups <= 0 || channels <= 0 || channels % groups != 0) {
            throw new IllegalArgumentException("GroupNorm: channels " + channels + " must be divisible by groups " + groups);
        }
        this.groups = groups;
        this.channels = channels;
        this.eps = eps;
        if (affine) {
            registerParameter("weight", Tensor.ones(channels));
            registerParameter("bias", Tensor.zeros(channels));
        }
    }

    public Tensor weight() { return paramOrNull("weight"); }

    public Tensor bias() { return paramOrNull("bias"); }

    @Override
    public Tensor forward(Tensor x) {
        if (x.dim() < 2 || x.shape(1) != channels) {
            throw new IllegalArgumentException("GroupNorm(" + groups + ", " + channels + "): expects input [N, " + channels + ", ...], got "
                    + Arrays.toString(x.shape()));
        }
        return Normalization.groupNorm(x, groups, weight(), bias(), eps);
    }

    @Override
    public String toString() { return "GroupNorm(" + groups + ", " + channels + ", eps=" + eps + ")"; }
}
