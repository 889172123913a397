package dev.lumen.backend.cpu;

import dev.lumen.tensor.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Reads a contiguous run of F32, F16 or BF16 elements into a float array with a stride, so that
 * kernels computing in F32 take 16-bit storage without a per-element dtype switch.
 */
final class FloatRows {
    private FloatRows() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfShort S = ValueLayout.JAVA_SHORT;

    /** dst[off + i*stride] = src[at + i] for i in [0, count). */
    static void read(MemorySegment src, DType t, long at, int count, float[] dst, int off, int stride) {
        switch (t) {
            case F32 -> {
                if (stride == 1) {
                    MemorySegment.copy(src, F, at * 4, dst, off, count);
                } else {
                    for (int i = 0; i < count; i++) dst[off + i * stride] = src.getAtIndex(F, at + i);
                }
            }
            case F16 -> { for (int i = 0; i < count; i++) dst[off + i * stride] = Float.float16ToFloat(src.getAtIndex(S, at + i)); }
            case BF16 -> { for (int i = 0; i < count; i++) dst[off + i * stride] = Float.intBitsToFloat((src.getAtIndex(S, at + i) & 0xffff) << 16); }
            default -> throw new IllegalArgumentException("F32 kernel reads F32, F16 or BF16, not " + t);
        }
    }

    /** dst[at + i] = src[off + i*stride] (F32 storage) for i in [0, count). */
    static void write(float[] src, int off, int stride, MemorySegment dst, long at, int count) {
        if (stride == 1) {
            MemorySegment.copy(src, off, dst, F, at * 4, count);
        } else {
            for (int i = 0; i < count; i++) dst.setAtIndex(F, at + i, src[off + i * stride]);
        }
    }
}
