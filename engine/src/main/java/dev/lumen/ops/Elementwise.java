package dev.lumen.ops;

import dev.lumen.autograd.Autocast;
import dev.lumen.autograd.Autograd;
import dev.lumen.backend.ElementwiseKernels.Binary;
import dev.lumen.backend.ElementwiseKernels.Compare;
import dev.lumen.backend.ElementwiseKernels.Unary;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * Element-wise arithmetic, math functions, comparisons and selection with broadcasting and
 * PyTorch's dtype promotion (F16 with F32 computes in F32), and their gradient rules. Under
 * {@link Autocast}, exp, log, pow, rsqrt and reciprocal compute 16-bit inputs in F32.
 */
public final class Elementwise {
    private Elementwise() {}

    private static Tensor as(Tensor x, DType t) { return x.dtype() == t ? x : Views.cast(x, t); }

    /** The broadcast shape of a and b, or an error that names the op. */
    private static int[] broadcast(String op, int[] a, int[] b) {
        try {
            return Shapes.broadcast(a, b);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(op + ": " + e.getMessage(), e);
        }
    }

    private static Tensor binary(Binary op, Tensor a, Tensor b) {
        Devices.common(op.name().toLowerCase(java.util.Locale.ROOT), a, b);
        DType t = DType.promote(a.dtype(), b.dtype());
        // True division and real powers of integers give floats, as in PyTorch.
        if ((op == Binary.DIV || op == Binary.POW) && !t.isFloating()) t = DType.F32;
        Tensor ca = as(a, t), cb = as(b, t);
        Tensor out = Tensor.empty(t, a.device(), broadcast(op.name().toLowerCase(java.util.Locale.ROOT), a.shape(), b.shape()));
        a.backend().elementwise().binary(op, ca, cb, out);
        return out;
    }

    // ------------------------------------------------------------------ arithmetic

    public static Tensor add(Tensor a, Tensor b) {
        Tensor out = binary(Binary.ADD, a, b);
        int[] sa = a.shape(), sb = b.shape();
        return Autograd.record("add", out, g -> new Tensor[] {Reductions.sumTo(g, sa), Reductions.sumTo(g, sb)}, a, b);
    }

