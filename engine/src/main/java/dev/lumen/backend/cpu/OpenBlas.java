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
 * libopenblas0-pthread and libopenblas0-openmp packages use. OpenBLAS runs its own
 * threads; their number follows {@link Parallel#threads()}.
 */
final class OpenBlas implements Gemm {
    private static final int ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;
    // OpenBLAS (interface/gemm.c) runs a GEMM on one thread when m*n*k is below this.
    private static final long SINGLE_THREAD_WORK = 65536L * 4;
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
    private final MethodHandle sgemm, dgemm, setThreads;
    private volatile int threads = -1;

    private OpenBlas(String library, MethodHandle sgemm, MethodHandle dgemm, MethodHandle setThreads) {
        this.library = library;
        this.sgemm = sgemm;
        this.dgemm = dgemm;
        this.setThreads = setThreads;
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
    public boolean concurrentOk(long m, long n, long k) { return m * n * k < SINGLE_THREAD_WORK; }

    private void syncThreads() {
        int want = Parallel.threads();
        if (want != threads && setThreads != null) {
            synchronized (this) {
                if (want != threads) {
                    try {
                        setThreads.invokeExact(want);
                    } catch (Throwable e) {
                        throw new IllegalStateException("openblas_set_num_threads failed", e);
                    }
                    threads = want;
                }
            }
        }
    }

    private static MemorySegment at(MemorySegment s, long elemOff, int elemSize) {
        return s.asSlice(elemOff * elemSize);
    }

    @Override
    public void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, MemorySegment a, long aOff, int lda,
                      MemorySegment b, long bOff, int ldb, float beta, MemorySegment c, long cOff, int ldc) {
        if (m == 0 || n == 0) return;
        syncThreads();
        try {
            sgemm.invokeExact(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k, alpha,
                    at(a, aOff, 4), lda, at(b, bOff, 4), ldb, beta, at(c, cOff, 4), ldc);
        } catch (Throwable e) {
            throw new IllegalStateException("cblas_sgemm failed", e);
        }
    }

    @Override
    public void dgemm(boolean transA, boolean transB, int m, int n, int k, double alpha, MemorySegment a, long aOff, int lda,
                      MemorySegment b, long bOff, int ldb, double beta, MemorySegment c, long cOff, int ldc) {
        if (m == 0 || n == 0) return;
        syncThreads();
        try {
            dgemm.invokeExact(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k, alpha,
                    at(a, aOff, 8), lda, at(b, bOff, 8), ldb, beta, at(c, cOff, 8), ldc);
        } catch (Throwable e) {
            throw new IllegalStateException("cblas_dgemm failed", e);
        }
    }
}
