package dev.lumen.backend.cpu;

import java.util.ArrayList;
import java.util.List;

/**
 * The layout of a reduction over a contiguous tensor. Size-1 dims are dropped and runs of
 * adjacent dims that are all reduced (or all kept) merge into blocks. The innermost block,
 * of length {@code inner}, is read as contiguous rows: when it is reduced each output
 * element reduces whole rows; when it is kept, rows accumulate element-wise into a row of
 * outputs. The other blocks enumerate to element offsets: {@code keptOffsets} (one per
 * output row, in output order) and {@code redOffsets} (one per reduced row).
 */
record ReducePlan(long[] keptOffsets, long[] redOffsets, int inner, boolean innerReduced) {

    /** Number of elements each output reduces. */
    long count() { return (long) redOffsets.length * (innerReduced ? inner : 1); }

    /** Number of output elements. */
    int outputs() { return keptOffsets.length * (innerReduced ? 1 : inner); }

    static ReducePlan of(int[] shape, int[] dims) {
        boolean[] reduced = new boolean[shape.length];
        for (int d : dims) reduced[d] = true;
        List<long[]> blocks = new ArrayList<>(); // {size, reduced ? 1 : 0}
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == 1) continue;
            long flag = reduced[i] ? 1 : 0;
            if (!blocks.isEmpty() && blocks.get(blocks.size() - 1)[1] == flag) blocks.get(blocks.size() - 1)[0] *= shape[i];
            else blocks.add(new long[] {shape[i], flag});
        }
        if (blocks.isEmpty()) blocks.add(new long[] {1, 0});
        int nb = blocks.size();
        long[] strides = new long[nb];
        long acc = 1;
        for (int b = nb - 1; b >= 0; b--) {
            strides[b] = acc;
            acc *= blocks.get(b)[0];
        }
        long[] kept = {0}, red = {0};
        for (int b = 0; b < nb - 1; b++) {
            if (blocks.get(b)[1] == 1) red = expand(red, (int) blocks.get(b)[0], strides[b]);
            else kept = expand(kept, (int) blocks.get(b)[0], strides[b]);
        }
        long[] last = blocks.get(nb - 1);
        return new ReducePlan(kept, red, (int) last[0], last[1] == 1);
    }

    /** Every offset of prev combined with k * stride for k below size, in row-major order. */
    private static long[] expand(long[] prev, int size, long stride) {
        long[] out = new long[prev.length * size];
        for (int i = 0, n = 0; i < prev.length; i++) {
            for (int k = 0; k < size; k++) out[n++] = prev[i] + k * stride;
        }
        return out;
    }
}
