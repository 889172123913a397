package dev.lumen.cuda;

import dev.lumen.backend.cuda.CudaTensors;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Packs kernel parameters as cuLaunchKernel wants them: an array of pointers, each to one
 * argument's bytes. The order and types must match the kernel's C signature.
 */
public final class KernelArgs implements AutoCloseable {
    /** sizeof(lumen::View) in kernels/cuda/lumen_tensor.cuh: int ndim, int size[8], (pad), long long stride[8], offset, numel. */
    static final int VIEW_BYTES = 8 + 4 * CudaTensors.MAX_DIMS + 8 * CudaTensors.MAX_DIMS + 16;

    private final Arena arena = Arena.ofConfined();
    private final List<MemorySegment> slots = new ArrayList<>();

    public KernelArgs ptr(DeviceBuffer b) { return ptr(b.pointer()); }

    public KernelArgs ptr(long devicePointer) {
        slots.add(arena.allocateFrom(ValueLayout.JAVA_LONG, devicePointer));
        return this;
    }

    public KernelArgs i32(int v) {
        slots.add(arena.allocateFrom(ValueLayout.JAVA_INT, v));
        return this;
    }

    public KernelArgs i64(long v) {
        slots.add(arena.allocateFrom(ValueLayout.JAVA_LONG, v));
        return this;
    }

    public KernelArgs f32(float v) {
        slots.add(arena.allocateFrom(ValueLayout.JAVA_FLOAT, v));
        return this;
    }

    public KernelArgs f64(double v) {
        slots.add(arena.allocateFrom(ValueLayout.JAVA_DOUBLE, v));
        return this;
    }

    /** A lumen::View by value: operand k of a layout (sizes, its strides and offset, in elements). */
    public KernelArgs view(CudaTensors.Layout layout, int operand) {
        MemorySegment v = arena.allocate(VIEW_BYTES, 8);
        int n = layout.rank();
        v.set(ValueLayout.JAVA_INT, 0, n);
        long[] strides = layout.strides()[operand];
        for (int d = 0; d < n; d++) {
            v.set(ValueLayout.JAVA_INT, 4 + 4L * d, layout.size()[d]);
            v.set(ValueLayout.JAVA_LONG, 40 + 8L * d, strides[d]);
        }
        v.set(ValueLayout.JAVA_LONG, 40 + 8L * CudaTensors.MAX_DIMS, layout.offsets()[operand]);
        v.set(ValueLayout.JAVA_LONG, 48 + 8L * CudaTensors.MAX_DIMS, layout.numel());
        slots.add(v);
        return this;
    }

    /** The void** array. */
    MemorySegment pack() {
        MemorySegment arr = arena.allocate(ValueLayout.ADDRESS, Math.max(slots.size(), 1));
        for (int i = 0; i < slots.size(); i++) arr.setAtIndex(ValueLayout.ADDRESS, i, slots.get(i));
        return arr;
    }

    @Override
    public void close() { arena.close(); }
}
