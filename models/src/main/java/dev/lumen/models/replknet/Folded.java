package dev.lumen.models.replknet;

import dev.lumen.memory.Scope;
import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Conv2d;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * A convolution's kernel and bias in double precision while BNs are folded into it. In eval
 * mode a BN is the per-channel affine map y = scale * x + shift with scale = gamma /
 * sqrt(running_var + eps) and shift = beta - running_mean * scale, so a BN after a conv
 * scales each output channel's kernel and bias, and a BN before a 1x1 conv (no padding)
 * scales each input channel's kernel column and adds the kernel applied to the shifts to the
 * bias.
 *
 * @param weight the kernel [out, in/groups, kh, kw], row-major
 * @param bias   [out]
 * @param shape  the kernel's shape
 */
record Folded(double[] weight, double[] bias, int[] shape) {

    /** The affine map of bn in eval mode: {scale, shift} per channel. */
    static double[][] affine(BatchNorm2d bn) {
        double[] var = bn.runningVar().toDoubles(), mean = bn.runningMean().toDoubles();
        int c = var.length;
        double[] gamma = bn.weight() == null ? filled(c, 1) : bn.weight().toDoubles();
        double[] beta = bn.bias() == null ? new double[c] : bn.bias().toDoubles();
        double[] scale = new double[c], shift = new double[c];
        for (int i = 0; i < c; i++) {
            scale[i] = gamma[i] / Math.sqrt(var[i] + bn.eps());
            shift[i] = beta[i] - mean[i] * scale[i];
        }
        return new double[][] {scale, shift};
    }

    private static double[] filled(int n, double v) {
        double[] a = new double[n];
        Arrays.fill(a, v);
        return a;
    }

    /** conv's kernel and bias (zeros when it has none). */
    static Folded of(Conv2d conv) {
        Tensor b = conv.bias();
        return new Folded(conv.weight().toDoubles(), b == null ? new double[conv.outChannels()] : b.toDoubles(), conv.weight().shape());
    }

    private int perOut() { return weight.length / shape[0]; }

    /** conv followed by bn: each output channel's kernel and bias times scale, plus shift. */
    Folded thenBn(BatchNorm2d bn) {
        double[][] a = affine(bn);
        double[] w = weight.clone(), b = bias.clone();
        int per = perOut();
        for (int o = 0; o < shape[0]; o++) {
            for (int j = 0; j < per; j++) w[o * per + j] *= a[0][o];
            b[o] = b[o] * a[0][o] + a[1][o];
        }
        return new Folded(w, b, shape);
    }

    /**
     * bn followed by this 1x1 ungrouped conv: W'[o, i] = W[o, i] * scale[i] and
     * b'[o] = b[o] + sum_i W[o, i] * shift[i]. Exact only without padding, where every
     * input the kernel reads went through the BN.
     */
    Folded afterBn(BatchNorm2d bn) {
        if (shape[2] != 1 || shape[3] != 1) {
            throw new IllegalArgumentException("afterBn: only a 1x1 conv absorbs the BN before it, kernel " + Arrays.toString(shape));
        }
        double[][] a = affine(bn);
        int in = shape[1];
        if (in != a[0].length) throw new IllegalArgumentException("afterBn: BN of " + a[0].length + " channels before a conv reading " + in);
        double[] w = weight.clone(), b = bias.clone();
        for (int o = 0; o < shape[0]; o++) {
            for (int i = 0; i < in; i++) {
                b[o] += w[o * in + i] * a[1][i];
                w[o * in + i] *= a[0][i];
            }
        }
        return new Folded(w, b, shape);
    }

    /** This kernel plus small's, zero-padded to the same size around the centre, and the sum of the biases. */
    Folded plusCentered(Folded small) {
        int k = shape[2], ks = small.shape[2];
        if (small.shape[0] != shape[0] || small.shape[1] != shape[1] || ks > k || (k - ks) % 2 != 0 || small.shape[3] != ks || shape[3] != k) {
            throw new IllegalArgumentException("plusCentered: cannot center kernel " + Arrays.toString(small.shape) + " in " + Arrays.toString(shape));
        }
        int p = (k - ks) / 2, planes = shape[0] * shape[1];
        double[] w = weight.clone(), b = bias.clone();
        for (int c = 0; c < planes; c++) {
            for (int i = 0; i < ks; i++) {
                for (int j = 0; j < ks; j++) w[(c * k + i + p) * k + j + p] += small.weight[(c * ks + i) * ks + j];
            }
        }
        for (int o = 0; o < b.length; o++) b[o] += small.bias[o];
        return new Folded(w, b, shape);
    }

    /** Writes the kernel and bias into conv (which must have a bias and this kernel's shape). */
    void writeTo(Conv2d conv) {
        if (!Arrays.equals(conv.weight().shape(), shape) || conv.bias() == null) {
            throw new IllegalArgumentException("Folded.writeTo: kernel " + Arrays.toString(shape) + " into " + conv);
        }
        writeTo(conv.weight(), conv.bias());
    }

    /** Writes the kernel into w (any shape of as many elements, e.g. a Linear's [out, in]) and the bias into b. */
    void writeTo(Tensor w, Tensor b) {
        if (w.numel() != weight.length || b.numel() != bias.length) {
            throw new IllegalArgumentException("Folded.writeTo: kernel " + Arrays.toString(shape) + " into " + Arrays.toString(w.shape()));
        }
        try (Scope s = Scope.open()) {
            w.backend().copy(Tensor.fromDoubles(weight, DType.F32, w.shape()).to(w.dtype()).to(w.device()), w);
            b.backend().copy(Tensor.fromDoubles(bias, DType.F32, bias.length).to(b.dtype()).to(b.device()), b);
        }
    }
}
