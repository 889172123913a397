package dev.lumen.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The C API of oneDNN 2.x (Debian's libdnnl2) through FFM downcalls: the library, one CPU
 * engine and stream, memory descriptors, and status checks. Found like {@link OpenBlas}: by
 * soname, then at Debian's path; {@code lumen.onednn.library} names another file.
 *
 * <p>libdnnl2 runs its primitives on OpenMP threads (libgomp). Before it loads, the process
 * gets {@code OMP_WAIT_POLICY=PASSIVE} unless the user set a policy: libgomp's threads would
 * otherwise spin for a while after every primitive, on the cores Lumen's own pool needs next.
 * Each call runs on the caller with as many OpenMP threads as {@link Parallel#threads()}.
 */
final class OneDnn {
    /** dnnl_memory_desc_t and dnnl_convolution_desc_t of oneDNN 2.6 (x86-64), from sizeof in dnnl_types.h. */
    static final long MD_BYTES = 696, CONV_DESC_BYTES = 5976;
    static final int MAX_NDIMS = 12;
    static final int F32 = 3;
    /** dnnl_format_tag_t values of oneDNN 2.x: any, a, abcd (NCHW / OIHW), abcde (GOIHW), acdb (NHWC). */
    static final int TAG_ANY = 1, TAG_A = 2, TAG_ABCD = 5, TAG_ABCDE = 7, TAG_ACDB = 20;
    static final int FORWARD_TRAINING = 64, FORWARD_INFERENCE = 96, BACKWARD_DATA = 160, BACKWARD_WEIGHTS = 192;
    static final int CONVOLUTION_DIRECT = 1;
    /** dnnl_eltwise_relu (dnnl_types.h), the post-op of a convolution folded with BatchNorm and ReLU. */
    static final int ELTWISE_RELU = 0x1f;
    static final int ARG_SRC = 1, ARG_DST = 17, ARG_WEIGHTS = 33, ARG_BIAS = 41,
            ARG_DIFF_SRC = 129, ARG_DIFF_DST = 145, ARG_DIFF_WEIGHTS = 161;
    static final int QUERY_SRC_MD = 129, QUERY_DIFF_SRC_MD = 130, QUERY_WEIGHTS_MD = 131, QUERY_DIFF_WEIGHTS_MD = 132,
            QUERY_DST_MD = 133, QUERY_DIFF_DST_MD = 134, QUERY_IMPL_INFO_STR = 8, QUERY_SCRATCHPAD_MD = 136;
    static final int ARG_SCRATCHPAD = 80;
    private static final int SCRATCHPAD_USER = 1;
    private static final int ENGINE_CPU = 1, STREAM_DEFAULT = 1;
    private static final String[] STATUS = {"dnnl_success", "dnnl_out_of_memory", "dnnl_invalid_arguments",
        "dnnl_unimplemented", "dnnl_iterator_ends", "dnnl_runtime_error", "dnnl_not_required"};
    private static final List<String> CANDIDATES = List.of("libdnnl.so.2", "/usr/lib/x86_64-linux-gnu/libdnnl.so.2");

    /**
     * Held while oneDNN runs on several OpenMP threads: libdnnl2 (built without concurrent
     * execution) shares its scratchpad and threading state, and two Java threads running it at
     * once (data-parallel replicas on the CPU) crashed in an OpenMP worker. Such a call uses
     * every core anyway; GEMMs inside Lumen's parallel regions go to OpenBLAS instead.
     */
    static final Object EXECUTION = new Object();

    private static final OneDnn INSTANCE;
    private static final String FAILURE;

    static {
        OneDnn made = null;
        String why = null;
        String named = System.getProperty("lumen.onednn.library");
        try {
            made = load(named == null || named.isBlank() ? CANDIDATES : List.of(named.trim()));
        } catch (RuntimeException | LinkageError e) {
            why = e.getMessage();
        }
        INSTANCE = made;
        FAILURE = why;
    }

    private final String library, version;
    private final MethodHandle mdInitByTag, convFwdInit, convBwdDataInit, convBwdWeightsInit, pdCreate, pdQueryMd, pdQuery,
            pdDestroy, primCreate, primDestroy, execute, memCreate, memSetHandle, memDestroy, mdEqual, mdSize, reorderPdCreate,
            streamWait, ompSetThreads, sgemm;
    private final MemorySegment engine, stream;
    /**
     * Primitive attributes asking for a scratchpad per call from Lumen: with oneDNN's own
     * (per creating thread), a primitive built on one thread crashed when another ran it.
     */
    private final MemorySegment userScratchpad;
    /** As userScratchpad, plus a ReLU applied to the primitive's output (a post-op: no extra pass over it). */
    private final MemorySegment userScratchpadRelu;

    private OneDnn(String library, SymbolLookup l, SymbolLookup gomp) throws Throwable {
        this.library = library;
        Linker linker = Linker.nativeLinker();
        ValueLayout i = ValueLayout.JAVA_INT, p = ValueLayout.ADDRESS, j = ValueLayout.JAVA_LONG;
        mdInitByTag = handle(linker, l, "dnnl_memory_desc_init_by_tag", FunctionDescriptor.of(i, p, i, p, i, i));
        convFwdInit = handle(linker, l, "dnnl_dilated_convolution_forward_desc_init", FunctionDescriptor.of(i, p, i, i, p, p, p, p, p, p, p, p));
        convBwdDataInit = handle(linker, l, "dnnl_dilated_convolution_backward_data_desc_init", FunctionDescriptor.of(i, p, i, p, p, p, p, p, p, p));
        convBwdWeightsInit = handle(linker, l, "dnnl_dilated_convolution_backward_weights_desc_init", FunctionDescriptor.of(i, p, i, p, p, p, p, p, p, p, p));
        pdCreate = handle(linker, l, "dnnl_primitive_desc_create", FunctionDescriptor.of(i, p, p, p, p, p));
        pdQueryMd = handle(linker, l, "dnnl_primitive_desc_query_md", FunctionDescriptor.of(p, p, i, i));
        pdQuery = handle(linker, l, "dnnl_primitive_desc_query", FunctionDescriptor.of(i, p, i, i, p));
        pdDestroy = handle(linker, l, "dnnl_primitive_desc_destroy", FunctionDescriptor.of(i, p));
        primCreate = handle(linker, l, "dnnl_primitive_create", FunctionDescriptor.of(i, p, p));
        primDestroy = handle(linker, l, "dnnl_primitive_destroy", FunctionDescriptor.of(i, p));
        execute = handle(linker, l, "dnnl_primitive_execute", FunctionDescriptor.of(i, p, p, i, p));
        memCreate = handle(linker, l, "dnnl_memory_create", FunctionDescriptor.of(i, p, p, p, p));
        memSetHandle = handle(linker, l, "dnnl_memory_set_data_handle", FunctionDescriptor.of(i, p, p));
        memDestroy = handle(linker, l, "dnnl_memory_destroy", FunctionDescriptor.of(i, p));
        mdEqual = handle(linker, l, "dnnl_memory_desc_equal", FunctionDescriptor.of(i, p, p));
        mdSize = handle(linker, l, "dnnl_memory_desc_get_size", FunctionDescriptor.of(j, p));
        reorderPdCreate = handle(linker, l, "dnnl_reorder_primitive_desc_create", FunctionDescriptor.of(i, p, p, p, p, p, p));
        streamWait = handle(linker, l, "dnnl_stream_wait", FunctionDescriptor.of(i, p));
        ValueLayout f = ValueLayout.JAVA_FLOAT, c = ValueLayout.JAVA_BYTE;
        sgemm = handle(linker, l, "dnnl_sgemm", FunctionDescriptor.of(i, c, c, j, j, j, f, p, j, p, j, f, p, j));
        ompSetThreads = gomp == null ? null : gomp.find("omp_set_num_threads")
                .map(a -> linker.downcallHandle(a, FunctionDescriptor.ofVoid(i))).orElse(null);
        MethodHandle engineCreate = handle(linker, l, "dnnl_engine_create", FunctionDescriptor.of(i, p, i, j));
        MethodHandle streamCreate = handle(linker, l, "dnnl_stream_create", FunctionDescriptor.of(i, p, p, i));
        MethodHandle versionOf = handle(linker, l, "dnnl_version", FunctionDescriptor.of(p));
        MethodHandle attrCreate = handle(linker, l, "dnnl_primitive_attr_create", FunctionDescriptor.of(i, p));
        MethodHandle attrScratchpad = handle(linker, l, "dnnl_primitive_attr_set_scratchpad_mode", FunctionDescriptor.of(i, p, i));
        MethodHandle postOpsCreate = handle(linker, l, "dnnl_post_ops_create", FunctionDescriptor.of(i, p));
        MethodHandle postOpsEltwise = handle(linker, l, "dnnl_post_ops_append_eltwise", FunctionDescriptor.of(i, p, ValueLayout.JAVA_FLOAT, i, ValueLayout.JAVA_FLOAT, ValueLayout.JAVA_FLOAT));
        MethodHandle postOpsDestroy = handle(linker, l, "dnnl_post_ops_destroy", FunctionDescriptor.of(i, p));
        MethodHandle attrPostOps = handle(linker, l, "dnnl_primitive_attr_set_post_ops", FunctionDescriptor.of(i, p, p));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            check((int) engineCreate.invokeExact(out, ENGINE_CPU, 0L), "dnnl_engine_create");
            engine = out.get(ValueLayout.ADDRESS, 0);
            check((int) streamCreate.invokeExact(out, engine, STREAM_DEFAULT), "dnnl_stream_create");
            stream = out.get(ValueLayout.ADDRESS, 0);
            check((int) attrCreate.invokeExact(out), "dnnl_primitive_attr_create");
            userScratchpad = out.get(ValueLayout.ADDRESS, 0);
            check((int) attrScratchpad.invokeExact(userScratchpad, SCRATCHPAD_USER), "dnnl_primitive_attr_set_scratchpad_mode");
            check((int) attrCreate.invokeExact(out), "dnnl_primitive_attr_create");
            userScratchpadRelu = out.get(ValueLayout.ADDRESS, 0);
            check((int) attrScratchpad.invokeExact(userScratchpadRelu, SCRATCHPAD_USER), "dnnl_primitive_attr_set_scratchpad_mode");
            check((int) postOpsCreate.invokeExact(out), "dnnl_post_ops_create");
            MemorySegment relu = out.get(ValueLayout.ADDRESS, 0);
            try {
                check((int) postOpsEltwise.invokeExact(relu, 1f, ELTWISE_RELU, 0f, 0f), "dnnl_post_ops_append_eltwise");
                check((int) attrPostOps.invokeExact(userScratchpadRelu, relu), "dnnl_primitive_attr_set_post_ops");
            } finally {
                check((int) postOpsDestroy.invokeExact(relu), "dnnl_post_ops_destroy"); // the attribute keeps its own copy
            }
        }
        // dnnl_version_t: int major, minor, patch; const char *hash; unsigned cpu_runtime, gpu_runtime.
        MemorySegment v = ((MemorySegment) versionOf.invokeExact()).reinterpret(32);
        version = v.get(ValueLayout.JAVA_INT, 0) + "." + v.get(ValueLayout.JAVA_INT, 4) + "." + v.get(ValueLayout.JAVA_INT, 8);
    }

    /** The library, or null when it is absent here (see {@link #failure()}). */
    static OneDnn instance() { return INSTANCE; }

    /** Why oneDNN did not load, in one line, or null. */
    static String failure() { return FAILURE; }

    String name() { return "oneDNN " + version + " (" + library + ")"; }

    /** Loads the first candidate that opens; the message names every file tried when none does. */
    static OneDnn load(List<String> candidates) {
        quietOpenMp();
        SignalMask.blockAsynchronous().close(); // no oneDNN where its GEMM kernels cannot be kept from signals
        SymbolLookup lookup = null;
        String found = null;
        List<String> tried = new ArrayList<>();
        for (String c : candidates) {
            try {
                lookup = c.startsWith("/") ? SymbolLookup.libraryLookup(Path.of(c), Arena.global()) : SymbolLookup.libraryLookup(c, Arena.global());
                found = c;
                break;
            } catch (IllegalArgumentException e) {
                tried.add(c);
            }
        }
        if (lookup == null) {
            throw new IllegalStateException("libdnnl not found (tried " + String.join(", ", tried) + "; Debian package libdnnl2)");
        }
        SymbolLookup gomp;
        try {
            gomp = SymbolLookup.libraryLookup("libgomp.so.1", Arena.global());
        } catch (IllegalArgumentException e) {
            gomp = null; // another threading runtime: it keeps its own thread count
        }
        try {
            return new OneDnn(found, lookup, gomp);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(found + ": " + e.getMessage(), e);
        }
    }

    /** Sets OMP_WAIT_POLICY=PASSIVE before libgomp reads it, unless the user chose a policy or spin count. */
    private static void quietOpenMp() {
        if (System.getenv("OMP_WAIT_POLICY") != null || System.getenv("GOMP_SPINCOUNT") != null) return;
        Linker linker = Linker.nativeLinker();
        linker.defaultLookup().find("setenv").ifPresent(addr -> {
            MethodHandle setenv = linker.downcallHandle(addr, FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            try (Arena a = Arena.ofConfined()) {
                int ignored = (int) setenv.invokeExact(a.allocateFrom("OMP_WAIT_POLICY"), a.allocateFrom("PASSIVE"), 0);
            } catch (Throwable e) {
                throw new IllegalStateException("setenv(OMP_WAIT_POLICY) failed", e);
            }
        });
    }

    private static MethodHandle handle(Linker linker, SymbolLookup l, String name, FunctionDescriptor fd) {
        MemorySegment addr = l.find(name).orElseThrow(() -> new IllegalStateException("libdnnl has no symbol " + name));
        return linker.downcallHandle(addr, fd);
    }

    /** The status name oneDNN's headers give this value. */
    static String statusName(int status) {
        return status >= 0 && status < STATUS.length ? STATUS[status] : "dnnl_status " + status;
    }

    /** Throws with the call, its status name and what was being done (the shapes) when status is not success. */
    static void check(int status, String call) {
        if (status != 0) throw new IllegalStateException("oneDNN " + call + ": " + statusName(status));
    }

    // ---- memory descriptors ----

    /** A memory descriptor of F32 dims in the given tag (TAG_ANY lets a primitive pick), in arena a. */
    MemorySegment md(Arena a, long[] dims, int tag) throws Throwable {
        MemorySegment md = a.allocate(MD_BYTES, 8);
        check((int) mdInitByTag.invokeExact(md, dims.length, dims(a, dims), F32, tag), "dnnl_memory_desc_init_by_tag " + java.util.Arrays.toString(dims));
        return md;
    }

    /** A dnnl_dims_t (12 int64) holding v. */
    static MemorySegment dims(Arena a, long... v) {
        MemorySegment s = a.allocate(ValueLayout.JAVA_LONG, MAX_NDIMS);
        for (int k = 0; k < v.length; k++) s.setAtIndex(ValueLayout.JAVA_LONG, k, v[k]);
        return s;
    }

    boolean mdEqual(MemorySegment x, MemorySegment y) throws Throwable { return (int) mdEqual.invokeExact(x, y) != 0; }

    long mdSize(MemorySegment md) throws Throwable { return (long) mdSize.invokeExact(md); }

    // ---- operation descriptors and primitives ----

    void convForwardDesc(MemorySegment desc, int prop, MemorySegment src, MemorySegment w, MemorySegment bias, MemorySegment dst,
                         MemorySegment strides, MemorySegment dil, MemorySegment padL, MemorySegment padR) throws Throwable {
        check((int) convFwdInit.invokeExact(desc, prop, CONVOLUTION_DIRECT, src, w, bias, dst, strides, dil, padL, padR),
                "dnnl_dilated_convolution_forward_desc_init");
    }

    void convBackwardDataDesc(MemorySegment desc, MemorySegment diffSrc, MemorySegment w, MemorySegment diffDst,
                              MemorySegment strides, MemorySegment dil, MemorySegment padL, MemorySegment padR) throws Throwable {
        check((int) convBwdDataInit.invokeExact(desc, CONVOLUTION_DIRECT, diffSrc, w, diffDst, strides, dil, padL, padR),
                "dnnl_dilated_convolution_backward_data_desc_init");
    }

    void convBackwardWeightsDesc(MemorySegment desc, MemorySegment src, MemorySegment diffW, MemorySegment diffBias, MemorySegment diffDst,
                                 MemorySegment strides, MemorySegment dil, MemorySegment padL, MemorySegment padR) throws Throwable {
        check((int) convBwdWeightsInit.invokeExact(desc, CONVOLUTION_DIRECT, src, diffW, diffBias, diffDst, strides, dil, padL, padR),
                "dnnl_dilated_convolution_backward_weights_desc_init");
    }

    /** A primitive descriptor for opDesc (hint: the forward one a backward pass needs, or NULL). */
    MemorySegment primitiveDesc(MemorySegment opDesc, MemorySegment hint) throws Throwable { return primitiveDesc(opDesc, hint, false); }

    /** As {@link #primitiveDesc(MemorySegment, MemorySegment)}; relu: the output goes through max(y, 0) inside the primitive. */
    MemorySegment primitiveDesc(MemorySegment opDesc, MemorySegment hint, boolean relu) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            MemorySegment attr = relu ? userScratchpadRelu : userScratchpad;
            check((int) pdCreate.invokeExact(out, opDesc, attr, engine, hint), "dnnl_primitive_desc_create");
            return out.get(ValueLayout.ADDRESS, 0);
        }
    }

    /** A reorder primitive descriptor from one layout to another. */
    MemorySegment reorderDesc(MemorySegment from, MemorySegment to) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            check((int) reorderPdCreate.invokeExact(out, from, engine, to, engine, userScratchpad), "dnnl_reorder_primitive_desc_create");
            return out.get(ValueLayout.ADDRESS, 0);
        }
    }

    /** The memory descriptor a primitive descriptor chose for what (a QUERY_*_MD), owned by the descriptor. */
    MemorySegment queryMd(MemorySegment pd, int what, int index) throws Throwable {
        MemorySegment md = (MemorySegment) pdQueryMd.invokeExact(pd, what, index);
        if (md.address() == 0) throw new IllegalStateException("oneDNN dnnl_primitive_desc_query_md: no memory descriptor " + what);
        return md.reinterpret(MD_BYTES);
    }

    /** The implementation oneDNN picked (jit:avx512_core, gemm:jit, ...). */
    String implementation(MemorySegment pd) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            check((int) pdQuery.invokeExact(pd, QUERY_IMPL_INFO_STR, 0, out), "dnnl_primitive_desc_query");
            return out.get(ValueLayout.ADDRESS, 0).reinterpret(256).getString(0);
        }
    }

    MemorySegment primitive(MemorySegment pd) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            try (SignalMask m = SignalMask.blockAsynchronous()) { // creation may start the OpenMP workers, which keep this mask
                check((int) primCreate.invokeExact(out, pd), "dnnl_primitive_create");
            }
            return out.get(ValueLayout.ADDRESS, 0);
        }
    }

    void destroyDesc(MemorySegment pd) throws Throwable { check((int) pdDestroy.invokeExact(pd), "dnnl_primitive_desc_destroy"); }

    void destroyPrimitive(MemorySegment p) throws Throwable { check((int) primDestroy.invokeExact(p), "dnnl_primitive_destroy"); }

    /** A memory object of layout md without a buffer: {@link #setHandle} gives it one per call. */
    MemorySegment memory(MemorySegment md) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            check((int) memCreate.invokeExact(out, md, engine, MemorySegment.NULL), "dnnl_memory_create");
            return out.get(ValueLayout.ADDRESS, 0);
        }
    }

    void setHandle(MemorySegment mem, MemorySegment data) throws Throwable {
        check((int) memSetHandle.invokeExact(mem, data), "dnnl_memory_set_data_handle");
    }

    void destroyMemory(MemorySegment mem) throws Throwable { check((int) memDestroy.invokeExact(mem), "dnnl_memory_destroy"); }

    /**
     * Sets the calling thread's OpenMP thread count. A primitive splits its work for the count
     * in force when it is created and must run with that count: creation and execution both set it.
     */
    void useThreads(int n) throws Throwable {
        if (ompSetThreads != null) ompSetThreads.invokeExact(n);
    }

    /**
     * Row-major C = alpha op(A) op(B) + beta C (dnnl_sgemm) on Parallel.threads() OpenMP threads,
     * one call at a time, with asynchronous signals held back ({@link SignalMask}).
     */
    void sgemm(boolean ta, boolean tb, long m, long n, long k, float alpha, MemorySegment a, long lda, MemorySegment b, long ldb,
               float beta, MemorySegment c, long ldc) throws Throwable {
        synchronized (EXECUTION) {
            useThreads(Parallel.threads());
            callSgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        }
    }

    /**
     * dnnl_sgemm on the calling thread alone: one OpenMP thread (the ICV is the caller's own), so
     * no OpenMP team and no EXECUTION lock. For the small GEMMs that the threads of Lumen's
     * parallel regions run side by side (one attention head each).
     */
    void sgemmOnCaller(boolean ta, boolean tb, long m, long n, long k, float alpha, MemorySegment a, long lda, MemorySegment b, long ldb,
                       float beta, MemorySegment c, long ldc) throws Throwable {
        useThreads(1);
        callSgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /** One dnnl_sgemm call with the thread count already set, signals held back, its status checked. */
    private void callSgemm(boolean ta, boolean tb, long m, long n, long k, float alpha, MemorySegment a, long lda, MemorySegment b,
                           long ldb, float beta, MemorySegment c, long ldc) throws Throwable {
        int status;
        try (SignalMask s = SignalMask.blockAsynchronous()) {
            status = (int) sgemm.invokeExact((byte) (ta ? 'T' : 'N'), (byte) (tb ? 'T' : 'N'), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        }
        if (status != 0) {
            throw new IllegalStateException("oneDNN dnnl_sgemm " + m + "x" + n + "x" + k + (ta ? " A^T" : "") + (tb ? " B^T" : "")
                    + " lda " + lda + " ldb " + ldb + " ldc " + ldc + ": " + statusName(status));
        }
    }

    /**
     * Runs a primitive on the caller with Parallel.threads() OpenMP threads and waits for it,
     * with asynchronous signals held back ({@link SignalMask}). args: dnnl_exec_arg_t {int arg; dnnl_memory_t memory} pairs.
     */
    void execute(MemorySegment primitive, int nargs, MemorySegment args, String what) throws Throwable {
        useThreads(Parallel.threads());
        try (SignalMask m = SignalMask.blockAsynchronous()) {
            check((int) execute.invokeExact(primitive, stream, nargs, args), "dnnl_primitive_execute " + what);
            check((int) streamWait.invokeExact(stream), "dnnl_stream_wait " + what);
        }
    }
}
