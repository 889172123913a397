package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.cpu.Parallel;
import dev.lumen.memory.Scope;
import dev.lumen.reference.OutlookReference;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import dev.lumen.testing.GradCheck;
import org.junit.jupiter.api.Test;

class OutlookAttentionTest extends DeviceTest {
    private static final Golden G = Golden.load("outlook");
    // Each output sums at most (k/s)^2 * k*k products of f32 values after an f32 softmax of
    // k*k terms; the rounding of those short sums gives ~1e-7 relative, 1e-5 leaves margin.
    private static final double TOL_F32 = 1e-5;
    // The same sums in double against the double reference: only reassociation differs.
    private static final double TOL_F64 = 1e-12;

    @Test
    void matchesTorchGoldens() {
        for (String name : new String[] {"s2_7x7", "s2_6x9", "s1_5x5", "s1_4x7"}) {
            try (Scope s = Scope.open()) {
                Tensor v = G.input(name, 0, device), logits = G.input(name, 1, device);
                int stride = name.startsWith("s2") ? 2 : 1;
                double scale = G.get(name + ".scale").item();
                Tensor out = OutlookAttention.outlookAttention(v, logits, 3, 1, stride, scale);
                G.check("outlook", name, out, new Tensor[] {v, logits}, TOL_F32, TOL_F32);
            }
        }
    }

    /** B, H, W, C, heads, k, p, s: odd maps, VOLO's k3 p1 with s2 and s1, a head dim of 32 (the vector path) and a wider window. */
    private static final int[][] SHAPES = {
        {2, 7, 7, 12, 3, 3, 1, 2},
        {1, 13, 13, 20, 2, 3, 1, 2},
        {2, 14, 14, 64, 2, 3, 1, 1},
        {1, 28, 28, 96, 3, 3, 1, 2},
        {1, 13, 11, 40, 1, 3, 1, 1},
        {2, 9, 10, 6, 2, 5, 2, 3},
    };

    @Test
    void cpuKernelsMatchReferenceInF32() { compareWithReference(DType.F32, TOL_F32); }

    @Test
    void cpuKernelsMatchReferenceInF64() { compareWithReference(DType.F64, TOL_F64); }

