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

/**
 * Our FFM binding of the CUDA driver API (libcuda.so.1), with the versioned symbols that
 * cuda.h maps the plain names to (cuMemAlloc_v2 ...). The library is libcuda.so.1 unless the
 * system property lumen.cuda.driver or the environment variable LUMEN_CUDA_DRIVER names
 * another, such as the emulated driver that runs the same kernels on the CPU.
 */
public final class CudaDriver {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    private static final ValueLayout PTR = ValueLayout.ADDRESS;
    private static volatile CudaDriver instance;
    private static volatile String unavailable;

    private final String library;
    private final MethodHandle cuInit, cuDriverGetVersion, cuDeviceGet, cuDeviceGetCount, cuDeviceGetName,
            cuDeviceGetAttribute, cuDevicePrimaryCtxRetain, cuCtxSetCurrent, cuCtxSynchronize, cuModuleLoadData,
            cuModuleUnload, cuModuleGetFunction, cuFuncSetAttribute, cuLaunchKernel, cuMemAlloc, cuMemFree,
            cuMemcpyHtoD, cuMemcpyDtoH, cuMemcpyDtoD, cuMemsetD8, cuMemGetInfo, cuStreamCreate, cuStreamDestroy,
            cuStreamSynchronize, cuEventCreate, cuEventRecord, cuEventSynchronize, cuEventElapsedTime,
            cuEventDestroy, cuGetErrorName, cuGetErrorString;

    private CudaDriver(String library, SymbolLookup lib) {
        this.library = library;
        Linker linker = Linker.nativeLinker();
        cuInit = bind(linker, lib, "cuInit", INT);
        cuDriverGetVersion = bind(linker, lib, "cuDriverGetVersion", PTR);
        cuDeviceGet = bind(linker, lib, "cuDeviceGet", PTR, INT);
        cuDeviceGetCount = bind(linker, lib, "cuDeviceGetCount", PTR);
        cuDeviceGetName = bind(linker, lib, "cuDeviceGetName", PTR, INT, INT);
        cuDeviceGetAttribute = bind(linker, lib, "cuDeviceGetAttribute", PTR, INT, INT);
        cuDevicePrimaryCtxRetain = bind(linker, lib, "cuDevicePrimaryCtxRetain", PTR, INT);
        cuCtxSetCurrent = bind(linker, lib, "cuCtxSetCurrent", PTR);
        cuCtxSynchronize = bind(linker, lib, "cuCtxSynchronize");
        cuModuleLoadData = bind(linker, lib, "cuModuleLoadData", PTR, PTR);
        cuModuleUnload = bind(linker, lib, "cuModuleUnload", PTR);
        cuModuleGetFunction = bind(linker, lib, "cuModuleGetFunction", PTR, PTR, PTR);
        cuFuncSetAttribute = bind(linker, lib, "cuFuncSetAttribute", PTR, INT, INT);
        cuLaunchKernel = bind(linker, lib, "cuLaunchKernel", PTR, INT, INT, INT, INT, INT, INT, INT, PTR, PTR, PTR);
        cuMemAlloc = bind(linker, lib, "cuMemAlloc_v2", PTR, LONG);
        cuMemFree = bind(linker, lib, "cuMemFree_v2", LONG);
        cuMemcpyHtoD = bind(linker, lib, "cuMemcpyHtoD_v2", LONG, PTR, LONG);
        cuMemcpyDtoH = bind(linker, lib, "cuMemcpyDtoH_v2", PTR, LONG, LONG);
        cuMemcpyDtoD = bind(linker, lib, "cuMemcpyDtoD_v2", LONG, LONG, LONG);
        cuMemsetD8 = bind(linker, lib, "cuMemsetD8_v2", LONG, ValueLayout.JAVA_BYTE, LONG);
        cuMemGetInfo = bind(linker, lib, "cuMemGetInfo_v2", PTR, PTR);
        cuStreamCreate = bind(linker, lib, "cuStreamCreate", PTR, INT);
        cuStreamDestroy = bind(linker, lib, "cuStreamDestroy_v2", PTR);
        cuStreamSynchronize = bind(linker, lib, "cuStreamSynchronize", PTR);
        cuEventCreate = bind(linker, lib, "cuEventCreate", PTR, INT);
        cuEventRecord = bind(linker, lib, "cuEventRecord", PTR, PTR);
        cuEventSynchronize = bind(linker, lib, "cuEventSynchronize", PTR);
        // CUDA 12.8+ drivers export the _v2 name; older ones only the plain one.
        cuEventElapsedTime = lib.find("cuEventElapsedTime_v2").isPresent()
                ? bind(linker, lib, "cuEventElapsedTime_v2", PTR, PTR, PTR)
                : bind(linker, lib, "cuEventElapsedTime", PTR, PTR, PTR);
        cuEventDestroy = bind(linker, lib, "cuEventDestroy_v2", PTR);
        cuGetErrorName = bind(linker, lib, "cuGetErrorName", INT, PTR);
        cuGetErrorString = bind(linker, lib, "cuGetErrorString", INT, PTR);
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

    /** True when the selected driver is the CPU emulation (its library name says so). */
    public boolean isEmulated() { return library.contains("emu"); }

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
        drv.check("cuInit", call(drv.cuInit, 0));
        return drv;
    }

    private static Path requireFile(String name) {
        Path p = Path.of(name);
        if (!Files.isRegularFile(p)) throw new IllegalArgumentException(name);
        return p;
    }

