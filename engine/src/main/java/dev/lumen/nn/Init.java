package dev.lumen.nn;

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
     * then clamped (so that rounding never leaves [a, b]); computed on the tensor's device.
     */
    public static Tensor truncNormal(Tensor t, double mean, double std, double a, double b, Generator gen) {
        if (!(std > 0) || !(a < b)) {
            throw new IllegalArgumentException("truncNormal: need std > 0 and a < b, got std " + std + ", [" + a + ", " + b + "]");
        }
        t.backend().randomTruncatedNormal(t, gen, mean, std, a, b);
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
}