    private void compareWithReference(DType dtype, double tol) {
        long seed = System.nanoTime();
        Generator gen = new Generator(seed);
        for (int[] d : SHAPES) {
            try (Scope s = Scope.open()) {
                var sh = new OutlookReference.Shape(d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]);
                Tensor v = on(Tensor.randn(gen, dtype, sh.batch(), sh.height(), sh.width(), sh.channels()));
                Tensor logits = on(Tensor.randn(gen, dtype, sh.batch(), sh.h(), sh.w(), sh.heads(), sh.k() * sh.k(), sh.k() * sh.k())).mul(3);
                Tensor gout = on(Tensor.randn(gen, dtype, v.shape()));
                double scale = 1 / Math.sqrt(sh.channels() / sh.heads());
                Tensor out = poisoned(dtype, v.shape()), gv = poisoned(dtype, v.shape()), gl = poisoned(dtype, logits.shape());
                v.backend().outlook().outlookForward(v, logits, sh.k(), sh.p(), sh.s(), scale, out);
                v.backend().outlook().outlookBackward(v, logits, gout, sh.k(), sh.p(), sh.s(), scale, gv, gl);
                var ref = OutlookReference.run(sh, v.toDoubles(), logits.toDoubles(), scale, gout.toDoubles());
                String what = dtype + " " + java.util.Arrays.toString(d) + " seed " + seed;
                Golden.assertClose("outlook-ref", what + " out", out, ofDoubles(ref.out(), v.shape()), tol);
                Golden.assertClose("outlook-ref", what + " gradV", gv, ofDoubles(ref.gradV(), v.shape()), tol);
                Golden.assertClose("outlook-ref", what + " gradLogits", gl, ofDoubles(ref.gradLogits(), logits.shape()), tol);
                // Each gradient alone (the probabilities then go to scratch) agrees with both together; not
                // bit for bit, as the vector exp of interpreted and compiled code differ in the last bit.
                Tensor gv2 = poisoned(dtype, v.shape()), gl2 = poisoned(dtype, logits.shape());
                v.backend().outlook().outlookBackward(v, logits, gout, sh.k(), sh.p(), sh.s(), scale, gv2, null);
                v.backend().outlook().outlookBackward(v, logits, gout, sh.k(), sh.p(), sh.s(), scale, null, gl2);
                Golden.assertClose("outlook-ref", what + " gradV alone", gv2, gv, tol);
                Golden.assertClose("outlook-ref", what + " gradLogits alone", gl2, gl, tol);
            }
        }
    }

    /**
     * The CPU kernels' tasks are bands of output rows, v rows and anchor rows, with every sum in a
     * fixed order and each softmax row computed alike in whichever band needs it, so the thread
     * count changes no bit (19 rows: three bands of output rows, the last one short).
     */
    @Test
    void cpuResultsDoNotDependOnTheThreadCount() {
        onlyOnCpu("Parallel's thread count is the CPU backend's");
        int before = Parallel.threads();
        try {
            Parallel.setThreads(1);
            float[][] one = cpuOutputAndGradients();
            Parallel.setThreads(3);
            float[][] three = cpuOutputAndGradients();
            for (int i = 0; i < one.length; i++) assertArrayEquals(one[i], three[i], "result " + i);
        } finally {
            Parallel.setThreads(before);
        }
    }

    private static float[][] cpuOutputAndGradients() {
        try (Scope s = Scope.open()) {
            Generator gen = new Generator(21);
            var sh = new OutlookReference.Shape(2, 19, 17, 64, 2, 3, 1, 2);
            Tensor v = Tensor.randn(gen, DType.F32, sh.batch(), sh.height(), sh.width(), sh.channels());
            Tensor logits = Tensor.randn(gen, DType.F32, sh.batch(), sh.h(), sh.w(), sh.heads(), 9, 9).mul(3);
            Tensor gout = Tensor.randn(gen, DType.F32, v.shape());
            Tensor out = Tensor.empty(DType.F32, Device.CPU, v.shape()), gv = Tensor.empty(DType.F32, Device.CPU, v.shape());
            Tensor gl = Tensor.empty(DType.F32, Device.CPU, logits.shape());
            v.backend().outlook().outlookForward(v, logits, 3, 1, 2, 0.25, out);
            v.backend().outlook().outlookBackward(v, logits, gout, 3, 1, 2, 0.25, gv, gl);
            return new float[][] {out.toFloats(), gv.toFloats(), gl.toFloats()};
        }
    }

    @Test
    void gradientsPassFiniteDifferences() {
        Generator gen = new Generator(11);
        for (int[] d : new int[][] {{1, 5, 5, 4, 2, 3, 1, 2}, {1, 4, 3, 2, 1, 3, 1, 1}, {2, 5, 4, 3, 1, 3, 1, 2}}) {
            var sh = new OutlookReference.Shape(d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]);
            Tensor v = on(Tensor.randn(gen, DType.F64, sh.batch(), sh.height(), sh.width(), sh.channels()));
            Tensor logits = on(Tensor.randn(gen, DType.F64, sh.batch(), sh.h(), sh.w(), sh.heads(), 9, 9));
            GradCheck.check(device, "outlookAttention " + java.util.Arrays.toString(d),
                    x -> OutlookAttention.outlookAttention(x[0], x[1], 3, 1, sh.s(), 0.7), v, logits);
        }
    }

    @Test
    void rejectsMismatchedShapesWithNamedArguments() {
        Tensor v = on(Tensor.zeros(1, 7, 7, 6));
        var e = assertThrows(IllegalArgumentException.class,
                () -> OutlookAttention.outlookAttention(v, on(Tensor.zeros(1, 3, 3, 2, 9, 9)), 3, 1, 2, 1));
        assertTrue(e.getMessage().contains("outlookAttention: logits must be [B,h,w,heads,k*k,k*k] = [1, 4, 4"), e.getMessage());
        var heads = assertThrows(IllegalArgumentException.class,
                () -> OutlookAttention.outlookAttention(v, on(Tensor.zeros(1, 4, 4, 4, 9, 9)), 3, 1, 2, 1));
        assertTrue(heads.getMessage().contains("do not split into 4 heads"), heads.getMessage());
    }

    Tensor poisoned(DType dtype, int... shape) { return Tensor.full(Double.NaN, dtype, device, shape); }

    Tensor ofDoubles(double[] data, int... shape) { return on(Tensor.fromDoubles(data, DType.F64, shape)); }
}