    public static Tensor sub(Tensor a, Tensor b) {
        Tensor out = binary(Binary.SUB, a, b);
        int[] sa = a.shape(), sb = b.shape();
        return Autograd.record("sub", out, g -> new Tensor[] {
            a.requiresGrad() ? Reductions.sumTo(g, sa) : null,
            b.requiresGrad() ? Reductions.sumTo(neg(g), sb) : null}, a, b);
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

    /** a ** b with broadcasting. */
    public static Tensor pow(Tensor a, Tensor b) { return binaryWithKernelGrad("pow", Binary.POW, Autocast.toF32(a), Autocast.toF32(b)); }

    /** Element-wise maximum; where a == b each side gets half the gradient, as in PyTorch. */
    public static Tensor maximum(Tensor a, Tensor b) { return binaryWithKernelGrad("maximum", Binary.MAXIMUM, a, b); }

    /** Element-wise minimum; ties split the gradient in half. */
    public static Tensor minimum(Tensor a, Tensor b) { return binaryWithKernelGrad("minimum", Binary.MINIMUM, a, b); }

    private static Tensor binaryWithKernelGrad(String name, Binary op, Tensor a, Tensor b) {
        Tensor out = binary(op, a, b);
        DType t = out.dtype();
        int[] sa = a.shape(), sb = b.shape();
        return Autograd.record(name, out, g -> {
            Tensor ca = as(a, t), cb = as(b, t);
            Tensor ga = a.requiresGrad() ? Tensor.empty(t, g.device(), g.shape()) : null;
            Tensor gb = b.requiresGrad() ? Tensor.empty(t, g.device(), g.shape()) : null;
            g.backend().elementwise().binaryBackward(op, ca, cb, g, ga, gb);
            return new Tensor[] {ga == null ? null : Reductions.sumTo(ga, sa), gb == null ? null : Reductions.sumTo(gb, sb)};
        }, a, b);
    }

    /** alpha * x + beta. */
    public static Tensor affine(Tensor x, double alpha, double beta) {
        Tensor out = Tensor.empty(x.dtype(), x.device(), x.shape());
        x.backend().elementwise().affine(x, alpha, beta, out);
        return Autograd.record("affine", out, g -> new Tensor[] {affine(g, alpha, 0)}, x);
    }

    public static Tensor add(Tensor x, double s) { return affine(x, 1, s); }

    public static Tensor sub(Tensor x, double s) { return affine(x, 1, -s); }

    /** s - x. */
    public static Tensor sub(double s, Tensor x) { return affine(x, -1, s); }

    public static Tensor mul(Tensor x, double s) { return affine(x, s, 0); }

    public static Tensor div(Tensor x, double s) { return affine(floating(x), 1 / s, 0); }

    public static Tensor neg(Tensor x) { return affine(x, -1, 0); }

    // ------------------------------------------------------------------ unary math

    private static Tensor floating(Tensor x) { return x.dtype().isFloating() ? x : Views.cast(x, DType.F32); }

    /**
     * Applies a unary kernel and records its dedicated backward kernel. Integer inputs of
     * ops that only make sense in floating point are converted to F32 first, as in PyTorch.
     */
    static Tensor unary(String name, Unary op, Tensor x, double p0, double p1, boolean floatOnly) {
        Tensor in = floatOnly ? floating(x) : x;
        Tensor out = Tensor.empty(in.dtype(), in.device(), in.shape());
        in.backend().elementwise().unary(op, in, p0, p1, out);
        return Autograd.record(name, out, g -> new Tensor[] {unaryBackward(op, in, p0, p1, g)}, in);
    }

    /** gradOut * f'(x) for the unary op f, by the backward kernel. */
    static Tensor unaryBackward(Unary op, Tensor x, double p0, double p1, Tensor gradOut) {
        Tensor g = as(gradOut, x.dtype());
        Tensor gi = Tensor.empty(x.dtype(), x.device(), x.shape());
        x.backend().elementwise().unaryBackward(op, x, p0, p1, g, gi);
        return gi;
    }

    public static Tensor exp(Tensor x) { return unary("exp", Unary.EXP, Autocast.toF32(x), 0, 0, true); }

    public static Tensor log(Tensor x) { return unary("log", Unary.LOG, Autocast.toF32(x), 0, 0, true); }

    public static Tensor sqrt(Tensor x) { return unary("sqrt", Unary.SQRT, x, 0, 0, true); }

    public static Tensor rsqrt(Tensor x) { return unary("rsqrt", Unary.RSQRT, Autocast.toF32(x), 0, 0, true); }

    public static Tensor abs(Tensor x) { return unary("abs", Unary.ABS, x, 0, 0, false); }

    public static Tensor square(Tensor x) { return unary("square", Unary.SQUARE, x, 0, 0, false); }

    public static Tensor reciprocal(Tensor x) { return unary("reciprocal", Unary.RECIPROCAL, Autocast.toF32(x), 0, 0, true); }

    /** x ** exponent; the gradient at exponent 0 is 0, as in PyTorch. */
    public static Tensor pow(Tensor x, double exponent) { return unary("pow", Unary.POW, Autocast.toF32(x), exponent, 0, true); }

    /**
     * min(max(x, min), max); a NaN bound means no bound on that side. The gradient is 1 where
     * min <= x <= max and 0 outside, as torch.clamp's.
     */
    public static Tensor clamp(Tensor x, double min, double max) { return unary("clamp", Unary.CLAMP, x, min, max, false); }

    public static Tensor clampMin(Tensor x, double min) { return clamp(x, min, Double.NaN); }

    public static Tensor clampMax(Tensor x, double max) { return clamp(x, Double.NaN, max); }

    // ------------------------------------------------------------------ comparison and selection

    private static Tensor compare(Compare op, Tensor a, Tensor b) {
        Devices.common(op.name().toLowerCase(java.util.Locale.ROOT), a, b);
        DType t = DType.promote(a.dtype(), b.dtype());
        Tensor out = Tensor.empty(DType.BOOL, a.device(), broadcast(op.name().toLowerCase(java.util.Locale.ROOT), a.shape(), b.shape()));
        a.backend().elementwise().compare(op, as(a, t), as(b, t), out);
        return out;
    }

    private static Tensor compare(Compare op, Tensor a, double s) {
        Tensor out = Tensor.empty(DType.BOOL, a.device(), a.shape());
        a.backend().elementwise().compareScalar(op, a, s, out);
        return out;
    }

    public static Tensor eq(Tensor a, Tensor b) { return compare(Compare.EQ, a, b); }

    public static Tensor ne(Tensor a, Tensor b) { return compare(Compare.NE, a, b); }

    public static Tensor lt(Tensor a, Tensor b) { return compare(Compare.LT, a, b); }

    public static Tensor le(Tensor a, Tensor b) { return compare(Compare.LE, a, b); }

    public static Tensor gt(Tensor a, Tensor b) { return compare(Compare.GT, a, b); }

    public static Tensor ge(Tensor a, Tensor b) { return compare(Compare.GE, a, b); }

    public static Tensor eq(Tensor a, double s) { return compare(Compare.EQ, a, s); }

    public static Tensor ne(Tensor a, double s) { return compare(Compare.NE, a, s); }

    public static Tensor lt(Tensor a, double s) { return compare(Compare.LT, a, s); }

    public static Tensor le(Tensor a, double s) { return compare(Compare.LE, a, s); }

    public static Tensor gt(Tensor a, double s) { return compare(Compare.GT, a, s); }

    public static Tensor ge(Tensor a, double s) { return compare(Compare.GE, a, s); }

    /** cond ? a : b with broadcasting; cond is BOOL. */
    public static Tensor where(Tensor cond, Tensor a, Tensor b) {
        Devices.common("where", cond, a, b);
        if (cond.dtype() != DType.BOOL) throw new IllegalArgumentException("where: condition must be BOOL, got " + cond.dtype());
        DType t = DType.promote(a.dtype(), b.dtype());
        int[] shape = broadcast("where", cond.shape(), broadcast("where", a.shape(), b.shape()));
        Tensor out = Tensor.empty(t, a.device(), shape);
        a.backend().elementwise().where(cond, as(a, t), as(b, t), out);
        int[] sa = a.shape(), sb = b.shape();
        return Autograd.record("where", out, g -> {
            try (Tensor zero = Tensor.zeros(g.dtype(), g.device())) {
                return new Tensor[] {
                    a.requiresGrad() ? Reductions.sumTo(selectInto(cond, g, zero, shape), sa) : null,
                    b.requiresGrad() ? Reductions.sumTo(selectInto(cond, zero, g, shape), sb) : null};
            }
        }, a, b);
    }

    private static Tensor selectInto(Tensor cond, Tensor a, Tensor b, int[] shape) {
        Tensor out = Tensor.empty(a.dtype(), a.device(), shape);
        a.backend().elementwise().where(cond, a, b, out);
        return out;
    }

    /** x with value wherever mask (BOOL, broadcast to x's shape) is true; no gradient flows there. */
    public static Tensor maskedFill(Tensor x, Tensor mask, double value) {
        Devices.common("maskedFill", x, mask);
        if (mask.dtype() != DType.BOOL) throw new IllegalArgumentException("maskedFill: mask must be BOOL, got " + mask.dtype());
        if (mask.dim() > x.dim() || !Arrays.equals(broadcast("maskedFill", x.shape(), mask.shape()), x.shape())) {
            throw new IllegalArgumentException("maskedFill: mask " + Arrays.toString(mask.shape()) + " does not broadcast to x " + Arrays.toString(x.shape()));
        }
        Tensor out;
        try (Tensor v = Tensor.full(value, x.dtype(), x.device())) {
            out = selectInto(mask, v, x, x.shape());
        }
        return Autograd.record("masked_fill", out, g -> {
            try (Tensor zero = Tensor.zeros(g.dtype(), g.device())) {
                return new Tensor[] {selectInto(mask, zero, g, g.shape())};
            }
        }, x);
    }

    // ------------------------------------------------------------------ in place, not recorded

    /** dst += alpha * src, in place and not recorded: for gradient accumulation and optimizers. */
    public static void addInPlace(Tensor dst, Tensor src, double alpha) {
        Devices.common("addInPlace", dst, src);
        if (Autograd.needsGrad(dst)) throw new IllegalStateException("in-place add on a tensor that requires grad");
        Tensor s = src.dtype() == dst.dtype() ? src : Views.cast(src, dst.dtype());
        dst.backend().elementwise().addInPlace(dst, s, alpha);
        if (s != src) s.close();
    }

    /** dst *= s, in place and not recorded: for weight decay and gradient scaling. */
    public static void mulInPlace(Tensor dst, double s) {
        if (Autograd.needsGrad(dst)) throw new IllegalStateException("in-place mul on a tensor that requires grad");
        dst.backend().elementwise().mulInPlace(dst, s);
    }
}
