package dev.lumen.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.lumen.backend.ConvKernels.Window;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The vectorized F32 max pooling against CpuPool's scalar F64 scan of the same values (the
 * reference): equal values and indices forward (ties to the first maximum, NaN winning, all
 * -inf windows), equal bits backward, on outputs poisoned first, for windows whose interior
 * columns fill several vectors, one, or none, with strides, padding and dilation.
 */
class MaxPoolF32Test {
    private static final CpuPool POOL = new CpuPool();

    /** {h, w, kh, kw, sh, sw, ph, pw, dh, dw} */
    private static final int[][] CASES = {
        {112, 112, 3, 3, 2, 2, 1, 1, 1, 1}, // resnet50's stem pool
        {37, 53, 3, 3, 1, 1, 1, 1, 1, 1},
        {20, 41, 2, 2, 2, 2, 0, 0, 1, 1},
        {9, 70, 3, 2, 1, 3, 1, 1, 1, 1},
        {15, 60, 3, 3, 2, 2, 1, 1, 2, 2},
        {5, 7, 5, 5, 1, 1, 2, 2, 1, 1},
        {13, 34, 2, 3, 2, 1, 0, 1, 1, 1},
    };

    /** Values from few levels, so windows hold ties; some NaN and -inf. */
    private static float[] values(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            int k = r.nextInt(200);
            v[i] = k == 0 ? Float.NaN : k == 1 ? Float.NEGATIVE_INFINITY : r.nextInt(7) - 3;
        }
        return v;
    }

    @Test
    void forwardAndBackwardMatchTheScalarScan() {
        Random r = new Random(5);
        for (int[] c : CASES) {
            for (int threads : new int[] {1, 3}) {
                int before = Parallel.threads();
                Parallel.setThreads(threads);
                try (Scope s = Scope.open()) {
                    check(r, c);
                } finally {
                    Parallel.setThreads(before);
                }
            }
        }
    }

    @Test
    void planeOfMinusInfinityPointsAtEachWindowsFirstInput() {
        try (Scope s = Scope.open()) {
            Window w = new Window(3, 3, 2, 2, 1, 1, 1, 1);
            Tensor x = Tensor.full(Double.NEGATIVE_INFINITY, DType.F32, Device.CPU, 1, 1, 9, 40);
            Tensor out = Tensor.full(7, DType.F32, Device.CPU, 1, 1, w.outH(9), w.outW(40));
            Tensor idx = Tensor.full(-5, DType.I64, Device.CPU, 1, 1, w.outH(9), w.outW(40));
            POOL.maxPool2d(x, w, out, idx);
            long[] got = idx.toLongs();
            for (int rr = 0, k = 0; rr < w.outH(9); rr++) {
                for (int cc = 0; cc < w.outW(40); cc++, k++) {
                    long expect = (long) Math.max(0, rr * 2 - 1) * 40 + Math.max(0, cc * 2 - 1);
                    assertArrayEquals(new long[] {expect}, new long[] {got[k]}, "index of output " + rr + "," + cc);
                }
            }
        }
    }

    private static void check(Random r, int[] c) {
        int n = 2, ch = 3, h = c[0], wd = c[1];
        Window w = new Window(c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9]);
        int oh = w.outH(h), ow = w.outW(wd);
        String what = java.util.Arrays.toString(c) + " at " + Parallel.threads() + " threads";
        Tensor x = Tensor.fromFloats(values(r, n * ch * h * wd), n, ch, h, wd);
        Tensor out = Tensor.full(Float.NaN, DType.F32, Device.CPU, n, ch, oh, ow);
        Tensor idx = Tensor.full(-3, DType.I64, Device.CPU, n, ch, oh, ow);
        POOL.maxPool2d(x, w, out, idx);
        Tensor ref = Tensor.full(99, DType.F64, Device.CPU, n, ch, oh, ow);
        Tensor refIdx = Tensor.full(-4, DType.I64, Device.CPU, n, ch, oh, ow);
        POOL.maxPool2d(x.to(DType.F64), w, ref, refIdx);
        assertArrayEquals(ref.to(DType.F32).toFloats(), out.toFloats(), what + " forward");
        assertArrayEquals(refIdx.toLongs(), idx.toLongs(), what + " indices");

        float[] go = new float[n * ch * oh * ow];
        for (int i = 0; i < go.length; i++) go[i] = (float) r.nextGaussian();
        Tensor g = Tensor.fromFloats(go, n, ch, oh, ow);
        Tensor gx = Tensor.full(Float.NaN, DType.F32, Device.CPU, n, ch, h, wd);
        POOL.maxPool2dBackward(g, idx, w, gx);
        Tensor refGx = Tensor.full(Double.NaN, DType.F64, Device.CPU, n, ch, h, wd);
        POOL.maxPool2dBackward(g.to(DType.F64), refIdx, w, refGx);
        assertArrayEquals(refGx.to(DType.F32).toFloats(), gx.toFloats(), what + " backward");
    }
}
