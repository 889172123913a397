package dev.lumen.models.replknet;

import dev.lumen.nn.Conv2d;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * The large depth-wise kernel with its parallel small kernel: in training form
 * lkb_origin (k x k depth-wise conv_bn) plus small_conv (the small depth-wise conv_bn, e.g.
 * 5x5; absent for RepLKNet-XL), summed; the small branch helps the large kernel optimize. In
 * deploy form one k x k depth-wise conv with bias, lkb_reparam, computes the same in eval mode:
 * {@link #mergeKernel()} folds both BNs and adds the small kernel, zero-padded, to the centre
 * of the large one. Padding is k / 2, so the map size is kept at any input size: taps that
 * fall outside a small map read zeros.
 */
final class ReparamLargeKernelConv extends Module implements Layer {
    private final int channels, kernel;
    private final Generator gen;
    private ConvBn lkbOrigin, smallConv;
    private Conv2d lkbReparam;

    /**
     * @param smallKernel the parallel kernel's size, or 0 for none
     * @param merged      build the deploy form directly (official small_kernel_merged=True), for its checkpoints
     */
    ReparamLargeKernelConv(int channels, int kernel, int smallKernel, boolean merged, Generator gen) {
        if (smallKernel > kernel || (smallKernel > 0 && (kernel - smallKernel) % 2 != 0)) {
            throw new IllegalArgumentException("ReparamLargeKernelConv: small kernel " + smallKernel + " must be <= the large kernel "
                    + kernel + " with an even difference (it is centred in it)");
        }
        this.channels = channels;
        this.kernel = kernel;
        this.gen = gen;
        if (merged) {
            lkbReparam = registerModule("lkb_reparam", ConvBn.conv(channels, channels, kernel, 1, channels, true, gen));
        } else {
            lkbOrigin = registerModule("lkb_origin", new ConvBn(channels, channels, kernel, 1, channels, false, gen));
            if (smallKernel > 0) smallConv = registerModule("small_conv", new ConvBn(channels, channels, smallKernel, 1, channels, false, gen));
        }
    }

    boolean isMerged() { return lkbReparam != null; }

    /** Switches to the deploy form (official merge_kernel); idempotent. */
    void mergeKernel() {
        if (lkbReparam != null) return;
        Folded f = lkbOrigin.folded();
        if (smallConv != null) f = f.plusCentered(smallConv.folded());
        Conv2d merged = ConvBn.conv(channels, channels, kernel, 1, channels, true, gen);
        f.writeTo(merged);
        merged.train(isTraining());
        Surgery.removeChild(this, "lkb_origin");
        Surgery.removeChild(this, "small_conv");
        lkbOrigin = null;
        smallConv = null;
        lkbReparam = registerModule("lkb_reparam", merged);
    }

    @Override
    public Tensor forward(Tensor x) {
        if (lkbReparam != null) return lkbReparam.forward(x);
        Tensor y = lkbOrigin.forward(x);
        return smallConv == null ? y : y.add(smallConv.forward(x));
    }
}
