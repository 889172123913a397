package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.cpu.CpuLinalg;
import dev.lumen.backend.cpu.Gemm;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The GEMMs (Java Vector API, OpenBLAS, oneDNN) against a double-precision reference, on odd sizes. */
class GemmTest {
    private static final int[][] SIZES = {{1, 1, 1}, {7, 13, 5}, {65, 33, 129}, {6, 1, 40}, {97, 270, 31}, {13, 2, 1}, {3, 0, 4}};

    /** The CPU's GEMMs to run a matmul test with; another device has its own, run once. */
    static List<Gemm> gemmsOn(dev.lumen.tensor.Device device) {
        return device.kind() == dev.lumen.tensor.Device.Kind.CPU ? gemms() : List.of(Gemm.active());
    }

    static List<Gemm> gemms() {
        List<Gemm> l = new ArrayList<>();
        l.add(Gemm.java());
        if (Gemm.openBlas() != null) l.add(Gemm.openBlas());
        if (Gemm.oneDnn() != null) l.add(Gemm.oneDnn());
        return l;
    }

    @Test
    void reportsTheGemmInUse() {
        System.out.println("GEMM in use: " + CpuLinalg.gemmName());
        assertNotNull(CpuLinalg.gemmName());
        // The Debian image installs libopenblas0-pthread; auto must pick it up there.
        if (java.nio.file.Files.exists(java.nio.file.Path.of("/usr/lib/x86_64-linux-gnu/libopenblas.so.0"))) {
            assertNotNull(Gemm.openBlas(), "libopenblas.so.0 is installed but did not load");
        }
    }

    @Test
    void sgemmMatchesReferenceForEveryTransposeAndBeta() {
        for (Gemm g : gemms()) {
            for (int[] s : SIZES) {
                for (int t = 0; t < 4; t++) {
                    for (float beta : new float[] {0f, 1f, 0.5f}) check(g, s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0, 1.25f, beta, false);
                }
            }
        }
    }

    @Test
    void dgemmMatchesReferenceForEveryTranspose() {
        for (Gemm g : gemms()) {
            for (int[] s : SIZES) {
                for (int t = 0; t < 4; t++) check(g, s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0, 0.75, 0.5, true);
            }
        }
    }

    @Test
    void largeSgemmAgreesBetweenImplementations() {
        // Several KC blocks and many micro-tiles: the two implementations must agree closely.
        check(Gemm.java(), 150, 300, 200, false, true, 1f, 0f, false);
        check(Gemm.java(), 100, 520, 130, true, false, 1f, 1f, false);
    }

    /** C has padding columns (ldc > n) and offsets, which must stay untouched. */
    private static void check(Gemm g, int m, int k, int n, boolean ta, boolean tb, double alpha, double beta, boolean f64) {
        Random rnd = new Random(m * 31L + k * 7L + n + (ta ? 1 : 0) + (tb ? 2 : 0));
        int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5;
        int aRows = ta ? k : m, bRows = tb ? n : k;
        long offA = 3, offB = 5, offC = 7;
        double[] a = new double[(int) offA + aRows * lda], b = new double[(int) offB + bRows * ldb], c = new double[(int) offC + m * ldc + 1];
        for (int i = 0; i < a.length; i++) a[i] = f64 ? rnd.nextGaussian() : (float) rnd.nextGaussian();
        for (int i = 0; i < b.length; i++) b[i] = f64 ? rnd.nextGaussian() : (float) rnd.nextGaussian();
        for (int i = 0; i < c.length; i++) c[i] = f64 ? rnd.nextGaussian() : (float) rnd.nextGaussian();
        double[] expect = c.clone();
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int p = 0; p < k; p++) {
                    double x = ta ? a[(int) offA + p * lda + i] : a[(int) offA + i * lda + p];
                    double y = tb ? b[(int) offB + j * ldb + p] : b[(int) offB + p * ldb + j];
                    acc += x * y;
                }
                int at = (int) offC + i * ldc + j;
                expect[at] = alpha * acc + (beta == 0 ? 0 : beta * c[at]);
            }
        }
        try (Arena arena = Arena.ofShared()) {
            ValueLayout lay = f64 ? ValueLayout.JAVA_DOUBLE : ValueLayout.JAVA_FLOAT;
            MemorySegment sa = put(arena, a, f64), sb = put(arena, b, f64), sc = put(arena, c, f64);
            if (beta == 0) for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) set(sc, f64, offC + (long) i * ldc + j, Double.NaN);
            if (f64) g.dgemm(ta, tb, m, n, k, alpha, sa, offA, lda, sb, offB, ldb, beta, sc, offC, ldc);
            else g.sgemm(ta, tb, m, n, k, (float) alpha, sa, offA, lda, sb, offB, ldb, (float) beta, sc, offC, ldc);
            double num = 0, den = 0;
            for (int i = 0; i < c.length; i++) {
                double got = f64 ? sc.getAtIndex(ValueLayout.JAVA_DOUBLE, i) : sc.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                double d = got - expect[i];
                num += d * d;
                den += expect[i] * expect[i];
            }
            double err = Math.sqrt(num / den);
            // f32: each output is a k-term sum rounded along the way, ~sqrt(k) * 6e-8 relative.
            double tol = f64 ? 1e-13 : 1e-6 * Math.max(1, Math.sqrt(k / 100.0));
            assertTrue(err <= tol, g.name() + " " + m + "x" + k + "x" + n + " ta=" + ta + " tb=" + tb + " beta=" + beta
                    + (f64 ? " f64" : " f32") + ": relative error " + err);
            assertTrue(lay != null);
        }
    }

    private static MemorySegment put(Arena arena, double[] v, boolean f64) {
        MemorySegment s = arena.allocate((long) v.length * (f64 ? 8 : 4), 64);
        for (int i = 0; i < v.length; i++) set(s, f64, i, v[i]);
        return s;
    }

    private static void set(MemorySegment s, boolean f64, long i, double v) {
        if (f64) s.setAtIndex(ValueLayout.JAVA_DOUBLE, i, v);
        else s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) v);
    }
}
