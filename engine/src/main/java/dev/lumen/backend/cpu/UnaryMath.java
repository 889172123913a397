package dev.lumen.backend.cpu;

import static jdk.incubator.vector.VectorOperators.GE;
import static jdk.incubator.vector.VectorOperators.GT;
import static jdk.incubator.vector.VectorOperators.LE;
import static jdk.incubator.vector.VectorOperators.LT;

import dev.lumen.backend.ElementwiseKernels.Unary;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * The value and derivative of every {@link Unary} op, in double (the reference, and the F64
 * and strided paths) and over F32 vectors (the fast path). Formulas follow PyTorch 1.13's
 * CPU kernels and derivatives.yaml. Each vector form is one small method (x, p0, p1) that
 * C2 inlines whole into the kernel's loop for that op, keeping vectors unboxed.
 */
final class UnaryMath {
    private UnaryMath() {}

    static final double INV_SQRT_2PI = 0.3989422804014327;

    /**
     * Phi(x) for the double path of GELU: from erf's series where x >= 0, exact at 0 as CUDA's
     * normcdf (the erfc fit gives 0.49999999999999994 there, which turned gelu'(0) * -2 = -1 into
     * 0 in an I32 gradient), and from erfc in the lower tail, where 1 + erf would cancel.
     */
    static double geluCdf(double x) { return x >= 0 ? 0.5 * (1 + SpecialFunctions.erf(x * 0.7071067811865476)) : SpecialFunctions.normalCdf(x); }
    /** sqrt(2/pi) and the cubic coefficient of GELU's tanh approximation. */
    static final double K_BETA = 0.7978845608028654, K_KAPPA = 0.044715;

    // ------------------------------------------------------------------ double

    static double apply(Unary op, double x, double p0, double p1) {
        return switch (op) {
            case NEG -> -x;
            case EXP -> Math.exp(x);
            case LOG -> Math.log(x);
            case SQRT -> Math.sqrt(x);
            case RSQRT -> 1 / Math.sqrt(x);
            case ABS -> Math.abs(x);
            case SQUARE -> x * x;
            case RECIPROCAL -> 1 / x;
            case POW -> p0 == 2 ? x * x : Math.pow(x, p0);
            case CLAMP -> clamp(x, p0, p1);
            case RELU -> x > 0 || Double.isNaN(x) ? x : 0;
            case GELU -> x * geluCdf(x);
            case GELU_TANH -> 0.5 * x * (1 + Math.tanh(K_BETA * (x + K_KAPPA * x * x * x)));
            case SILU -> x / (1 + Math.exp(-x));
            case SIGMOID -> 1 / (1 + Math.exp(-x));
            case TANH -> Math.tanh(x);
            case SOFTPLUS -> x * p0 > p1 ? x : Math.log1p(Math.exp(x * p0)) / p0;
            case LEAKY_RELU -> x > 0 ? x : x * p0;
            case HARD_SIGMOID -> Math.min(Math.max(x + 3, 0), 6) / 6;
            case HARD_SWISH -> x * Math.min(Math.max(x + 3, 0), 6) / 6;
        };
    }

    /** min(max(x, lo), hi) with NaN bounds absent and NaN x kept, as torch.clamp. */
    static double clamp(double x, double lo, double hi) {
        if (Double.isNaN(x)) return x;
        double r = Double.isNaN(lo) ? x : Math.max(x, lo);
        return Double.isNaN(hi) ? r : Math.min(r, hi);
    }

