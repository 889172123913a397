package dev.lumen.cuda;

import java.io.IOException;
import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Our FFM binding of cuDNN 9's legacy convolution and batch-norm API. The library is
 * libcudnn.so.9, found by soname (so LD_LIBRARY_PATH counts) or in the lib folder of NVIDIA's
 * pip wheel (site-packages/nvidia/cudnn/lib); the property lumen.cudnn.library or the variable
 * LUMEN_CUDNN_LIBRARY names another file. Under the emulated driver the default is
 * libcudnn_emu.so next to it, because emulated device memory is host memory that only the
 * emulated cuDNN can read. Every status is checked; a failure names the call and cuDNN's text.
 *
 * <p>Device pointers travel as {@code long} (CUdeviceptr), host scalars and descriptors as
 * segments. One instance and handle per device ({@link #of}; a cuDNN handle belongs to the device
 * current when it was made), bound to that context's compute stream.
 */
public final class Cudnn {
    // cudnnDataType_t, cudnnTensorFormat_t, cudnnConvolutionMode_t, cudnnMathType_t,
    // cudnnBatchNormMode_t and cudnnDeterminism_t values, from cudnn_graph.h / cudnn_ops.h.
    public static final int DATA_FLOAT = 0, DATA_DOUBLE = 1, DATA_HALF = 2, DATA_BFLOAT16 = 9;
    public static final int TENSOR_NCHW = 0;
    public static final int CROSS_CORRELATION = 1;
    public static final int DEFAULT_MATH = 0, TENSOR_OP_MATH = 1, FMA_MATH = 3;
    public static final int BATCHNORM_SPATIAL = 1;
    public static final int DETERMINISTIC = 1;
    public static final int STATUS_SUCCESS = 0, STATUS_BAD_PARAM = 2000;
    /** CUDNN_CONVOLUTION_{FWD,BWD_DATA,BWD_FILTER}_ALGO_COUNT: the most the heuristics can return. */
    private static final int FWD_ALGOS = 8, BWD_DATA_ALGOS = 6, BWD_FILTER_ALGOS = 7;
    /** sizeof(cudnnConvolution*AlgoPerf_t) and the offsets of its fields (algo, status, time, memory, determinism). */
    private static final long PERF_SIZE = 48, PERF_STATUS = 4, PERF_MEMORY = 16, PERF_DETERMINISM = 24;

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    private static final ValueLayout.OfDouble DOUBLE = ValueLayout.JAVA_DOUBLE;
    private static final AddressLayout PTR = ValueLayout.ADDRESS;

    private static final java.util.concurrent.ConcurrentHashMap<Integer, Cudnn> BY_DEVICE = new java.util.concurrent.ConcurrentHashMap<>();
    /** The library that loaded, so that every device binds the same one. */
    private static String loaded;
    private static volatile String unavailable;

    private final String library;
    private final int ordinal;
    private final MethodHandle getVersion, getErrorString, create, destroy, setStream,
            createTensor, setTensor4dEx, getTensor4d, destroyTensor,
            createFilter, setFilter4d, getFilter4d, destroyFilter,
            createConv, setConv2d, setConvGroupCount, setConvMathType, convOutputDim, destroyConv,
            fwdAlgo, bwdDataAlgo, bwdFilterAlgo, fwdWorkspace, bwdDataWorkspace, bwdFilterWorkspace,
            convForward, convBackwardData, convBackwardFilter, addTensor,
            deriveBn, bnForwardTraining, bnForwardInference, bnBackward;
    private volatile MemorySegment handle;

    private Cudnn(String library, SymbolLookup lib, int ordinal) {
        this.library = library;
        this.ordinal = ordinal;
        Linker l = Linker.nativeLinker();
        getVersion = l.downcallHandle(find(lib, "cudnnGetVersion"), FunctionDescriptor.of(LONG));
        getErrorString = l.downcallHandle(find(lib, "cudnnGetErrorString"), FunctionDescriptor.of(PTR, INT));
        create = bind(l, lib, "cudnnCreate", PTR);
        destroy = bind(l, lib, "cudnnDestroy", PTR);
        setStream = bind(l, lib, "cudnnSetStream", PTR, PTR);
        createTensor = bind(l, lib, "cudnnCreateTensorDescriptor", PTR);
        setTensor4dEx = bind(l, lib, "cudnnSetTensor4dDescriptorEx", PTR, INT, INT, INT, INT, INT, INT, INT, INT, INT);
        getTensor4d = bind(l, lib, "cudnnGetTensor4dDescriptor", PTR, PTR, PTR, PTR, PTR, PTR, PTR, PTR, PTR, PTR);
        destroyTensor = bind(l, lib, "cudnnDestroyTensorDescriptor", PTR);
        createFilter = bind(l, lib, "cudnnCreateFilterDescriptor", PTR);
        setFilter4d = bind(l, lib, "cudnnSetFilter4dDescriptor", PTR, INT, INT, INT, INT, INT, INT);
        getFilter4d = bind(l, lib, "cudnnGetFilter4dDescriptor", PTR, PTR, PTR, PTR, PTR, PTR, PTR);
        destroyFilter = bind(l, lib, "cudnnDestroyFilterDescriptor", PTR);
        createConv = bind(l, lib, "cudnnCreateConvolutionDescriptor", PTR);
        setConv2d = bind(l, lib, "cudnnSetConvolution2dDescriptor", PTR, INT, INT, INT, INT, INT, INT, INT, INT);
        setConvGroupCount = bind(l, lib, "cudnnSetConvolutionGroupCount", PTR, INT);
        setConvMathType = bind(l, lib, "cudnnSetConvolutionMathType", PTR, INT);
        convOutputDim = bind(l, lib, "cudnnGetConvolution2dForwardOutputDim", PTR, PTR, PTR, PTR, PTR, PTR, PTR);
        destroyConv = bind(l, lib, "cudnnDestroyConvolutionDescriptor", PTR);
        fwdAlgo = bind(l, lib, "cudnnGetConvolutionForwardAlgorithm_v7", PTR, PTR, PTR, PTR, PTR, INT, PTR, PTR);
        bwdDataAlgo = bind(l, lib, "cudnnGetConvolutionBackwardDataAlgorithm_v7", PTR, PTR, PTR, PTR, PTR, INT, PTR, PTR);
        bwdFilterAlgo = bind(l, lib, "cudnnGetConvolutionBackwardFilterAlgorithm_v7", PTR, PTR, PTR, PTR, PTR, INT, PTR, PTR);
        fwdWorkspace = bind(l, lib, "cudnnGetConvolutionForwardWorkspaceSize", PTR, PTR, PTR, PTR, PTR, INT, PTR);
        bwdDataWorkspace = bind(l, lib, "cudnnGetConvolutionBackwardDataWorkspaceSize", PTR, PTR, PTR, PTR, PTR, INT, PTR);
        bwdFilterWorkspace = bind(l, lib, "cudnnGetConvolutionBackwardFilterWorkspaceSize", PTR, PTR, PTR, PTR, PTR, INT, PTR);
        convForward = bind(l, lib, "cudnnConvolutionForward", PTR, PTR, PTR, LONG, PTR, LONG, PTR, INT, LONG, LONG, PTR, PTR, LONG);
        convBackwardData = bind(l, lib, "cudnnConvolutionBackwardData", PTR, PTR, PTR, LONG, PTR, LONG, PTR, INT, LONG, LONG, PTR, PTR, LONG);
        convBackwardFilter = bind(l, lib, "cudnnConvolutionBackwardFilter", PTR, PTR, PTR, LONG, PTR, LONG, PTR, INT, LONG, LONG, PTR, PTR, LONG);
        addTensor = bind(l, lib, "cudnnAddTensor", PTR, PTR, PTR, LONG, PTR, PTR, LONG);
        deriveBn = bind(l, lib, "cudnnDeriveBNTensorDescriptor", PTR, PTR, INT);
        bnForwardTraining = bind(l, lib, "cudnnBatchNormalizationForwardTraining",
                PTR, INT, PTR, PTR, PTR, LONG, PTR, LONG, PTR, LONG, LONG, DOUBLE, LONG, LONG, DOUBLE, LONG, LONG);
        bnForwardInference = bind(l, lib, "cudnnBatchNormalizationForwardInference",
                PTR, INT, PTR, PTR, PTR, LONG, PTR, LONG, PTR, LONG, LONG, LONG, LONG, DOUBLE);
        bnBackward = bind(l, lib, "cudnnBatchNormalizationBackward",
                PTR, INT, PTR, PTR, PTR, PTR, PTR, LONG, PTR, LONG, PTR, LONG, PTR, LONG, LONG, LONG, DOUBLE, LONG, LONG);
    }

    private static MemorySegment find(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new CudaException("cuDNN library lacks " + name, -1));
    }

    /** Every cuDNN call returns cudnnStatus_t (an int). */
    private static MethodHandle bind(Linker l, SymbolLookup lib, String name, MemoryLayout... args) {
        return l.downcallHandle(find(lib, name), FunctionDescriptor.of(INT, args));
    }

    // ---------------------------------------------------------------- loading

    /** Device 0's cuDNN (see {@link #of}). */
    public static Cudnn get() { return of(CudaContext.get()); }

    /** The cuDNN of ctx's device: the library loaded once per process, one handle per device on its compute stream. */
    public static Cudnn of(CudaContext ctx) {
        Cudnn c = BY_DEVICE.get(ctx.ordinal());
        if (c != null) return c;
        synchronized (Cudnn.class) {
            c = BY_DEVICE.get(ctx.ordinal());
            if (c != null) return c;
            if (unavailable != null) throw new CudaException(unavailable, -1);
            try {
                c = load(loaded != null ? List.of(loaded) : candidates(), ctx.ordinal());
            } catch (CudaException e) {
                unavailable = e.getMessage();
                throw e;
            }
            loaded = c.library;
            BY_DEVICE.put(ctx.ordinal(), c);
            return c;
        }
    }

    /**
     * The libraries to try, in order: the named file, else the emulated cuDNN next to an emulated
     * driver, else libcudnn.so.9 by soname and then in the lib folders of NVIDIA's pip wheels.
     */
    static List<String> candidates() {
        String named = System.getProperty("lumen.cudnn.library");
        if (named == null || named.isBlank()) named = System.getenv("LUMEN_CUDNN_LIBRARY");
        if (named != null && !named.isBlank()) return List.of(named);
        CudaDriver driver = CudaDriver.get();
        if (driver.isEmulated()) {
            Path drv = Path.of(driver.library()).toAbsolutePath();
            return List.of(drv.resolveSibling("libcudnn_emu.so").toString());
        }
        return nvidiaCandidates();
    }

    /** NVIDIA's libcudnn.so.9: by soname (the loader's path, LD_LIBRARY_PATH), then in pip wheels. */
    static List<String> nvidiaCandidates() {
        List<String> out = new ArrayList<>();
        out.add("libcudnn.so.9");
        for (Path dir : wheelLibDirs()) out.add(dir.resolve("libcudnn.so.9").toString());
        return out;
    }

    /** site-packages/nvidia/cudnn/lib (NVIDIA's nvidia-cudnn-cu13 wheel) under the Python prefixes this machine has. */
    static List<Path> wheelLibDirs() { return NvidiaLibrary.wheelLibDirs("nvidia/cudnn/lib"); }

    /** Loads the first candidate that opens, uncached, for device 0; the error names all of them. */
    public static Cudnn load(List<String> candidates) { return load(candidates, 0); }

    private static Cudnn load(List<String> candidates, int ordinal) {
        for (String name : candidates) {
            try {
                SymbolLookup lib = name.contains("/")
                        ? SymbolLookup.libraryLookup(Path.of(name), Arena.global())
                        : SymbolLookup.libraryLookup(name, Arena.global());
                return new Cudnn(name, lib, ordinal);
            } catch (IllegalArgumentException e) {
                // not there (or not loadable): try the next
            }
        }
        throw new CudaException("cuDNN unavailable: " + String.join(", ", candidates) + " not found"
                + (candidates.size() > 1 ? " (searched by soname and NVIDIA's pip wheels)" : ""), -1);
    }

    public String library() { return library; }

    /** CUDNN_VERSION of the loaded library: major*10000 + minor*100 + patch. */
    public long version() {
        try {
            return (long) getVersion.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public String errorString(int status) {
        try {
            MemorySegment p = (MemorySegment) getErrorString.invokeExact(status);
            return p.address() == 0 ? "cudnnStatus_t " + status : p.reinterpret(1024).getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Throws a CudaException naming the call and cuDNN's text when status is not success. */
    public void check(String call, int status) {
        if (status != STATUS_SUCCESS) {
            throw new CudaException(call + " failed: " + errorString(status) + " (" + status + ")", status);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    // ---------------------------------------------------------------- handle

    /**
     * The handle of this device's context, created on first use and bound to its compute stream.
     * Makes that context current on the calling thread: cuDNN runs on the current device.
     */
    public MemorySegment handle() {
        CudaContext ctx = CudaContext.of(ordinal).bind();
        MemorySegment h = handle;
        return h != null ? h : createHandle(ctx);
    }

    private synchronized MemorySegment createHandle(CudaContext ctx) {
        if (handle == null) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(PTR);
                check("cudnnCreate", (int) create.invokeExact(out));
                MemorySegment h = out.get(PTR, 0);
                check("cudnnSetStream", (int) setStream.invokeExact(h, ctx.stream()));
                handle = h;
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }
        return handle;
    }

    // ---------------------------------------------------------------- descriptors

    private MemorySegment newDescriptor(String call, MethodHandle h) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(PTR);
            check(call, (int) h.invokeExact(out));
            return out.get(PTR, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A 4-d tensor descriptor (dims and strides in elements); free with destroyTensor. */
    public MemorySegment tensor(int dtype, int n, int c, int h, int w, int ns, int cs, int hs, int ws) {
        MemorySegment d = newDescriptor("cudnnCreateTensorDescriptor", createTensor);
        try {
            check("cudnnSetTensor4dDescriptorEx(" + n + "x" + c + "x" + h + "x" + w + ")",
                    (int) setTensor4dEx.invokeExact(d, dtype, n, c, h, w, ns, cs, hs, ws));
            return d;
        } catch (Throwable t) {
            destroyTensor(d);
            throw rethrow(t);
        }
    }

    /** A packed NCHW tensor descriptor. */
    public MemorySegment tensor(int dtype, int n, int c, int h, int w) {
        return tensor(dtype, n, c, h, w, c * h * w, h * w, w, 1);
    }

    /** {dtype, n, c, h, w, nStride, cStride, hStride, wStride} of a tensor descriptor. */
    public int[] describeTensor(MemorySegment d) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(INT, 9);
            check("cudnnGetTensor4dDescriptor", (int) getTensor4d.invokeExact(d, v, v.asSlice(4), v.asSlice(8), v.asSlice(12),
                    v.asSlice(16), v.asSlice(20), v.asSlice(24), v.asSlice(28), v.asSlice(32)));
            return v.toArray(INT);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void destroyTensor(MemorySegment d) {
        try {
            check("cudnnDestroyTensorDescriptor", (int) destroyTensor.invokeExact(d));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** An NCHW filter descriptor [k, c, h, w]; free with destroyFilter. */
    public MemorySegment filter(int dtype, int k, int c, int h, int w) {
        MemorySegment d = newDescriptor("cudnnCreateFilterDescriptor", createFilter);
        try {
            check("cudnnSetFilter4dDescriptor(" + k + "x" + c + "x" + h + "x" + w + ")",
                    (int) setFilter4d.invokeExact(d, dtype, TENSOR_NCHW, k, c, h, w));
            return d;
        } catch (Throwable t) {
            destroyFilter(d);
            throw rethrow(t);
        }
    }

    /** {dtype, format, k, c, h, w} of a filter descriptor. */
    public int[] describeFilter(MemorySegment d) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(INT, 6);
            check("cudnnGetFilter4dDescriptor", (int) getFilter4d.invokeExact(d, v, v.asSlice(4), v.asSlice(8), v.asSlice(12),
                    v.asSlice(16), v.asSlice(20)));
            return v.toArray(INT);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void destroyFilter(MemorySegment d) {
        try {
            check("cudnnDestroyFilterDescriptor", (int) destroyFilter.invokeExact(d));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A cross-correlation (PyTorch's conv2d) descriptor; free with destroyConvolution. */
    public MemorySegment convolution(int ph, int pw, int sh, int sw, int dh, int dw, int computeType, int groups, int mathType) {
        MemorySegment d = newDescriptor("cudnnCreateConvolutionDescriptor", createConv);
        try {
            check("cudnnSetConvolution2dDescriptor", (int) setConv2d.invokeExact(d, ph, pw, sh, sw, dh, dw, CROSS_CORRELATION, computeType));
            check("cudnnSetConvolutionGroupCount(" + groups + ")", (int) setConvGroupCount.invokeExact(d, groups));
            check("cudnnSetConvolutionMathType(" + mathType + ")", (int) setConvMathType.invokeExact(d, mathType));
            return d;
        } catch (Throwable t) {
            destroyConvolution(d);
            throw rethrow(t);
        }
    }

    public void destroyConvolution(MemorySegment d) {
        try {
            check("cudnnDestroyConvolutionDescriptor", (int) destroyConv.invokeExact(d));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {n, c, h, w} of the convolution's output. */
    public int[] forwardOutputDim(MemorySegment conv, MemorySegment x, MemorySegment filter) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(INT, 4);
            check("cudnnGetConvolution2dForwardOutputDim",
                    (int) convOutputDim.invokeExact(conv, x, filter, v, v.asSlice(4), v.asSlice(8), v.asSlice(12)));
            return v.toArray(INT);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---------------------------------------------------------------- algorithm choice

    /** A chosen algorithm and the workspace bytes it needs. */
    public record Algo(int algo, long workspace) {}

    /** The kind of convolution pass an algorithm is chosen for. */
    public enum Pass { FORWARD, BACKWARD_DATA, BACKWARD_FILTER }

    /**
     * The best deterministic algorithm by cuDNN's heuristics (so a training step gives the same
     * bits run to run), with its workspace size. x is the input, y the output, f the filter.
     */
    public Algo deterministicAlgorithm(Pass pass, MemorySegment x, MemorySegment f, MemorySegment conv, MemorySegment y) {
        MemorySegment h = handle();
        int max = switch (pass) { case FORWARD -> FWD_ALGOS; case BACKWARD_DATA -> BWD_DATA_ALGOS; case BACKWARD_FILTER -> BWD_FILTER_ALGOS; };
        String call = switch (pass) {
            case FORWARD -> "cudnnGetConvolutionForwardAlgorithm_v7";
            case BACKWARD_DATA -> "cudnnGetConvolutionBackwardDataAlgorithm_v7";
            case BACKWARD_FILTER -> "cudnnGetConvolutionBackwardFilterAlgorithm_v7";
        };
        try (Arena a = Arena.ofConfined()) {
            MemorySegment count = a.allocate(INT), perf = a.allocate(PERF_SIZE * max, 8);
            int status = switch (pass) {
                case FORWARD -> (int) fwdAlgo.invokeExact(h, x, f, conv, y, max, count, perf);
                case BACKWARD_DATA -> (int) bwdDataAlgo.invokeExact(h, f, y, conv, x, max, count, perf);
                case BACKWARD_FILTER -> (int) bwdFilterAlgo.invokeExact(h, x, y, conv, f, max, count, perf);
            };
            check(call, status);
            int n = count.get(INT, 0);
            for (int i = 0; i < n; i++) {
                long at = i * PERF_SIZE;
                if (perf.get(INT, at + PERF_STATUS) != STATUS_SUCCESS || perf.get(INT, at + PERF_DETERMINISM) != DETERMINISTIC) continue;
                int algo = perf.get(INT, at);
                return new Algo(algo, workspaceSize(pass, x, f, conv, y, algo));
            }
            throw new CudaException(call + ": none of the " + n + " algorithms offered is deterministic", STATUS_BAD_PARAM);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private long workspaceSize(Pass pass, MemorySegment x, MemorySegment f, MemorySegment conv, MemorySegment y, int algo) throws Throwable {
        MemorySegment h = handle();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(LONG);
            switch (pass) {
                case FORWARD -> check("cudnnGetConvolutionForwardWorkspaceSize(algo " + algo + ")",
                        (int) fwdWorkspace.invokeExact(h, x, f, conv, y, algo, out));
                case BACKWARD_DATA -> check("cudnnGetConvolutionBackwardDataWorkspaceSize(algo " + algo + ")",
                        (int) bwdDataWorkspace.invokeExact(h, f, y, conv, x, algo, out));
                case BACKWARD_FILTER -> check("cudnnGetConvolutionBackwardFilterWorkspaceSize(algo " + algo + ")",
                        (int) bwdFilterWorkspace.invokeExact(h, x, y, conv, f, algo, out));
            }
            return out.get(LONG, 0);
        }
    }

    // ---------------------------------------------------------------- execution
    // alpha and beta point to host scalars: double for DOUBLE data, float otherwise (scalars()).

    public void convolutionForward(MemorySegment alpha, MemorySegment xd, long x, MemorySegment fd, long w, MemorySegment conv,
                                   int algo, long ws, long wsBytes, MemorySegment beta, MemorySegment yd, long y) {
        try {
            check("cudnnConvolutionForward(algo " + algo + ")",
                    (int) convForward.invokeExact(handle(), alpha, xd, x, fd, w, conv, algo, ws, wsBytes, beta, yd, y));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void convolutionBackwardData(MemorySegment alpha, MemorySegment fd, long w, MemorySegment dyd, long dy, MemorySegment conv,
                                        int algo, long ws, long wsBytes, MemorySegment beta, MemorySegment dxd, long dx) {
        try {
            check("cudnnConvolutionBackwardData(algo " + algo + ")",
                    (int) convBackwardData.invokeExact(handle(), alpha, fd, w, dyd, dy, conv, algo, ws, wsBytes, beta, dxd, dx));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void convolutionBackwardFilter(MemorySegment alpha, MemorySegment xd, long x, MemorySegment dyd, long dy, MemorySegment conv,
                                          int algo, long ws, long wsBytes, MemorySegment beta, MemorySegment dwd, long dw) {
        try {
            check("cudnnConvolutionBackwardFilter(algo " + algo + ")",
                    (int) convBackwardFilter.invokeExact(handle(), alpha, xd, x, dyd, dy, conv, algo, ws, wsBytes, beta, dwd, dw));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** c = alpha * a + beta * c, a broadcast along its dimensions of size 1. */
    public void addTensor(MemorySegment alpha, MemorySegment ad, long a, MemorySegment beta, MemorySegment cd, long c) {
        try {
            check("cudnnAddTensor", (int) addTensor.invokeExact(handle(), alpha, ad, a, beta, cd, c));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The 1xCx1x1 descriptor of a SPATIAL batch norm's per-channel parameters for x. */
    public MemorySegment batchNormParams(MemorySegment xd) {
        MemorySegment d = newDescriptor("cudnnCreateTensorDescriptor", createTensor);
        try {
            check("cudnnDeriveBNTensorDescriptor", (int) deriveBn.invokeExact(d, xd, BATCHNORM_SPATIAL));
            return d;
        } catch (Throwable t) {
            destroyTensor(d);
            throw rethrow(t);
        }
    }

    public void batchNormForwardTraining(MemorySegment alpha, MemorySegment beta, MemorySegment xd, long x, MemorySegment yd, long y,
                                         MemorySegment pd, long scale, long bias, double factor, long runningMean, long runningVar,
                                         double eps, long saveMean, long saveInvVar) {
        try {
            check("cudnnBatchNormalizationForwardTraining", (int) bnForwardTraining.invokeExact(handle(), BATCHNORM_SPATIAL, alpha, beta,
                    xd, x, yd, y, pd, scale, bias, factor, runningMean, runningVar, eps, saveMean, saveInvVar));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void batchNormForwardInference(MemorySegment alpha, MemorySegment beta, MemorySegment xd, long x, MemorySegment yd, long y,
                                          MemorySegment pd, long scale, long bias, long mean, long var, double eps) {
        try {
            check("cudnnBatchNormalizationForwardInference", (int) bnForwardInference.invokeExact(handle(), BATCHNORM_SPATIAL, alpha, beta,
                    xd, x, yd, y, pd, scale, bias, mean, var, eps));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void batchNormBackward(MemorySegment alphaData, MemorySegment betaData, MemorySegment alphaParam, MemorySegment betaParam,
                                  MemorySegment xd, long x, MemorySegment dyd, long dy, MemorySegment dxd, long dx, MemorySegment pd,
                                  long scale, long dScale, long dBias, double eps, long savedMean, long savedInvVar) {
        try {
            check("cudnnBatchNormalizationBackward", (int) bnBackward.invokeExact(handle(), BATCHNORM_SPATIAL, alphaData, betaData,
                    alphaParam, betaParam, xd, x, dyd, dy, dxd, dx, pd, scale, dScale, dBias, eps, savedMean, savedInvVar));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---------------------------------------------------------------- scalars

    /** Host constants 1 and 0 in the scalar type cuDNN reads for a data type. */
    public record Scalars(MemorySegment one, MemorySegment zero) {}

    private static final Scalars FLOAT_SCALARS = new Scalars(Arena.global().allocateFrom(ValueLayout.JAVA_FLOAT, 1f),
            Arena.global().allocateFrom(ValueLayout.JAVA_FLOAT, 0f));
    private static final Scalars DOUBLE_SCALARS = new Scalars(Arena.global().allocateFrom(DOUBLE, 1.0),
            Arena.global().allocateFrom(DOUBLE, 0.0));

    /** alpha/beta are double for DOUBLE data and float for FLOAT, HALF and BFLOAT16 (cuDNN's rule). */
    public static Scalars scalars(int dtype) { return dtype == DATA_DOUBLE ? DOUBLE_SCALARS : FLOAT_SCALARS; }
}
