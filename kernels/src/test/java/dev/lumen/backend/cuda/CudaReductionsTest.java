package dev.lumen.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.Backends;
import dev.lumen.backend.ReductionKernels;
import dev.lumen.backend.ReductionKernels.Reduce;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * ReductionKernels on the device against the CPU backend: every op and floating dtype, every
 * combination of dims of an odd 3-D shape, contiguous and strided inputs, outputs poisoned with
 * NaN (or written through strided views), NaN propagation and ties, the split (two-pass) paths,
 * and bit-identical results across runs.
 */
class CudaReductionsTest {
    static final Device CUDA = Device.cuda(0);
    static final DType[] FLOATS = {DType.F32, DType.F64, DType.F16, DType.BF16};

    @BeforeAll
    static void cuda() { DeviceCheck.requireCuda(); }

    static ReductionKernels gpu() { return CudaBackend.get().reductions(); }

    static ReductionKernels cpu() { return Backends.cpu().reductions(); }

    /**
     * Relative-and-absolute tolerance per dtype. The device sums in double (the CPU partly in
     * float) and takes exp in float for F32 and half types (the CPU in double for half types), so
     * results differ by rounding: about 1e-7 relative before the store, then one rounding to the
     * dtype, which for the half types can land one ulp apart.
     */
    static double tol(DType t) {
        return switch (t) {
            case F64 -> 1e-12;
            case F32 -> 2e-6;
            case F16 -> 2e-3;
            case BF16 -> 1.6e-2;
            default -> 0;
        };
    }

    static Tensor random(long seed, DType t, int... shape) {
        return Tensor.randn(new Generator(seed), DType.F64, shape).mul(3.0).to(t);
    }

    /** The same values as host on the device, through a non-contiguous view (reversed dims, every other row). */
    static Tensor strided(Tensor host) {
        int r = host.dim();
        int[] rev = new int[r];
        for (int i = 0; i < r; i++) rev[i] = r - 1 - i;
        int[] shape = host.shape();
        shape[0] *= 2;
        Tensor big = Tensor.full(Double.NaN, host.dtype(), Device.CPU, shape);
        Backends.cpu().copy(host, big.slice(0, 0, shape[0], 2));
        return big.permute(rev).contiguous().to(CUDA).permute(rev).slice(0, 0, shape[0], 2);
    }

    static Tensor poisoned(DType t, int... shape) { return Tensor.full(Double.NaN, t, CUDA, shape); }

    static void assertClose(Tensor expect, Tensor got, double tol, String what) {
        double[] e = expect.toDoubles(), g = got.to(Device.CPU).toDoubles();
        assertEquals(e.length, g.length, what);
        for (int i = 0; i < e.length; i++) {
            if (Double.isNaN(e[i]) || Double.isNaN(g[i])) {
                assertTrue(Double.isNaN(e[i]) && Double.isNaN(g[i]), what + " at " + i + ": " + e[i] + " vs " + g[i]);
            } else if (Double.isInfinite(e[i]) || tol == 0) {
                assertEquals(e[i], g[i], 0.0, what + " at " + i);
            } else {
                assertEquals(e[i], g[i], tol * (1 + Math.abs(e[i])), what + " at " + i);
            }
        }
    }

    static List<int[]> subsets(int rank) {
        List<int[]> out = new ArrayList<>();
        for (int m = 0; m < 1 << rank; m++) {
            int[] d = new int[Integer.bitCount(m)];
            for (int i = 0, n = 0; i < rank; i++) if ((m & 1 << i) != 0) d[n++] = i;
            out.add(d);
        }
        return out;
    }

    static int[] keptShape(int[] shape, int[] dims) {
        int[] s = shape.clone();
        for (int d : dims) s[d] = 1;
        return s;
    }

    @Test
    void reduceMatchesTheCpuForEveryOpDtypeAndDimSet() {
        int[] shape = {3, 5, 7};
        for (DType t : FLOATS) {
            for (Reduce op : Reduce.values()) {
                for (int[] dims : subsets(3)) {
                    for (boolean strided : new boolean[] {false, true}) {
                        try (Scope s = Scope.open()) {
                            Tensor h = random(11, t, shape);
                            Tensor expect = Tensor.empty(t, Device.CPU, keptShape(shape, dims));
                            cpu().reduce(op, h, dims, expect);
                            Tensor got = poisoned(t, keptShape(shape, dims));
                            gpu().reduce(op, strided ? strided(h) : h.to(CUDA), dims, got);
                            assertClose(expect, got, tol(t), op + " " + t + " dims " + Arrays.toString(dims) + (strided ? " strided" : ""));
                        }
                    }
                }
            }
        }
    }