    /** d f(x) / dx. */
    static double derivative(Unary op, double x, double p0, double p1) {
        return switch (op) {
            case NEG -> -1;
            case EXP -> Math.exp(x);
            case LOG -> 1 / x;
            case SQRT -> 0.5 / Math.sqrt(x);
            case RSQRT -> -0.5 / (x * Math.sqrt(x));
            case ABS -> Math.signum(x);
            case SQUARE -> 2 * x;
            case RECIPROCAL -> -1 / (x * x);
            case POW -> p0 == 0 ? 0 : p0 * Math.pow(x, p0 - 1);
            case CLAMP -> (Double.isNaN(p0) || x >= p0) && (Double.isNaN(p1) || x <= p1) ? 1 : 0;
            case RELU -> x > 0 ? 1 : 0;
            case GELU -> geluCdf(x) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
            case GELU_TANH -> {
                double t = Math.tanh(K_BETA * (x + K_KAPPA * x * x * x));
                yield 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * K_BETA * (1 + 3 * K_KAPPA * x * x);
            }
            case SILU -> {
                double s = 1 / (1 + Math.exp(-x));
                yield s * (1 + x * (1 - s));
            }
            case SIGMOID -> {
                double s = 1 / (1 + Math.exp(-x));
                yield s * (1 - s);
            }
            case TANH -> {
                double t = Math.tanh(x);
                yield 1 - t * t;
            }
            case SOFTPLUS -> {
                if (x * p0 > p1) yield 1;
                double z = Math.exp(x * p0);
                yield z / (z + 1);
            }
            case LEAKY_RELU -> x > 0 ? 1 : p0;
            case HARD_SIGMOID -> x > -3 && x < 3 ? 1.0 / 6 : 0;
            // torch's vectorized CPU kernel: 1 from x >= 3 on (its scalar tail would give 1.5 at exactly 3).
            case HARD_SWISH -> x < -3 ? 0 : x < 3 ? x / 3 + 0.5 : 1;
        };
    }

    // ------------------------------------------------------------------ F32 vectors

    static FloatVector neg(FloatVector x, float p0, float p1) { return x.neg(); }
    static FloatVector negGrad(FloatVector x, float p0, float p1) { return Vec.of(-1f); }
    static FloatVector exp(FloatVector x, float p0, float p1) { return VecMath.exp(x); }
    static FloatVector expGrad(FloatVector x, float p0, float p1) { return VecMath.exp(x); }
    static FloatVector log(FloatVector x, float p0, float p1) { return VecMath.log(x); }
    static FloatVector logGrad(FloatVector x, float p0, float p1) { return Vec.of(1f).div(x); }
    static FloatVector sqrt(FloatVector x, float p0, float p1) { return x.sqrt(); }
    static FloatVector sqrtGrad(FloatVector x, float p0, float p1) { return Vec.of(0.5f).div(x.sqrt()); }
    static FloatVector rsqrt(FloatVector x, float p0, float p1) { return Vec.of(1f).div(x.sqrt()); }
    static FloatVector rsqrtGrad(FloatVector x, float p0, float p1) { return Vec.of(-0.5f).div(x.mul(x.sqrt())); }
    static FloatVector abs(FloatVector x, float p0, float p1) { return x.abs(); }
    static FloatVector absGrad(FloatVector x, float p0, float p1) { return sign(x); }
    static FloatVector square(FloatVector x, float p0, float p1) { return x.mul(x); }
    static FloatVector squareGrad(FloatVector x, float p0, float p1) { return x.add(x); }
    static FloatVector reciprocal(FloatVector x, float p0, float p1) { return Vec.of(1f).div(x); }
    static FloatVector reciprocalGrad(FloatVector x, float p0, float p1) { return Vec.of(-1f).div(x.mul(x)); }
    static FloatVector pow(FloatVector x, float p0, float p1) { return pow(x, p0); }
    static FloatVector powGrad(FloatVector x, float p0, float p1) { return p0 == 0 ? Vec.of(0f) : pow(x, p0 - 1).mul(p0); }
    static FloatVector clampGrad(FloatVector x, float p0, float p1) { return clampMask(x, p0, p1); }
    static FloatVector relu(FloatVector x, float p0, float p1) { return x.blend(0f, x.compare(LE, 0f)); }
    static FloatVector reluGrad(FloatVector x, float p0, float p1) { return Vec.of(0f).blend(1f, x.compare(GT, 0f)); }
    static FloatVector gelu(FloatVector x, float p0, float p1) { return geluForward(x); }
    static FloatVector geluGrad(FloatVector x, float p0, float p1) { return geluGrad(x); }
    static FloatVector geluTanh(FloatVector x, float p0, float p1) { return geluTanh(x); }
    static FloatVector geluTanhGrad(FloatVector x, float p0, float p1) { return geluTanhGrad(x); }
    static FloatVector silu(FloatVector x, float p0, float p1) { return x.div(VecMath.exp(x.neg()).add(1f)); }
    static FloatVector siluGrad(FloatVector x, float p0, float p1) { return siluGrad(x); }
    static FloatVector sigmoid(FloatVector x, float p0, float p1) { return sigmoid(x); }
    static FloatVector sigmoidGrad(FloatVector x, float p0, float p1) { return sigmoidGrad(x); }
    static FloatVector tanh(FloatVector x, float p0, float p1) { return VecMath.tanh(x); }
    static FloatVector tanhGrad(FloatVector x, float p0, float p1) { return tanhGrad(x); }
    static FloatVector leakyRelu(FloatVector x, float p0, float p1) { return x.blend(x.mul(p0), x.compare(LE, 0f)); }
    static FloatVector leakyReluGrad(FloatVector x, float p0, float p1) { return Vec.of(p0).blend(1f, x.compare(GT, 0f)); }
    static FloatVector hardSigmoid(FloatVector x, float p0, float p1) { return x.add(3f).max(0f).min(6f).mul(1f / 6); }
    static FloatVector hardSigmoidGrad(FloatVector x, float p0, float p1) { return Vec.of(0f).blend(1f / 6, x.compare(GT, -3f).and(x.compare(LT, 3f))); }
    static FloatVector hardSwish(FloatVector x, float p0, float p1) { return x.mul(x.add(3f).max(0f).min(6f)).div(6f); }
    static FloatVector hardSwishGrad(FloatVector x, float p0, float p1) { return hardSwishGrad(x); }

