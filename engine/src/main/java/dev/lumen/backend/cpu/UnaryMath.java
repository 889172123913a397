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

    static final double SQRT1_2 = 0.7071067811865476;
    static final double INV_SQRT_2PI = 0.3989422804014327;
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
            case GELU -> 0.5 * x * (1 + erf(x * SQRT1_2));
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
            case GELU -> 0.5 * (1 + erf(x * SQRT1_2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
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

    /**
     * erf to double precision: 2/sqrt(pi) exp(-x^2) sum_n (2x^2)^n x / (1*3*...*(2n+1)),
     * a series of positive terms (no cancellation); |erf(x)| rounds to 1 beyond 6.
     */
    static double erf(double x) {
        double ax = Math.abs(x);
        if (Double.isNaN(x)) return x;
        if (ax > 6) return Math.signum(x);
        double x2 = ax * ax, term = ax, sum = ax;
        for (int n = 1; n < 200; n++) {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
            if (term < sum * 1e-17) break;
        }
        return Math.copySign(1.1283791670955126 * Math.exp(-x2) * sum, x);
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

    private static FloatVector tanhGrad(FloatVector x) {
        FloatVector t = VecMath.tanh(x);
        return t.mul(t).neg().add(1f);
    }

    static FloatVector softplus(FloatVector x, float beta, float threshold) {
        FloatVector bx = x.mul(beta);
        FloatVector soft = VecMath.log1p(VecMath.exp(bx)).div(beta);
        return soft.blend(x, bx.compare(GT, threshold));
    }

    static FloatVector softplusGrad(FloatVector x, float beta, float threshold) {
        FloatVector bx = x.mul(beta);
        FloatVector z = VecMath.exp(bx);
        return z.div(z.add(1f)).blend(1f, bx.compare(GT, threshold));
    }

    private static FloatVector hardSwishGrad(FloatVector x) {
        FloatVector mid = x.div(3f).add(0.5f);
        return mid.blend(0f, x.compare(LT, -3f)).blend(1f, x.compare(GE, 3f));
    }

    /*
     * Vector constants rather than scalar operands: x.mul(0.5f) broadcasts inside the Vector
     * API, several calls deep, and erf's chain of them passed C2's inlining depth and node
     * limits, which boxes every vector (measured: 20x slower GELU, 24 MB garbage per call).
     */
    private static final FloatVector ONE = Vec.of(1f), HALF = Vec.of(0.5f), ZERO = Vec.of(0f);
    private static final FloatVector V_SQRT1_2 = Vec.of((float) SQRT1_2), V_INV_SQRT_2PI = Vec.of((float) INV_SQRT_2PI);
    private static final FloatVector E0 = Vec.of(0.17087277f), E1 = Vec.of(-0.82215223f), E2 = Vec.of(1.48851587f),
            E3 = Vec.of(-1.13520398f), E4 = Vec.of(0.27886807f), E5 = Vec.of(-0.18628806f), E6 = Vec.of(0.09678418f),
            E7 = Vec.of(0.37409196f), E8 = Vec.of(1.00002368f), E9 = Vec.of(-1.26551223f);

    /**
     * erf in float to ~1e-7 absolute: 1 - erfc(|x|) with the Chebyshev fit of
     * Numerical Recipes (erfc = t exp(-z^2 + P(t)), t = 1/(1 + z/2), fractional error < 1.2e-7).
     */
    static FloatVector erf(FloatVector x) {
        FloatVector z = x.abs();
        FloatVector t = ONE.div(z.fma(HALF, ONE));
        FloatVector p = E0.fma(t, E1).fma(t, E2).fma(t, E3).fma(t, E4).fma(t, E5).fma(t, E6).fma(t, E7).fma(t, E8).fma(t, E9);
        FloatVector e = ONE.sub(t.mul(VecMath.exp(p.sub(z.mul(z)))));
        return e.blend(e.neg(), x.compare(LT, ZERO));
    }

    static FloatVector geluForward(FloatVector x) { return x.mul(HALF).mul(erf(x.mul(V_SQRT1_2)).add(ONE)); }

    private static FloatVector geluGrad(FloatVector x) {
        FloatVector cdf = erf(x.mul(V_SQRT1_2)).add(ONE).mul(HALF);
        FloatVector pdf = VecMath.exp(x.mul(x).mul(HALF).neg()).mul(V_INV_SQRT_2PI);
        return x.fma(pdf, cdf);
    }

    private static FloatVector geluTanh(FloatVector x) {
        FloatVector inner = x.mul(x).mul(x).mul((float) K_KAPPA).add(x).mul((float) K_BETA);
        return x.mul(0.5f).mul(VecMath.tanh(inner).add(1f));
    }

    private static FloatVector geluTanhGrad(FloatVector x) {
        FloatVector x2 = x.mul(x);
        FloatVector t = VecMath.tanh(x2.mul(x).mul((float) K_KAPPA).add(x).mul((float) K_BETA));
        FloatVector left = t.add(1f).mul(0.5f);
        FloatVector right = x.mul(0.5f).mul(t.mul(t).neg().add(1f)).mul((float) K_BETA).mul(x2.mul((float) (3 * K_KAPPA)).add(1f));
        return left.add(right);
    }
}
