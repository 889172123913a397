package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.reference.Compare;
import dev.lumen.reference.DepthwiseConvReference;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The CPU backend's direct depth-wise convolution (conv2d with groups == channels) against the
 * double-precision reference that the CUDA kernels are also checked against: output and all
 * three gradients, on fresh random inputs, RepLKNet-sized kernels on odd maps.
 */
class DepthwiseConvTest extends DeviceTest {
    // f32: each output sums up to 961 products in another order than the double reference,
    // rounding error ~ sqrt(K*K) * 2^-24, about 2e-6 relative.
    private static final double TOL_F32 = 2e-5;
    // f16 storage: inputs round to 11-bit mantissas (4.9e-4 relative) before the f32 compute.
    private static final double TOL_F16 = 3e-3;

    @ParameterizedTest(name = "{6} N{0} C{1} {2}x{3} k{4} s{5}")
    @CsvSource({
        "2, 3, 14, 14, 7, 1, F32",
        "1, 2, 14, 14, 13, 1, F32",
        "1, 2, 57, 57, 31, 1, F32",
        "2, 3, 57, 45, 13, 2, F32",
        "3, 5, 9, 11, 3, 1, F32",
        "1, 2, 57, 57, 7, 2, F16",
    })
    void matchesReference(int n, int c, int h, int w, int k, int stride, DType storage) {
        Random r = new Random(97L * h + k * 7L + stride + n);
        float[] x = Compare.randomFloats(r, n * c * h * w), wt = Compare.randomFloats(r, c * k * k), b = Compare.randomFloats(r, c);
        if (storage == DType.F16) {
            for (float[] a : new float[][] {x, wt, b}) for (int i = 0; i < a.length; i++) a[i] = Float.float16ToFloat(Float.floatToFloat16(a[i]));
        }
        int oh = DepthwiseConvReference.outSize(h, k, stride, k / 2), ow = DepthwiseConvReference.outSize(w, k, stride, k / 2);
        float[] go = Compare.randomFloats(r, n * c * oh * ow);
        try (Scope s = Scope.open()) {
            Tensor tx = on(Tensor.fromFloats(x, n, c, h, w)).to(storage).requiresGrad(true);
            Tensor tw = on(Tensor.fromFloats(wt, c, 1, k, k)).to(storage).requiresGrad(true);
            Tensor tb = on(Tensor.fromFloats(b, c)).to(storage).requiresGrad(true);
            Tensor y = Convolution.conv2d(tx, tw, tb, new int[] {stride}, new int[] {k / 2}, new int[] {1}, c);
            y.backward(on(Tensor.fromFloats(go, n, c, oh, ow)).to(y.dtype()));
            double[] yRef = DepthwiseConvReference.forward(x, wt, b, n, c, h, w, k, stride, k / 2);
            double[][] gRef = DepthwiseConvReference.backward(x, wt, go, n, c, h, w, k, stride, k / 2);
            double tol = storage == DType.F32 ? TOL_F32 : TOL_F16;
            double[] errs = {Compare.relativeError(y.toFloats(), yRef), Compare.relativeError(tx.grad().toFloats(), gRef[0]),
                Compare.relativeError(tw.grad().toFloats(), gRef[1]), Compare.relativeError(tb.grad().toFloats(), gRef[2])};
            String[] what = {"output", "input gradient", "weight gradient", "bias gradient"};
            for (int i = 0; i < 4; i++) assertTrue(errs[i] <= tol, storage + " k" + k + " s" + stride + " " + what[i] + ": error " + errs[i]);
        }
    }
}
