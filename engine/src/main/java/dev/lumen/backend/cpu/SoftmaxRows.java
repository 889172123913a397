package dev.lumen.backend.cpu;

import dev.lumen.tensor.DType;
import dev.lumen.tensor.HostAccess;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Softmax of consecutive short rows (kk logits each, times a scale) into a Java array, for the
 * attention kernels whose rows are too short to vectorize one by one: the max is taken per
 * row, then one vector exp runs over all rows of the block. F32 rows go to a float[], other
 * floating dtypes to a double[] in double precision.
 */
final class SoftmaxRows {
    private static final VectorSpecies<Float> SP = FloatVector.SPECIES_PREFERRED;

    private SoftmaxRows() {}

    /** dst[dstAt + r*kk + j] = softmax_j(scale * src[at + r*kk + j]) for r < rows; src is F32. */
    static void f32(MemorySegment src, long at, int rows, int kk, float scale, float[] dst, int dstAt) {
        int n = rows * kk;
        for (int r = 0; r < rows; r++) {
            int o = dstAt + r * kk;
            long s = at + (long) r * kk;
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < kk; j++) {
                float x = scale * src.getAtIndex(ValueLayout.JAVA_FLOAT, s + j);
                dst[o + j] = x;
                max = Math.max(max, x);
            }
            for (int j = 0; j < kk; j++) dst[o + j] -= max;
        }
        for (int i = 0; i < n; i += SP.length()) {
            VectorMask<Float> m = SP.indexInRange(i, n);
            VecMath.exp(FloatVector.fromArray(SP, dst, dstAt + i, m)).intoArray(dst, dstAt + i, m);
        }
        for (int r = 0; r < rows; r++) {
            int o = dstAt + r * kk;
            float sum = 0;
            for (int j = 0; j < kk; j++) sum += dst[o + j];
            float inv = 1 / sum;
            for (int j = 0; j < kk; j++) dst[o + j] *= inv;
        }
    }

    /** As {@link #f32} for any floating dtype, in double. */
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
