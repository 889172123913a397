package dev.lumen.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Our FFM binding of cuBLAS (the library {@link NvidiaLibrary#CUBLAS} finds) and one cuBLAS handle
 * per device (a handle belongs to the device current when it was made), made in that device's
 * context and bound to its compute stream, where every kernel runs: GEMMs are ordered with the kernels around them without events. Every call goes
 * through an exact-typed invokeExact and every status is checked: a failure names the call and
 * the status.
 *
 * <p>Precision: the handle's math mode is CUBLAS_PEDANTIC_MATH, and each GEMM names its compute
 * type. FP32 products stay IEEE FP32 unless the user opts in to TF32 tensor cores, like PyTorch's
 * torch.backends.cuda.matmul.allow_tf32: the system property lumen.cuda.tf32=true or
 * {@link #allowTf32(boolean)}.
 */
public final class Cublas {
    // cublasOperation_t (cublas_api.h)
    public static final int OP_N = 0, OP_T = 1;
    // cudaDataType (library_types.h)
    public static final int R_32F = 0, R_64F = 1, R_16F = 2, R_16BF = 14;
    // cublasComputeType_t (cublas_api.h)
    public static final int COMPUTE_32F = 68, COMPUTE_32F_PEDANTIC = 69, COMPUTE_32F_FAST_TF32 = 77,
            COMPUTE_64F = 70, COMPUTE_64F_PEDANTIC = 71;
    // cublasMath_t and cublasGemmAlgo_t (cublas_api.h)
    static final int PEDANTIC_MATH = 2;
    static final int GEMM_DEFAULT = -1;

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    private static final ValueLayout PTR = ValueLayout.ADDRESS;

    private static final java.util.concurrent.ConcurrentHashMap<Integer, Cublas> BY_DEVICE = new java.util.concurrent.ConcurrentHashMap<>();
    private static NvidiaLibrary.Found found;
    private static volatile String unavailable;
    private static volatile boolean tf32 = Boolean.getBoolean("lumen.cuda.tf32");

    private final String library;
    private final MethodHandle create, destroy, setStream, getVersion, setMathMode, getMathMode, gemmEx,
            gemmStridedBatchedEx, statusName, statusString;
    private final CudaContext context;
    private final MemorySegment handle;

    private Cublas(NvidiaLibrary.Found lib, CudaContext context, MemorySegment stream) {
        this.library = lib.name();
        this.context = context;
        SymbolLookup l = lib.lookup();
        Linker linker = Linker.nativeLinker();
        create = bind(linker, l, "cublasCreate_v2", INT, PTR);
        destroy = bind(linker, l, "cublasDestroy_v2", INT, PTR);
        setStream = bind(linker, l, "cublasSetStream_v2", INT, PTR, PTR);
        getVersion = bind(linker, l, "cublasGetVersion_v2", INT, PTR, PTR);
        setMathMode = bind(linker, l, "cublasSetMathMode", INT, PTR, INT);
        getMathMode = bind(linker, l, "cublasGetMathMode", INT, PTR, PTR);
        gemmEx = bind(linker, l, "cublasGemmEx", INT, PTR, INT, INT, INT, INT, INT, PTR, PTR, INT, INT, PTR, INT, INT,
                PTR, PTR, INT, INT, INT, INT);
        gemmStridedBatchedEx = bind(linker, l, "cublasGemmStridedBatchedEx", INT, PTR, INT, INT, INT, INT, INT, PTR,
                PTR, INT, INT, LONG, PTR, INT, INT, LONG, PTR, PTR, INT, INT, LONG, INT, INT, INT);
        statusName = bind(linker, l, "cublasGetStatusName", PTR, INT);
        statusString = bind(linker, l, "cublasGetStatusString", PTR, INT);
        context.bind();
        this.handle = newHandle(stream);
    }

    private static MethodHandle bind(Linker linker, SymbolLookup lib, String name, MemoryLayout result, MemoryLayout... args) {
        MemorySegment sym = lib.find(name).orElseThrow(() -> new CudaException("cuBLAS unavailable: the library lacks " + name, -1));
        return linker.downcallHandle(sym, FunctionDescriptor.of(result, args));
    }

    /** A handle on the given stream with the pedantic math mode; destroyed again if its setup fails. */
    private MemorySegment newHandle(MemorySegment stream) {
        MemorySegment h;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(PTR);
            check("cublasCreate_v2", (int) create.invokeExact(out));
            h = out.get(ValueLayout.ADDRESS, 0);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        try {
            check("cublasSetStream_v2", (int) setStream.invokeExact(h, stream));
            check("cublasSetMathMode(CUBLAS_PEDANTIC_MATH)", (int) setMathMode.invokeExact(h, PEDANTIC_MATH));
            return h;
        } catch (Throwable t) {
            try {
                int ignored = (int) destroy.invokeExact(h);  // the setup error is the one to report
            } catch (Throwable suppressed) {
                t.addSuppressed(suppressed);
            }
            if (t instanceof RuntimeException r) throw r;
            if (t instanceof Error e) throw e;
            throw new IllegalStateException(t);
        }
    }

    /** Device 0's cuBLAS (see {@link #of}). */
    public static Cublas get() { return of(CudaContext.get()); }

    /**
     * The cuBLAS handle of ctx's device, made on first use in that context; throws a
     * CudaException whose message is the one-line reason when no cuBLAS library can be loaded.
     */
    public static Cublas of(CudaContext ctx) {
        Cublas c = BY_DEVICE.get(ctx.ordinal());
        if (c != null) return c;
        synchronized (Cublas.class) {
            c = BY_DEVICE.get(ctx.ordinal());
            if (c != null) return c;
            if (unavailable != null) throw new CudaException(unavailable, -1);
            if (found == null) {
                try {
                    found = NvidiaLibrary.CUBLAS.locate();
                } catch (CudaException e) {
                    unavailable = e.getMessage();  // a missing library stays missing for this process
                    throw e;
                }
            }
            c = new Cublas(found, ctx, ctx.stream());
            BY_DEVICE.put(ctx.ordinal(), c);
            return c;
        }
    }

    /** The context whose device this handle computes on. */
    public CudaContext context() { return context; }

    /** Allows (or forbids again) TF32 tensor cores for FP32 products; off unless lumen.cuda.tf32=true. */
    public static void allowTf32(boolean allow) { tf32 = allow; }

    public static boolean tf32Allowed() { return tf32; }

    /** The compute type of an FP32 product: IEEE FP32, or TF32 when the user allowed it. */
    public static int f32ComputeType() { return tf32 ? COMPUTE_32F_FAST_TF32 : COMPUTE_32F_PEDANTIC; }

    public String library() { return library; }

    /** cuBLAS's version: major * 10000 + minor * 100 + patch. */
    public int version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(INT);
            check("cublasGetVersion_v2", (int) getVersion.invokeExact(handle, out));
            return out.get(INT, 0);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The handle's cublasMath_t. */
    public int mathMode() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(INT);
            check("cublasGetMathMode", (int) getMathMode.invokeExact(handle, out));
            return out.get(INT, 0);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** One line for logs: the version and the library. */
    public String describe() {
        int v = version();
        return "cuBLAS " + v / 10000 + "." + v % 10000 / 100 + "." + v % 100 + " (" + library + ")";
    }

    /**
     * C = alpha op(A) op(B) + beta C in cuBLAS's column-major terms (op(A) is m x k, op(B) k x n,
     * C m x n; a, b and c are device addresses; lds count elements). alpha and beta are passed in
     * the compute type's scale type: double for the 64F types, float otherwise.
     */
    public void gemmEx(int transA, int transB, int m, int n, int k, double alpha, long a, int aType, int lda,
                       long b, int bType, int ldb, double beta, long c, int cType, int ldc, int computeType) {
        context.bind();
        int status;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment al = scalar(arena, alpha, computeType), be = scalar(arena, beta, computeType);
            status = (int) gemmEx.invokeExact(handle, transA, transB, m, n, k, al, MemorySegment.ofAddress(a), aType, lda,
                    MemorySegment.ofAddress(b), bType, ldb, be, MemorySegment.ofAddress(c), cType, ldc, computeType, GEMM_DEFAULT);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (status != 0) check(describeGemm("cublasGemmEx", transA, transB, m, n, k, lda, ldb, ldc, 1, aType, computeType), status);
    }

    /** {@link #gemmEx} over batchCount matrices, the i-th at a + i * strideA (elements; 0 repeats one). */
    public void gemmStridedBatchedEx(int transA, int transB, int m, int n, int k, double alpha,
                                     long a, int aType, int lda, long strideA, long b, int bType, int ldb, long strideB,
                                     double beta, long c, int cType, int ldc, long strideC, int batchCount, int computeType) {
        context.bind();
        int status;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment al = scalar(arena, alpha, computeType), be = scalar(arena, beta, computeType);
            status = (int) gemmStridedBatchedEx.invokeExact(handle, transA, transB, m, n, k, al,
                    MemorySegment.ofAddress(a), aType, lda, strideA, MemorySegment.ofAddress(b), bType, ldb, strideB, be,
                    MemorySegment.ofAddress(c), cType, ldc, strideC, batchCount, computeType, GEMM_DEFAULT);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (status != 0) {
            check(describeGemm("cublasGemmStridedBatchedEx", transA, transB, m, n, k, lda, ldb, ldc, batchCount, aType, computeType), status);
        }
    }

    private static MemorySegment scalar(Arena arena, double v, int computeType) {
        boolean f64 = computeType == COMPUTE_64F || computeType == COMPUTE_64F_PEDANTIC;
        return f64 ? arena.allocateFrom(ValueLayout.JAVA_DOUBLE, v) : arena.allocateFrom(ValueLayout.JAVA_FLOAT, (float) v);
    }

    private static String describeGemm(String call, int ta, int tb, int m, int n, int k, int lda, int ldb, int ldc,
                                       int batch, int type, int computeType) {
        return call + "(" + (ta == OP_N ? "N" : "T") + (tb == OP_N ? "N" : "T") + ", m=" + m + ", n=" + n + ", k=" + k
                + ", lda=" + lda + ", ldb=" + ldb + ", ldc=" + ldc + (batch != 1 ? ", batch=" + batch : "")
                + ", type=" + type + ", compute=" + computeType + ")";
    }

    /** Throws a CublasException naming the call and cuBLAS's name and description of the status. */
    private void check(String what, int status) {
        if (status == 0) return;
        throw new CublasException(what + " failed: " + statusName(status) + " (" + statusString(status) + ")", status);
    }

    public String statusName(int status) { return cString(statusName, status); }

    public String statusString(int status) { return cString(statusString, status); }

    private static String cString(MethodHandle h, int status) {
        MemorySegment p;
        try {
            p = (MemorySegment) h.invokeExact(status);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        return p.address() == 0 ? "cublasStatus_t " + status : p.reinterpret(4096).getString(0);
    }
}
