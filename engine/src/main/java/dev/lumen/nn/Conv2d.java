package dev.lumen.nn;

import dev.lumen.ops.Convolution;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * 2-D convolution over [N, C, H, W], as torch's nn.Conv2d: weight
 * [out, in / groups, kh, kw], bias [out]. Default init is torch's: kaiming_uniform(a = sqrt(5))
 * for the weight and uniform(+-1/sqrt(fan_in)) for the bias, fan_in = in / groups * kh * kw.
 */
public class Conv2d extends Module implements Layer {
    private final int inChannels, outChannels, groups;
    private final int[] kernel, stride, padding, dilation;

    /** A square kernel with stride 1, no padding, no dilation, one group and a bias. */
    public Conv2d(int inChannels, int outChannels, int kernel) {
        this(inChannels, outChannels, new int[] {kernel, kernel}, new int[] {1, 1}, new int[] {0, 0}, new int[] {1, 1}, 1, true, Generator.global());
    }

    /** Square kernel, stride and padding. */
    public Conv2d(int inChannels, int outChannels, int kernel, int stride, int padding) {
        this(inChannels, outChannels, kernel, stride, padding, 1, 1, true);
    }

    public Conv2d(int inChannels, int outChannels, int kernel, int stride, int padding, int dilation, int groups, boolean bias) {
        this(inChannels, outChannels, new int[] {kernel, kernel}, new int[] {stride, stride}, new int[] {padding, padding},
                new int[] {dilation, dilation}, groups, bias, Generator.global());
    }

    public Conv2d(int inChannels, int outChannels, int[] kernel, int[] stride, int[] padding, int[] dilation,
                  int groups, boolean bias, Generator gen) {
        check(kernel, "kernel", 1);
        check(stride, "stride", 1);
        check(padding, "padding", 0);
        check(dilation, "dilation", 1);
        if (inChannels <= 0 || outChannels <= 0 || groups <= 0 || inChannels % groups != 0 || outChannels % groups != 0) {
            throw new IllegalArgumentException("Conv2d: in " + inChannels + " and out " + outChannels
                    + " channels must be positive and divisible by groups " + groups);
        }
        this.inChannels = inChannels;
        this.outChannels = outChannels;
        this.groups = groups;
        this.kernel = kernel.clone();
        this.stride = stride.clone();
        this.padding = padding.clone();
        this.dilation = dilation.clone();
        Tensor w = Tensor.empty(DType.F32, Device.CPU, outChannels, inChannels / groups, kernel[0], kernel[1]);
        Init.kaimingUniform(w, Math.sqrt(5), Init.FanMode.FAN_IN, Init.Nonlinearity.LEAKY_RELU, gen);
        registerParameter("weight", w);
        if (bias) {
            double bound = 1 / Math.sqrt(Init.fans(w).fanIn());
            registerParameter("bias", Init.uniform(Tensor.empty(DType.F32, Device.CPU, outChannels), -bound, bound, gen));
        }
    }

    private static void check(int[] v, String what, int min) {
        if (v == null || v.length != 2 || v[0] < min || v[1] < min) {
            throw new IllegalArgumentException("Conv2d: " + what + " must be two values >= " + min + ", got " + java.util.Arrays.toString(v));
        }
    }

    public Tensor weight() { return param("weight"); }

    /** The bias, or null for a convolution without one. */
    public Tensor bias() { return paramOrNull("bias"); }

    public int inChannels() { return inChannels; }

    public int outChannels() { return outChannels; }

    public int groups() { return groups; }

    public int[] kernel() { return kernel.clone(); }

    public int[] stride() { return stride.clone(); }

    public int[] padding() { return padding.clone(); }

    public int[] dilation() { return dilation.clone(); }

    @Override
    public Tensor forward(Tensor x) { return Convolution.conv2d(x, weight(), bias(), stride, padding, dilation, groups); }

    @Override
    public String toString() {
        return "Conv2d(" + inChannels + ", " + outChannels + ", kernel=" + java.util.Arrays.toString(kernel) + ", stride="
                + java.util.Arrays.toString(stride) + ", padding=" + java.util.Arrays.toString(padding)
                + (groups != 1 ? ", groups=" + groups : "") + ")";
    }
}