    private static FloatVector pow(FloatVector x, float p) {
        if (p == 1f) return x;
        if (p == 2f) return x.mul(x);
        if (p == 3f) return x.mul(x).mul(x);
        if (p == 0.5f) return x.sqrt();
        if (p == 0f) return Vec.of(1f);
        if (p == -1f) return Vec.of(1f).div(x);
        return VecMath.pow(x, Vec.of(p));
    }

    static FloatVector clamp(FloatVector x, float lo, float hi) {
        FloatVector r = x;
        if (!Float.isNaN(lo)) r = r.max(lo);
        if (!Float.isNaN(hi)) r = r.min(hi);
        return r;
    }

    private static FloatVector clampMask(FloatVector x, float lo, float hi) {
        FloatVector one = Vec.of(1f), zero = Vec.of(0f);
        FloatVector r = one;
        if (!Float.isNaN(lo)) r = r.blend(zero, x.compare(GE, lo).not());
        if (!Float.isNaN(hi)) r = r.blend(zero, x.compare(LE, hi).not());
        return r;
    }

    private static FloatVector sign(FloatVector x) {
        return Vec.of(0f).blend(1f, x.compare(GT, 0f)).blend(-1f, x.compare(LT, 0f));
    }

    private static FloatVector sigmoid(FloatVector x) { return Vec.of(1f).div(VecMath.exp(x.neg()).add(1f)); }

    private static FloatVector sigmoidGrad(FloatVector x) {
        FloatVector s = sigmoid(x);
        return s.mul(s.neg().add(1f));
    }

    private static FloatVector siluGrad(FloatVector x) {
        FloatVector s = sigmoid(x);
        return s.mul(x.mul(s.neg().add(1f)).add(1f));
    }

    private static FloatVector tanhGrad(FloatVector x) { return tanhGradFromExp(x, VecMath.tanhExp(x)); }

    /** 1 - tanh^2 x given e = VecMath.tanhExp(x). */
    static FloatVector tanhGradFromExp(FloatVector x, FloatVector e) {
        FloatVector t = VecMath.tanhFromExp(x, e);
        return t.mul(t).neg().add(1f);
    }

    static FloatVector softplus(FloatVector x, float beta, float threshold) { return softplusFromExp(x, softplusExp(x, beta), beta, threshold); }

    static FloatVector softplusGrad(FloatVector x, float beta, float threshold) {
        return softplusGradFromExp(x, softplusExp(x, beta), beta, threshold);
    }

    /** e^{beta x}, softplus's one exp (a stage of its own in row loops, as GELU's). */
    static FloatVector softplusExp(FloatVector x, float beta) { return VecMath.exp(x.mul(beta)); }

    /** log(1 + e) / beta, or x where beta x passes the threshold, given e = softplusExp(x, beta). */
    static FloatVector softplusFromExp(FloatVector x, FloatVector e, float beta, float threshold) {
        return softplusFromLog(x, e, VecMath.log(e.add(1f)), beta, threshold);
    }

    /**
     * softplusFromExp given also lw = VecMath.log(1 + e) (stages of their own in row loops:
     * log1p with its log was too big for one).
     */
    static FloatVector softplusFromLog(FloatVector x, FloatVector e, FloatVector lw, float beta, float threshold) {
        return VecMath.log1pFromLog(e, lw).div(beta).blend(x, x.mul(beta).compare(GT, threshold));
    }

