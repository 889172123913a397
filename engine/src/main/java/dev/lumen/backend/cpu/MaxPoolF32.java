package dev.lumen.backend.cpu;

import dev.lumen.backend.ConvKernels.Window;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * F32 max pooling over one (n, c) plane per task, vectorized over output columns: each lane
 * keeps its window's running max and flat index, and the window is scanned in raster order
 * with torch's rule (a strictly larger value or a NaN takes over), so every lane ends on the
 * value and index that a scalar scan would, ties going to the first maximum. Columns whose
 * window leaves the input (the padded borders) run the same scan in scalar code; a row's last
 * partial vector is a full one moved back over columns already done. At stride 2 a lane's elements come from two loads and a permute, not a gather.
 * Planes move between memory and float[] in bulk copies.
 */
final class MaxPoolF32 {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Int lanes matching S one for one, for the indices. */
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, S.vectorShape());
    private static final int L = S.length();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfLong J = ValueLayout.JAVA_LONG;

    private MaxPoolF32() {}

    /** Forward over planes of x (contiguous F32 [planes, h, wd]) into out and indices (I64 [planes, oh, ow]). */
    static void forward(MemorySegment xs, long xOff, MemorySegment os, long oOff, MemorySegment is, long iOff, long planes, int h, int wd,
                        int oh, int ow, Window w) {
        int inSize = h * wd, outSize = oh * ow;
        int[] lanes = new int[L];
        for (int j = 0; j < L; j++) lanes[j] = j * w.sw();
        // Stride 2: lane j takes element 2j of two consecutive vectors; indices from the second one
        // are given as negative ("partially wrapped"), as rearrange(shuffle, second) expects.
        int[] evens = new int[L];
        for (int j = 0; j < L; j++) evens[j] = 2 * j < L ? 2 * j : 2 * j - 2 * L;
        Parallel.forRange(planes, Math.max(1, 32768 / Math.max(inSize + outSize, 1)), (lo, hi) -> {
            float[] in = new float[inSize], res = new float[outSize];
            int[] idx = new int[outSize];
            long[] wide = new long[outSize];
            for (long p = lo; p < hi; p++) {
                MemorySegment.copy(xs, F, (xOff + p * inSize) * 4, in, 0, inSize);
                plane(in, wd, h, oh, ow, w, lanes, evens, res, idx);
                for (int q = 0; q < outSize; q++) wide[q] = idx[q];
                MemorySegment.copy(res, 0, os, F, (oOff + p * outSize) * 4, outSize);
                MemorySegment.copy(wide, 0, is, J, (iOff + p * outSize) * 8, outSize);
            }
        });
    }

    /** One plane: res and idx receive the max and its flat position for every output. */
    private static void plane(float[] in, int wd, int h, int oh, int ow, Window w, int[] lanes, int[] evens, float[] res, int[] idx) {
        // Output columns whose whole window lies inside the row: [cLo, cHi).
        int cLo = Math.min(ow, (w.pw() + w.sw() - 1) / w.sw());
        int lastStart = wd - 1 - (w.kw() - 1) * w.dw() + w.pw();
        int cHi = lastStart < 0 ? cLo : Math.max(cLo, Math.min(ow, lastStart / w.sw() + 1));
        // Vectors cover [cLo, cHi), the last one moved back to end at cHi: the columns it repeats
        // get the same values again, which saves the scalar tail. Too few columns: all scalar.
        int vecEnd = cHi - cLo >= L ? cHi : cLo;
        IntVector steps = IntVector.fromArray(I, lanes, 0);
        VectorShuffle<Float> even = VectorShuffle.fromArray(S, evens, 0);
        boolean pairs = w.sw() == 2;
        for (int r = 0; r < oh; r++) {
            int h0 = r * w.sh() - w.ph(), h1 = Math.min(h0 + (w.kh() - 1) * w.dh() + 1, h);
            while (h0 < 0) h0 += w.dh();
            int at = r * ow;
            for (int c = 0; c < cLo; c++) scalar(in, wd, h0, h1, c, w, res, idx, at + c);
            for (int next = cLo; next < vecEnd; next += L) {
                int c = Math.min(next, vecEnd - L), base = c * w.sw() - w.pw();
                // One loop per way of loading, so that no vector merges values from two (C2 boxes those).
                if (w.sw() == 1) {
                    windowUnitStride(in, wd, h0, h1, base, w, steps, res, idx, at + c);
                } else if (pairs && (h1 - 1) * wd + base + (w.kw() - 1) * w.dw() + 2 * L <= in.length) {
                    windowStrideTwo(in, wd, h0, h1, base, w, steps, even, res, idx, at + c);
                } else {
                    windowGather(in, wd, h0, h1, base, w, steps, lanes, res, idx, at + c);
                }
            }
            for (int c = vecEnd; c < ow; c++) scalar(in, wd, h0, h1, c, w, res, idx, at + c);
        }
    }

    /** L output columns starting at input column base, stride 1: one load per tap. */
    private static void windowUnitStride(float[] in, int wd, int h0, int h1, int base, Window w, IntVector steps, float[] res, int[] idx,
                                         int out) {
        FloatVector max = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        IntVector best = steps.add(h0 * wd + base);
        for (int ih = h0; ih < h1; ih += w.dh()) {
            for (int kj = 0, pos = ih * wd + base; kj < w.kw(); kj++, pos += w.dw()) {
                FloatVector v = FloatVector.fromArray(S, in, pos);
                VectorMask<Float> wins = v.compare(VectorOperators.GT, max).or(v.test(VectorOperators.IS_NAN));
                max = max.blend(v, wins);
                best = best.blend(steps.add(pos), wins.cast(I));
            }
        }
        max.intoArray(res, out);
        best.intoArray(idx, out);
    }

    /** As {@link #windowUnitStride} at stride 2: a tap's lanes are the even elements of two loads (a gather costs several times more). */
    private static void windowStrideTwo(float[] in, int wd, int h0, int h1, int base, Window w, IntVector steps, VectorShuffle<Float> even,
                                        float[] res, int[] idx, int out) {
        FloatVector max = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        IntVector best = steps.add(h0 * wd + base);
        for (int ih = h0; ih < h1; ih += w.dh()) {
            for (int kj = 0, pos = ih * wd + base; kj < w.kw(); kj++, pos += w.dw()) {
                FloatVector v = FloatVector.fromArray(S, in, pos).rearrange(even, FloatVector.fromArray(S, in, pos + L));
                VectorMask<Float> wins = v.compare(VectorOperators.GT, max).or(v.test(VectorOperators.IS_NAN));
                max = max.blend(v, wins);
                best = best.blend(steps.add(pos), wins.cast(I));
            }
        }
        max.intoArray(res, out);
        best.intoArray(idx, out);
    }

    /** As {@link #windowUnitStride} at any stride, with a gather per tap. */
    private static void windowGather(float[] in, int wd, int h0, int h1, int base, Window w, IntVector steps, int[] lanes, float[] res,
                                     int[] idx, int out) {
        FloatVector max = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        IntVector best = steps.add(h0 * wd + base);
        for (int ih = h0; ih < h1; ih += w.dh()) {
            for (int kj = 0, pos = ih * wd + base; kj < w.kw(); kj++, pos += w.dw()) {
                FloatVector v = FloatVector.fromArray(S, in, pos, lanes, 0);
                VectorMask<Float> wins = v.compare(VectorOperators.GT, max).or(v.test(VectorOperators.IS_NAN));
                max = max.blend(v, wins);
                best = best.blend(steps.add(pos), wins.cast(I));
            }
        }
        max.intoArray(res, out);
        best.intoArray(idx, out);
    }

    /** The scalar scan of output column c of the row whose window spans rows [h0, h1). */
    private static void scalar(float[] in, int wd, int h0, int h1, int c, Window w, float[] res, int[] idx, int out) {
        int w0 = c * w.sw() - w.pw(), w1 = Math.min(w0 + (w.kw() - 1) * w.dw() + 1, wd);
        while (w0 < 0) w0 += w.dw();
        int best = h0 * wd + w0;
        float max = Float.NEGATIVE_INFINITY;
        for (int ih = h0; ih < h1; ih += w.dh()) {
            for (int iw = w0, at = ih * wd + w0; iw < w1; iw += w.dw(), at += w.dw()) {
                float v = in[at];
                // NaN wins, as in torch (v != v only for NaN).
                if (v > max || v != v) {
                    max = v;
                    best = at;
                }
            }
        }
        res[out] = max;
        idx[out] = best;
    }

    /**
     * Backward over planes: gradIn (F32 [planes, inSize]) = gradOut (F32 [planes, outSize])
     * scattered to indices, summed in double per input in output order and rounded once.
     */
    static void backward(MemorySegment gs, long gOff, MemorySegment is, long iOff, MemorySegment xs, long xOff, long planes, int inSize,
                         int outSize) {
        Parallel.forRange(planes, Math.max(1, 32768 / Math.max(inSize + outSize, 1)), (lo, hi) -> {
            float[] g = new float[outSize], res = new float[inSize];
            long[] idx = new long[outSize];
            double[] acc = new double[inSize];
            for (long p = lo; p < hi; p++) {
                MemorySegment.copy(gs, F, (gOff + p * outSize) * 4, g, 0, outSize);
                MemorySegment.copy(is, J, (iOff + p * outSize) * 8, idx, 0, outSize);
                Arrays.fill(acc, 0);
                for (int k = 0; k < outSize; k++) acc[(int) idx[k]] += g[k];
                for (int q = 0; q < inSize; q++) res[q] = (float) acc[q];
                MemorySegment.copy(res, 0, xs, F, (xOff + p * inSize) * 4, inSize);
            }
        });
    }
}
