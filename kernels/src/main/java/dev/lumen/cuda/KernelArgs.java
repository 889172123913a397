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
    private static final int D = CudaTensors.MAX_DIMS;
    /**
     * lumen::View in kernels/cuda/lumen_tensor.cuh: int ndim, int size[8], (pad), long long
     * stride[8], offset, numel, then each size's MagicDivisor: u64 magic64[8], u32 magic32[8], u8 shift[8].
     */
    private static final long STRIDES = 8 + 4 * D, OFFSET = STRIDES + 8 * D, NUMEL = OFFSET + 8, MAGIC64 = NUMEL + 8,
            MAGIC32 = MAGIC64 + 8 * D, SHIFT = MAGIC32 + 4 * D;
    static final int VIEW_BYTES = (int) (SHIFT + D);

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
            // An empty layout never splits an index: any divisor will do.
            MagicDivisor m = MagicDivisor.of(Math.max(1, layout.size()[d]));
            v.set(ValueLayout.JAVA_INT, 4 + 4L * d, layout.size()[d]);
            v.set(ValueLayout.JAVA_LONG, STRIDES + 8L * d, strides[d]);
            v.set(ValueLayout.JAVA_LONG, MAGIC64 + 8L * d, m.magic64());
            v.set(ValueLayout.JAVA_INT, MAGIC32 + 4L * d, m.magic32());
            v.set(ValueLayout.JAVA_BYTE, SHIFT + d, (byte) m.shift());
        }
        v.set(ValueLayout.JAVA_LONG, OFFSET, layout.offsets()[operand]);
        v.set(ValueLayout.JAVA_LONG, NUMEL, layout.numel());
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