    /** e / (1 + e), or 1 where beta x passes the threshold, given e = softplusExp(x, beta). */
    static FloatVector softplusGradFromExp(FloatVector x, FloatVector e, float beta, float threshold) {
        return e.div(e.add(1f)).blend(1f, x.mul(beta).compare(GT, threshold));
    }

    private static FloatVector hardSwishGrad(FloatVector x) {
        FloatVector mid = x.div(3f).add(0.5f);
        return mid.blend(0f, x.compare(LT, -3f)).blend(1f, x.compare(GE, 3f));
    }

    /*
     * Vector constants rather than scalar operands: x.mul(0.5f) broadcasts inside the Vector
     * API, several calls deep, and a chain of them passed C2's inlining depth and node limits,
     * which boxes every vector (measured: 20x slower GELU, 24 MB garbage per call).
     */
    private static final FloatVector ONE = Vec.of(1f), ZERO = Vec.of(0f);
    /** 1/sqrt(2 pi) times the 2^-64 that stage 1 leaves in e (VecMath.gaussianTimes2To64). */
    private static final FloatVector V_INV_SQRT_2PI_SCALED = Vec.of((float) INV_SQRT_2PI * VecMath.TWO_TO_MINUS_64);
    /** Beyond |x| = 16, e^{-x^2/2} is 0 in float; the clamp keeps the exponential's argument in its range at infinity. */
    private static final FloatVector TAIL_END = Vec.of(16f), QUARTER = Vec.of(0.25f);
    /*
     * Phi(-a) e^{a^2/2} / t as a polynomial in t = 1/(1 + a/4), which maps a in [0, inf) onto
     * (0, 1] (the ratio tends to 1/(4 sqrt(2 pi)) as a grows). Fitted for this engine by
     * tools/fit_normal_tail.py (iteratively reweighted least squares in relative error,
     * mpmath reference): 3.4e-8 relative in double, 3.5e-7 with float arithmetic. Each is
     * stored times 2^-64 (exact), the scale that stage 1 leaves in e.
     */
    private static final FloatVector N0 = tail(0.0997355654835701f), N1 = tail(0.09973642975091934f),
            N2 = tail(0.09346634894609451f), N3 = tail(0.08160315454006195f), N4 = tail(0.05897485464811325f),
            N5 = tail(0.0637001246213913f), N6 = tail(-0.03171951696276665f), N7 = tail(0.09559932351112366f),
            N8 = tail(-0.08087863773107529f), N9 = tail(0.019782332703471184f);

    private static FloatVector tail(float coefficient) { return Vec.of(coefficient * VecMath.TWO_TO_MINUS_64); }

    /**
     * Phi(-a) = erfc(a / sqrt 2) / 2 for a >= 0, given e = e^{-a^2/2} 2^64: no cancellation,
     * accurate relative to itself. e t is at most 1.5 2^64, and the product with the scaled
     * polynomial is the only one that can round into the subnormals.
     */
    private static FloatVector normalTail(FloatVector a, FloatVector e) {
        FloatVector t = ONE.div(a.fma(QUARTER, ONE));
        FloatVector p = N9.fma(t, N8).fma(t, N7).fma(t, N6).fma(t, N5).fma(t, N4).fma(t, N3).fma(t, N2).fma(t, N1).fma(t, N0);
        return e.mul(t).mul(p);
    }

    /** Phi(x), the standard normal CDF, from the tail below 0 and 1 - tail above. */
    private static FloatVector normalCdf(FloatVector x, FloatVector tail) {
        return ONE.sub(tail).blend(tail, x.compare(LT, ZERO));
    }

    /*
     * GELU runs in two stages, e^{-x^2/2} and then the rest, which CpuElementwise's rows run as two
     * loops over a small block: in one loop the inlined vector code of exp, the divide and the
     * polynomial passed C2's node budget (NodeCountInliningCutoff), and every vector was boxed
     * (29 MB of garbage and ~10x the time per [8, 48, 56, 56] call, measured with JMH -prof gc).
     */

