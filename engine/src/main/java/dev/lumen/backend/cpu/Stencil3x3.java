package dev.lumen.backend.cpu;

import dev.lumen.tensor.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Depth-wise 3x3 convolution (padding 1) of one plane, in double, on planes held in Java
 * arrays with a one-pixel zero border, so that the inner loops have no edge cases and run in
 * Vector API lanes (f32 planes widen to double on the way in and narrow on the way out). Used by fused kernels that need the conv of a value computed on the fly.
 */
final class Stencil3x3 {
    private Stencil3x3() {}

    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;

    /** Row pitch of a padded plane of width w. */
    static int pitch(int w) { return w + 2; }

    static int paddedSize(int h, int w) { return (h + 2) * (w + 2); }

    /** Zeroes the border of a padded plane of h x w. */
    static void clearBorder(double[] pad, int h, int w) {
        int pw = w + 2;
        java.util.Arrays.fill(pad, 0, pw, 0);
        java.util.Arrays.fill(pad, (h + 1) * pw, (h + 2) * pw, 0);
        for (int y = 1; y <= h; y++) {
            pad[y * pw] = 0;
            pad[y * pw + w + 1] = 0;
        }
    }

    /** Loads the h x w plane at element index at of a segment into the interior of pad, clearing the border. */
    static void loadPadded(MemorySegment s, DType t, long at, int h, int w, double[] pad) {
        clearBorder(pad, h, w);
        loadRowsInto(s, t, at, h, w, pad, w + 3);
    }

    /** Copies rows of w elements from at (row pitch w) to dst from dstAt (row pitch w + 2), staging f32 in one bulk copy. */
    private static void loadRowsInto(MemorySegment s, DType t, long at, int h, int w, double[] dst, int dstAt) {
        int pw = w + 2;
        if (t == DType.F32) {
            float[] r = stage(h * w);
            MemorySegment.copy(s, ValueLayout.JAVA_FLOAT, at * 4, r, 0, h * w);
            for (int y = 0; y < h; y++) widen(r, y * w, dst, dstAt + y * pw, w);
        } else {
            for (int y = 0; y < h; y++) load(s, t, at + (long) y * w, dst, dstAt + y * pw, w);
        }
    }

    /**
     * Loads rows y0-1 .. y0+rows of an h x w plane into a padded buffer of rows + 2 rows (zeros
     * outside the plane), so that {@link #conv} with h = rows makes output rows y0 .. y0+rows-1.
     */
    static void loadRowBlock(MemorySegment s, DType t, long at, int h, int w, int y0, int rows, double[] buf) {
        int pw = w + 2, lo = Math.max(0, y0 - 1), hi = Math.min(h - 1, y0 + rows);
        java.util.Arrays.fill(buf, 0, (rows + 2) * pw, 0);
        loadRowsInto(s, t, at + (long) lo * w, hi - lo + 1, w, buf, (lo - y0 + 1) * pw + 1);
    }

    /** Float lanes that widen to one double vector. */
    private static final VectorSpecies<Float> F = VectorSpecies.of(float.class, VectorShape.forBitSize(D.vectorBitSize() / 2));
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** Per-thread staging for f32 values: one bulk copy from the segment, then vector loads from an array. */
    private static final ThreadLocal<float[]> STAGE = ThreadLocal.withInitial(() -> new float[4096]);

    private static float[] stage(int n) {
        float[] r = STAGE.get();
        if (r.length < n) {
            r = new float[Math.max(n, 2 * r.length)];
            STAGE.set(r);
        }
        return r;
    }

