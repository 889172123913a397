package dev.lumen.backend.cpu;

import dev.lumen.tensor.Tensor;

/**
 * Iterates over several tensors of one shape but any strides (broadcast strides are 0),
 * one innermost row at a time. Adjacent dims that every operand walks contiguously are
 * merged first, so a contiguous tensor is a single long row.
 */
public final class StridedLoop {
    /** Body for one row: base element offsets of each operand, row length, and each operand's row stride. */
    @FunctionalInterface
    public interface Row {
        void run(long[] base, int length, int[] step);
    }

    private final int[] shape;
    private final int[][] strides;
    private final long[] offsets;

    /** strides[k] are operand k's strides for shape; offsets[k] its element offset. */
    public StridedLoop(int[] shape, int[][] strides, long[] offsets) {
        int rank = shape.length;
        int ops = strides.length;
        // Merge dim i into i+1 while every operand is contiguous across them.
        int[] sh = new int[Math.max(rank, 1)];
        int[][] st = new int[ops][Math.max(rank, 1)];
        int r = 0;
        if (rank == 0) {
            sh[0] = 1;
            r = 1;
        }
        for (int i = 0; i < rank; i++) {
            if (shape[i] == 1) continue;
            if (r > 0) {
                boolean merge = true;
                for (int k = 0; k < ops; k++) {
                    if (st[k][r - 1] != strides[k][i] * shape[i]) { merge = false; break; }
                }
                if (merge) {
                    sh[r - 1] *= shape[i];
                    for (int k = 0; k < ops; k++) st[k][r - 1] = strides[k][i];
                    continue;
                }
            }
            sh[r] = shape[i];
            for (int k = 0; k < ops; k++) st[k][r] = strides[k][i];
            r++;
        }
        if (r == 0) {
            sh[0] = 1;
            r = 1;
        }
        this.shape = java.util.Arrays.copyOf(sh, r);
        this.strides = new int[ops][];
        for (int k = 0; k < ops; k++) this.strides[k] = java.util.Arrays.copyOf(st[k], r);
        this.offsets = offsets;
    }

    public static StridedLoop of(int[] shape, Tensor... ts) {
        int[][] st = new int[ts.length][];
        long[] off = new long[ts.length];
        for (int k = 0; k < ts.length; k++) {
            st[k] = dev.lumen.tensor.Shapes.broadcastStrides(ts[k].shape(), ts[k].strides(), shape);
            off[k] = ts[k].offset();
        }
        return new StridedLoop(shape, st, off);
    }

    public int rowLength() { return shape[shape.length - 1]; }

    public long rows() {
        long n = 1;
        for (int i = 0; i < shape.length - 1; i++) n *= shape[i];
        return n;
    }

    /** Longer rows are cut into pieces of this many elements, so that one long row (a contiguous copy or fill) still uses every thread. */
    static final int PIECE = 1 << 15;

    /**
     * Runs body over every row, split across threads when there is enough work. A row longer
     * than {@link #PIECE} goes to the body as pieces at fixed multiples of PIECE, which depend
     * on nothing but the row length; the bodies are element-wise, so any cut gives the same result.
     */
    public void forEachRow(Row body) {
        int last = shape.length - 1;
        int len = shape[last];
        // An empty tensor has no rows to visit; its offsets may point past its (empty) storage.
        if (len == 0 || rows() == 0) return;
        int ops = strides.length;
        int[] step = new int[ops];
        for (int k = 0; k < ops; k++) step[k] = strides[k][last];
        int pieces = Math.max(1, (len + PIECE - 1) / PIECE);
        int pieceLen = pieces == 1 ? len : PIECE;
        long rows = rows();
        long grain = Math.max(1, 16384 / Math.max(pieceLen, 1));
        Parallel.forRange(rows * pieces, grain, (lo, hi) -> {
            long[] base = new long[ops], at = new long[ops];
            int[] idx = new int[Math.max(last, 0)];
            // Position the odometer at the row of unit lo.
            long row = lo / pieces;
            long rem = row;
            for (int d = last - 1; d >= 0; d--) {
                idx[d] = (int) (rem % shape[d]);
                rem /= shape[d];
            }
            for (int k = 0; k < ops; k++) {
                long b = offsets[k];
                for (int d = 0; d < last; d++) b += (long) idx[d] * strides[k][d];
                base[k] = b;
            }
            for (long unit = lo; unit < hi; ) {
                int piece = (int) (unit % pieces);
                int from = piece * pieceLen, n = Math.min(len - from, pieceLen);
                if (from == 0 && n == len) {
                    body.run(base, len, step);
                } else {
                    for (int k = 0; k < ops; k++) at[k] = base[k] + (long) from * step[k];
                    body.run(at, n, step);
                }
                unit++;
                if (unit % pieces != 0) continue;
                for (int d = last - 1; d >= 0; d--) {
                    idx[d]++;
                    for (int k = 0; k < ops; k++) base[k] += strides[k][d];
                    if (idx[d] < shape[d]) break;
                    for (int k = 0; k < ops; k++) base[k] -= (long) strides[k][d] * shape[d];
                    idx[d] = 0;
                }
            }
        });
    }
}
