package dev.lumen.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * GEMM in Java, for machines without OpenBLAS. F32 follows the classic blocked design
 * (Goto/BLIS): B is packed into k x NR column panels and A into MR x k row panels so that
 * the micro-kernel streams both from contiguous arrays, and an MR x NR tile of C stays in
 * vector registers (MR * 2 accumulators of the preferred species) for a KC-long stretch of
 * k. Blocks of C are spread over {@link Parallel}'s threads. F64 (finite-difference checks,
 * small) uses a plain row-parallel loop.
 */
final class VectorGemm implements Gemm {
    static final VectorGemm INSTANCE = new VectorGemm();

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final int MR = 6;
    private static final int NR = 2 * L;
    private static final int KC = 256;
    private static final int MC = 16 * MR;
    private static final int NC = 128 * NR;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    // A-panels live per thread: a task that packs and consumes them never waits on other tasks.
    private static final ThreadLocal<float[][]> A_PANELS = ThreadLocal.withInitial(() -> new float[1][]);

    private VectorGemm() {}

    @Override
    public String name() { return "Java Vector API (" + S.vectorBitSize() + "-bit, " + MR + "x" + NR + " micro-kernel)"; }

    @Override
    public boolean concurrentOk(long m, long n, long k) { return true; }

    private static float[] aPanels(int size) {
        float[][] b = A_PANELS.get();
        if (b[0] == null || b[0].length < size) b[0] = new float[size];
        return b[0];
    }

