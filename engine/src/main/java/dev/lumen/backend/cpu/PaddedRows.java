package dev.lumen.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * A block of image rows of f32 staged in a float array with a one-pixel border: row pitch w + 2,
 * a halo row above and below. A 3x3 stencil and the element-wise work around it then run as ONE
 * flat run of full vectors over the block's rows, border columns included: no edge cases and no
 * per-row tails (w = 56 is 3.5 vectors of 16). What lands in a border column is a value nobody
 * reads; a sum over the run meets a zero there, either because one factor is a staged input
 * (whose border and halo stay zero) or through the {@link #mask}.
 *
 * <p>Index of padded row r (0 = top halo), column x (0 = left border): {@code MARGIN + r*pitch + x}.
 * The run is [start, end), rows 1..rows, rounded up to whole vectors (the last one reaches into
 * the bottom halo); the margin and the tail keep every stencil read of it inside the array.
 */
final class PaddedRows {
    static final VectorSpecies<Float> S = Vec.S;
    static final int L = Vec.L;
    private static final int MARGIN = L;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    final int rows, w, pitch, start, end, size;

    PaddedRows(int rows, int w) {
        this.rows = rows;
        this.w = w;
        this.pitch = w + 2;
        this.start = MARGIN + pitch;
        this.end = start + (rows * pitch + L - 1) / L * L;
        this.size = end + pitch + L;
    }

    /** Index of interior pixel (y, 0) of the block, y in [-1, rows]: -1 and rows are the halo rows. */
    int row(int y) { return MARGIN + (y + 1) * pitch + 1; }

    float[] alloc() { return new float[size]; }

    /** 1 at the interior pixels, 0 elsewhere. */
    float[] mask() {
        float[] m = alloc();
        for (int y = 0; y < rows; y++) java.util.Arrays.fill(m, row(y), row(y) + w, 1f);
        return m;
    }

    // ------------------------------------------------------------------ rows in and out

    /**
     * Copies n rows of w floats from element index at of s (row pitch w) into dst from index to
     * (row pitch pitch), leaving dst's border columns alone. Rows of at least a vector end with a
     * vector that overlaps the one before (a copy may write a value twice); narrower rows take a
     * masked vector.
     */
    static void load(MemorySegment s, long at, int n, int w, float[] dst, int to, int pitch) {
        if (w >= L) {
            int last = w - L;
            for (int y = 0; y < n; y++) {
                long src = (at + (long) y * w) * 4;
                int d = to + y * pitch;
                for (int x = 0; x < last; x += L) FloatVector.fromMemorySegment(S, s, src + x * 4L, NATIVE).intoArray(dst, d + x);
                FloatVector.fromMemorySegment(S, s, src + last * 4L, NATIVE).intoArray(dst, d + last);
            }
        } else {
            VectorMask<Float> m = S.indexInRange(0, w);
            for (int y = 0; y < n; y++) {
                FloatVector.fromMemorySegment(S, s, (at + (long) y * w) * 4, NATIVE, m).intoArray(dst, to + y * pitch, m);
            }
        }
    }

    /**
     * {@link #load} of count planes at once, row by row in turn: several streams from memory in
     * flight at once fetch about twice as fast as one plane after another (measured: 6 GB/s for
     * one stream, 10 to 13 for four, from DRAM).
     */
    static void loadMany(int count, MemorySegment[] s, long[] at, int n, int w, float[][] dst, int to, int pitch) {
        if (w >= L) {
            int last = w - L;
            for (int y = 0; y < n; y++) {
                int d = to + y * pitch;
                for (int j = 0; j < count; j++) {
                    MemorySegment sj = s[j];
                    float[] dj = dst[j];
                    long src = (at[j] + (long) y * w) * 4;
                    for (int x = 0; x < last; x += L) FloatVector.fromMemorySegment(S, sj, src + x * 4L, NATIVE).intoArray(dj, d + x);
                    FloatVector.fromMemorySegment(S, sj, src + last * 4L, NATIVE).intoArray(dj, d + last);
                }
            }
        } else {
            VectorMask<Float> m = S.indexInRange(0, w);
            for (int y = 0; y < n; y++) {
                for (int j = 0; j < count; j++) {
                    FloatVector.fromMemorySegment(S, s[j], (at[j] + (long) y * w) * 4, NATIVE, m).intoArray(dst[j], to + y * pitch, m);
                }
            }
        }
    }

    /** {@link #store} of count planes at once, row by row in turn (see {@link #loadMany}). */
    static void storeMany(int count, float[][] src, int from, int pitch, MemorySegment[] s, long[] at, int n, int w) {
        if (w >= L) {
            int last = w - L;
            for (int y = 0; y < n; y++) {
                int o = from + y * pitch;
                for (int j = 0; j < count; j++) {
                    MemorySegment sj = s[j];
                    float[] aj = src[j];
                    long dst = (at[j] + (long) y * w) * 4;
                    for (int x = 0; x < last; x += L) FloatVector.fromArray(S, aj, o + x).intoMemorySegment(sj, dst + x * 4L, NATIVE);
                    FloatVector.fromArray(S, aj, o + last).intoMemorySegment(sj, dst + last * 4L, NATIVE);
                }
            }
        } else {
            VectorMask<Float> m = S.indexInRange(0, w);
            for (int y = 0; y < n; y++) {
                for (int j = 0; j < count; j++) {
                    FloatVector.fromArray(S, src[j], from + y * pitch, m).intoMemorySegment(s[j], (at[j] + (long) y * w) * 4, NATIVE, m);
                }
            }
        }
    }

    /** The reverse of {@link #load}: n rows of w floats from src (pitch pitch) to element index at of s. */
    static void store(float[] src, int from, int pitch, MemorySegment s, long at, int n, int w) {
        if (w >= L) {
            int last = w - L;
            for (int y = 0; y < n; y++) {
                long dst = (at + (long) y * w) * 4;
                int o = from + y * pitch;
                for (int x = 0; x < last; x += L) FloatVector.fromArray(S, src, o + x).intoMemorySegment(s, dst + x * 4L, NATIVE);
                FloatVector.fromArray(S, src, o + last).intoMemorySegment(s, dst + last * 4L, NATIVE);
            }
        } else {
            VectorMask<Float> m = S.indexInRange(0, w);
            for (int y = 0; y < n; y++) {
                FloatVector.fromArray(S, src, from + y * pitch, m).intoMemorySegment(s, (at + (long) y * w) * 4, NATIVE, m);
            }
        }
    }

    // ------------------------------------------------------------------ the run

    /** out = bias + sum_k w9[wAt+k] * in at tap k (ky*3+kx reads row +ky-1, column +kx-1), over [from, to). */
    static void conv(float[] in, int from, int to, int pitch, float[] w9, int wAt, float bias, float[] out) {
        FloatVector k0 = Vec.of(w9[wAt]), k1 = Vec.of(w9[wAt + 1]), k2 = Vec.of(w9[wAt + 2]);
        FloatVector k3 = Vec.of(w9[wAt + 3]), k4 = Vec.of(w9[wAt + 4]), k5 = Vec.of(w9[wAt + 5]);
        FloatVector k6 = Vec.of(w9[wAt + 6]), k7 = Vec.of(w9[wAt + 7]), k8 = Vec.of(w9[wAt + 8]);
        FloatVector vb = Vec.of(bias);
        for (int f = from; f < to; f += L) {
            int r0 = f - pitch - 1, r1 = f - 1, r2 = f + pitch - 1;
            FloatVector a = FloatVector.fromArray(S, in, r0).fma(k0, vb);
            a = FloatVector.fromArray(S, in, r0 + 1).fma(k1, a);
            a = FloatVector.fromArray(S, in, r0 + 2).fma(k2, a);
            a = FloatVector.fromArray(S, in, r1).fma(k3, a);
            a = FloatVector.fromArray(S, in, r1 + 1).fma(k4, a);
            a = FloatVector.fromArray(S, in, r1 + 2).fma(k5, a);
            a = FloatVector.fromArray(S, in, r2).fma(k6, a);
            a = FloatVector.fromArray(S, in, r2 + 1).fma(k7, a);
            a = FloatVector.fromArray(S, in, r2 + 2).fma(k8, a);
            a.intoArray(out, f);
        }
    }

    /** out = {@link #conv} times f, element by element. */
    static void convTimes(float[] in, int from, int to, int pitch, float[] w9, int wAt, float bias, float[] f, float[] out) {
        FloatVector k0 = Vec.of(w9[wAt]), k1 = Vec.of(w9[wAt + 1]), k2 = Vec.of(w9[wAt + 2]);
        FloatVector k3 = Vec.of(w9[wAt + 3]), k4 = Vec.of(w9[wAt + 4]), k5 = Vec.of(w9[wAt + 5]);
        FloatVector k6 = Vec.of(w9[wAt + 6]), k7 = Vec.of(w9[wAt + 7]), k8 = Vec.of(w9[wAt + 8]);
        FloatVector vb = Vec.of(bias);
        for (int i = from; i < to; i += L) {
            int r0 = i - pitch - 1, r1 = i - 1, r2 = i + pitch - 1;
            FloatVector a = FloatVector.fromArray(S, in, r0).fma(k0, vb);
            a = FloatVector.fromArray(S, in, r0 + 1).fma(k1, a);
            a = FloatVector.fromArray(S, in, r0 + 2).fma(k2, a);
            a = FloatVector.fromArray(S, in, r1).fma(k3, a);
            a = FloatVector.fromArray(S, in, r1 + 1).fma(k4, a);
            a = FloatVector.fromArray(S, in, r1 + 2).fma(k5, a);
            a = FloatVector.fromArray(S, in, r2).fma(k6, a);
            a = FloatVector.fromArray(S, in, r2 + 1).fma(k7, a);
            a = FloatVector.fromArray(S, in, r2 + 2).fma(k8, a);
            a.mul(FloatVector.fromArray(S, f, i)).intoArray(out, i);
        }
    }

    /** The 3x3 weights of each of c channels turned by 180 degrees: {@link #conv} with them is the transposed conv. */
    static float[] flipped(float[] w9, int c) {
        float[] f = new float[9 * c];
        for (int ch = 0; ch < c; ch++) for (int k = 0; k < 9; k++) f[ch * 9 + k] = w9[ch * 9 + 8 - k];
        return f;
    }

    /** sum of a*b over [from, to), in float lanes. */
    static double dot(float[] a, float[] b, int from, int to) {
        FloatVector s = Vec.of(0);
        for (int f = from; f < to; f += L) s = FloatVector.fromArray(S, a, f).fma(FloatVector.fromArray(S, b, f), s);
        return Vec.sum(s);
    }
}
