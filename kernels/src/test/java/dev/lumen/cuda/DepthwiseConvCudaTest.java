package dev.lumen.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.reference.Compare;
import dev.lumen.reference.DepthwiseConvReference;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** dwconv.cu against the double-precision reference, forward and all three gradients. */
class DepthwiseConvCudaTest {
    // f32: each output sums up to K*K = 961 products in a different order than the double
    // reference; the rounding error grows like sqrt(K*K) * 2^-24, about 2e-6 relative.
    private static final double TOL_F32 = 2e-5;
    // f16 storage: inputs, weights and outputs round to 11-bit mantissas (2^-11 = 4.9e-4 each).
    private static final double TOL_F16 = 3e-3;

    private static DeviceBuffer upload(CudaContext ctx, float[] v, DepthwiseConvCuda.Storage st) {
        DeviceBuffer b = ctx.allocate((long) v.length * (st == DepthwiseConvCuda.Storage.F32 ? 4 : 2));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(b.byteSize(), 8);
            for (int i = 0; i < v.length; i++) {
                if (st == DepthwiseConvCuda.Storage.F32) h.setAtIndex(ValueLayout.JAVA_FLOAT, i, v[i]);
                else h.setAtIndex(ValueLayout.JAVA_SHORT, i, Float.floatToFloat16(v[i]));
            }
            b.copyFrom(h);
        }
        return b;
    }

    private static float[] download(DeviceBuffer b, int n, DepthwiseConvCuda.Storage st) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(b.byteSize(), 8);
            b.copyTo(h);
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = st == DepthwiseConvCuda.Storage.F32 ? h.getAtIndex(ValueLayout.JAVA_FLOAT, i)
                        : Float.float16ToFloat(h.getAtIndex(ValueLayout.JAVA_SHORT, i));
            }
            return v;
        }
    }

    /** Rounds through f16 so the reference sees the same inputs as an f16 kernel. */
    private static float[] asStored(float[] v, DepthwiseConvCuda.Storage st) {
        if (st == DepthwiseConvCuda.Storage.F32) return v;
        float[] r = new float[v.length];
        for (int i = 0; i < v.length; i++) r[i] = Float.float16ToFloat(Float.floatToFloat16(v[i]));
        return r;
    }

    @ParameterizedTest(name = "{7} N{0} C{1} {2}x{3} k{4} s{5} bias={6}")
    @CsvSource({
        "2, 3, 14, 14, 7, 1, true, F32",
        "1, 2, 14, 14, 13, 2, false, F32",
        "1, 2, 57, 57, 31, 1, true, F32",
        "2, 3, 57, 45, 13, 2, true, F32",
        "3, 5, 9, 11, 3, 1, true, F32",
        "1, 4, 40, 33, 5, 2, true, F32",
        "2, 3, 14, 14, 7, 1, true, F16",
        "1, 2, 57, 57, 31, 1, true, F16",
    })
    void matchesReference(int n, int c, int h, int w, int k, int stride, boolean bias, DepthwiseConvCuda.Storage st) {
        CudaContext ctx = CudaTestSupport.context();
        var s = new DepthwiseConvCuda.Shape(n, c, h, w, k, stride, k / 2);
        Random r = new Random(31L * h + k + stride);
        float[] x = asStored(Compare.randomFloats(r, n * c * h * w), st);
        float[] wt = asStored(Compare.randomFloats(r, c * k * k), st);
        float[] b = bias ? asStored(Compare.randomFloats(r, c), st) : null;
        float[] go = asStored(Compare.randomFloats(r, n * c * s.oh() * s.ow()), st);
        double tol = st == DepthwiseConvCuda.Storage.F32 ? TOL_F32 : TOL_F16;
        String what = CudaTestSupport.mode(ctx) + " " + s + " " + st;

        try (DeviceBuffer dx = upload(ctx, x, st); DeviceBuffer dwt = upload(ctx, wt, st);
             DeviceBuffer db = bias ? upload(ctx, b, st) : null; DeviceBuffer dgo = upload(ctx, go, st);
             DeviceBuffer y = ctx.allocate((long) go.length * 4); DeviceBuffer gx = ctx.allocate((long) x.length * 4);
             DeviceBuffer gw = ctx.allocate((long) wt.length * 4); DeviceBuffer gb = ctx.allocate((long) c * 4)) {
            for (DeviceBuffer out : new DeviceBuffer[] {y, gx, gw, gb}) out.fillBytes(0xFF);   // NaN poison

            DepthwiseConvCuda.forward(ctx, st, s, dx, dwt, db, y);
            DepthwiseConvCuda.backwardInput(ctx, st, s, dgo, dwt, gx);
            DepthwiseConvCuda.backwardWeight(ctx, st, s, dx, dgo, gw, gb);

            double[] yRef = DepthwiseConvReference.forward(x, wt, b, n, c, h, w, k, stride, k / 2);
            double[][] gRef = DepthwiseConvReference.backward(x, wt, go, n, c, h, w, k, stride, k / 2);
            double ey = Compare.relativeError(download(y, yRef.length, st), yRef);
            double ex = Compare.relativeError(download(gx, x.length, st), gRef[0]);
            double ew = Compare.relativeError(download(gw, wt.length, st), gRef[1]);
            double eb = Compare.relativeError(download(gb, c, st), gRef[2]);
            KernelErrors.record("dwconv2d", st.name(), ey, ex, ew, eb);
            assertTrue(ey <= tol, what + ": forward error " + ey);
            assertTrue(ex <= tol, what + ": input-gradient error " + ex);
            assertTrue(ew <= tol, what + ": weight-gradient error " + ew);
            assertTrue(eb <= tol, what + ": bias-gradient error " + eb);
        }
    }
}
