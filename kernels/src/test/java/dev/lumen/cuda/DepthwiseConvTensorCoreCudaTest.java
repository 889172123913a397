package dev.lumen.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.cuda.DepthwiseConvTensorCoreCuda.Storage;
import dev.lumen.reference.Compare;
import dev.lumen.reference.DepthwiseConvReference;
import dev.lumen.tensor.HalfFloats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** dwconv_tc.cu (tensor cores) against the double-precision reference: forward and input gradient. */
class DepthwiseConvTensorCoreCudaTest {
    // Inputs and weights are stored values, so products are exact and the f32 sums differ from
    // the double reference by ~sqrt(K*K) * 2^-24; what remains is the rounding of the output to
    // 11 (f16) or 8 (bf16) significant bits: 2^-11 and 2^-8 at most, about a third of it RMS.
    private static final double TOL_F16 = 1e-3;
    private static final double TOL_BF16 = 6e-3;

    private static short bits(float v, Storage st) { return st == Storage.F16 ? HalfFloats.toF16(v) : HalfFloats.toBF16(v); }

    private static float value(short b, Storage st) { return st == Storage.F16 ? HalfFloats.fromF16(b) : HalfFloats.fromBF16(b); }

    private static DeviceBuffer upload(CudaContext ctx, float[] v, Storage st) {
        DeviceBuffer b = ctx.allocate((long) v.length * 2);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(b.byteSize(), 8);
            for (int i = 0; i < v.length; i++) h.setAtIndex(ValueLayout.JAVA_SHORT, i, bits(v[i], st));
            b.copyFrom(h);
        }
        return b;
    }

    private static float[] download(DeviceBuffer b, int n, Storage st) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(b.byteSize(), 8);
            b.copyTo(h);
            float[] v = new float[n];
            for (int i = 0; i < n; i++) v[i] = value(h.getAtIndex(ValueLayout.JAVA_SHORT, i), st);
            return v;
        }
    }

    /** Rounds through the storage type so the reference sees what the kernel sees. */
    private static float[] stored(float[] v, Storage st) {
        float[] r = new float[v.length];
        for (int i = 0; i < v.length; i++) r[i] = value(bits(v[i], st), st);
        return r;
    }

    private static DeviceBuffer poisoned(CudaContext ctx, int elements) {
        DeviceBuffer b = ctx.allocate((long) elements * 2);
        b.fillBytes(0xFF);   // NaN in f16 and bf16
        return b;
    }

    @ParameterizedTest(name = "{7} N{0} C{1} {2}x{3} k{4} pad{5} bias={6}")
    @CsvSource({
        "2, 3, 14, 14, 7, 3, true, F16",
        "2, 3, 14, 14, 7, 3, true, BF16",
        "1, 2, 40, 37, 31, 15, true, F16",
        "1, 2, 40, 37, 31, 15, false, BF16",
        "3, 5, 9, 11, 3, 1, true, F16",
        "3, 5, 35, 19, 3, 1, true, BF16",
        "2, 2, 7, 7, 13, 6, true, F16",
        "1, 3, 20, 23, 7, 1, true, F16",
        "4, 200, 5, 6, 3, 1, true, BF16",
        "1, 2, 70, 70, 5, 2, true, F16",        // 2 x 3 tiles of 64x32: a window's second warp idles
    })
    void matchesReference(int n, int c, int h, int w, int k, int pad, boolean bias, Storage st) {
        CudaContext ctx = CudaTestSupport.context();
        var s = new DepthwiseConvCuda.Shape(n, c, h, w, k, 1, pad);
        assertTrue(DepthwiseConvTensorCoreCuda.supports(s), s.toString());
        Random r = new Random(131L * h + 7L * k + pad + st.ordinal());
        float[] x = stored(Compare.randomFloats(r, n * c * h * w), st);
        float[] wt = stored(Compare.randomFloats(r, c * k * k), st);
        float[] b = bias ? stored(Compare.randomFloats(r, c), st) : null;
        float[] go = stored(Compare.randomFloats(r, n * c * s.oh() * s.ow()), st);
        double tol = st == Storage.F16 ? TOL_F16 : TOL_BF16;
        String what = CudaTestSupport.mode(ctx) + " " + s + " " + st;

        try (DeviceBuffer dx = upload(ctx, x, st); DeviceBuffer dwt = upload(ctx, wt, st);
             DeviceBuffer db = bias ? upload(ctx, b, st) : null; DeviceBuffer dgo = upload(ctx, go, st);
             DeviceBuffer y = poisoned(ctx, go.length); DeviceBuffer gx = poisoned(ctx, x.length)) {
            DepthwiseConvTensorCoreCuda.forward(ctx, st, s, dx, dwt, db, y);
            DepthwiseConvTensorCoreCuda.backwardInput(ctx, st, s, dgo, dwt, gx);

            double[] yRef = DepthwiseConvReference.forward(x, wt, b, n, c, h, w, k, 1, pad);
            double[] gxRef = DepthwiseConvReference.backward(x, wt, go, n, c, h, w, k, 1, pad)[0];
            double ey = Compare.relativeError(download(y, yRef.length, st), yRef);
            double ex = Compare.relativeError(download(gx, x.length, st), gxRef);
            KernelErrors.record("dwconv2d_tc", st.name(), ey, ex);
            assertTrue(ey <= tol, what + ": forward error " + ey);
            assertTrue(ex <= tol, what + ": input-gradient error " + ex);
        }
    }

    /**
     * RepLKNet-31B's last stage at batch 64 has N*C = 65,536 planes, over gridDim.z's 65,535: the
     * grid is one-dimensional (channels times image groups). 1x1 maps and a 1x1 filter keep the
     * emulation short; the mapping of blocks to planes is the same at every size.
     */
    @Test
    void gridFitsSixtyFiveThousandPlanes() {
        CudaContext ctx = CudaTestSupport.context();
        int n = 64, c = 1024, h = 1, w = 1, k = 1;
        var s = new DepthwiseConvCuda.Shape(n, c, h, w, k, 1, 0);
        Random r = new Random(65536);
        float[] x = stored(Compare.randomFloats(r, n * c * h * w), Storage.F16);
        float[] wt = stored(Compare.randomFloats(r, c * k * k), Storage.F16);
        try (DeviceBuffer dx = upload(ctx, x, Storage.F16); DeviceBuffer dwt = upload(ctx, wt, Storage.F16);
             DeviceBuffer y = poisoned(ctx, x.length)) {
            DepthwiseConvTensorCoreCuda.forward(ctx, Storage.F16, s, dx, dwt, null, y);
            double[] yRef = DepthwiseConvReference.forward(x, wt, null, n, c, h, w, k, 1, 0);
            double e = Compare.relativeError(download(y, yRef.length, Storage.F16), yRef);
            assertTrue(e <= TOL_F16, CudaTestSupport.mode(ctx) + ": error " + e);
        }
    }

    @Test
    void refusesWhatItDoesNotCompute() {
        var strided = new DepthwiseConvCuda.Shape(1, 2, 8, 8, 3, 2, 1);
        assertFalse(DepthwiseConvTensorCoreCuda.supports(strided));
        var ex = assertThrows(IllegalArgumentException.class,
                () -> DepthwiseConvTensorCoreCuda.forward(CudaTestSupport.context(), Storage.F16, strided, 0, 0, 0, 0));
        assertTrue(ex.getMessage().contains("stride 1"), ex.getMessage());
        assertFalse(DepthwiseConvTensorCoreCuda.supports(new DepthwiseConvCuda.Shape(1, 2, 8, 8, 3, 1, 3)));
    }

    /**
     * The launcher's tiling and shared-memory size mirror the kernel's layout: at K = 31 on 56x56,
     * 47 KiB of Toeplitz and 6 windows of 94 columns x 112 rows (one 12-warp block per SM).
     */
    @Test
    void sharedMemoryLayout() {
        assertEquals(2, DepthwiseConvTensorCoreCuda.tiling(56, 56));
        assertEquals(1, DepthwiseConvTensorCoreCuda.tiling(28, 28));
        assertEquals(1, DepthwiseConvTensorCoreCuda.tiling(40, 14));
        assertEquals(0, DepthwiseConvTensorCoreCuda.tiling(14, 14));
        assertEquals((31 * 3 * 256 + 6 * 94 * 112) * 2, DepthwiseConvTensorCoreCuda.sharedBytes(31, 2));
        assertEquals((29 * 3 * 256 + 12 * 60 * 80) * 2, DepthwiseConvTensorCoreCuda.sharedBytes(29, 1));
        assertEquals((3 * 2 * 256 + 12 * 18 * 48) * 2, DepthwiseConvTensorCoreCuda.sharedBytes(3, 0));
        assertTrue(DepthwiseConvTensorCoreCuda.sharedBytes(31, 2) <= 227 * 1024);
    }
}
