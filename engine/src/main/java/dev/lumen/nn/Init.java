package dev.lumen.nn;

import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * Parameter initializers with the semantics of torch.nn.init (and timm's trunc_normal_).
 * Each fills its tensor in place, is not recorded for autograd, is deterministic given the
 * Generator, and returns the tensor.
 */
public final class Init {
    private Init() {}

    /** Which fan kaiming scales by: fan_in keeps the forward variance, fan_out the backward one. */
    public enum FanMode { FAN_IN, FAN_OUT }

    /** The nonlinearity that follows a layer, which sets the gain (torch's calculate_gain). */
    public enum Nonlinearity { LINEAR, SIGMOID, TANH, RELU, LEAKY_RELU, SELU }

    /** Fan-in and fan-out of a weight: [out, in, k...] has fan_in = in * prod(k), fan_out = out * prod(k). */
    public record Fans(long fanIn, long fanOut) {}

    public static Fans fans(Tensor t) { return fans(t.shape()); }

    public static Fans fans(int[] shape) {
        if (shape.length < 2) {
            throw new IllegalArgumentException("fans: a tensor of shape " + Arrays.toString(shape)
                    + " has fewer than 2 dims, so fan in and fan out are undefined");
        }
        long receptive = 1;
        for (int i = 2; i < shape.length; i++) receptive *= shape[i];
        return new Fans((long) shape[1] * receptive, (long) shape[0] * receptive);
    }

    /** torch.nn.init.calculate_gain; param is leaky_relu's negative slope (ignored otherwise). */
    public static double gain(Nonlinearity f, double param) {
        return switch (f) {
            case LINEAR, SIGMOID -> 1.0;
            case TANH -> 5.0 / 3;
            case RELU -> Math.sqrt(2.0);
            case LEAKY_RELU -> Math.sqrt(2.0 / (1 + param * param));
            case SELU -> 3.0 / 4;
        };
    }

    // ---------------------------------------------------------------- basic fills

    public static Tensor constant(Tensor t, double value) {
        t.backend().fill(t, value);
        return t;
    }

    public static Tensor zeros(Tensor t) { return constant(t, 0); }

    public static Tensor ones(Tensor t) { return constant(t, 1); }

    /** Uniform in [lo, hi). */
    public static Tensor uniform(Tensor t, double lo, double hi, Generator gen) {
        if (!(hi >= lo)) throw new IllegalArgumentException("uniform: need lo <= hi, got [" + lo + ", " + hi + ")");
        t.backend().randomUniform(t, gen, lo, hi);
        return t;
    }

    public static Tensor normal(Tensor t, double mean, double std, Generator gen) {
        if (!(std >= 0)) throw new IllegalArgumentException("normal: std must be >= 0, got " + std);
        t.backend().randomNormal(t, gen, mean, std);
        return t;
    }

    /**
     * Normal(mean, std) truncated to the absolute bounds [a, b], as timm's trunc_normal_:
     * uniform draws between the bounds' CDF values mapped through the inverse normal CDF,
     * then clamped (so that rounding never leaves [a, b]).
     */
    public static Tensor truncNormal(Tensor t, double mean, double std, double a, double b, Generator gen) {
        if (!(std > 0) || !(a < b)) {
            throw new IllegalArgumentException("truncNormal: need std > 0 and a < b, got std " + std + ", [" + a + ", " + b + "]");
        }
        double lo = normalCdf((a - mean) / std), hi = normalCdf((b - mean) / std);
        int n = Math.toIntExact(t.numel());
        long seed = gen.seed(), first = gen.reserve(n);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            double u = lo + (hi - lo) * Generator.uniform(seed, first + i);
            double x = mean + std * inverseNormalCdf(u);
            v[i] = Math.min(Math.max(x, a), b);
        }
        writeHost(t, v);
        return t;
    }

    /** timm's default: trunc_normal_(t, std=std), bounds at +-2 absolute. */
    public static Tensor truncNormal(Tensor t, double std, Generator gen) { return truncNormal(t, 0, std, -2, 2, gen); }

    // ---------------------------------------------------------------- scaled by fans

    /** He uniform: bound = gain * sqrt(3 / fan); a is leaky_relu's slope. */
    public static Tensor kaimingUniform(Tensor t, double a, FanMode mode, Nonlinearity f, Generator gen) {
        double bound = Math.sqrt(3.0) * kaimingStd(t, a, mode, f, "kaimingUniform");
        return uniform(t, -bound, bound, gen);
    }

    /** He normal: std = gain / sqrt(fan). */
    public static Tensor kaimingNormal(Tensor t, double a, FanMode mode, Nonlinearity f, Generator gen) {
        return normal(t, 0, kaimingStd(t, a, mode, f, "kaimingNormal"), gen);
    }

    private static double kaimingStd(Tensor t, double a, FanMode mode, Nonlinearity f, String op) {
        Fans fans = fans(t);
        long fan = mode == FanMode.FAN_IN ? fans.fanIn() : fans.fanOut();
        if (fan == 0) throw new IllegalArgumentException(op + ": tensor " + Arrays.toString(t.shape()) + " has a zero fan");
        return gain(f, a) / Math.sqrt(fan);
    }

    /** Glorot uniform: bound = gain * sqrt(6 / (fan_in + fan_out)). */
    public static Tensor xavierUniform(Tensor t, double gain, Generator gen) {
        double bound = Math.sqrt(3.0) * xavierStd(t, gain);
        return uniform(t, -bound, bound, gen);
    }

    /** Glorot normal: std = gain * sqrt(2 / (fan_in + fan_out)). */
    public static Tensor xavierNormal(Tensor t, double gain, Generator gen) { return normal(t, 0, xavierStd(t, gain), gen); }

    private static double xavierStd(Tensor t, double gain) {
        Fans f = fans(t);
        return gain * Math.sqrt(2.0 / (f.fanIn() + f.fanOut()));
    }

    // ---------------------------------------------------------------- helpers

    /** Copies host values (logical order) into t, whatever its dtype, device and strides. */
    private static void writeHost(Tensor t, double[] v) {
        try (GradMode ng = GradMode.noGrad(); Scope s = Scope.open()) {
            Tensor host = Tensor.fromDoubles(v, DType.F64, t.shape());
            Module.copyInto(host, t);
        }
    }

    /** Standard normal CDF. */
    static double normalCdf(double x) { return 0.5 * erfc(-x / Math.sqrt(2)); }

    /**
     * Inverse standard normal CDF: Acklam's rational approximation (relative error 1.2e-9)
     * refined by one Halley step against erfc, which brings it to double precision.
     */
    static double inverseNormalCdf(double p) {
        if (p <= 0) return Double.NEGATIVE_INFINITY;
        if (p >= 1) return Double.POSITIVE_INFINITY;
        double x;
        if (p < 0.02425) {
            double q = Math.sqrt(-2 * Math.log(p));
            x = (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
                    / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
        } else if (p <= 1 - 0.02425) {
            double q = p - 0.5, r = q * q;
            x = (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
                    / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
        } else {
            double q = Math.sqrt(-2 * Math.log1p(-p));
            x = -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
                    / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
        }
        double e = normalCdf(x) - p;
        double u = e * Math.sqrt(2 * Math.PI) * Math.exp(x * x / 2);
        return x - u / (1 + x * u / 2);
    }

    private static final double[] A = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
        1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
    private static final double[] B = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
        6.680131188771972e+01, -1.328068155288572e+01};
    private static final double[] C = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
        -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
    private static final double[] D = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
        3.754408661907416e+00};

    /** Complementary error function to ~1e-15: Taylor series of erf near 0, continued fraction in the tails. */
    static double erfc(double x) {
        if (x < 0) return 2 - erfc(-x);
        if (x < 2.5) {
            double term = x, sum = x, x2 = x * x;
            for (int n = 1; n < 100; n++) {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
            }
            return 1 - 2 / Math.sqrt(Math.PI) * sum;
        }
        double f = x;
        for (int k = 80; k >= 1; k--) f = x + (k / 2.0) / f;
        return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
    }
}
