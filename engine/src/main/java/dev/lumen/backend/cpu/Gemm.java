package dev.lumen.backend.cpu;

import java.lang.foreign.MemorySegment;

/**
 * Row-major GEMM on host memory: C = alpha * op(A) * op(B) + beta * C, where op(X) is X or
 * its transpose. A is m x k (k x m stored when transA), B is k x n (n x k stored when
 * transB), C is m x n; offsets and leading dimensions are in elements. With beta == 0, C is
 * written without being read (NaNs in it do not propagate), as in BLAS.
 *
 * <p>Three implementations: {@link OneDnnGemm} (dnnl_sgemm, F64 on OpenBLAS), {@link OpenBlas}
 * (FFM downcalls into libopenblas) and {@link VectorGemm} (Java, Vector API). {@link #active()}
 * is the one the CPU backend uses, chosen by the system property {@code lumen.blas} =
 * {@code auto} (default: oneDNN when it loads and lumen.onednn is not off, its default, else OpenBLAS when
 * it loads, else Java), {@code onednn}, {@code openblas} or {@code java}.
 */
public sealed interface Gemm permits OneDnnGemm, OpenBlas, VectorGemm {
    String name();

    void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
               MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb,
               float beta, MemorySegment c, long cOff, int ldc);

    void dgemm(boolean transA, boolean transB, int m, int n, int k, double alpha,
               MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb,
               double beta, MemorySegment c, long cOff, int ldc);

    /**
     * Whether calls from several threads at once are fine for problems of this size, so a
     * caller may run independent small GEMMs in parallel instead of one after another.
     */
    boolean concurrentOk(long m, long n, long k);

    /** The Java implementation; always available. */
    static Gemm java() { return VectorGemm.INSTANCE; }

    /** oneDNN's SGEMM, or null when libdnnl cannot be loaded here. */
    static Gemm oneDnn() { return OneDnnGemm.instance(); }

    /** OpenBLAS, or null when libopenblas cannot be loaded here. */
    static Gemm openBlas() { return OpenBlas.instance(); }

    /** The implementation in use. */
    static Gemm active() { return Selection.active; }

    /** Switches the implementation in use (benchmarks and tests compare the two). */
    static void setActive(Gemm gemm) {
        if (gemm == null) throw new IllegalArgumentException("setActive: gemm must not be null");
        Selection.active = gemm;
    }

    /** Holds the selection; resolved once from lumen.blas when first used. */
    final class Selection {
        private static volatile Gemm active = choose(System.getProperty("lumen.blas", "auto"));

        private Selection() {}

        static Gemm choose(String mode) {
            Gemm chosen;
            switch (mode.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "java" -> chosen = VectorGemm.INSTANCE;
                case "openblas" -> {
                    chosen = OpenBlas.instance();
                    if (chosen == null) {
                        throw new IllegalStateException("lumen.blas=openblas but OpenBLAS is unavailable: " + OpenBlas.failure());
                    }
                }
                case "onednn" -> {
                    chosen = OneDnnGemm.instance();
                    if (chosen == null) {
                        throw new IllegalStateException("lumen.blas=onednn but oneDNN is unavailable: " + OneDnn.failure());
                    }
                }
                case "auto", "" -> {
                    Gemm d = oneDnnOff() ? null : OneDnnGemm.instance(), o = OpenBlas.instance();
                    chosen = d != null ? d : o != null ? o : VectorGemm.INSTANCE;
                }
                default -> throw new IllegalArgumentException("lumen.blas must be java, openblas, onednn or auto, not '" + mode + "'");
            }
            System.getLogger("dev.lumen.blas").log(System.Logger.Level.INFO, "GEMM: " + chosen.name()
                    + (chosen == VectorGemm.INSTANCE && OpenBlas.instance() == null ? " (OpenBLAS unavailable: " + OpenBlas.failure() + ")" : ""));
            return chosen;
        }

        /** Whether the user switched oneDNN off (lumen.onednn / LUMEN_ONEDNN), which auto then respects. */
        private static boolean oneDnnOff() {
            String v = System.getProperty("lumen.onednn", System.getenv().getOrDefault("LUMEN_ONEDNN", OneDnnConv.DEFAULT_MODE));
            return v.trim().equalsIgnoreCase("off");
        }
    }
}