    @Override
    public void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, MemorySegment a, long aOff, int lda,
                      MemorySegment b, long bOff, int ldb, float beta, MemorySegment c, long cOff, int ldc) {
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f) {
            scale(m, n, beta, c, cOff, ldc);
            return;
        }
        for (int jc = 0; jc < n; jc += NC) {
            int nc = Math.min(NC, n - jc);
            int panels = (nc + NR - 1) / NR;
            // Equal k-blocks of at most KC: k = 288 runs as 2 x 144, not 256 + a thin 32.
            int kBlocks = (k + KC - 1) / KC, kStep = (k + kBlocks - 1) / kBlocks;
            for (int pc = 0; pc < k; pc += kStep) {
                int kc = Math.min(kStep, k - pc);
                boolean first = pc == 0;
                // B-panels are per call: the calling thread may run other work while it joins.
                float[] bp = new float[panels * NR * kc];
                final int jc0 = jc, pc0 = pc;
                Parallel.forRange(panels, Math.max(1, 4096 / kc), (lo, hi) -> {
                    for (int q = (int) lo; q < hi; q++) packB(transB, b, bOff, ldb, pc0, kc, jc0 + q * NR, Math.min(NR, nc - q * NR), bp, q * NR * kc);
                });
                int mBlocks = (m + MC - 1) / MC;
                int chunks = Math.max(1, Math.min(panels, (2 * Parallel.threads() + mBlocks - 1) / mBlocks));
                int perChunk = (panels + chunks - 1) / chunks;
                long tasks = (long) mBlocks * chunks;
                long work = (long) Math.min(m, MC) * kc * Math.min(nc, perChunk * NR);
                Parallel.forRange(tasks, Math.max(1, (1 << 18) / Math.max(work, 1)), (lo, hi) -> {
                    float[] ap = aPanels(MC * kc);
                    float[] tile = new float[MR * NR];
                    int packed = -1;
                    for (long t = lo; t < hi; t++) {
                        int ib = (int) (t / chunks), ch = (int) (t % chunks);
                        int i0 = ib * MC, mc = Math.min(MC, m - i0);
                        if (packed != ib) {
                            packA(transA, a, aOff, lda, i0, mc, pc0, kc, ap);
                            packed = ib;
                        }
                        int qEnd = Math.min(panels, (ch + 1) * perChunk);
                        for (int q = ch * perChunk; q < qEnd; q++) {
                            int j0 = jc0 + q * NR, cols = Math.min(NR, nc - q * NR);
                            for (int ir = 0; ir < mc; ir += MR) {
                                kernel(ap, ir * kc, bp, q * NR * kc, kc, c, cOff + (long) (i0 + ir) * ldc + j0, ldc,
                                        Math.min(MR, mc - ir), cols, alpha, beta, first, tile);
                            }
                        }
                    }
                });
            }
        }
    }

    /** C = beta * C (beta == 0 writes zeros without reading). */
    private static void scale(int m, int n, float beta, MemorySegment c, long cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            long row = cOff + (long) i * ldc;
            for (int j = 0; j < n; j++) c.setAtIndex(F, row + j, beta == 0f ? 0f : beta * c.getAtIndex(F, row + j));
        }
    }

    /** Packs rows [i0, i0+mc) x cols [p0, p0+kc) of op(A) into MR-row panels, zero-padded: ap[panel][p][r]. */
    private static void packA(boolean trans, MemorySegment a, long aOff, int lda, int i0, int mc, int p0, int kc, float[] ap) {
        for (int ir = 0; ir < mc; ir += MR) {
            int rows = Math.min(MR, mc - ir);
            int base = ir * kc;
            if (!trans) {
                for (int r = 0; r < rows; r++) {
                    long src = aOff + (long) (i0 + ir + r) * lda + p0;
                    for (int p = 0; p < kc; p++) ap[base + p * MR + r] = a.getAtIndex(F, src + p);
                }
            } else {
                for (int p = 0; p < kc; p++) {
                    long src = aOff + (long) (p0 + p) * lda + i0 + ir;
                    for (int r = 0; r < rows; r++) ap[base + p * MR + r] = a.getAtIndex(F, src + r);
                }
            }
            if (rows < MR) {
                for (int p = 0; p < kc; p++) for (int r = rows; r < MR; r++) ap[base + p * MR + r] = 0f;
            }
        }
    }

    /** Packs rows [p0, p0+kc) x cols [j0, j0+cols) of op(B) into one NR-wide panel, zero-padded: bp[p][j]. */
    private static void packB(boolean trans, MemorySegment b, long bOff, int ldb, int p0, int kc, int j0, int cols, float[] bp, int base) {
        if (!trans) {
            for (int p = 0; p < kc; p++) {
                MemorySegment.copy(b, F, (bOff + (long) (p0 + p) * ldb + j0) * 4, bp, base + p * NR, cols);
                for (int j = cols; j < NR; j++) bp[base + p * NR + j] = 0f;
            }
        } else {
            for (int j = 0; j < cols; j++) {
                long src = bOff + (long) (j0 + j) * ldb + p0;
                for (int p = 0; p < kc; p++) bp[base + p * NR + j] = b.getAtIndex(F, src + p);
            }
            if (cols < NR) {
                for (int p = 0; p < kc; p++) for (int j = cols; j < NR; j++) bp[base + p * NR + j] = 0f;
            }
        }
    }

    /** One MR x NR tile: acc = A-panel * B-panel over kc, then C = alpha*acc + (first ? beta*C : C). */
    private static void kernel(float[] ap, int ai, float[] bp, int bi, int kc, MemorySegment c, long cOff, int ldc,
                               int rows, int cols, float alpha, float beta, boolean first, float[] tile) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
        for (int p = 0; p < kc; p++, ai += MR, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector b1 = FloatVector.fromArray(S, bp, bi + L);
            FloatVector x = FloatVector.broadcast(S, ap[ai]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, ap[ai + 1]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, ap[ai + 2]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, ap[ai + 3]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(S, ap[ai + 4]);
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(S, ap[ai + 5]);
            c50 = x.fma(b0, c50);
            c51 = x.fma(b1, c51);
        }
        // The accumulators leave registers through an array: passing vectors to a method that
        // C2 does not inline would box them and fall off the intrinsics.
        c00.intoArray(tile, 0);
        c01.intoArray(tile, L);
        c10.intoArray(tile, NR);
        c11.intoArray(tile, NR + L);
        c20.intoArray(tile, 2 * NR);
        c21.intoArray(tile, 2 * NR + L);
        c30.intoArray(tile, 3 * NR);
        c31.intoArray(tile, 3 * NR + L);
        c40.intoArray(tile, 4 * NR);
        c41.intoArray(tile, 4 * NR + L);
        c50.intoArray(tile, 5 * NR);
        c51.intoArray(tile, 5 * NR + L);
        float keep = first ? beta : 1f;
        for (int r = 0; r < rows; r++) store(tile, r * NR, c, cOff + (long) r * ldc, cols, alpha, keep);
    }

    /** C[row, 0:cols] = alpha * tile[t:t+cols] + keep * C[row, 0:cols]; keep == 0 does not read C. */
    private static void store(float[] tile, int t, MemorySegment c, long at, int cols, float alpha, float keep) {
        long byteOff = at * 4;
        for (int h = 0; h < NR; h += L) {
            if (h >= cols) break;
            FloatVector v = FloatVector.fromArray(S, tile, t + h);
            if (alpha != 1f) v = v.mul(alpha);
            long off = byteOff + 4L * h;
            if (h + L <= cols) {
                if (keep != 0f) {
                    FloatVector o = FloatVector.fromMemorySegment(S, c, off, ORDER);
                    v = keep == 1f ? v.add(o) : o.mul(keep).add(v);
                }
                v.intoMemorySegment(c, off, ORDER);
            } else {
                VectorMask<Float> m = S.indexInRange(h, cols);
                if (keep != 0f) {
                    FloatVector o = FloatVector.fromMemorySegment(S, c, off, ORDER, m);
                    v = keep == 1f ? v.add(o) : o.mul(keep).add(v);
                }
                v.intoMemorySegment(c, off, ORDER, m);
            }
        }
    }

    @Override
    public void dgemm(boolean transA, boolean transB, int m, int n, int k, double alpha, MemorySegment a, long aOff, int lda,
                      MemorySegment b, long bOff, int ldb, double beta, MemorySegment c, long cOff, int ldc) {
        if (m == 0 || n == 0) return;
        Parallel.forRange(m, Math.max(1, 16384 / Math.max(1L, (long) n * Math.max(k, 1))), (lo, hi) -> {
            double[] row = new double[n];
            for (int i = (int) lo; i < hi; i++) {
                java.util.Arrays.fill(row, 0);
                for (int p = 0; p < k; p++) {
                    double x = a.getAtIndex(D, transA ? aOff + (long) p * lda + i : aOff + (long) i * lda + p);
                    if (!transB) {
                        long src = bOff + (long) p * ldb;
                        for (int j = 0; j < n; j++) row[j] += x * b.getAtIndex(D, src + j);
                    } else {
                        for (int j = 0; j < n; j++) row[j] += x * b.getAtIndex(D, bOff + (long) j * ldb + p);
                    }
                }
                long dst = cOff + (long) i * ldc;
                for (int j = 0; j < n; j++) {
                    double v = alpha * row[j];
                    c.setAtIndex(D, dst + j, beta == 0 ? v : v + beta * c.getAtIndex(D, dst + j));
                }
            }
        });
    }
}
