package dev.lumen.backend.cuda;

/**
 * Temporary device memory for one op (a cuDNN workspace, a kernel's partial sums), from the
 * caching allocator. Closing it returns the block at once: later users queue behind this op's
 * kernels on the compute stream, so no wait is needed.
 */
public final class DeviceScratch implements AutoCloseable {
    private final DeviceAllocator allocator;
    private final long bytes;
    private long ptr;

    private DeviceScratch(DeviceAllocator allocator, long bytes) {
        this.allocator = allocator;
        this.bytes = bytes;
        this.ptr = allocator.allocate(bytes);
    }

    /** At least bytes of ctx's device memory (one block even for 0 bytes, so ptr() is always valid). */
    public static DeviceScratch allocate(dev.lumen.cuda.CudaContext ctx, long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("scratch of " + bytes + " bytes");
        return new DeviceScratch(CudaBackend.of(ctx).allocator(), bytes);
    }

    public long ptr() {
        if (ptr == 0) throw new IllegalStateException("use of closed device scratch");
        return ptr;
    }

    public long byteSize() { return bytes; }

    @Override
    public void close() {
        if (ptr != 0) {
            allocator.free(ptr, bytes);
            ptr = 0;
        }
    }
}