    @Test
    void reduceWritesThroughAStridedOutput() {
        try (Scope s = Scope.open()) {
            Tensor h = random(3, DType.F32, 4, 6, 5);
            int[] dims = {1};
            Tensor expect = Tensor.empty(DType.F32, Device.CPU, 4, 1, 5);
            cpu().reduce(Reduce.SUM, h, dims, expect);
            Tensor big = poisoned(DType.F32, 5, 1, 10);
            Tensor out = big.permute(2, 1, 0).slice(0, 0, 10, 2).permute(2, 1, 0).slice(0, 0, 4, 1);
            gpu().reduce(Reduce.SUM, h.to(CUDA), dims, out);
            assertClose(expect, out.contiguous(), tol(DType.F32), "strided out");
        }
    }

    @Test
    void amaxAminAndLogsumexpPropagateNanAndInfinity() {
        for (DType t : FLOATS) {
            try (Scope s = Scope.open()) {
                double[] v = random(5, DType.F64, 4, 9).toDoubles();
                v[3] = Double.NaN;                       // row 0: NaN
                for (int j = 9; j < 18; j++) v[j] = Double.NEGATIVE_INFINITY;  // row 1: all -inf
                v[20] = Double.POSITIVE_INFINITY;        // row 2: +inf
                Tensor h = Tensor.fromDoubles(v, t, 4, 9);
                for (Reduce op : Reduce.values()) {
                    for (int[] dims : new int[][] {{1}, {0}, {0, 1}}) {
                        Tensor expect = Tensor.empty(t, Device.CPU, keptShape(h.shape(), dims));
                        cpu().reduce(op, h, dims, expect);
                        Tensor got = poisoned(t, keptShape(h.shape(), dims));
                        gpu().reduce(op, h.to(CUDA), dims, got);
                        assertClose(expect, got, tol(t), op + " " + t + " " + Arrays.toString(dims));
                    }
                }
            }
        }
    }