    /** dst[dstAt + i] = src[srcAt + i] for i < n, converted by vector. */
    private static void widen(float[] src, int srcAt, double[] dst, int dstAt, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            ((DoubleVector) FloatVector.fromArray(F, src, srcAt + i).convertShape(VectorOperators.F2D, D, 0)).intoArray(dst, dstAt + i);
        }
        for (; i < n; i++) dst[dstAt + i] = src[srcAt + i];
    }

    /** dst[dstAt + i] = the f32 at element index at + i of s, for i < n. */
    private static void widen(MemorySegment s, long at, double[] dst, int dstAt, int n) {
        float[] r = stage(n);
        MemorySegment.copy(s, ValueLayout.JAVA_FLOAT, at * 4, r, 0, n);
        widen(r, 0, dst, dstAt, n);
    }

    /** The f32 rounding of src[srcAt + i] to element index at + i of s, for i < n. */
    private static void narrow(double[] src, int srcAt, MemorySegment s, long at, int n) {
        int i = 0;
        for (int bound = D.loopBound(n); i < bound; i += D.length()) {
            ((FloatVector) DoubleVector.fromArray(D, src, srcAt + i).convertShape(VectorOperators.D2F, F, 0))
                    .intoMemorySegment(s, (at + i) * 4, NATIVE);
        }
        for (; i < n; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, at + i, (float) src[srcAt + i]);
    }

    static void load(MemorySegment s, DType t, long at, double[] dst, int dstAt, int n) {
        if (t == DType.F32) {
            widen(s, at, dst, dstAt, n);
        } else if (t == DType.F64) {
            MemorySegment.copy(s, ValueLayout.JAVA_DOUBLE, at * 8, dst, dstAt, n);
        } else {
            for (int i = 0; i < n; i++) dst[dstAt + i] = dev.lumen.tensor.HostAccess.get(s, t, at + i);
        }
    }

    static void store(double[] src, int srcAt, MemorySegment s, DType t, long at, int n) {
        if (t == DType.F32) {
            narrow(src, srcAt, s, at, n);
        } else if (t == DType.F64) {
            MemorySegment.copy(src, srcAt, s, ValueLayout.JAVA_DOUBLE, at * 8, n);
        } else {
            for (int i = 0; i < n; i++) dev.lumen.tensor.HostAccess.set(s, t, at + i, src[srcAt + i]);
        }
    }

    /** out[y*w+x] = bias + sum w9[wAt + ky*3+kx] * pad[y+ky][x+kx] for an h x w output (h = 1 on a 3-row buffer). */
    static void conv(double[] pad, int h, int w, double[] w9, int wAt, double bias, double[] out) {
        int pw = w + 2, bound = D.loopBound(w);
        double w0 = w9[wAt], w1 = w9[wAt + 1], w2 = w9[wAt + 2], w3 = w9[wAt + 3], w4 = w9[wAt + 4];
        double w5 = w9[wAt + 5], w6 = w9[wAt + 6], w7 = w9[wAt + 7], w8 = w9[wAt + 8];
        DoubleVector v0 = DoubleVector.broadcast(D, w0), v1 = DoubleVector.broadcast(D, w1), v2 = DoubleVector.broadcast(D, w2);
        DoubleVector v3 = DoubleVector.broadcast(D, w3), v4 = DoubleVector.broadcast(D, w4), v5 = DoubleVector.broadcast(D, w5);
        DoubleVector v6 = DoubleVector.broadcast(D, w6), v7 = DoubleVector.broadcast(D, w7), v8 = DoubleVector.broadcast(D, w8);
        DoubleVector vb = DoubleVector.broadcast(D, bias);
        for (int y = 0; y < h; y++) {
            int r0 = y * pw, r1 = r0 + pw, r2 = r1 + pw, o = y * w, x = 0;
            for (; x < bound; x += D.length()) {
                DoubleVector a = DoubleVector.fromArray(D, pad, r0 + x).fma(v0, vb);
                a = DoubleVector.fromArray(D, pad, r0 + x + 1).fma(v1, a);
                a = DoubleVector.fromArray(D, pad, r0 + x + 2).fma(v2, a);
                a = DoubleVector.fromArray(D, pad, r1 + x).fma(v3, a);
                a = DoubleVector.fromArray(D, pad, r1 + x + 1).fma(v4, a);
                a = DoubleVector.fromArray(D, pad, r1 + x + 2).fma(v5, a);
                a = DoubleVector.fromArray(D, pad, r2 + x).fma(v6, a);
                a = DoubleVector.fromArray(D, pad, r2 + x + 1).fma(v7, a);
                a = DoubleVector.fromArray(D, pad, r2 + x + 2).fma(v8, a);
                a.intoArray(out, o + x);
            }
            for (; x < w; x++) {
                out[o + x] = bias
                        + w0 * pad[r0 + x] + w1 * pad[r0 + x + 1] + w2 * pad[r0 + x + 2]
                        + w3 * pad[r1 + x] + w4 * pad[r1 + x + 1] + w5 * pad[r1 + x + 2]
                        + w6 * pad[r2 + x] + w7 * pad[r2 + x + 1] + w8 * pad[r2 + x + 2];
            }
        }
    }

    /** The input gradient of {@link #conv}: out[y][x] = sum w9[ky*3+kx] * gpad[y+2-ky][x+2-kx], gpad the padded output gradient. */
    static void convTranspose(double[] gpad, int h, int w, double[] w9, int wAt, double[] out) {
        double[] flipped = new double[9];
        for (int i = 0; i < 9; i++) flipped[i] = w9[wAt + 8 - i];
        conv(gpad, h, w, flipped, 0, 0, out);
    }

    /**
     * The weight gradient of {@link #conv}: acc[ky*3+kx] += sum gout[y][x] * pad[y+ky][x+kx].
     * Four partial sums per tap break the chain of dependent adds that a single double sum is.
     */
    static void accumulateWeightGrad(double[] gout, double[] pad, int h, int w, double[] acc) {
        int pw = w + 2, bound = D.loopBound(w);
        for (int ky = 0; ky < 3; ky++) {
            DoubleVector s0 = DoubleVector.zero(D), s1 = s0, s2 = s0;
            double t0 = 0, t1 = 0, t2 = 0;
            for (int y = 0; y < h; y++) {
                int o = y * w, r = (y + ky) * pw, x = 0;
                for (; x < bound; x += D.length()) {
                    DoubleVector g = DoubleVector.fromArray(D, gout, o + x);
                    s0 = g.fma(DoubleVector.fromArray(D, pad, r + x), s0);
                    s1 = g.fma(DoubleVector.fromArray(D, pad, r + x + 1), s1);
                    s2 = g.fma(DoubleVector.fromArray(D, pad, r + x + 2), s2);
                }
                for (; x < w; x++) {
                    double g = gout[o + x];
                    t0 += g * pad[r + x];
                    t1 += g * pad[r + x + 1];
                    t2 += g * pad[r + x + 2];
                }
            }
            acc[ky * 3] += Vec.sum(s0) + t0;
            acc[ky * 3 + 1] += Vec.sum(s1) + t1;
            acc[ky * 3 + 2] += Vec.sum(s2) + t2;
        }
    }
}
