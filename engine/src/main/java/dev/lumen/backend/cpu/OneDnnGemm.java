package dev.lumen.backend.cpu;

import java.lang.foreign.MemorySegment;

/**
 * SGEMM on oneDNN (dnnl_sgemm, its AVX-512 JIT kernels): measured on the GEMMs of
 * vit_small's linear layers at batch 8 on Zen 4, half the CPU time of Debian's OpenBLAS at one
 * thread and at two. oneDNN has no F64 GEMM: dgemm goes to OpenBLAS, or to the Java one.
 * Outside a parallel region a call uses Parallel.threads() OpenMP threads, one call at a time
 * in the process (see OneDnn.EXECUTION); inside one, where the pool's threads run independent
 * GEMMs side by side, each runs on its caller alone (OneDnn.sgemmOnCaller): on the attention
 * heads of vit_small and volo_d1 (SelfAttentionBench) that took 4-7% off the fused forward and
 * 8-13% off its backward against OpenBLAS's single-threaded SGEMM.
 */
final class OneDnnGemm implements Gemm {
    private static final OneDnnGemm INSTANCE = OneDnn.instance() == null ? null : new OneDnnGemm(OneDnn.instance());

    private final OneDnn dnn;
    /** OpenBLAS, or the Java GEMM: F64. */
    private final Gemm f64;

    private OneDnnGemm(OneDnn dnn) {
        this.dnn = dnn;
        this.f64 = OpenBlas.instance() != null ? OpenBlas.instance() : VectorGemm.INSTANCE;
    }

    /** oneDNN's GEMM, or null when oneDNN did not load. */
    static OneDnnGemm instance() { return INSTANCE; }

    @Override
    public String name() { return dnn.name() + " sgemm, dgemm on " + f64.name(); }

    @Override
    public boolean concurrentOk(long m, long n, long k) { return f64.concurrentOk(m, n, k); }

    private static MemorySegment at(MemorySegment s, long elemOff) { return s.asSlice(elemOff * 4); }

    @Override
    public void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, MemorySegment a, long aOff, int lda,
                      MemorySegment b, long bOff, int ldb, float beta, MemorySegment c, long cOff, int ldc) {
        if (m == 0 || n == 0) return;
        if (k == 0) {
            // No products: C = beta C, which dnnl_sgemm leaves undefined (BLAS writes zeros for beta 0).
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    long at = cOff + (long) i * ldc + j;
                    c.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, at, beta == 0 ? 0f : beta * c.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, at));
                }
            }
            return;
        }
        try {
            if (Parallel.inRegion()) dnn.sgemmOnCaller(transA, transB, m, n, k, alpha, at(a, aOff), lda, at(b, bOff), ldb, beta, at(c, cOff), ldc);
            else dnn.sgemm(transA, transB, m, n, k, alpha, at(a, aOff), lda, at(b, bOff), ldb, beta, at(c, cOff), ldc);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("oneDNN dnnl_sgemm " + m + "x" + n + "x" + k + ": " + e, e);
        }
    }

    @Override
    public void dgemm(boolean transA, boolean transB, int m, int n, int k, double alpha, MemorySegment a, long aOff, int lda,
                      MemorySegment b, long bOff, int ldb, double beta, MemorySegment c, long cOff, int ldc) {
        f64.dgemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
    }
}
