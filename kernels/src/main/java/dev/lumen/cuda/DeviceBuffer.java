package dev.lumen.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A block of device memory of its own (cuMemAlloc), for kernel tests and benchmarks that work
 * below tensors; freed by close(). Copies are ordered on the compute stream, so they see every
 * kernel launched before them, and work from any thread.
 */
public final class DeviceBuffer implements AutoCloseable {
    private final CudaContext ctx;
    private final CudaDriver driver;
    private final long bytes;
    private long ptr;

    DeviceBuffer(CudaContext ctx, long bytes) {
        this.ctx = ctx;
        this.driver = ctx.driver();
        this.bytes = bytes;
        ctx.bind();
        long p = driver.memAlloc(Math.max(bytes, 1));
        if (p == 0) throw new CudaException("cuMemAlloc_v2(" + bytes + " bytes) failed: out of device memory", CudaDriver.CUDA_ERROR_OUT_OF_MEMORY);
        this.ptr = p;
    }

    /** The CUdeviceptr, as kernels receive it. */
    public long pointer() {
        if (ptr == 0) throw new IllegalStateException("use of a freed device buffer");
        return ptr;
    }

    public long byteSize() { return bytes; }

    public void copyFrom(MemorySegment host) {
        if (host.byteSize() > bytes) throw new IllegalArgumentException("copy of " + host.byteSize() + " bytes into a buffer of " + bytes);
        ctx.bind();
        driver.copyHtoDAsync(pointer(), host, host.byteSize(), ctx.stream());
        // The host segment may be reused by the caller as soon as we return.
        driver.streamSynchronize(ctx.stream());
    }

    public void copyTo(MemorySegment host) {
        long n = Math.min(host.byteSize(), bytes);
        ctx.bind();
        driver.copyDtoHAsync(host, pointer(), n, ctx.stream());
        driver.streamSynchronize(ctx.stream());
    }

    public void copyFrom(float[] values) {
        try (Arena a = Arena.ofConfined()) {
            copyFrom(a.allocateFrom(ValueLayout.JAVA_FLOAT, values));
        }
    }

    public float[] toFloats() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(bytes, 16);
            copyTo(h);
            return h.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    /** Sets every byte (0xFF makes every f32 a NaN: the poison tests write before a launch). */
    public void fillBytes(int value) {
        ctx.bind();
        driver.memsetD8Async(pointer(), (byte) value, bytes, ctx.stream());
    }

    @Override
    public void close() {
        if (ptr != 0) {
            ctx.bind();
            // Kernels queued on the stream may still read it.
            driver.streamSynchronize(ctx.stream());
            driver.memFree(ptr);
            ptr = 0;
        }
    }
}
