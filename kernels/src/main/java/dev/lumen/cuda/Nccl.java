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
 * Our FFM binding of NCCL (libnccl.so.2, or the emulated one, as {@link NvidiaLibrary#NCCL} finds it):
 * communicator setup and teardown, the four collectives Lumen uses, group calls and failure
 * handling. Every call goes through an exact-typed invokeExact and every result is checked: a
 * failure is one line with the call, NCCL's own description and name of the result, and NCCL's
 * last-error text.
 *
 * <p>Device buffers travel as {@code long} addresses; communicators and streams as segments.
 * Communicators are the caller's to pair with a device context; see
 * dev.lumen.backend.cuda.NcclCommunicator for the streams and events around the collectives.
 */
public final class Nccl {
    // ncclResult_t (nccl.h)
    public static final int SUCCESS = 0, UNHANDLED_CUDA_ERROR = 1, SYSTEM_ERROR = 2, INTERNAL_ERROR = 3,
            INVALID_ARGUMENT = 4, INVALID_USAGE = 5, REMOTE_ERROR = 6, IN_PROGRESS = 7, TIMEOUT = 8;
    private static final String[] RESULT_NAMES = {"ncclSuccess", "ncclUnhandledCudaError", "ncclSystemError",
        "ncclInternalError", "ncclInvalidArgument", "ncclInvalidUsage", "ncclRemoteError", "ncclInProgress", "ncclTimeout"};
    // ncclDataType_t (nccl.h)
    public static final int INT8 = 0, UINT8 = 1, INT32 = 2, UINT32 = 3, INT64 = 4, UINT64 = 5, FLOAT16 = 6,
            FLOAT32 = 7, FLOAT64 = 8, BFLOAT16 = 9;
    // ncclRedOp_t (nccl.h)
    public static final int SUM = 0, PROD = 1, MAX = 2, MIN = 3, AVG = 4;
    /** NCCL_UNIQUE_ID_BYTES: the size of ncclUniqueId, passed by value. */
    public static final int UNIQUE_ID_BYTES = 128;

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    private static final ValueLayout PTR = ValueLayout.ADDRESS;
    private static final MemoryLayout UNIQUE_ID = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(UNIQUE_ID_BYTES, ValueLayout.JAVA_BYTE).withName("internal"));

    private static volatile Nccl instance;
    private static volatile String unavailable;

    private final String library;
    private final MethodHandle getVersion, getUniqueId, commInitRank, commInitAll, commDestroy, commAbort,
            commGetAsyncError, commCount, commCuDevice, commUserRank, getErrorString, getLastError,
            allReduce, broadcast, allGather, reduceScatter, groupStart, groupEnd;

    private Nccl(NvidiaLibrary.Found lib) {
        this.library = lib.name();
        SymbolLookup l = lib.lookup();
        Linker linker = Linker.nativeLinker();
        getVersion = bind(linker, l, "ncclGetVersion", INT, PTR);
        getUniqueId = bind(linker, l, "ncclGetUniqueId", INT, PTR);
        commInitRank = bind(linker, l, "ncclCommInitRank", INT, PTR, INT, UNIQUE_ID, INT);
        commInitAll = bind(linker, l, "ncclCommInitAll", INT, PTR, INT, PTR);
        commDestroy = bind(linker, l, "ncclCommDestroy", INT, PTR);
        commAbort = bind(linker, l, "ncclCommAbort", INT, PTR);
        commGetAsyncError = bind(linker, l, "ncclCommGetAsyncError", INT, PTR, PTR);
        commCount = bind(linker, l, "ncclCommCount", INT, PTR, PTR);
        commCuDevice = bind(linker, l, "ncclCommCuDevice", INT, PTR, PTR);
        commUserRank = bind(linker, l, "ncclCommUserRank", INT, PTR, PTR);
        getErrorString = bind(linker, l, "ncclGetErrorString", PTR, INT);
        getLastError = bind(linker, l, "ncclGetLastError", PTR, PTR);
        allReduce = bind(linker, l, "ncclAllReduce", INT, LONG, LONG, LONG, INT, INT, PTR, PTR);
        broadcast = bind(linker, l, "ncclBroadcast", INT, LONG, LONG, LONG, INT, INT, PTR, PTR);
        allGather = bind(linker, l, "ncclAllGather", INT, LONG, LONG, LONG, INT, PTR, PTR);
        reduceScatter = bind(linker, l, "ncclReduceScatter", INT, LONG, LONG, LONG, INT, INT, PTR, PTR);
        groupStart = bind(linker, l, "ncclGroupStart", INT);
        groupEnd = bind(linker, l, "ncclGroupEnd", INT);
    }

    private static MethodHandle bind(Linker linker, SymbolLookup lib, String name, MemoryLayout result, MemoryLayout... args) {
        MemorySegment sym = lib.find(name).orElseThrow(() -> new CudaException("NCCL unavailable: the library lacks " + name, -1));
        return linker.downcallHandle(sym, FunctionDescriptor.of(result, args));
    }

    /** The process's NCCL, loaded once; a CudaException whose message is the one-line reason when none loads. */
    public static Nccl get() {
        Nccl n = instance;
        if (n != null) return n;
        synchronized (Nccl.class) {
            if (instance != null) return instance;
            if (unavailable != null) throw new CudaException(unavailable, -1);
            try {
                instance = new Nccl(NvidiaLibrary.NCCL.locate());
                return instance;
            } catch (CudaException e) {
                unavailable = e.getMessage();  // a missing library stays missing for this process
                throw e;
            }
        }
    }

    public String library() { return library; }

    /** NCCL_VERSION_CODE of the loaded library (major * 10000 + minor * 100 + patch since 2.9). */
    public int version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(INT);
            check("ncclGetVersion", (int) getVersion.invokeExact(out), null);
            return out.get(INT, 0);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** One line for logs: the version and the library. */
    public String describe() {
        int v = version();
        String version = v >= 20900 ? v / 10000 + "." + v % 10000 / 100 + "." + v % 100 : v / 1000 + "." + v % 1000 / 100 + "." + v % 100;
        return "NCCL " + version + " (" + library + ")";
    }

    /** ncclGetUniqueId: the 128 bytes every rank passes to {@link #commInitRank}. */
    public byte[] uniqueId() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment id = a.allocate(UNIQUE_ID);
            check("ncclGetUniqueId", (int) getUniqueId.invokeExact(id), null);
            return id.toArray(ValueLayout.JAVA_BYTE);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** ncclCommInitRank on the calling thread's current CUDA context; blocks until all nranks joined. */
    public MemorySegment commInitRank(int nranks, byte[] uniqueId, int rank) {
        if (uniqueId.length != UNIQUE_ID_BYTES) {
            throw new IllegalArgumentException("ncclCommInitRank: the unique id has " + uniqueId.length + " bytes, expected " + UNIQUE_ID_BYTES);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(PTR);
            MemorySegment id = a.allocate(UNIQUE_ID);
            MemorySegment.copy(uniqueId, 0, id, ValueLayout.JAVA_BYTE, 0, UNIQUE_ID_BYTES);
            int r = (int) commInitRank.invokeExact(out, nranks, id, rank);
            check("ncclCommInitRank(nranks=" + nranks + ", rank=" + rank + ")", r, null);
            return out.get(ValueLayout.ADDRESS, 0);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** ncclCommInitAll: one communicator per listed device ordinal, ranks in list order. */
    public MemorySegment[] commInitAll(int[] devices) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(PTR, devices.length);
            MemorySegment list = a.allocateFrom(INT, devices);
            check("ncclCommInitAll(ndev=" + devices.length + ")", (int) commInitAll.invokeExact(out, devices.length, list), null);
            MemorySegment[] comms = new MemorySegment[devices.length];
            for (int i = 0; i < comms.length; i++) comms[i] = out.getAtIndex(ValueLayout.ADDRESS, i);
            return comms;
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    public void commDestroy(MemorySegment comm) {
        try {
            check("ncclCommDestroy", (int) commDestroy.invokeExact(comm), comm);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    public void commAbort(MemorySegment comm) {
        try {
            check("ncclCommAbort", (int) commAbort.invokeExact(comm), comm);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** The communicator's asynchronous error: {@link #SUCCESS}, or e.g. {@link #REMOTE_ERROR} once a peer failed. */
    public int commGetAsyncError(MemorySegment comm) { return intOut("ncclCommGetAsyncError", commGetAsyncError, comm); }

    public int commCount(MemorySegment comm) { return intOut("ncclCommCount", commCount, comm); }

    public int commCuDevice(MemorySegment comm) { return intOut("ncclCommCuDevice", commCuDevice, comm); }

    public int commUserRank(MemorySegment comm) { return intOut("ncclCommUserRank", commUserRank, comm); }

    private int intOut(String call, MethodHandle h, MemorySegment comm) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(INT);
            check(call, (int) h.invokeExact(comm, out), comm);
            return out.get(INT, 0);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    public void allReduce(long send, long recv, long count, int dtype, int op, MemorySegment comm, MemorySegment stream) {
        int r;
        try {
            r = (int) allReduce.invokeExact(send, recv, count, dtype, op, comm, stream);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
        if (r != SUCCESS) check("ncclAllReduce(count=" + count + ", datatype=" + dtype + ", op=" + op + ")", r, comm);
    }

    public void broadcast(long send, long recv, long count, int dtype, int root, MemorySegment comm, MemorySegment stream) {
        int r;
        try {
            r = (int) broadcast.invokeExact(send, recv, count, dtype, root, comm, stream);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
        if (r != SUCCESS) check("ncclBroadcast(count=" + count + ", datatype=" + dtype + ", root=" + root + ")", r, comm);
    }

    public void allGather(long send, long recv, long sendCount, int dtype, MemorySegment comm, MemorySegment stream) {
        int r;
        try {
            r = (int) allGather.invokeExact(send, recv, sendCount, dtype, comm, stream);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
        if (r != SUCCESS) check("ncclAllGather(sendcount=" + sendCount + ", datatype=" + dtype + ")", r, comm);
    }

    public void reduceScatter(long send, long recv, long recvCount, int dtype, int op, MemorySegment comm, MemorySegment stream) {
        int r;
        try {
            r = (int) reduceScatter.invokeExact(send, recv, recvCount, dtype, op, comm, stream);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
        if (r != SUCCESS) check("ncclReduceScatter(recvcount=" + recvCount + ", datatype=" + dtype + ", op=" + op + ")", r, comm);
    }

    /** ncclGroupStart: this thread's NCCL calls until {@link #groupEnd()} are launched together. */
    public void groupStart() {
        try {
            check("ncclGroupStart", (int) groupStart.invokeExact(), null);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    public void groupEnd() {
        try {
            check("ncclGroupEnd", (int) groupEnd.invokeExact(), null);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** NCCL's description of a result. */
    public String errorString(int result) {
        try {
            return cString((MemorySegment) getErrorString.invokeExact(result), "ncclResult_t " + result);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** NCCL's text of the last error (of comm, or of the process where comm is null), on one line. */
    public String lastError(MemorySegment comm) {
        try {
            MemorySegment c = comm == null ? MemorySegment.NULL : comm;  // a variable: invokeExact needs the static type
            String s = cString((MemorySegment) getLastError.invokeExact(c), "");
            return s.strip().replaceAll("\\s*\\R\\s*", "; ");
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    public static String resultName(int result) {
        return result >= 0 && result < RESULT_NAMES.length ? RESULT_NAMES[result] : "ncclResult_t " + result;
    }

    private static String cString(MemorySegment p, String fallback) {
        return p.address() == 0 ? fallback : p.reinterpret(Integer.MAX_VALUE).getString(0);
    }

    /** Throws a NcclException naming the call, NCCL's description and name of the result, and its last error. */
    private void check(String call, int result, MemorySegment comm) {
        if (result == SUCCESS) return;
        String last = lastError(comm);
        throw new NcclException(call + " failed: " + errorString(result) + " (" + resultName(result) + ")"
                + (last.isEmpty() ? "" : ": " + last), result);
    }
}