    private static int call(MethodHandle h, Object... args) {
        try {
            return (int) h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Throws a CudaException naming the call and the driver's description of the result. */
    void check(String what, int result) {
        if (result == 0) return;
        throw new CudaException(what + " failed: " + errorName(result) + " (" + errorString(result) + ")", result);
    }

    public String errorName(int result) { return cString(cuGetErrorName, result); }

    public String errorString(int result) { return cString(cuGetErrorString, result); }

    private String cString(MethodHandle h, int result) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(PTR);
            if (call(h, result, out) != 0) return "CUresult " + result;
            MemorySegment p = out.get(ValueLayout.ADDRESS, 0);
            return p.address() == 0 ? "CUresult " + result : p.reinterpret(4096).getString(0);
        }
    }

    private int intOut(String what, MethodHandle h, Object... rest) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(INT);
            Object[] args = new Object[rest.length + 1];
            args[0] = out;
            System.arraycopy(rest, 0, args, 1, rest.length);
            check(what, call(h, args));
            return out.get(INT, 0);
        }
    }

    private MemorySegment ptrOut(String what, MethodHandle h, Object... rest) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(PTR);
            Object[] args = new Object[rest.length + 1];
            args[0] = out;
            System.arraycopy(rest, 0, args, 1, rest.length);
            check(what, call(h, args));
            return out.get(ValueLayout.ADDRESS, 0);
        }
    }

    public String library() { return library; }

    /** The driver's CUDA version as major*1000 + minor*10. */
    public int driverVersion() { return intOut("cuDriverGetVersion", cuDriverGetVersion); }

    public int deviceCount() { return intOut("cuDeviceGetCount", cuDeviceGetCount); }

    public int device(int ordinal) { return intOut("cuDeviceGet", cuDeviceGet, ordinal); }

    public String deviceName(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(256);
            check("cuDeviceGetName", call(cuDeviceGetName, buf, 256, device));
            return buf.getString(0);
        }
    }

    public int deviceAttribute(int attribute, int device) {
        return intOut("cuDeviceGetAttribute", cuDeviceGetAttribute, attribute, device);
    }

    public MemorySegment primaryContextRetain(int device) {
        return ptrOut("cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain, device);
    }

    public void setCurrentContext(MemorySegment ctx) { check("cuCtxSetCurrent", call(cuCtxSetCurrent, ctx)); }

    public void synchronize() { check("cuCtxSynchronize", call(cuCtxSynchronize)); }

    public MemorySegment moduleLoadData(MemorySegment image) { return ptrOut("cuModuleLoadData", cuModuleLoadData, image); }

    public void moduleUnload(MemorySegment module) { check("cuModuleUnload", call(cuModuleUnload, module)); }

    public MemorySegment moduleGetFunction(MemorySegment module, String name) {
        try (Arena a = Arena.ofConfined()) {
            return ptrOut("cuModuleGetFunction(" + name + ")", cuModuleGetFunction, module, a.allocateFrom(name));
        }
    }

    public void funcSetAttribute(MemorySegment fn, int attribute, int value) {
        check("cuFuncSetAttribute", call(cuFuncSetAttribute, fn, attribute, value));
    }

    public void launchKernel(MemorySegment fn, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes,
                             MemorySegment stream, MemorySegment params) {
        check("cuLaunchKernel", call(cuLaunchKernel, fn, gx, gy, gz, bx, by, bz, sharedBytes, stream, params, MemorySegment.NULL));
    }

    /** Device allocation; returns the CUdeviceptr. */
    public long memAlloc(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(LONG);
            check("cuMemAlloc_v2(" + bytes + " bytes)", call(cuMemAlloc, out, bytes));
            return out.get(LONG, 0);
        }
    }

    public void memFree(long dptr) { check("cuMemFree_v2", call(cuMemFree, dptr)); }

    public void copyHtoD(long dst, MemorySegment src, long bytes) { check("cuMemcpyHtoD_v2", call(cuMemcpyHtoD, dst, src, bytes)); }

    public void copyDtoH(MemorySegment dst, long src, long bytes) { check("cuMemcpyDtoH_v2", call(cuMemcpyDtoH, dst, src, bytes)); }

    public void copyDtoD(long dst, long src, long bytes) { check("cuMemcpyDtoD_v2", call(cuMemcpyDtoD, dst, src, bytes)); }

    public void memsetD8(long dst, byte value, long count) { check("cuMemsetD8_v2", call(cuMemsetD8, dst, value, count)); }

    /** {free, total} device memory in bytes. */
    public long[] memInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(LONG), t = a.allocate(LONG);
            check("cuMemGetInfo_v2", call(cuMemGetInfo, f, t));
            return new long[] {f.get(LONG, 0), t.get(LONG, 0)};
        }
    }

    public MemorySegment streamCreate() { return ptrOut("cuStreamCreate", cuStreamCreate, 0); }

    public void streamDestroy(MemorySegment s) { check("cuStreamDestroy_v2", call(cuStreamDestroy, s)); }

    public void streamSynchronize(MemorySegment s) { check("cuStreamSynchronize", call(cuStreamSynchronize, s)); }

    public MemorySegment eventCreate() { return ptrOut("cuEventCreate", cuEventCreate, 0); }

    public void eventRecord(MemorySegment e, MemorySegment stream) { check("cuEventRecord", call(cuEventRecord, e, stream)); }

    public void eventSynchronize(MemorySegment e) { check("cuEventSynchronize", call(cuEventSynchronize, e)); }

    public float eventElapsedMs(MemorySegment start, MemorySegment end) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_FLOAT);
            check("cuEventElapsedTime", call(cuEventElapsedTime, out, start, end));
            return out.get(ValueLayout.JAVA_FLOAT, 0);
        }
    }

    public void eventDestroy(MemorySegment e) { check("cuEventDestroy_v2", call(cuEventDestroy, e)); }
}