    @Test
    void longReductionsSplitAcrossBlocksAndCombine() {
        // 5001 elements per output on few outputs: row passes split into blocks, column passes into slices.
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            for (int[] dims : new int[][] {{0}, {1}, {0, 1}}) {
                for (Reduce op : Reduce.values()) {
                    try (Scope s = Scope.open()) {
                        Tensor h = random(9, t, 1667, 3);
                        Tensor expect = Tensor.empty(t, Device.CPU, keptShape(h.shape(), dims));
                        cpu().reduce(op, h, dims, expect);
                        Tensor got = poisoned(t, keptShape(h.shape(), dims));
                        gpu().reduce(op, h.to(CUDA), dims, got);
                        assertClose(expect, got, tol(t), op + " " + t + " " + Arrays.toString(dims));
                    }
                }
            }
        }
    }

    @Test
    void sumsOfIntegerTensorsAreExact() {
        try (Scope s = Scope.open()) {
            Tensor h = random(4, DType.F64, 5, 6).mul(100).to(DType.I64);
            for (int[] dims : subsets(2)) {
                for (Reduce op : new Reduce[] {Reduce.SUM, Reduce.AMAX, Reduce.AMIN}) {
                    Tensor expect = Tensor.empty(DType.I64, Device.CPU, keptShape(h.shape(), dims));
                    cpu().reduce(op, h, dims, expect);
                    Tensor got = Tensor.full(-7, DType.I64, CUDA, keptShape(h.shape(), dims));
                    gpu().reduce(op, h.to(CUDA), dims, got);
                    assertArrayEquals(expect.toLongs(), got.to(Device.CPU).toLongs(), op + " " + Arrays.toString(dims));
                }
            }
        }
    }

    @Test
    void varianceMatchesTheCpuWithAndWithoutCorrection() {
        int[] shape = {3, 5, 7};
        for (DType t : FLOATS) {
            for (int[] dims : subsets(3)) {
                for (double correction : new double[] {0, 1}) {
                    try (Scope s = Scope.open()) {
                        Tensor h = random(13, t, shape).add(50);  // a large mean: a one-pass variance would lose it
                        Tensor expect = Tensor.empty(t, Device.CPU, keptShape(shape, dims));
                        cpu().variance(h, dims, correction, expect);
                        Tensor got = poisoned(t, keptShape(shape, dims));
                        gpu().variance(strided(h), dims, correction, got);
                        assertClose(expect, got, tol(t), "var " + t + " " + Arrays.toString(dims) + " c=" + correction);
                    }
                }
            }
        }
    }

    /** Values with ties (a few distinct levels) and a NaN, so first-index and NaN rules are exercised. */
    static Tensor tiesAndNan(DType t, int... shape) {
        double[] v = Tensor.rand(new Generator(21), DType.F64, shape).toDoubles();
        for (int i = 0; i < v.length; i++) v[i] = Math.floor(v[i] * 4) - 2;
        v[v.length / 3] = Double.NaN;
        v[v.length / 3 + 2] = Double.NaN;
        return Tensor.fromDoubles(v, t, shape);
    }

    @Test
    void extremeAlongDimGivesTheFirstIndexAndCountsNanAsExtreme() {
        int[] shape = {3, 5, 7};
        for (DType t : new DType[] {DType.F32, DType.F64, DType.F16, DType.BF16, DType.I32, DType.I64}) {
            for (int dim = 0; dim < 3; dim++) {
                for (boolean largest : new boolean[] {true, false}) {
                    for (boolean withValues : new boolean[] {true, false}) {
                        try (Scope s = Scope.open()) {
                            Tensor h = t.isFloating() ? tiesAndNan(t, shape) : random(2, DType.F64, shape).to(t);
                            int[] ks = shape.clone();
                            ks[dim] = 1;
                            Tensor ev = Tensor.empty(t, Device.CPU, ks), ei = Tensor.empty(DType.I64, Device.CPU, ks);
                            cpu().extremeAlongDim(largest, h, dim, ev, ei);
                            Tensor gv = withValues ? poisoned(t, ks) : null, gi = Tensor.full(-5, DType.I64, CUDA, ks);
                            gpu().extremeAlongDim(largest, strided(h), dim, gv, gi);
                            String what = t + " dim " + dim + (largest ? " max" : " min");
                            assertArrayEquals(ei.toLongs(), gi.to(Device.CPU).toLongs(), what);
                            if (withValues) assertClose(ev, gv, 0, what);
                        }
                    }
                }
            }
        }
    }

    @Test
    void extremeAlongALongDimSplitsAndKeepsTheFirstIndex() {
        try (Scope s = Scope.open()) {
            Tensor ht = tiesAndNan(DType.F32, 2, 4500);  // row 0 has two NaNs, row 1 only ties
            for (boolean largest : new boolean[] {true, false}) {
                Tensor ev = Tensor.empty(DType.F32, Device.CPU, 2, 1), ei = Tensor.empty(DType.I64, Device.CPU, 2, 1);
                cpu().extremeAlongDim(largest, ht, 1, ev, ei);
                Tensor gv = poisoned(DType.F32, 2, 1), gi = Tensor.full(-5, DType.I64, CUDA, 2, 1);
                gpu().extremeAlongDim(largest, ht.to(CUDA), 1, gv, gi);
                assertArrayEquals(ei.toLongs(), gi.to(Device.CPU).toLongs());
                assertClose(ev, gv, 0, "values");
            }
        }
    }

    @Test
    void extremeOfAnEmptyDimIsAnError() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.empty(DType.F32, CUDA, 3, 0);
            assertThrows(IllegalArgumentException.class, () -> gpu().extremeAlongDim(true, x, 1, null, Tensor.empty(DType.I64, CUDA, 3, 1)));
        }
    }

    @Test
    void topkIsSortedWithNanFirstAndTiesByIndex() {
        int[] shape = {3, 5, 7};
        for (DType t : new DType[] {DType.F32, DType.F64, DType.F16, DType.BF16, DType.I64}) {
            for (int dim = 0; dim < 3; dim++) {
                for (int k : new int[] {1, 3}) {
                    for (boolean largest : new boolean[] {true, false}) {
                        try (Scope s = Scope.open()) {
                            Tensor h = t.isFloating() ? tiesAndNan(t, shape) : random(2, DType.F64, shape).to(t);
                            int[] ks = shape.clone();
                            ks[dim] = k;
                            Tensor ev = Tensor.empty(t, Device.CPU, ks), ei = Tensor.empty(DType.I64, Device.CPU, ks);
                            cpu().topk(h, k, dim, largest, ev, ei);
                            Tensor gv = poisoned(t, ks), gi = Tensor.full(-5, DType.I64, CUDA, ks);
                            gpu().topk(strided(h), k, dim, largest, gv, gi);
                            String what = t + " dim " + dim + " k " + k + (largest ? " largest" : " smallest");
                            assertArrayEquals(ei.toLongs(), gi.to(Device.CPU).toLongs(), what);
                            assertClose(ev, gv, 0, what);
                        }
                    }
                }
            }
        }
    }

    @Test
    void selectionBackwardScattersByGatheringForEveryDtype() {
        int[] shape = {4, 5, 6};
        for (DType t : FLOATS) {
            for (int dim = 0; dim < 3; dim++) {
                for (int k : new int[] {1, 2}) {
                    try (Scope s = Scope.open()) {
                        Tensor h = random(8, t, shape);
                        int[] ks = shape.clone();
                        ks[dim] = k;
                        Tensor vals = Tensor.empty(t, Device.CPU, ks), idx = Tensor.empty(DType.I64, Device.CPU, ks);
                        cpu().topk(h, k, dim, true, vals, idx);
                        Tensor g = random(10, t, ks);
                        Tensor expect = Tensor.empty(t, Device.CPU, shape);
                        cpu().selectionBackward(g, idx, dim, expect);
                        Tensor got = poisoned(t, shape);
                        gpu().selectionBackward(strided(g), strided(idx), dim, got);
                        assertClose(expect, got, 0, t + " dim " + dim + " k " + k);
                    }
                }
            }
        }
    }

    @Test
    void softmaxAndLogSoftmaxMatchTheCpuAlongEveryDim() {
        for (DType t : FLOATS) {
            for (int[] shape : new int[][] {{3, 5, 7}, {3, 300}}) {
                for (int dim = 0; dim < shape.length; dim++) {
                    for (boolean log : new boolean[] {false, true}) {
                        for (boolean strided : new boolean[] {false, true}) {
                            try (Scope s = Scope.open()) {
                                Tensor h = random(17, t, shape);
                                Tensor expect = Tensor.empty(t, Device.CPU, shape);
                                cpu().softmax(h, dim, log, expect);
                                Tensor got = poisoned(t, shape);
                                gpu().softmax(strided ? strided(h) : h.to(CUDA), dim, log, got);
                                String what = (log ? "log_softmax " : "softmax ") + t + " " + Arrays.toString(shape) + " dim " + dim;
                                assertClose(expect, got, tol(t), what);

                                Tensor g = random(19, t, shape);
                                Tensor ge = Tensor.empty(t, Device.CPU, shape);
                                cpu().softmaxBackward(expect, g, dim, log, ge);
                                Tensor gg = poisoned(t, shape);
                                gpu().softmaxBackward(strided ? strided(expect) : expect.to(CUDA), strided ? strided(g) : g.to(CUDA), dim, log, gg);
                                assertClose(ge, gg, tol(t), what + " backward");
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void softmaxOfInfiniteRowsFollowsTheCpu() {
        try (Scope s = Scope.open()) {
            double[] v = random(1, DType.F64, 3, 6).toDoubles();
            for (int j = 0; j < 6; j++) v[j] = Double.NEGATIVE_INFINITY;
            v[8] = Double.POSITIVE_INFINITY;
            v[14] = Double.NaN;
            Tensor h = Tensor.fromDoubles(v, DType.F32, 3, 6);
            for (boolean log : new boolean[] {false, true}) {
                Tensor expect = Tensor.empty(DType.F32, Device.CPU, 3, 6);
                cpu().softmax(h, 1, log, expect);
                Tensor got = poisoned(DType.F32, 3, 6);
                gpu().softmax(h.to(CUDA), 1, log, got);
                assertClose(expect, got, tol(DType.F32), log ? "log_softmax" : "softmax");
            }
        }
    }

    @Test
    void twoRunsGiveIdenticalBits() {
        try (Scope s = Scope.open()) {
            Tensor x = random(23, DType.F32, 3, 4099).to(CUDA);
            for (int[] dims : new int[][] {{0, 1}, {1}, {0}}) {
                for (Reduce op : Reduce.values()) {
                    Tensor a = poisoned(DType.F32, keptShape(x.shape(), dims)), b = poisoned(DType.F32, keptShape(x.shape(), dims));
                    gpu().reduce(op, x, dims, a);
                    gpu().reduce(op, x, dims, b);
                    assertArrayEquals(a.to(Device.CPU).toFloats(), b.to(Device.CPU).toFloats(), op + " " + Arrays.toString(dims));
                }
                Tensor a = poisoned(DType.F32, keptShape(x.shape(), dims)), b = poisoned(DType.F32, keptShape(x.shape(), dims));
                gpu().variance(x, dims, 1, a);
                gpu().variance(x, dims, 1, b);
                assertArrayEquals(a.to(Device.CPU).toFloats(), b.to(Device.CPU).toFloats(), "var " + Arrays.toString(dims));
            }
            Tensor a = poisoned(DType.F32, 3, 4099), b = poisoned(DType.F32, 3, 4099);
            gpu().softmax(x, 1, false, a);
            gpu().softmax(x, 1, false, b);
            assertArrayEquals(a.to(Device.CPU).toFloats(), b.to(Device.CPU).toFloats(), "softmax");
        }
    }
}
