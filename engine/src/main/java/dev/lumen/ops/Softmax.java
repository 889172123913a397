package dev.lumen.ops;

import dev.lumen.autograd.Autocast;
import dev.lumen.autograd.Autograd;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * softmax and log_softmax along any dim, shifted by the max for stability, with dedicated backward
 * kernels. Under {@link Autocast} 16-bit inputs compute in F32.
 */
public final class Softmax {
    private Softmax() {}

    public static Tensor softmax(Tensor x, int dim) { return run("softmax", Autocast.toF32(x), dim, false); }

    public static Tensor logSoftmax(Tensor x, int dim) { return run("log_softmax", Autocast.toF32(x), dim, true); }

    private static Tensor run(String name, Tensor x, int dim, boolean log) {
        if (!x.dtype().isFloating()) throw new IllegalArgumentException(name + ": needs a floating tensor, got " + x.dtype() + " " + Arrays.toString(x.shape()));
        int d = Shapes.wrapDim(dim, x.dim());
        Tensor out = Tensor.empty(x.dtype(), x.device(), x.shape());
        x.backend().reductions().softmax(x, d, log, out);
        return Autograd.record(name, out, g -> {
            Tensor gi = Tensor.empty(out.dtype(), out.device(), out.shape());
            out.backend().reductions().softmaxBackward(out, g.dtype() == out.dtype() ? g : g.to(out.dtype()), d, log, gi);
            return new Tensor[] {gi};
        }, x);
    }
}
