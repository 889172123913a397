package dev.lumen.nn;

import dev.lumen.memory.Scope;
import dev.lumen.ops.Convolution;
import dev.lumen.ops.Elementwise;
import dev.lumen.tensor.Tensor;

/**
 * Conv2d, then BatchNorm2d, then optionally ReLU, the unit of the ResNet family. At inference
 * (BatchNorm in eval mode with running statistics, grad off, a backend with a fused inference
 * convolution: the CPU with oneDNN, F32) it runs as ONE convolution with the BatchNorm folded
 * into its weights, as torch.jit.freeze, oneDNN graph and TensorRT do:
 * s = gamma / sqrt(var + eps), w' = w * s[o], b' = (b - mean) * s + beta, ReLU as the
 * convolution's post-op. That saves BatchNorm's and ReLU's passes over the activation.
 * The folded weights are computed on every call (a few MB per layer against tens of MB of
 * activations at batch 32), so there is nothing to invalidate when parameters or running
 * statistics change. Everything else (training, grad on, CUDA, oneDNN off, F64, autocast) runs
 * the conv, then BatchNorm with ReLU fused ({@link BatchNorm2d#forwardRelu}).
 */
public final class ConvBnAct {
    private ConvBnAct() {}

    /** relu(bn(conv(x))) (without the relu when relu is false); state-dict names stay those of conv and bn. */
    public static Tensor apply(Conv2d conv, BatchNorm2d bn, boolean relu, Tensor x) { return apply(conv, bn, relu, x, false); }

    /**
     * As {@link #apply(Conv2d, BatchNorm2d, boolean, Tensor)}; with channelsLast the folded
     * convolution writes its output channels-last where its kernel computes in that layout
     * ({@link Convolution#conv2dInference(Tensor, Tensor, Tensor, int[], int[], int[], int, boolean, boolean)}):
     * for a chain of these units whose other steps read any layout at full speed (ResNet's
     * bottleneck: the units and the residual add_relu).
     */
    public static Tensor apply(Conv2d conv, BatchNorm2d bn, boolean relu, Tensor x, boolean channelsLast) {
        if (!folds(conv, bn, x)) {
            Tensor y = conv.forward(x);
            return relu ? bn.forwardRelu(y) : bn.forward(y);
        }
        Tensor w, b;
        try (Scope fold = Scope.openReleasing()) {
            Tensor scale = Elementwise.rsqrt(bn.runningVar().add(bn.eps()));
            if (bn.weight() != null) scale = scale.mul(bn.weight());
            // As [O, C/g*kh*kw] rows times one value each: long rows, where [O, C, kh, kw] * [O, 1, 1, 1]
            // broadcasts over rows of kw values (one for a 1x1), a loop per element that showed in the step time.
            Tensor weight = conv.weight();
            w = weight.reshape(conv.outChannels(), -1).mul(scale.reshape(conv.outChannels(), 1)).reshape(weight.shape());
            b = (conv.bias() == null ? bn.runningMean().neg() : conv.bias().sub(bn.runningMean())).mul(scale);
            if (bn.bias() != null) b = b.add(bn.bias());
            fold.keep(w);
            fold.keep(b);
        }
        try {
            return Convolution.conv2dInference(x, w, b, conv.stride(), conv.padding(), conv.dilation(), conv.groups(), relu, channelsLast);
        } finally {
            w.release();
            b.release();
        }
    }

    /**
     * Whether {@link #apply} folds for x: bn in eval mode with running statistics sized to the
     * conv's output, every tensor of x's dtype, and {@link Convolution#hasConv2dInference}
     * (grad off, no autocast, a fused kernel on x's backend).
     */
    public static boolean folds(Conv2d conv, BatchNorm2d bn, Tensor x) {
        if (bn.isTraining() || !bn.trackRunningStats() || bn.numFeatures() != conv.outChannels()) return false;
        var t = x.dtype();
        if (conv.weight().dtype() != t || bn.runningMean().dtype() != t || bn.runningVar().dtype() != t) return false;
        if (conv.bias() != null && conv.bias().dtype() != t) return false;
        if (bn.weight() != null && bn.weight().dtype() != t || bn.bias() != null && bn.bias().dtype() != t) return false;
        return Convolution.hasConv2dInference(x, conv.weight(), conv.groups());
    }
}
