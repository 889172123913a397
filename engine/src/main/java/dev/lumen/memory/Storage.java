package dev.lumen.memory;

import dev.lumen.tensor.Device;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Bytes that one or more tensors view. Reference counted: every tensor holding it counts
 * once, and the last release returns the bytes to the allocator that gave them.
 */
public final class Storage {
    /** Frees a block; host storage returns to the caching allocator, device storage to its driver. */
    public interface Releaser {
        void release(MemorySegment segment, long bytes);
    }

    private final MemorySegment segment;
    private final long bytes;
    private final Device device;
    private final Releaser releaser;
    private final AtomicInteger refs = new AtomicInteger(1);

    public Storage(MemorySegment segment, long bytes, Device device, Releaser releaser) {
        this.segment = segment;
        this.bytes = bytes;
        this.device = device;
        this.releaser = releaser;
    }

    /** New host storage from the caching allocator. */
    public static Storage host(long bytes) {
        CachingAllocator a = CachingAllocator.host();
        return new Storage(a.allocate(bytes), bytes, Device.CPU, a::free);
    }

    /** Host storage over memory someone else owns (a memory-mapped file); never freed here. */
    public static Storage wrap(MemorySegment segment) {
        return new Storage(segment, segment.byteSize(), Device.CPU, (s, b) -> { });
    }

    /**
     * The bytes. For CPU storage this is the memory itself; for device storage it is a
     * zero-length segment whose address is the device pointer.
     */
    public MemorySegment segment() {
        if (refs.get() <= 0) throw new IllegalStateException("use of a freed tensor storage");
        return segment;
    }

    public long byteSize() { return bytes; }

    public Device device() { return device; }

    public Storage retain() {
        if (refs.getAndIncrement() <= 0) throw new IllegalStateException("retain of a freed tensor storage");
        return this;
    }

    public void release() {
        int left = refs.decrementAndGet();
        if (left == 0) releaser.release(segment, bytes);
        else if (left < 0) throw new IllegalStateException("tensor storage released twice");
    }

    public boolean isFreed() { return refs.get() <= 0; }

    /** True when exactly one tensor views these bytes, so writing them in place changes no other tensor. */
    public boolean isExclusive() { return refs.get() == 1; }
}
