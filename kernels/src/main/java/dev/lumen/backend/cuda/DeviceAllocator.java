package dev.lumen.backend.cuda;

import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.CudaDriver;
import dev.lumen.cuda.CudaException;
import dev.lumen.memory.CachingAllocator;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Device memory with free lists by size class, as PyTorch's caching allocator: a training step
 * asks for the same sizes every time, so after the first step no request reaches cuMemAlloc
 * and no free reaches cuMemFree (both synchronize the device on a real GPU).
 *
 * <p>Blocks belong to the compute stream. A block freed by one op may be handed to the next op
 * at once, without waiting for the kernels that still read it, because every later use is
 * queued behind them on the same stream. Freeing is a list push, safe from any thread (the GC's
 * cleaner included). When cuMemAlloc finds no memory, the cache is given back to the driver
 * (after the device drains) and the allocation retried once.
 */
final class DeviceAllocator {
    /** The smallest block: cuMemAlloc aligns to 256 bytes anyway, and tiny tensors share few classes. */
    private static final long MIN_BLOCK = 512;

    private final CudaContext ctx;
    private final Map<Long, ArrayDeque<Long>> free = new HashMap<>();
    private long liveBytes, cachedBytes, peakLiveBytes, driverAllocations, requests;

    DeviceAllocator(CudaContext ctx) { this.ctx = ctx; }

    static long blockSize(long bytes) { return CachingAllocator.sizeClass(Math.max(bytes, MIN_BLOCK)); }

    /** A device pointer to at least bytes. */
    synchronized long allocate(long bytes) {
        long size = blockSize(bytes);
        requests++;
        ArrayDeque<Long> list = free.get(size);
        Long cached = list == null ? null : list.pollFirst();
        long ptr;
        if (cached != null) {
            ptr = cached;
            cachedBytes -= size;
        } else {
            ptr = driverAlloc(size);
        }
        liveBytes += size;
        peakLiveBytes = Math.max(peakLiveBytes, liveBytes);
        return ptr;
    }

    private long driverAlloc(long size) {
        CudaDriver drv = ctx.bind().driver();
        long p = drv.memAlloc(size);
        if (p == 0) {
            releaseCached();
            p = drv.memAlloc(size);
        }
        if (p == 0) {
            long[] info = drv.memInfo();
            throw new CudaException(String.format("CUDA out of memory: tried to allocate %.1f MiB; %.1f MiB in use by tensors, "
                    + "%.1f MiB free of %.1f MiB on the device", size / 1048576.0, liveBytes / 1048576.0,
                    info[0] / 1048576.0, info[1] / 1048576.0), CudaDriver.CUDA_ERROR_OUT_OF_MEMORY);
        }
        driverAllocations++;
        return p;
    }

    /** Returns a block to its free list; bytes is what allocate was asked for. */
    synchronized void free(long ptr, long bytes) {
        long size = blockSize(bytes);
        liveBytes -= size;
        cachedBytes += size;
        free.computeIfAbsent(size, k -> new ArrayDeque<>()).addFirst(ptr);
    }

    /** Gives every cached block back to the driver, once the device no longer uses any of them. */
    synchronized void releaseCached() {
        if (cachedBytes == 0) return;
        ctx.synchronize();
        CudaDriver drv = ctx.driver();
        for (ArrayDeque<Long> list : free.values()) {
            for (long p : list) drv.memFree(p);
        }
        free.clear();
        cachedBytes = 0;
    }

    /** Bytes held by tensors and scratch now, in block sizes. */
    synchronized long liveBytes() { return liveBytes; }

    synchronized long cachedBytes() { return cachedBytes; }

    synchronized long peakLiveBytes() { return peakLiveBytes; }

    /** How many requests reached cuMemAlloc. */
    synchronized long driverAllocations() { return driverAllocations; }

    synchronized String stats() {
        return String.format("live %.1f MiB, cached %.1f MiB, peak %.1f MiB, %d requests, %d cuMemAlloc calls",
                liveBytes / 1048576.0, cachedBytes / 1048576.0, peakLiveBytes / 1048576.0, requests, driverAllocations);
    }
}
