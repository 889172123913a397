package dev.lumen.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.reference.Compare;
import dev.lumen.reference.DepthwiseConvReference;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;
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
        // every unrolled (kernel size, stride) entry point, then the runtime-K ones (kany)
        "3, 5, 9, 11, 3, 1, true, F32",
        "2, 2, 16, 17, 5, 1, false, F32",
        "2, 3, 14, 14, 7, 1, true, F32",
        "1, 2, 14, 14, 13, 1, true, F32",
        "1, 2, 20, 23, 27, 1, true, F32",
        "1, 2, 19, 21, 29, 1, false, F32",
        "1, 2, 57, 57, 31, 1, true, F32",      // two tiles along x
        "2, 2, 28, 28, 3, 2, true, F32",
        "1, 4, 40, 33, 5, 2, true, F32",
        "1, 3, 15, 13, 7, 2, false, F32",
        "2, 3, 12, 10, 9, 1, true, F32",       // kany, stride 1
        "1, 2, 14, 14, 13, 2, false, F32",     // kany, stride 2
        "2, 3, 57, 45, 13, 2, true, F32",
        "1, 2, 9, 9, 31, 2, true, F32",
        "1, 3, 10, 9, 1, 2, true, F32",        // 1x1 at stride 2: two of the four input-gradient phases have no taps
        "1, 2, 140, 60, 3, 1, true, F32",      // two tiles along y
        "3, 4, 7, 7, 13, 1, true, F32",        // a 7x7 map: several planes per block
        "2, 3, 14, 14, 7, 1, true, F16",
        "1, 2, 57, 57, 31, 1, true, F16",
        "1, 3, 15, 13, 3, 2, true, F16",
        "2, 3, 12, 10, 9, 1, false, F16",
    })
    void matchesReference(int n, int c, int h, int w, int k, int stride, boolean bias, DepthwiseConvCuda.Storage st) {
        check(n, c, h, w, k, stride, bias, st, true);
    }

    /**
     * RepLKNet-31B's last stage at batch 64 has N*C = 64 * 1024 = 65,536 planes, one over the
     * 65,535 that grid y and z allow: the planes must go on grid x. A 2x2 map keeps it fast here.
     * The weight gradient is left out: its grid is (C, batch splits), whatever N*C, and 65,536
     * planes of it (256 threads and two barriers each) take half a minute in the checked emulator.
     */
    @ParameterizedTest(name = "N64 C1024 2x2 k3 s{0}")
    @CsvSource({"1", "2"})
    void planesBeyondTheGridLimitOfYAndZ(int stride) {
        check(64, 1024, 2, 2, 3, stride, true, DepthwiseConvCuda.Storage.F32, false);
    }

    /**
     * The weight gradient's batch slices fill whole waves of its 264 resident blocks: at RepLKNet's
     * B64 C128 two slices (256 blocks, one wave), not three (384: a second wave half empty); a wide
     * stage needs no slicing; a lone channel takes one image per block. Its 56x56 tile and input
     * window at K = 31 stay within the 48 KiB a block gets without opting in.
     */
    @Test
    void weightGradientSlicesFillWholeWaves() {
        assertEquals(2, DepthwiseConvCuda.weightSplits(64, 128));
        assertEquals(1, DepthwiseConvCuda.weightSplits(64, 1024));
        assertEquals(8, DepthwiseConvCuda.weightSplits(8, 1));
        var s = new DepthwiseConvCuda.Shape(64, 128, 56, 56, 31, 1, 15);
        assertEquals((56 * 56 + 87 * 92 + 256) * 4, DepthwiseConvCuda.weightSharedBytes(s));
        assertTrue(DepthwiseConvCuda.weightSharedBytes(s) <= 48 * 1024);
    }

    /** No atomics: the same inputs give the same bits, gradients included. */
    @Test
    void repeatsBitForBit() {
        CudaContext ctx = CudaTestSupport.context();
        var s = new DepthwiseConvCuda.Shape(3, 2, 20, 23, 27, 1, 13);
        var st = DepthwiseConvCuda.Storage.F32;
        Random r = new Random(5);
        float[] x = Compare.randomFloats(r, 3 * 2 * 20 * 23), wt = Compare.randomFloats(r, 2 * 27 * 27);
        float[] go = Compare.randomFloats(r, 3 * 2 * s.oh() * s.ow());
        float[][] first = null;
        for (int run = 0; run < 2; run++) {
            try (DeviceBuffer dx = upload(ctx, x, st); DeviceBuffer dwt = upload(ctx, wt, st); DeviceBuffer dgo = upload(ctx, go, st);
                 DeviceBuffer y = ctx.allocate((long) go.length * 4); DeviceBuffer gx = ctx.allocate((long) x.length * 4);
                 DeviceBuffer gw = ctx.allocate((long) wt.length * 4); DeviceBuffer gb = ctx.allocate(2L * 4)) {
                DepthwiseConvCuda.forward(ctx, st, s, dx, dwt, null, y);
                DepthwiseConvCuda.backwardInput(ctx, st, s, dgo, dwt, gx);
                DepthwiseConvCuda.backwardWeight(ctx, st, s, dx, dgo, gw, gb);
                float[][] now = {download(y, go.length, st), download(gx, x.length, st), download(gw, wt.length, st), download(gb, 2, st)};
                if (first == null) first = now;
                else for (int i = 0; i < now.length; i++) assertArrayEquals(first[i], now[i], "output " + i + " differs between two runs");
            }
        }
    }

    private static void check(int n, int c, int h, int w, int k, int stride, boolean bias, DepthwiseConvCuda.Storage st,
                              boolean weightGradient) {
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
            if (weightGradient) DepthwiseConvCuda.backwardWeight(ctx, st, s, dx, dgo, gw, gb);

            double[] yRef = DepthwiseConvReference.forward(x, wt, b, n, c, h, w, k, stride, k / 2);
            double[][] gRef = DepthwiseConvReference.backward(x, wt, go, n, c, h, w, k, stride, k / 2);
            double ey = Compare.relativeError(download(y, yRef.length, st), yRef);
            double ex = Compare.relativeError(download(gx, x.length, st), gRef[0]);
            assertTrue(ey <= tol, what + ": forward error " + ey);
            assertTrue(ex <= tol, what + ": input-gradient error " + ex);
            if (!weightGradient) return;
            double ew = Compare.relativeError(download(gw, wt.length, st), gRef[1]);
            double eb = Compare.relativeError(download(gb, c, st), gRef[2]);
            KernelErrors.record("dwconv2d", st.name(), ey, ex, ew, eb);
            assertTrue(ew <= tol, what + ": weight-gradient error " + ew);
            assertTrue(eb <= tol, what + ": bias-gradient error " + eb);
        }
    }
}
