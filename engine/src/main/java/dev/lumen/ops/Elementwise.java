package dev.lumen.ops;

import dev.lumen.autograd.Autograd;
import dev.lumen.backend.ElementwiseKernels.Binary;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;

/** Element-wise arithmetic with broadcasting, and its gradient rules. */
public final class Elementwise {
    private Elementwise() {}

    private static Tensor binary(Binary op, Tensor a, Tensor b) {
        DType t = DType.promote(a.dtype(), b.dtype());
        Tensor ca = a.dtype() == t ? a : Views.cast(a, t);
        Tensor cb = b.dtype() == t ? b : Views.cast(b, t);
        Tensor out = Tensor.empty(t, a.device(), Shapes.broadcast(a.shape(), b.shape()));
        a.backend().elementwise().binary(op, ca, cb, out);
        return out;
    }

    public static Tensor add(Tensor a, Tensor b) {
        Tensor out = binary(Binary.ADD, a, b);
        int[] sa = a.shape(), sb = b.shape();
        return Autograd.record("add", out, g -> new Tensor[] {Reductions.sumTo(g, sa), Reductions.sumTo(g, sb)}, a, b);
    }

    public static Tensor sub(Tensor a, Tensor b) {
        Tensor out = binary(Binary.SUB, a, b);
        int[] sa = a.shape(), sb = b.shape();
        return Autograd.record("sub", out, g -> new Tensor[] {Reductions.sumTo(g, sa), Reductions.sumTo(neg(g), sb)}, a, b);
    }

    public static Tensor mul(Tensor a, Tensor b) {
        Tensor out = binary(Binary.MUL, a, b);
        int[] sa = a.shape(), sb = b.shape();
        return Autograd.record("mul", out, g -> new Tensor[] {
            a.requiresGrad() ? Reductions.sumTo(mul(g, b), sa) : null,
            b.requiresGrad() ? Reductions.sumTo(mul(g, a), sb) : null}, a, b);
    }

    public static Tensor div(Tensor a, Tensor b) {
        Tensor out = binary(Binary.DIV, a, b);
        int[] sa = a.shape(), sb = b.shape();
        return Autograd.record("div", out, g -> new Tensor[] {
            a.requiresGrad() ? Reductions.sumTo(div(g, b), sa) : null,
            b.requiresGrad() ? Reductions.sumTo(neg(div(mul(g, out), b)), sb) : null}, a, b);
    }

    /** alpha * x + beta. */
    public static Tensor affine(Tensor x, double alpha, double beta) {
        Tensor out = Tensor.empty(x.dtype(), x.device(), x.shape());
        x.backend().elementwise().affine(x, alpha, beta, out);
        return Autograd.record("affine", out, g -> new Tensor[] {affine(g, alpha, 0)}, x);
    }

    public static Tensor add(Tensor x, double s) { return affine(x, 1, s); }

    public static Tensor mul(Tensor x, double s) { return affine(x, s, 0); }

    public static Tensor neg(Tensor x) { return affine(x, -1, 0); }

    /** dst += alpha * src, in place and not recorded: for gradient accumulation and optimizers. */
    public static void addInPlace(Tensor dst, Tensor src, double alpha) {
        if (Autograd.needsGrad(dst)) throw new IllegalStateException("in-place add on a tensor that requires grad");
        Tensor s = src.dtype() == dst.dtype() ? src : Views.cast(src, dst.dtype());
        dst.backend().elementwise().addInPlace(dst, s, alpha);
        if (s != src) s.close();
    }
}
