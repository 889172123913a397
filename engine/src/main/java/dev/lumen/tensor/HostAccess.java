package dev.lumen.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Reads and writes one element of host memory of any dtype as a double. For slow paths and tests. */
public final class HostAccess {
    private HostAccess() {}

    public static double get(MemorySegment s, DType t, long i) {
        return switch (t) {
            case F32 -> s.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            case F64 -> s.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
            case F16 -> HalfFloats.fromF16(s.getAtIndex(ValueLayout.JAVA_SHORT, i));
            case BF16 -> HalfFloats.fromBF16(s.getAtIndex(ValueLayout.JAVA_SHORT, i));
            case I32 -> s.getAtIndex(ValueLayout.JAVA_INT, i);
            case I64 -> s.getAtIndex(ValueLayout.JAVA_LONG, i);
            case BOOL -> s.get(ValueLayout.JAVA_BYTE, i) != 0 ? 1 : 0;
        };
    }

    public static void set(MemorySegment s, DType t, long i, double v) {
        switch (t) {
            case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) v);
            case F64 -> s.setAtIndex(ValueLayout.JAVA_DOUBLE, i, v);
            case F16 -> s.setAtIndex(ValueLayout.JAVA_SHORT, i, HalfFloats.toF16((float) v));
            case BF16 -> s.setAtIndex(ValueLayout.JAVA_SHORT, i, HalfFloats.toBF16((float) v));
            case I32 -> s.setAtIndex(ValueLayout.JAVA_INT, i, (int) v);
            case I64 -> s.setAtIndex(ValueLayout.JAVA_LONG, i, (long) v);
            case BOOL -> s.set(ValueLayout.JAVA_BYTE, i, (byte) (v != 0 ? 1 : 0));
        }
    }
}
