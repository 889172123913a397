package dev.lumen.backend.cuda;

import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.CudaDriver;
import dev.lumen.cuda.CudaException;
import dev.lumen.cuda.Nccl;
import dev.lumen.cuda.NcclException;
import dev.lumen.distributed.Communicator;
import dev.lumen.distributed.CommunicatorFailure;
import dev.lumen.distributed.ReduceOp;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A {@link Communicator} over NCCL, one per device and rank. Collectives run on the
 * communicator's own stream, which first waits on an event recorded on the device's compute
 * stream (so they read what compute wrote, without a host wait); {@link #joinCompute()} records
 * an event on the comm stream that the compute stream waits on. NCCL failures of a peer or the
 * transport become {@link CommunicatorFailure} with NCCL's text, which names the rank; bad
 * arguments become IllegalArgumentException before any NCCL call.
 *
 * <p>Under the emulated NCCL the emulated driver's streams are synchronous, so a collective
 * returns only once every rank has issued it: ranks on threads of one process must each have
 * their own thread, or issue their collectives from one thread inside a {@link #group()}.
 */
public final class NcclCommunicator implements Communicator {
    private final Nccl nccl;
    private final MemorySegment comm;
    private final int rank, worldSize;
    private final Device device;
    private final CudaContext context;
    private final CudaDriver driver;
    private final MemorySegment stream, computeDone, commDone;
    /** Guards aborted/closed: the owning thread calls, abort may come from any thread. */
    private final Object state = new Object();
    private boolean aborted, closed;

    private NcclCommunicator(Nccl nccl, MemorySegment comm, int rank, int worldSize, Device device, CudaContext context) {
        this.nccl = nccl;
        this.comm = comm;
        this.rank = rank;
        this.worldSize = worldSize;
        this.device = device;
        this.context = context.bind();
        this.driver = context.driver();
        this.stream = driver.streamCreate(CudaDriver.STREAM_NON_BLOCKING);
        this.computeDone = driver.eventCreate(CudaDriver.EVENT_DISABLE_TIMING);
        this.commDone = driver.eventCreate(CudaDriver.EVENT_DISABLE_TIMING);
    }

    /** ncclGetUniqueId: made once (global rank 0) and passed to every rank through the rendezvous. */
    public static byte[] uniqueId() { return Nccl.get().uniqueId(); }

    /** ncclCommInitRank on device's context; blocks until all worldSize ranks have joined. */
    public static NcclCommunicator initRank(byte[] uniqueId, int worldSize, int rank, Device device) {
        if (worldSize < 1 || rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("NCCL rank " + rank + " of world size " + worldSize + ": expected 0 <= rank < world size");
        }
        CudaContext ctx = contextOf(device);
        Nccl nccl = Nccl.get();
        ctx.bind();
        MemorySegment comm;
        try {
            comm = nccl.commInitRank(worldSize, uniqueId, rank);
        } catch (NcclException e) {
            throw e.isPeerFailure() ? new CommunicatorFailure("NCCL init of rank " + rank + " of " + worldSize + " on " + device + " failed: " + e.getMessage(), e) : e;
        }
        return new NcclCommunicator(nccl, comm, rank, worldSize, device, ctx);
    }

    /** ncclCommInitAll: one process, one rank per device, ranks in list order. */
    public static List<NcclCommunicator> initAll(List<Device> devices) {
        if (devices.isEmpty()) throw new IllegalArgumentException("NCCL initAll: no devices");
        List<CudaContext> contexts = new ArrayList<>();
        int[] ordinals = new int[devices.size()];
        for (int i = 0; i < ordinals.length; i++) {
            contexts.add(contextOf(devices.get(i)));
            ordinals[i] = devices.get(i).index();
        }
        Nccl nccl = Nccl.get();
        MemorySegment[] comms = nccl.commInitAll(ordinals);
        List<NcclCommunicator> out = new ArrayList<>();
        for (int i = 0; i < comms.length; i++) out.add(new NcclCommunicator(nccl, comms[i], i, comms.length, devices.get(i), contexts.get(i)));
        return out;
    }

    /** null when NCCL loads, else the one-line reason ("NCCL unavailable: libnccl.so.2 not found ..."). */
    public static String unavailableReason() {
        try {
            Nccl.get();
            return null;
        } catch (CudaException | LinkageError e) {
            return e.getMessage();
        }
    }

    /** The context of a CUDA device (real NCCL wants one GPU per rank; the emulated one also takes several ranks per device). */
    private static CudaContext contextOf(Device device) {
        if (device.kind() != Device.Kind.CUDA) {
            throw new IllegalArgumentException("NCCL communicators live on CUDA devices, got " + device);
        }
        return CudaContext.of(device.index());
    }

    @Override public int rank() { return rank; }

    @Override public int worldSize() { return worldSize; }

    @Override public Device device() { return device; }

    /** The stream the collectives run on. */
    public MemorySegment stream() { return stream; }

    @Override
    public void allReduce(Tensor t, ReduceOp op) {
        String what = "allReduce";
        long p = pointer(t, what, "tensor");
        int dtype = ncclType(t.dtype(), what, op);
        issue(what, () -> nccl.allReduce(p, p, t.numel(), dtype, op.ordinal(), comm, stream));
    }

    @Override
    public void broadcast(Tensor t, int root) {
        String what = "broadcast";
        if (root < 0 || root >= worldSize) throw new IllegalArgumentException(what + ": root " + root + " outside 0.." + (worldSize - 1));
        long p = pointer(t, what, "tensor");
        int dtype = ncclType(t.dtype(), what, null);
        issue(what, () -> nccl.broadcast(p, p, t.numel(), dtype, root, comm, stream));
    }

    @Override
    public void allGather(Tensor in, Tensor out) {
        String what = "allGather";
        sameDtype(what, in, out);
        if (out.numel() != (long) worldSize * in.numel()) {
            throw new IllegalArgumentException(what + ": out has " + out.numel() + " elements, expected world size " + worldSize
                    + " x " + in.numel());
        }
        long s = pointer(in, what, "in"), r = pointer(out, what, "out");
        int dtype = ncclType(in.dtype(), what, null);
        issue(what, () -> nccl.allGather(s, r, in.numel(), dtype, comm, stream));
    }

    @Override
    public void reduceScatter(Tensor in, Tensor out, ReduceOp op) {
        String what = "reduceScatter";
        sameDtype(what, in, out);
        if (in.numel() != (long) worldSize * out.numel()) {
            throw new IllegalArgumentException(what + ": in has " + in.numel() + " elements, expected world size " + worldSize
                    + " x " + out.numel());
        }
        long s = pointer(in, what, "in"), r = pointer(out, what, "out");
        int dtype = ncclType(in.dtype(), what, op);
        issue(what, () -> nccl.reduceScatter(s, r, out.numel(), dtype, op.ordinal(), comm, stream));
    }

    @Override
    public void joinCompute() {
        enter("joinCompute");
        context.bind();
        driver.eventRecord(commDone, stream);
        driver.streamWaitEvent(context.stream(), commDone);
    }

    @Override
    public Group group() {
        enter("group");
        nccl.groupStart();
        return () -> {
            try {
                nccl.groupEnd();
            } catch (NcclException e) {
                throw translate("group of collectives", e);
            }
        };
    }

    @Override
    public void checkHealth() {
        enter("checkHealth");
        int r = nccl.commGetAsyncError(comm);
        if (r != Nccl.SUCCESS) {
            String last = nccl.lastError(comm);
            throw new CommunicatorFailure("NCCL communicator of rank " + rank + " of " + worldSize + " on " + device + " failed: "
                    + nccl.errorString(r) + " (" + Nccl.resultName(r) + ")" + (last.isEmpty() ? "" : ": " + last));
        }
    }

    @Override
    public void abort() {
        synchronized (state) {
            if (aborted || closed) return;
            aborted = true;
        }
        nccl.commAbort(comm);
    }

    @Override
    public void close() {
        boolean wasAborted;
        synchronized (state) {
            if (closed) return;
            closed = true;
            wasAborted = aborted;
        }
        try {
            if (!wasAborted) nccl.commDestroy(comm);
        } finally {
            context.bind();
            driver.eventDestroy(computeDone);
            driver.eventDestroy(commDone);
            driver.streamDestroy(stream);
        }
    }

    @Override
    public String toString() { return "NcclCommunicator(rank " + rank + " of " + worldSize + " on " + device + ")"; }

    // ---------------------------------------------------------------- helpers

    /** Orders the collective after the compute already issued, then issues it on the comm stream. */
    private void issue(String what, Runnable collective) {
        enter(what);
        try {
            context.bind();
            driver.eventRecord(computeDone, context.stream());
            driver.streamWaitEvent(stream, computeDone);
            collective.run();
        } catch (NcclException e) {
            throw translate(what, e);
        }
    }

    private RuntimeException translate(String what, NcclException e) {
        boolean wasAborted;
        synchronized (state) {
            wasAborted = aborted;
        }
        if (!e.isPeerFailure() && !wasAborted) return e;
        return new CommunicatorFailure("NCCL " + what + " on rank " + rank + " of " + worldSize + " (" + device + ") failed"
                + (wasAborted ? " (the communicator was aborted)" : "") + ": " + e.getMessage(), e);
    }

    private void enter(String what) {
        synchronized (state) {
            if (closed) throw new IllegalStateException(what + ": " + this + " is closed");
            if (aborted) throw new CommunicatorFailure("NCCL " + what + " on rank " + rank + " of " + worldSize + " (" + device
                    + "): the communicator was aborted");
        }
    }

    private long pointer(Tensor t, String what, String name) {
        if (!t.device().equals(device)) {
            throw new IllegalArgumentException(what + ": " + name + " is on " + t.device() + ", but the communicator of rank " + rank
                    + " is on " + device);
        }
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(what + ": " + name + " must be contiguous, got shape " + Arrays.toString(t.shape())
                    + " with strides " + Arrays.toString(t.strides()) + " (reduce a .contiguous() copy)");
        }
        return CudaTensors.ptr(t);
    }

    private static void sameDtype(String what, Tensor in, Tensor out) {
        if (in.dtype() != out.dtype()) throw new IllegalArgumentException(what + ": in is " + in.dtype() + ", out is " + out.dtype());
    }

    /** NCCL's type for dtype; op is null for collectives that do not reduce. */
    private static int ncclType(DType dtype, String what, ReduceOp op) {
        return switch (dtype) {
            case F32 -> Nccl.FLOAT32;
            case F64 -> Nccl.FLOAT64;
            case F16 -> Nccl.FLOAT16;
            case BF16 -> Nccl.BFLOAT16;
            case I32 -> Nccl.INT32;
            case I64 -> Nccl.INT64;
            case BOOL -> {
                // Bytes of 0/1: MAX is a logical or and MIN a logical and; sums would leave 0/1.
                if (op != null && op != ReduceOp.MAX && op != ReduceOp.MIN) {
                    throw new IllegalArgumentException(what + ": " + op + " over BOOL tensors is not defined (use MAX for any, MIN for all)");
                }
                yield Nccl.UINT8;
            }
        };
    }
}
