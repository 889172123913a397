package dev.lumen.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * cblas_sgemm / cblas_dgemm from libopenblas through FFM downcalls. The library is found by
 * its soname (the dynamic loader's search path), then at the paths Debian's
 * libopenblas0-pthread and libopenblas0-openmp packages use.
 *
 * <p>OpenBLAS runs on one thread, and large GEMMs are split in column (or row) blocks over
 * {@link Parallel}'s threads instead: with OpenBLAS's own threads beside Lumen's pool, a
 * 2-core training run had three to four busy threads, OpenBLAS's spinning in sched_yield
 * after each GEMM (a quarter of the process's time in the kernel), and ran no faster on two
 * threads than on one. One pool owning the cores also lets convolutions run GEMMs inside
 * their own parallel loops. Without openblas_set_num_threads (another build), OpenBLAS keeps
 * its threads and GEMMs are not split.
 */
final class OpenBlas implements Gemm {
    private static final int ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;
    // OpenBLAS (interface/gemm.c) runs a GEMM on one thread when m*n*k is below this.
    private static final long SINGLE_THREAD_WORK = 65536L * 4;
    /** GEMMs of at least this many multiply-adds are split over the threads (some 50 us of work per part). */
    private static final long SPLIT_WORK = 1L << 21;
    /** Column blocks are multiples of this, so that OpenBLAS's kernels see whole register tiles. */
    private static final int BLOCK_ALIGN = 16;
    private static final List<String> CANDIDATES = List.of(
            "libopenblas.so.0",
            "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
            "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
            "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0",
            "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
            "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
            "libopenblas.so");

    private static final OpenBlas INSTANCE;
    private static final String FAILURE;

    static {
        OpenBlas made = null;
        String why = null;
        try {
            made = load();
        } catch (RuntimeException | LinkageError e) {
            why = e.getMessage();
        }
        INSTANCE = made;
        FAILURE = why;
    }

    private final String library;
    private final MethodHandle sgemm, dgemm;
    /** Whether OpenBLAS was set to one thread, so that Lumen's threads split and call it concurrently. */
    private final boolean singleThreaded;

    private OpenBlas(String library, MethodHandle sgemm, MethodHandle dgemm, MethodHandle setThreads) {
        this.library = library;
        this.sgemm = sgemm;
        this.dgemm = dgemm;
        boolean one = false;
        if (setThreads != null) {
            try {
                setThreads.invokeExact(1);
                one = true;
            } catch (Throwable e) {
                throw new IllegalStateException("openblas_set_num_threads failed", e);
            }
        }
        this.singleThreaded = one;
    }

    static OpenBlas instance() { return INSTANCE; }

    /** Why OpenBLAS did not load, or null. */
    static String failure() { return FAILURE; }

    private static OpenBlas load() {
        SymbolLookup lookup = null;
        String found = null;
        StringBuilder tried = new StringBuilder();
        for (String c : CANDIDATES) {
            try {
                lookup = c.startsWith("/") ? SymbolLookup.libraryLookup(java.nio.file.Path.of(c), Arena.global())
                        : SymbolLookup.libraryLookup(c, Arena.global());
                found = c;
                break;
            } catch (IllegalArgumentException e) {
                tried.append(tried.isEmpty() ? "" : ", ").append(c);
            }
        }
        if (lookup == null) throw new IllegalStateException("libopenblas not found (tried " + tried + ")");
        Linker linker = Linker.nativeLinker();
        ValueLayout i = ValueLayout.JAVA_INT, p = ValueLayout.ADDRESS;
        FunctionDescriptor sd = FunctionDescriptor.ofVoid(i, i, i, i, i, i, ValueLayout.JAVA_FLOAT, p, i, p, i, ValueLayout.JAVA_FLOAT, p, i);
        FunctionDescriptor dd = FunctionDescriptor.ofVoid(i, i, i, i, i, i, ValueLayout.JAVA_DOUBLE, p, i, p, i, ValueLayout.JAVA_DOUBLE, p, i);
        SymbolLookup l = lookup;
        String lib = found;
        MethodHandle s = linker.downcallHandle(find(l, "cblas_sgemm", lib), sd);
        MethodHandle d = linker.downcallHandle(find(l, "cblas_dgemm", lib), dd);
        MethodHandle t = l.find("openblas_set_num_threads")
                .map(a -> linker.downcallHandle(a, FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT))).orElse(null);
        return new OpenBlas(found, s, d, t);
    }

    private static MemorySegment find(SymbolLookup l, String name, String lib) {
        return l.find(name).orElseThrow(() -> new IllegalStateException(lib + " has no symbol " + name));
    }

    @Override
    public String name() { return "OpenBLAS (" + library + ")"; }

    @Override
    public boolean concurrentOk(long m, long n, long k) { return singleThreaded || m * n * k < SINGLE_THREAD_WORK; }

    private static MemorySegment at(MemorySegment s, long elemOff, int elemSize) {
        return s.asSlice(elemOff * elemSize);
    }

    /** One OpenBLAS call on a block: m x n of C, with A, B and C starting at these element offsets. */
    private interface Block {
        void run(int m, int n, long aOff, long bOff, long cOff) throws Throwable;
    }

    /**
     * Runs C = op(A) op(B) as blocks of C's columns (or rows, when C is taller than wide) on
     * the pool's threads. The blocks depend only on the shapes and the thread count, so a run
     * repeats bit for bit on the same machine.
     */
    private void split(boolean ta, boolean tb, int m, int n, int k, long aOff, int lda, long bOff, int ldb, long cOff, int ldc, Block block) {
        int t = Parallel.threads();
        boolean byCols = n >= m;
        int len = byCols ? n : m;
        int parts = Math.min(t, len / BLOCK_ALIGN);
        if (!singleThreaded || parts < 2 || (long) m * n * k < SPLIT_WORK || Parallel.inRegion()) {
            call(block, m, n, aOff, bOff, cOff);
            return;
        }
        int step = ((len + parts - 1) / parts + BLOCK_ALIGN - 1) / BLOCK_ALIGN * BLOCK_ALIGN;
        Parallel.forRange(parts, 1, (lo, hi) -> {
            for (long p = lo; p < hi; p++) {
                int from = (int) p * step, cnt = Math.min(len, from + step) - from;
                if (cnt <= 0) continue;
                if (byCols) call(block, m, cnt, aOff, bOff + (tb ? (long) from * ldb : from), cOff + from);
                else call(block, cnt, n, aOff + (ta ? from : (long) from * lda), bOff, cOff + (long) from * ldc);
            }
        });
    }

    private static void call(Block block, int m, int n, long aOff, long bOff, long cOff) {
        try {
            block.run(m, n, aOff, bOff, cOff);
        } catch (Throwable e) {
            throw new IllegalStateException("cblas gemm failed", e);
        }
    }

    @Override
    public void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, MemorySegment a, long aOff, int lda,
                      MemorySegment b, long bOff, int ldb, float beta, MemorySegment c, long cOff, int ldc) {
        if (m == 0 || n == 0) return;
        split(transA, transB, m, n, k, aOff, lda, bOff, ldb, cOff, ldc, (bm, bn, ao, bo, co) -> {
            // A statement, not an expression lambda: invokeExact's type must end in void.
            sgemm.invokeExact(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, bm, bn, k, alpha,
                    at(a, ao, 4), lda, at(b, bo, 4), ldb, beta, at(c, co, 4), ldc);
        });
    }

    @Override
    public void dgemm(boolean transA, boolean transB, int m, int n, int k, double alpha, MemorySegment a, long aOff, int lda,
                      MemorySegment b, long bOff, int ldb, double beta, MemorySegment c, long cOff, int ldc) {
        if (m == 0 || n == 0) return;
        split(transA, transB, m, n, k, aOff, lda, bOff, ldb, cOff, ldc, (bm, bn, ao, bo, co) -> {
            // A statement, not an expression lambda: invokeExact's type must end in void.
            dgemm.invokeExact(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, bm, bn, k, alpha,
                    at(a, ao, 8), lda, at(b, bo, 8), ldb, beta, at(c, co, 8), ldc);
        });
    }
}
