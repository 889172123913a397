package dev.lumen.models.replknet;

import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Conv2d;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.ops.Activations;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * The official code's conv_bn / conv_bn_relu: a bias-free Conv2d ("conv"), BatchNorm2d
 * ("bn") and optionally a ReLU ("nonlinear", no parameters). {@link #fuse()} folds the BN into
 * the conv, which then has a bias and no BN follows (the deploy form).
 */
final class ConvBn extends Module implements Layer {
    private final boolean relu;
    private final Generator gen;
    private Conv2d conv;
    private BatchNorm2d bn;

    /** padding is kernel / 2, dilation 1. */
    ConvBn(int in, int out, int kernel, int stride, int groups, boolean relu, Generator gen) {
        this.relu = relu;
        this.gen = gen;
        conv = registerModule("conv", conv(in, out, kernel, stride, groups, false, gen));
        bn = registerModule("bn", new BatchNorm2d(out));
    }

    static Conv2d conv(int in, int out, int kernel, int stride, int groups, boolean bias, Generator gen) {
        int p = kernel / 2;
        return new Conv2d(in, out, new int[] {kernel, kernel}, new int[] {stride, stride}, new int[] {p, p}, new int[] {1, 1}, groups, bias, gen);
    }

    /** The kernel and bias of conv then bn in eval mode (the conv's own when already fused). */
    Folded folded() {
        Folded f = Folded.of(conv);
        return bn == null ? f : f.thenBn(bn);
    }

    /** Replaces conv + bn by one conv with bias computing the same in eval mode; idempotent. */
    void fuse() {
        if (bn != null) replaceConv(folded());
    }

    /** Folds bn, a BN applied to this block's input, into the (1x1, unpadded) conv; fuses this block's own BN first. */
    void absorbInputBn(BatchNorm2d before) {
        replaceConv(folded().afterBn(before));
    }

    private void replaceConv(Folded f) {
        Conv2d fused = conv(conv.inChannels(), conv.outChannels(), conv.kernel()[0], conv.stride()[0], conv.groups(), true, gen);
        f.writeTo(fused);
        fused.train(isTraining());
        Surgery.removeChild(this, "conv");
        Surgery.removeChild(this, "bn");
        bn = null;
        conv = registerModule("conv", fused);
    }

    @Override
    public Tensor forward(Tensor x) {
        Tensor y = conv.forward(x);
        if (bn != null) return relu ? bn.forwardRelu(y) : bn.forward(y);
        return relu ? Activations.reluInplace(y) : y;
    }
}
