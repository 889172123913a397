package dev.lumen.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;

/** Bit-for-bit comparison of floating tensors: a fused kernel against the ops it replaces. */
public final class Bits {
    private Bits() {}

    /** expected and actual hold the same raw bits (-0 is not 0, NaN payloads count). */
    public static void assertSameBits(String what, Tensor expected, Tensor actual) {
        assertArrayEquals(bits(expected), bits(actual), what);
    }

    private static long[] bits(Tensor t) {
        if (t.dtype() == DType.F64) {
            double[] d = t.toDoubles();
            long[] r = new long[d.length];
            for (int i = 0; i < d.length; i++) r[i] = Double.doubleToRawLongBits(d[i]);
            return r;
        }
        float[] f = t.toFloats();
        long[] r = new long[f.length];
        for (int i = 0; i < f.length; i++) r[i] = Float.floatToRawIntBits(f[i]);
        return r;
    }
}