    /**
     * Stage 1 of GELU and its derivative: e^{-x^2/2} 2^64, with |x| clamped to 16 (it is 0 from
     * there). The scale keeps the exponential's 2^n one normal factor (VecMath.gaussianTimes2To64);
     * stage 2's constants take it back out.
     */
    static FloatVector geluGaussian(FloatVector x) {
        FloatVector a = x.abs();
        return VecMath.gaussianTimes2To64(a.blend(TAIL_END, a.compare(GT, TAIL_END)));
    }

    /**
     * x Phi(x) given e = geluGaussian(x). Below 0 Phi is the tail itself rather than 1 + erf
     * (which cancels): gelu(-10) is -7.6e-23 here, where torch's erf form gives -0. gelu(-inf)
     * is NaN (-inf * 0), as torch's.
     */
    static FloatVector geluFromGaussian(FloatVector x, FloatVector e) {
        return x.mul(normalCdf(x, normalTail(x.abs(), e)));
    }

    /**
     * Phi(x) + x phi(x) given e = geluGaussian(x), the same e^{-x^2/2} for Phi's tail and for phi:
     * one exp and one divide in all. Past |x| = 16, where the derivative is already 0 or 1 in
     * float, the x phi(x) term is set to 0, so that it stays 0 and 1 out to +-inf (x phi(x) would
     * be inf * 0 there; torch gives NaN). A compare and a blend where a clamp of x would cost C2's
     * several-instruction min and max.
     */
    static FloatVector geluGradFromGaussian(FloatVector x, FloatVector e) {
        FloatVector a = x.abs();
        FloatVector pdfTerm = x.mul(e).blend(ZERO, a.compare(GT, TAIL_END));
        return pdfTerm.fma(V_INV_SQRT_2PI_SCALED, normalCdf(x, normalTail(a, e)));
    }

    static FloatVector geluForward(FloatVector x) { return geluFromGaussian(x, geluGaussian(x)); }

    private static FloatVector geluGrad(FloatVector x) { return geluGradFromGaussian(x, geluGaussian(x)); }

    private static final FloatVector TWO_BETA = Vec.of((float) (2 * K_BETA)), KAPPA = Vec.of((float) K_KAPPA),
            THREE_KAPPA = Vec.of((float) (3 * K_KAPPA));
    /** e^{-2u} is finite from x = -10 (8.4e37) on, and above 10 the derivative is 1 in float. */
    private static final FloatVector TANH_END = Vec.of(10f), NEG_TANH_END = TANH_END.neg();

    /** e^{-2u} with 2u = 2 beta (x + kappa x^3), the tanh form's gate being 1 / (1 + e^{-2u}) = (1 + tanh u) / 2. */
    private static FloatVector gateExp(FloatVector x, FloatVector x2) {
        return VecMath.exp(x2.fma(KAPPA, ONE).mul(x).mul(TWO_BETA).neg());
    }

    /** x / (1 + e^{-2u}): one exp and one divide instead of tanh's, and no 1 + tanh cancelling below 0. */
    private static FloatVector geluTanh(FloatVector x) { return x.div(gateExp(x, x.mul(x)).add(ONE)); }

    /** Stage 1 of the tanh form's derivative, run as its own loop as GELU's (see geluGaussian): e^{-2u} of x clamped to [-10, 10]. */
    static FloatVector geluTanhGradExp(FloatVector x) {
        FloatVector xc = x.max(NEG_TANH_END).min(TANH_END);
        return gateExp(xc, xc.mul(xc));
    }

    /**
     * s + x s (1 - s) 2 beta (1 + 3 kappa x^2) given e = geluTanhGradExp(x), s = 1 / (1 + e) the
     * gate, with 1 - s taken as e s: exact relative to itself where s nears 1 (1 - s would keep
     * no digits there). x is clamped to [-10, 10] so that e stays finite: the result is 1 above
     * 10 and, below -10, the value at -10 (-2.8e-36; the exact one is smaller still) out to
     * -inf, where torch gives NaN.
     */
    static FloatVector geluTanhGradFromExp(FloatVector x, FloatVector e) {
        FloatVector xc = x.max(NEG_TANH_END).min(TANH_END);
        FloatVector s = ONE.div(e.add(ONE));
        FloatVector slope = xc.mul(xc).fma(THREE_KAPPA, ONE).mul(TWO_BETA);
        return xc.mul(s).mul(e.mul(s)).fma(slope, s);
    }

    private static FloatVector geluTanhGrad(FloatVector x) { return geluTanhGradFromExp(x, geluTanhGradExp(x)); }
}
