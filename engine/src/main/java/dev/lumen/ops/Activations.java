package dev.lumen.ops;

import dev.lumen.autograd.Autocast;
import dev.lumen.autograd.Autograd;
import dev.lumen.backend.ElementwiseKernels.Unary;
import dev.lumen.tensor.ChannelsLast;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * Activation functions as PyTorch defines them. Each runs one forward kernel and, in
 * backward, one dedicated derivative kernel (no chains of small ops).
 */
public final class Activations {
    private Activations() {}

    /** max(x, 0). Its backward reads the output (out > 0 exactly where x > 0), so x itself is not kept for backward. */
    public static Tensor relu(Tensor x) {
        Tensor out = ChannelsLast.emptyLike(x);
        x.backend().elementwise().unary(Unary.RELU, x, 0, 0, out);
        return recordRelu(out, x);
    }

    /**
     * torch's relu_ (nn.ReLU(inplace=True)): max(x, 0) written over x's memory when nothing else
     * can see it (no other view of its storage, not saved by any autograd node, made inside a scope,
     * not a leaf that requires grad); x is then consumed: the result takes its memory and reading x again is an
     * error. Otherwise it is {@link #relu(Tensor)}, leaving x as it was.
     */
    public static Tensor reluInplace(Tensor x) {
        if (!InPlace.canOverwrite(x)) return relu(x);
        Tensor out = x.viewOf(x.shape(), x.strides(), x.offset());
        x.backend().elementwise().unary(Unary.RELU, x, 0, 0, out);
        x.release();
        return recordRelu(out, x);
    }

    /**
     * relu(a + b), the residual join of ResNet's blocks (timm's {@code x += shortcut; x = act3(x)}),
     * in one kernel pass where the backend has one: the values, gradients and saved tensors of add
     * then relu_ (the node keeps only the output, for ReLU's mask). The result goes over a where
     * {@link #reluInplace} could overwrite it, consuming a, as timm's {@code x += shortcut} writes
     * over the block's last BN output; b, the shortcut, is the caller's and is never written.
     * Operands that broadcast or differ in dtype run add then relu_.
     */
    public static Tensor addRelu(Tensor a, Tensor b) {
        if (a.dtype() != b.dtype() || !Arrays.equals(a.shape(), b.shape())) return reluInplace(Elementwise.add(a, b));
        Devices.common("add_relu", a, b);
        boolean over = InPlace.canOverwrite(a);
        Tensor out = over ? a.viewOf(a.shape(), a.strides(), a.offset()) : ChannelsLast.emptyLike(a);
        a.backend().elementwise().addRelu(a, b, out);
        if (over) a.release();
        return Autograd.record("add_relu", out, g -> {
            Tensor masked = Elementwise.unaryBackward(Unary.RELU, out, 0, 0, g);
            return new Tensor[] {masked, masked};
        }, a, b);
    }

    private static Tensor recordRelu(Tensor out, Tensor x) {
        return Autograd.record("relu", out, g -> new Tensor[] {Elementwise.unaryBackward(Unary.RELU, out, 0, 0, g)}, x);
    }

    /** x * Phi(x) with the exact (erf) normal CDF: torch's gelu(approximate='none'). */
    public static Tensor gelu(Tensor x) { return Elementwise.unary("gelu", Unary.GELU, x, 0, 0, true); }

    /** 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): torch's gelu(approximate='tanh'). */
    public static Tensor geluTanh(Tensor x) { return Elementwise.unary("gelu_tanh", Unary.GELU_TANH, x, 0, 0, true); }

    /** x * sigmoid(x), also called swish. */
    public static Tensor silu(Tensor x) { return Elementwise.unary("silu", Unary.SILU, x, 0, 0, true); }

    public static Tensor sigmoid(Tensor x) { return Elementwise.unary("sigmoid", Unary.SIGMOID, x, 0, 0, true); }

    public static Tensor tanh(Tensor x) { return Elementwise.unary("tanh", Unary.TANH, x, 0, 0, true); }

    /** log(1 + exp(beta x)) / beta, and x itself where beta x > threshold; under {@link Autocast} in F32, as PyTorch's. */
    public static Tensor softplus(Tensor x, double beta, double threshold) {
        return Elementwise.unary("softplus", Unary.SOFTPLUS, Autocast.toF32(x), beta, threshold, true);
    }

    /** softplus with torch's defaults beta = 1, threshold = 20. */
    public static Tensor softplus(Tensor x) { return softplus(x, 1, 20); }

    /** x where x > 0, else slope * x. */
    public static Tensor leakyRelu(Tensor x, double slope) { return Elementwise.unary("leaky_relu", Unary.LEAKY_RELU, x, slope, 0, true); }

    /** leakyRelu with torch's default slope 0.01. */
    public static Tensor leakyRelu(Tensor x) { return leakyRelu(x, 0.01); }

    /** relu6(x + 3) / 6. */
    public static Tensor hardSigmoid(Tensor x) { return Elementwise.unary("hardsigmoid", Unary.HARD_SIGMOID, x, 0, 0, true); }

    /** x * relu6(x + 3) / 6. */
    public static Tensor hardSwish(Tensor x) { return Elementwise.unary("hardswish", Unary.HARD_SWISH, x, 0, 0, true); }
}
