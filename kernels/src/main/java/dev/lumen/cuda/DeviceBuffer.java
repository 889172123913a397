package dev.lumen.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A block of device memory; freed by close(). */
public final class DeviceBuffer implements AutoCloseable {
    private final CudaDriver driver;
    private final long bytes;
    private long ptr;

    DeviceBuffer(CudaDriver driver, long bytes) {
        this.driver = driver;
        this.bytes = bytes;
        this.ptr = driver.memAlloc(Math.max(bytes, 1));
    }

    /** The CUdeviceptr, as kernels receive it. */
    public long pointer() {
        if (ptr == 0) throw new IllegalStateException("use of a freed device buffer");
        return ptr;
    }

    public long byteSize() { return bytes; }

    public void copyFrom(MemorySegment host) {
        if (host.byteSize() > bytes) throw new IllegalArgumentException("copy of " + host.byteSize() + " bytes into a buffer of " + bytes);
        driver.copyHtoD(pointer(), host, host.byteSize());
    }

    public void copyTo(MemorySegment host) {
        long n = Math.min(host.byteSize(), bytes);
        driver.copyDtoH(host, pointer(), n);
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
    public void fillBytes(int value) { driver.memsetD8(pointer(), (byte) value, bytes); }

    @Override
    public void close() {
        if (ptr != 0) {
            driver.memFree(ptr);
            ptr = 0;
        }
    }
}
