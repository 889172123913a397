package dev.lumen.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Our FFM binding of the CUDA driver API (libcuda.so.1), with the versioned symbols that
 * cuda.h maps the plain names to (cuMemAlloc_v2 ...). The library is libcuda.so.1 unless the
 * system property lumen.cuda.driver or the environment variable LUMEN_CUDA_DRIVER names
 * another, such as the emulated driver that runs the same kernels on the CPU.
 *
 * <p>Every downcall is an exact-typed {@code invokeExact}: a launch costs one native call and no
 * boxing. Out-parameters use a per-thread scratch segment, so the hot calls allocate nothing.
 */
public final class CudaDriver {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    private static final ValueLayout PTR = ValueLayout.ADDRESS;
    private static volatile CudaDriver instance;
    private static volatile String unavailable;

    /** A per-thread 64-byte block for out-parameters (pointers, ints), reused by every call on that thread. */
    private static final ThreadLocal<MemorySegment> OUT = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(64, 16));
    /** Each thread's current context as set through this binding, so that making it current again costs no call. */
    private static final ThreadLocal<MemorySegment> CURRENT = new ThreadLocal<>();

    private final String library;
    private final boolean emulated;
    private final MethodHandle cuInit, cuDriverGetVersion, cuDeviceGet, cuDeviceGetCount, cuDeviceGetName,
            cuDeviceGetAttribute, cuDeviceTotalMem, cuDevicePrimaryCtxRetain, cuCtxSetCurrent, cuCtxSynchronize,
            cuModuleLoadData, cuModuleUnload, cuModuleGetFunction, cuFuncSetAttribute, cuFuncGetAttribute, cuLaunchKernel, cuMemAlloc,
            cuMemFree, cuMemAllocHost, cuMemFreeHost, cuMemcpyHtoD, cuMemcpyDtoH, cuMemcpyDtoD, cuMemcpyHtoDAsync,
            cuMemcpyDtoHAsync, cuMemcpyDtoDAsync, cuMemcpyPeerAsync, cuMemsetD8, cuMemsetD8Async, cuMemsetD32Async, cuMemGetInfo,
            cuStreamCreate, cuStreamDestroy, cuStreamSynchronize, cuStreamWaitEvent, cuEventCreate, cuEventRecord,
            cuEventSynchronize, cuEventQuery, cuEventElapsedTime, cuEventDestroy, cuGetErrorName, cuGetErrorString;
    /** The emulator's call counters; null on a real driver. */
    private final MethodHandle emuCounters;

    private CudaDriver(String library, SymbolLookup lib) {
        this.library = library;
        Linker linker = Linker.nativeLinker();
        cuInit = bind(linker, lib, "cuInit", INT);
        cuDriverGetVersion = bind(linker, lib, "cuDriverGetVersion", PTR);
        cuDeviceGet = bind(linker, lib, "cuDeviceGet", PTR, INT);
        cuDeviceGetCount = bind(linker, lib, "cuDeviceGetCount", PTR);
        cuDeviceGetName = bind(linker, lib, "cuDeviceGetName", PTR, INT, INT);
        cuDeviceGetAttribute = bind(linker, lib, "cuDeviceGetAttribute", PTR, INT, INT);
        cuDeviceTotalMem = bind(linker, lib, "cuDeviceTotalMem_v2", PTR, INT);
        cuDevicePrimaryCtxRetain = bind(linker, lib, "cuDevicePrimaryCtxRetain", PTR, INT);
        cuCtxSetCurrent = bind(linker, lib, "cuCtxSetCurrent", PTR);
        cuCtxSynchronize = bind(linker, lib, "cuCtxSynchronize");
        cuModuleLoadData = bind(linker, lib, "cuModuleLoadData", PTR, PTR);
        cuModuleUnload = bind(linker, lib, "cuModuleUnload", PTR);
        cuModuleGetFunction = bind(linker, lib, "cuModuleGetFunction", PTR, PTR, PTR);
        cuFuncSetAttribute = bind(linker, lib, "cuFuncSetAttribute", PTR, INT, INT);
        cuFuncGetAttribute = bind(linker, lib, "cuFuncGetAttribute", PTR, INT, PTR);
        cuLaunchKernel = bind(linker, lib, "cuLaunchKernel", PTR, INT, INT, INT, INT, INT, INT, INT, PTR, PTR, PTR);
        cuMemAlloc = bind(linker, lib, "cuMemAlloc_v2", PTR, LONG);
        cuMemFree = bind(linker, lib, "cuMemFree_v2", LONG);
        cuMemAllocHost = bind(linker, lib, "cuMemAllocHost_v2", PTR, LONG);
        cuMemFreeHost = bind(linker, lib, "cuMemFreeHost", PTR);
        cuMemcpyHtoD = bind(linker, lib, "cuMemcpyHtoD_v2", LONG, PTR, LONG);
        cuMemcpyDtoH = bind(linker, lib, "cuMemcpyDtoH_v2", PTR, LONG, LONG);
        cuMemcpyDtoD = bind(linker, lib, "cuMemcpyDtoD_v2", LONG, LONG, LONG);
        cuMemcpyHtoDAsync = bind(linker, lib, "cuMemcpyHtoDAsync_v2", LONG, PTR, LONG, PTR);
        cuMemcpyDtoHAsync = bind(linker, lib, "cuMemcpyDtoHAsync_v2", PTR, LONG, LONG, PTR);
        cuMemcpyDtoDAsync = bind(linker, lib, "cuMemcpyDtoDAsync_v2", LONG, LONG, LONG, PTR);
        cuMemcpyPeerAsync = bind(linker, lib, "cuMemcpyPeerAsync", LONG, PTR, LONG, PTR, LONG, PTR);
        cuMemsetD8 = bind(linker, lib, "cuMemsetD8_v2", LONG, ValueLayout.JAVA_BYTE, LONG);
        cuMemsetD8Async = bind(linker, lib, "cuMemsetD8Async", LONG, ValueLayout.JAVA_BYTE, LONG, PTR);
        cuMemsetD32Async = bind(linker, lib, "cuMemsetD32Async", LONG, INT, LONG, PTR);
        cuMemGetInfo = bind(linker, lib, "cuMemGetInfo_v2", PTR, PTR);
        cuStreamCreate = bind(linker, lib, "cuStreamCreate", PTR, INT);
        cuStreamDestroy = bind(linker, lib, "cuStreamDestroy_v2", PTR);
        cuStreamSynchronize = bind(linker, lib, "cuStreamSynchronize", PTR);
        cuStreamWaitEvent = bind(linker, lib, "cuStreamWaitEvent", PTR, PTR, INT);
        cuEventCreate = bind(linker, lib, "cuEventCreate", PTR, INT);
        cuEventRecord = bind(linker, lib, "cuEventRecord", PTR, PTR);
        cuEventSynchronize = bind(linker, lib, "cuEventSynchronize", PTR);
        cuEventQuery = bind(linker, lib, "cuEventQuery", PTR);
        // CUDA 12.8+ drivers export the _v2 name; older ones only the plain one.
        cuEventElapsedTime = lib.find("cuEventElapsedTime_v2").isPresent()
                ? bind(linker, lib, "cuEventElapsedTime_v2", PTR, PTR, PTR)
                : bind(linker, lib, "cuEventElapsedTime", PTR, PTR, PTR);
        cuEventDestroy = bind(linker, lib, "cuEventDestroy_v2", PTR);
        cuGetErrorName = bind(linker, lib, "cuGetErrorName", INT, PTR);
        cuGetErrorString = bind(linker, lib, "cuGetErrorString", INT, PTR);
        Optional<MemorySegment> counters = lib.find("lumen_emu_counters");
        emulated = counters.isPresent();
        emuCounters = counters.map(s -> linker.downcallHandle(s, FunctionDescriptor.of(INT, PTR, INT))).orElse(null);
    }

    private static MethodHandle bind(Linker linker, SymbolLookup lib, String name, MemoryLayout... args) {
        MemorySegment sym = lib.find(name).orElseThrow(() -> new CudaException("driver library lacks " + name, -1));
        return linker.downcallHandle(sym, FunctionDescriptor.of(INT, args));
    }

    /** The library to load: the lumen.cuda.driver property, LUMEN_CUDA_DRIVER, or libcuda.so.1. */
    public static String libraryName() {
        String p = System.getProperty("lumen.cuda.driver");
        if (p == null || p.isBlank()) p = System.getenv("LUMEN_CUDA_DRIVER");
        return p == null || p.isBlank() ? "libcuda.so.1" : p;
    }

    /** True when the selected driver is the CPU emulation (it exports the emulator's counters). */
    public boolean isEmulated() { return emulated; }

    /** The driver, loaded and initialized once; throws CudaException with a one-line reason if none. */
    public static CudaDriver get() {
        CudaDriver d = instance;
        if (d != null) return d;
        synchronized (CudaDriver.class) {
            if (instance != null) return instance;
            if (unavailable != null) throw new CudaException(unavailable, -1);
            try {
                instance = load(libraryName());
                return instance;
            } catch (CudaException e) {
                unavailable = e.getMessage();
                throw e;
            }
        }
    }

    /** Loads and initializes the named driver library, uncached. */
    static CudaDriver load(String name) {
        SymbolLookup lib;
        try {
            lib = name.contains("/")
                    ? SymbolLookup.libraryLookup(requireFile(name), Arena.global())
                    : SymbolLookup.libraryLookup(name, Arena.global());
        } catch (IllegalArgumentException e) {
            throw new CudaException(name + " not found", -1);
        }
        CudaDriver drv = new CudaDriver(name, lib);
        int rc;
        try {
            rc = (int) drv.cuInit.invokeExact(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        drv.check("cuInit", rc);
        return drv;
    }

    private static Path requireFile(String name) {
        Path p = Path.of(name);
        if (!Files.isRegularFile(p)) throw new IllegalArgumentException(name);
        return p;
    }

    /** Downcalls throw only what the native linker throws; keep unchecked ones, wrap the rest. */
    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    /** Throws a CudaException naming the call and the driver's description of the result. */
    void check(String what, int result) {
        if (result == 0) return;
        throw new CudaException(what + " failed: " + errorName(result) + " (" + errorString(result) + ")", result);
    }

    public String errorName(int result) { return cString(cuGetErrorName, result); }

    public String errorString(int result) { return cString(cuGetErrorString, result); }

    private static String cString(MethodHandle h, int result) {
        MemorySegment out = OUT.get();
        try {
            if ((int) h.invokeExact(result, out) != 0) return "CUresult " + result;
        } catch (Throwable t) {
            throw rethrow(t);
        }
        MemorySegment p = out.get(ValueLayout.ADDRESS, 0);
        return p.address() == 0 ? "CUresult " + result : p.reinterpret(4096).getString(0);
    }

    public String library() { return library; }

    /** The driver's CUDA version as major*1000 + minor*10. */
    public int driverVersion() {
        MemorySegment out = OUT.get();
        try {
            check("cuDriverGetVersion", (int) cuDriverGetVersion.invokeExact(out));
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return out.get(INT, 0);
    }

    public int deviceCount() {
        MemorySegment out = OUT.get();
        try {
            check("cuDeviceGetCount", (int) cuDeviceGetCount.invokeExact(out));
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return out.get(INT, 0);
    }

    public int device(int ordinal) {
        MemorySegment out = OUT.get();
        try {
            check("cuDeviceGet(" + ordinal + ")", (int) cuDeviceGet.invokeExact(out, ordinal));
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return out.get(INT, 0);
    }

    public String deviceName(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(256);
            check("cuDeviceGetName", (int) cuDeviceGetName.invokeExact(buf, 256, device));
            return buf.getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int deviceAttribute(int attribute, int device) {
        MemorySegment out = OUT.get();
        try {
            check("cuDeviceGetAttribute(" + attribute + ")", (int) cuDeviceGetAttribute.invokeExact(out, attribute, device));
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return out.get(INT, 0);
    }

    public long deviceTotalMemory(int device) {
        MemorySegment out = OUT.get();
        try {
            check("cuDeviceTotalMem_v2", (int) cuDeviceTotalMem.invokeExact(out, device));
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return out.get(LONG, 0);
    }

    public MemorySegment primaryContextRetain(int device) {
        MemorySegment out = OUT.get();
        try {
            check("cuDevicePrimaryCtxRetain", (int) cuDevicePrimaryCtxRetain.invokeExact(out, device));
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return out.get(ValueLayout.ADDRESS, 0);
    }

    /** Makes ctx the calling thread's current context (the driver keeps one per thread). */
    public void setCurrentContext(MemorySegment ctx) {
        try {
            check("cuCtxSetCurrent", (int) cuCtxSetCurrent.invokeExact(ctx));
        } catch (Throwable t) {
            throw rethrow(t);
        }
        CURRENT.set(ctx);
    }

    /** The context this thread last made current through {@link #setCurrentContext}, or null. */
    public MemorySegment currentContext() { return CURRENT.get(); }

    /** setCurrentContext(ctx) unless it is already this thread's current context: a field read on the hot path. */
    public void ensureCurrentContext(MemorySegment ctx) {
        MemorySegment cur = CURRENT.get();
        if (cur == null || cur.address() != ctx.address()) setCurrentContext(ctx);
    }

    public void synchronize() {
        try {
            check("cuCtxSynchronize", (int) cuCtxSynchronize.invokeExact());
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public MemorySegment moduleLoadData(MemorySegment image) {
        MemorySegment out = OUT.get();
        try {
            check("cuModuleLoadData", (int) cuModuleLoadData.invokeExact(out, image));
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return out.get(ValueLayout.ADDRESS, 0);
    }

    public void moduleUnload(MemorySegment module) {
        try {
            check("cuModuleUnload", (int) cuModuleUnload.invokeExact(module));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public MemorySegment moduleGetFunction(MemorySegment module, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = OUT.get();
            check("cuModuleGetFunction(" + name + ")", (int) cuModuleGetFunction.invokeExact(out, module, a.allocateFrom(name)));
            return out.get(ValueLayout.ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void funcSetAttribute(MemorySegment fn, int attribute, int value) {
        try {
            check("cuFuncSetAttribute", (int) cuFuncSetAttribute.invokeExact(fn, attribute, value));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A CU_FUNC_ATTRIBUTE_* of a kernel (threads per block it allows, its static shared bytes, ...). */
    public int funcAttribute(MemorySegment fn, int attribute) {
        MemorySegment out = OUT.get();
        try {
            check("cuFuncGetAttribute(" + attribute + ")", (int) cuFuncGetAttribute.invokeExact(out, attribute, fn));
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return out.get(INT, 0);
    }

    public void launchKernel(MemorySegment fn, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes,
                             MemorySegment stream, MemorySegment params) {
        int rc;
        try {
            rc = (int) cuLaunchKernel.invokeExact(fn, gx, gy, gz, bx, by, bz, sharedBytes, stream, params, MemorySegment.NULL);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check("cuLaunchKernel", rc);
    }

    /** Device allocation; returns the CUdeviceptr. Returns 0 on CUDA_ERROR_OUT_OF_MEMORY so that a caller can free its cache and retry. */
    public long memAlloc(long bytes) {
        MemorySegment out = OUT.get();
        int rc;
        try {
            rc = (int) cuMemAlloc.invokeExact(out, bytes);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (rc == CUDA_ERROR_OUT_OF_MEMORY) return 0;
        check("cuMemAlloc_v2(" + bytes + " bytes)", rc);
        return out.get(LONG, 0);
    }

    /** CUresult of an allocation that found no memory. */
    public static final int CUDA_ERROR_OUT_OF_MEMORY = 2;

    public void memFree(long dptr) {
        try {
            check("cuMemFree_v2", (int) cuMemFree.invokeExact(dptr));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Page-locked host memory, which the device reads by DMA, so that an async copy from it is truly asynchronous. */
    public MemorySegment memAllocHost(long bytes) {
        MemorySegment out = OUT.get();
        try {
            check("cuMemAllocHost_v2(" + bytes + " bytes)", (int) cuMemAllocHost.invokeExact(out, bytes));
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return out.get(ValueLayout.ADDRESS, 0).reinterpret(bytes);
    }

    public void memFreeHost(MemorySegment p) {
        try {
            check("cuMemFreeHost", (int) cuMemFreeHost.invokeExact(p));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void copyHtoD(long dst, MemorySegment src, long bytes) {
        try {
            check("cuMemcpyHtoD_v2", (int) cuMemcpyHtoD.invokeExact(dst, src, bytes));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void copyDtoH(MemorySegment dst, long src, long bytes) {
        try {
            check("cuMemcpyDtoH_v2", (int) cuMemcpyDtoH.invokeExact(dst, src, bytes));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void copyDtoD(long dst, long src, long bytes) {
        try {
            check("cuMemcpyDtoD_v2", (int) cuMemcpyDtoD.invokeExact(dst, src, bytes));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void copyHtoDAsync(long dst, MemorySegment src, long bytes, MemorySegment stream) {
        try {
            check("cuMemcpyHtoDAsync_v2", (int) cuMemcpyHtoDAsync.invokeExact(dst, src, bytes, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void copyDtoHAsync(MemorySegment dst, long src, long bytes, MemorySegment stream) {
        try {
            check("cuMemcpyDtoHAsync_v2", (int) cuMemcpyDtoHAsync.invokeExact(dst, src, bytes, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void copyDtoDAsync(long dst, long src, long bytes, MemorySegment stream) {
        try {
            check("cuMemcpyDtoDAsync_v2", (int) cuMemcpyDtoDAsync.invokeExact(dst, src, bytes, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Device-to-device copy between two contexts' memory (two devices), queued on stream. */
    public void copyPeerAsync(long dst, MemorySegment dstContext, long src, MemorySegment srcContext, long bytes, MemorySegment stream) {
        try {
            check("cuMemcpyPeerAsync", (int) cuMemcpyPeerAsync.invokeExact(dst, dstContext, src, srcContext, bytes, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void memsetD8(long dst, byte value, long count) {
        try {
            check("cuMemsetD8_v2", (int) cuMemsetD8.invokeExact(dst, value, count));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void memsetD8Async(long dst, byte value, long count, MemorySegment stream) {
        try {
            check("cuMemsetD8Async", (int) cuMemsetD8Async.invokeExact(dst, value, count, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void memsetD32Async(long dst, int value, long count, MemorySegment stream) {
        try {
            check("cuMemsetD32Async", (int) cuMemsetD32Async.invokeExact(dst, value, count, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {free, total} device memory in bytes. */
    public long[] memInfo() {
        MemorySegment out = OUT.get();
        try {
            check("cuMemGetInfo_v2", (int) cuMemGetInfo.invokeExact(out, out.asSlice(8)));
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return new long[] {out.get(LONG, 0), out.get(LONG, 8)};
    }

    /** CU_STREAM_NON_BLOCKING: the stream does not synchronize with the legacy default stream. */
    public static final int STREAM_NON_BLOCKING = 1;

    public MemorySegment streamCreate(int flags) {
        MemorySegment out = OUT.get();
        try {
            check("cuStreamCreate", (int) cuStreamCreate.invokeExact(out, flags));
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return out.get(ValueLayout.ADDRESS, 0);
    }

    public MemorySegment streamCreate() { return streamCreate(0); }

    public void streamDestroy(MemorySegment s) {
        try {
            check("cuStreamDestroy_v2", (int) cuStreamDestroy.invokeExact(s));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void streamSynchronize(MemorySegment s) {
        try {
            check("cuStreamSynchronize", (int) cuStreamSynchronize.invokeExact(s));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Work queued on stream after this call waits for event, without the host waiting. */
    public void streamWaitEvent(MemorySegment stream, MemorySegment event) {
        try {
            check("cuStreamWaitEvent", (int) cuStreamWaitEvent.invokeExact(stream, event, 0));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** CU_EVENT_DISABLE_TIMING: events used only for ordering are cheaper without timestamps. */
    public static final int EVENT_DISABLE_TIMING = 2;

    public MemorySegment eventCreate(int flags) {
        MemorySegment out = OUT.get();
        try {
            check("cuEventCreate", (int) cuEventCreate.invokeExact(out, flags));
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return out.get(ValueLayout.ADDRESS, 0);
    }

    public MemorySegment eventCreate() { return eventCreate(0); }

    public void eventRecord(MemorySegment e, MemorySegment stream) {
        try {
            check("cuEventRecord", (int) cuEventRecord.invokeExact(e, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void eventSynchronize(MemorySegment e) {
        try {
            check("cuEventSynchronize", (int) cuEventSynchronize.invokeExact(e));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** True when the work before the event has finished; never waits. */
    public boolean eventDone(MemorySegment e) {
        int rc;
        try {
            rc = (int) cuEventQuery.invokeExact(e);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (rc == 600) return false;   // CUDA_ERROR_NOT_READY
        check("cuEventQuery", rc);
        return true;
    }

    public float eventElapsedMs(MemorySegment start, MemorySegment end) {
        MemorySegment out = OUT.get();
        try {
            check("cuEventElapsedTime", (int) cuEventElapsedTime.invokeExact(out, start, end));
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return out.get(ValueLayout.JAVA_FLOAT, 0);
    }

    public void eventDestroy(MemorySegment e) {
        try {
            check("cuEventDestroy_v2", (int) cuEventDestroy.invokeExact(e));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The emulated driver's call counters (see {@link CallCounts}); a real driver has none. */
    public CallCounts callCounts() {
        if (emuCounters == null) throw new IllegalStateException("call counts exist only under the emulated driver, not " + library);
        MemorySegment out = OUT.get();
        try {
            int n = (int) emuCounters.invokeExact(out, 8);
            if (n < 8) throw new IllegalStateException("the emulated driver reports " + n + " counters, expected at least 8");
        } catch (Throwable t) {
            throw rethrow(t);
        }
        long[] c = out.asSlice(0, 64).toArray(LONG);
        return new CallCounts(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
    }
}
