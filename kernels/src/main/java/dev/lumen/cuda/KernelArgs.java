package dev.lumen.cuda;

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

    /** The void** array. */
    MemorySegment pack() {
        MemorySegment arr = arena.allocate(ValueLayout.ADDRESS, Math.max(slots.size(), 1));
        for (int i = 0; i < slots.size(); i++) arr.setAtIndex(ValueLayout.ADDRESS, i, slots.get(i));
        return arr;
    }

    @Override
    public void close() { arena.close(); }
}
