package dev.lumen.backend.cuda;

import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.CudaDriver;
import dev.lumen.memory.Storage;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Input batches to the device without stalling compute: the host bytes go into a pinned
 * staging buffer (page-locked, so the copy is a true DMA that returns at once), then one async
 * copy on the copy stream, which the compute stream waits for through an event. The copy thus
 * runs while the previous step still computes.
 *
 * <p>Device blocks for batches come from a pool of their own, not from the compute stream's
 * allocator: a block the compute stream freed may still be read by kernels queued there, and
 * the copy stream is not ordered behind them. When a batch tensor is released, an event is
 * recorded on the compute stream; the copy stream waits for that event (on the device, the host
 * never waits) before it writes the block again. Staging buffers likewise carry the event of
 * their last copy and are reused only once it has completed, checked without waiting.
 */
final class BatchUploader {
    private record Block(long ptr, MemorySegment freedEvent) {}

    private static final class Staging {
        final MemorySegment host;
        final MemorySegment copied;
        boolean inFlight;

        Staging(MemorySegment host, MemorySegment copied) {
            this.host = host;
            this.copied = copied;
        }
    }

    private final CudaContext ctx;
    private final Map<Long, ArrayDeque<Block>> blocks = new HashMap<>();
    private final List<Staging> staging = new ArrayList<>();
    private final ArrayDeque<MemorySegment> spareEvents = new ArrayDeque<>();

    BatchUploader(CudaContext ctx) { this.ctx = ctx; }

    /** A new device tensor with host's values, its copy queued on the copy stream. */
    synchronized Tensor upload(Tensor host, Device device) {
        CudaDriver drv = ctx.bind().driver();
        long bytes = host.numel() * host.dtype().byteSize();
        Tensor src = host.contiguous();
        long size = DeviceAllocator.blockSize(bytes);
        Block block = takeBlock(size);
        if (block.freedEvent != null) {
            drv.streamWaitEvent(ctx.copyStream(), block.freedEvent);
            spareEvents.add(block.freedEvent);
        }
        Tensor dst = new Tensor(new Storage(MemorySegment.ofAddress(block.ptr), bytes, device, (seg, b) -> release(seg.address(), size)),
                host.shape(), dev.lumen.tensor.Shapes.contiguousStrides(host.shape()), 0, host.dtype());
        dev.lumen.memory.Scope.detachFromScopes(dst);
        if (bytes > 0) {
            Staging s = stagingFor(bytes);
            MemorySegment.copy(src.storage().segment(), src.offset() * src.dtype().byteSize(), s.host, 0, bytes);
            drv.copyHtoDAsync(block.ptr, s.host, bytes, ctx.copyStream());
            drv.eventRecord(s.copied, ctx.copyStream());
            s.inFlight = true;
            drv.streamWaitEvent(ctx.stream(), s.copied);
        }
        if (src != host) src.close();
        return dst;
    }

    private Block takeBlock(long size) {
        ArrayDeque<Block> list = blocks.get(size);
        Block b = list == null ? null : list.pollFirst();
        if (b != null) return b;
        long p = CudaBackend.of(ctx).allocator().allocate(size);
        return new Block(p, null);
    }

    /** The batch tensor is gone: its block returns to the pool once the compute stream is past its last use. */
    private synchronized void release(long ptr, long size) {
        CudaDriver drv = ctx.bind().driver();
        MemorySegment e = spareEvents.isEmpty() ? drv.eventCreate(CudaDriver.EVENT_DISABLE_TIMING) : spareEvents.poll();
        drv.eventRecord(e, ctx.stream());
        blocks.computeIfAbsent(size, k -> new ArrayDeque<>()).addLast(new Block(ptr, e));
    }

    /** A staging buffer of at least bytes whose last copy has finished; a new one only when all are busy. */
    private Staging stagingFor(long bytes) {
        CudaDriver drv = ctx.driver();
        for (Iterator<Staging> it = staging.iterator(); it.hasNext(); ) {
            Staging s = it.next();
            if (s.inFlight && drv.eventDone(s.copied)) s.inFlight = false;
            if (!s.inFlight && s.host.byteSize() >= bytes) return s;
            if (!s.inFlight && s.host.byteSize() < bytes) {
                // Batches grew (the last one of an epoch is smaller, the next full one larger): drop the small buffer.
                drv.memFreeHost(s.host);
                drv.eventDestroy(s.copied);
                it.remove();
            }
        }
        Staging s = new Staging(drv.memAllocHost(bytes), drv.eventCreate(CudaDriver.EVENT_DISABLE_TIMING));
        staging.add(s);
        return s;
    }
}
