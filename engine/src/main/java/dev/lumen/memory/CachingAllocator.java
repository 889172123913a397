package dev.lumen.memory;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Host memory with free lists by size class. A training step allocates the same sizes
 * every time, so after the first step nearly every request is a list pop.
 * Size classes are 2^k, 1.25*2^k, 1.5*2^k and 1.75*2^k bytes: at most 25% slack, and few lists.
 * The cache is bounded (a quarter of physical memory by default; LUMEN_CPU_CACHE_BYTES or
 * lumen.cache.bytes change it): a block freed beyond the bound goes back to the C heap, since on
 * Linux an allocation rarely fails before the OOM killer strikes, so "free the cache when malloc
 * fails" alone would never run.
 */
public final class CachingAllocator {
    private static final CachingAllocator HOST = new CachingAllocator(defaultCacheLimit());

    private final long cacheLimit;

    private final Map<Long, ArrayDeque<MemorySegment>> free = new HashMap<>();
    private long liveBytes;
    private long cachedBytes;
    private long peakLiveBytes;
    private long allocations;
    private long cacheHits;

    CachingAllocator(long cacheLimit) { this.cacheLimit = cacheLimit; }

    public static CachingAllocator host() { return HOST; }

    private static long defaultCacheLimit() {
        String v = System.getProperty("lumen.cache.bytes", System.getenv("LUMEN_CPU_CACHE_BYTES"));
        if (v != null && !v.isBlank()) {
            try {
                return Long.parseLong(v.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("LUMEN_CPU_CACHE_BYTES / lumen.cache.bytes must be a byte count, not '" + v + "'");
            }
        }
        long physical = 8L << 30;
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            physical = os.getTotalMemorySize();
        }
        return physical / 4;
    }

    /** The most bytes kept in free lists. */
    public long cacheLimit() { return cacheLimit; }

    /** The block size a request of bytes gets: a power of two or a quarter step above one (at most 25% slack). */
    public static long sizeClass(long bytes) {
        long b = Math.max(bytes, NativeHeap.ALIGNMENT);
        int k = 63 - Long.numberOfLeadingZeros(b);
        long base = 1L << k;
        if (base == b) return b;
        long quarter = Math.max(base >> 2, NativeHeap.ALIGNMENT);
        return ((b + quarter - 1) / quarter) * quarter;
    }

    public synchronized MemorySegment allocate(long bytes) {
        long size = sizeClass(bytes);
        allocations++;
        ArrayDeque<MemorySegment> list = free.get(size);
        MemorySegment seg = list == null ? null : list.pollFirst();
        if (seg != null) {
            cacheHits++;
            cachedBytes -= size;
        } else {
            try {
                seg = NativeHeap.allocate(size);
            } catch (OutOfMemoryError e) {
                releaseCached();
                seg = NativeHeap.allocate(size);
            }
        }
        liveBytes += size;
        peakLiveBytes = Math.max(peakLiveBytes, liveBytes);
        return seg.asSlice(0, bytes);
    }

    public synchronized void free(MemorySegment seg, long requestedBytes) {
        long size = sizeClass(requestedBytes);
        liveBytes -= size;
        if (cachedBytes + size > cacheLimit) {
            NativeHeap.free(MemorySegment.ofAddress(seg.address()));
            return;
        }
        cachedBytes += size;
        free.computeIfAbsent(size, k -> new ArrayDeque<>()).addFirst(
                MemorySegment.ofAddress(seg.address()).reinterpret(size));
    }

    /** Gives every cached block back to the C heap. */
    public synchronized void releaseCached() {
        for (ArrayDeque<MemorySegment> list : free.values()) {
            for (MemorySegment s : list) NativeHeap.free(s);
        }
        free.clear();
        cachedBytes = 0;
    }

    /** Bytes held by tensors now (rounded to size classes). */
    public synchronized long liveBytes() { return liveBytes; }

    /** Bytes kept in free lists for reuse. */
    public synchronized long cachedBytes() { return cachedBytes; }

    public synchronized long peakLiveBytes() { return peakLiveBytes; }

    /** Starts a new peak from the bytes live now (to measure one phase: a forward, a backward). */
    public synchronized void resetPeak() { peakLiveBytes = liveBytes; }

    public synchronized String stats() {
        return String.format("live %.1f MiB, cached %.1f MiB, peak %.1f MiB, %d allocations, %.1f%% from cache",
                liveBytes / 1048576.0, cachedBytes / 1048576.0, peakLiveBytes / 1048576.0, allocations,
                allocations == 0 ? 0.0 : 100.0 * cacheHits / allocations);
    }
}
