package dev.lumen.backend.cpu;

import dev.lumen.tensor.DType;
import dev.lumen.tensor.HostAccess;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Softmax of consecutive short rows (kk logits each, times a scale), for the attention kernels
 * whose rows are too short to vectorize one by one: F32 rows in place in a float[], lanes over
 * rows; other floating dtypes from their segment into a double[], in double precision.
 */
final class SoftmaxRows {
    private static final VectorSpecies<Float> SP = FloatVector.SPECIES_PREFERRED;

    private SoftmaxRows() {}

    /**
     * a[from + r*kk + j] = softmax_j(scale * a[from + r*kk + j]) in place, for r < rows. Rows of a
     * few logits are too short to vectorize one by one, so a vector holds one logit of each of
     * SP.length() rows (gathered, scattered back): max, exp and sum run lane-wise, each sum in
     * order of j as a row-by-row loop would add. A last group of fewer rows repeats its last row in
     * the spare lanes (the same values written twice).
     */
    static void f32InPlace(float[] a, int from, int rows, int kk, float scale) {
        int lanes = SP.length();
        int[] map = new int[lanes];
        float[] col = new float[kk * lanes];
        FloatVector vs = FloatVector.broadcast(SP, scale);
        for (int r0 = 0; r0 < rows; r0 += lanes) {
            for (int l = 0; l < lanes; l++) map[l] = Math.min(r0 + l, rows - 1) * kk;
            FloatVector max = FloatVector.broadcast(SP, Float.NEGATIVE_INFINITY);
            for (int j = 0; j < kk; j++) {
                FloatVector x = FloatVector.fromArray(SP, a, from + j, map, 0).mul(vs);
                x.intoArray(col, j * lanes);
                max = max.max(x);
            }
            FloatVector sum = FloatVector.zero(SP);
            for (int j = 0; j < kk; j++) {
                FloatVector e = VecMath.exp(FloatVector.fromArray(SP, col, j * lanes).sub(max));
                e.intoArray(col, j * lanes);
                sum = sum.add(e);
            }
            FloatVector inv = FloatVector.broadcast(SP, 1f).div(sum);
            for (int j = 0; j < kk; j++) FloatVector.fromArray(SP, col, j * lanes).mul(inv).intoArray(a, from + j, map, 0);
        }
    }

    /** As {@link #f32InPlace}, from any floating dtype into a double[], in double. */
    static void generic(MemorySegment src, DType t, long at, int rows, int kk, double scale, double[] dst, int dstAt) {
        for (int r = 0; r < rows; r++) {
            int o = dstAt + r * kk;
            long s = at + (long) r * kk;
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < kk; j++) {
                dst[o + j] = scale * HostAccess.get(src, t, s + j);
                max = Math.max(max, dst[o + j]);
            }
            double sum = 0;
            for (int j = 0; j < kk; j++) {
                dst[o + j] = Math.exp(dst[o + j] - max);
                sum += dst[o + j];
            }
            for (int j = 0; j < kk; j++) dst[o + j] /= sum;
        }
    }
}
