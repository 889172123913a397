package dev.lumen.backend.cuda;

import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.KernelArgs;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * The geometry of one reduction of x over dims and its passes (reduce.cu). {@code kept} walks the
 * outputs (operand 0 is x, then each output tensor), {@code red} the elements one output reduces:
 * the reduced dims are innermost logically, through strides, so nothing is copied. The kernel
 * shape, block size and splits depend only on sizes and strides, so a pass's reduction tree, and
 * its bits, are the same on every run.
 */
final class ReducePasses {
    /** Threads of a block tree (reduce.cu MAX_THREADS). */
    static final int MAX_THREADS = 256;
    /** Blocks that keep an H100's 132 SMs busy (two each): few outputs split their elements to reach it. */
    private static final int TARGET_BLOCKS = 264;
    /** Most splits per output: the combine pass folds them in one block. */
    private static final int MAX_SPLITS = 1024;
    /** Fewest elements a split of a row pass reads, and of a column pass's thread. */
    private static final int ROW_SPLIT_MIN = 2048, COL_SPLIT_MIN = 64;

    private final CudaContext ctx;
    private final Tensor x;
    final CudaTensors.Layout kept;
    private final CudaTensors.Layout red;
    /** Number of outputs, and of elements each reduces. */
    final long outputs, count;
    private final boolean rowsKernel;
    private final int splits, threads;

    /**
     * The reduction of x over dims (sorted, distinct) into outputs, each of x's rank with size 1 at
     * dims and x's size elsewhere.
     */
    ReducePasses(CudaContext ctx, String op, Tensor x, int[] dims, Tensor... outs) {
        this.ctx = ctx;
        this.x = x;
        int rank = x.dim();
        boolean[] reduced = new boolean[rank];
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] < 0 || dims[i] >= rank || (i > 0 && dims[i] <= dims[i - 1])) {
                throw new IllegalArgumentException(op + ": dims " + Arrays.toString(dims) + " must be sorted, distinct and within rank " + rank);
            }
            reduced[dims[i]] = true;
        }
        int[] shape = x.shape(), keptShape = shape.clone(), redShape = new int[rank];
        for (int d = 0; d < rank; d++) {
            redShape[d] = reduced[d] ? shape[d] : 1;
            if (reduced[d]) keptShape[d] = 1;
        }
        for (Tensor o : outs) {
            if (!Arrays.equals(o.shape(), keptShape)) {
                throw new IllegalArgumentException(op + ": output shape " + Arrays.toString(o.shape()) + " for input " + Arrays.toString(shape)
                        + " over dims " + Arrays.toString(dims) + ", expected " + Arrays.toString(keptShape));
            }
            CudaTensors.ptr(o);
        }
        CudaTensors.ptr(x);
        Walk k = Walk.over(keptShape, 1 + outs.length).operand(0, Walk.stridesHeldAt(x.strides(), -1), x.offset());
        for (int i = 0; i < outs.length; i++) k.operand(1 + i, Walk.stridesHeldAt(outs[i].strides(), -1), outs[i].offset());
        this.kept = k.layout();
        this.red = Walk.over(redShape, 1).operand(0, Walk.stridesHeldAt(x.strides(), -1), 0).layout();
        this.outputs = kept.numel();
        this.count = red.numel();
        // Rows when the reduced elements are the closest in memory: a block's threads then read neighbours.
        this.rowsKernel = kept.rank() == 0 || (red.rank() > 0 && minAbsStride(red) < minAbsStride(kept));
        if (rowsKernel) {
            long want = outputs >= TARGET_BLOCKS ? 1 : Math.min(ceil(TARGET_BLOCKS, outputs), ceil(count, ROW_SPLIT_MIN));
            this.splits = (int) Math.clamp(want, 1, MAX_SPLITS);
            this.threads = threadsFor(ceil(count, splits));
            if (outputs * splits > Integer.MAX_VALUE) throw new IllegalArgumentException(op + ": " + outputs + " outputs exceed a grid's blocks");
        } else {
            this.threads = threadsFor(outputs);
            long blocks = ceil(outputs, threads);
            long want = Math.min(ceil(TARGET_BLOCKS, blocks), ceil(count, COL_SPLIT_MIN));
            this.splits = (int) Math.clamp(want, 1, MAX_SPLITS);
        }
    }

    /**
     * One pass of op (reduce.cu's sum, max, min, expsum, sqsum, argmax, argmin) into res: one
     * accumulator of accBytes per output, in output order. shift (a double per output, or 0) is
     * divided by shiftDiv before use.
     */
    void pass(String op, int accBytes, long shift, double shiftDiv, long res) {
        if (outputs == 0) return;
        if (splits == 1) {
            launchPass(op, shift, shiftDiv, res);
            return;
        }
        try (DeviceScratch partials = DeviceScratch.allocate(ctx, outputs * splits * accBytes)) {
            launchPass(op, shift, shiftDiv, partials.ptr());
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(partials.ptr()).i32(splits).ptr(res);
                ctx.kernel("reduce_combine_" + op).launch(new int[] {(int) outputs}, new int[] {threadsFor(splits)}, 0, a);
            }
        }
    }

    private void launchPass(String op, long shift, double shiftDiv, long dst) {
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.base(x)).view(kept, 0).view(red, 0).i32(splits).ptr(shift).f64(shiftDiv).ptr(dst);
            String name = "reduce_" + (rowsKernel ? "rows_" : "cols_") + op + "_" + CudaBackend.suffix(x.dtype());
            int[] grid = rowsKernel ? new int[] {(int) (outputs * splits)} : new int[] {(int) ceil(outputs, threads), splits};
            ctx.kernel(name).launch(grid, new int[] {threads}, 0, a);
        }
    }

    /** A power of two from 32 (a warp) to MAX_THREADS covering n. */
    static int threadsFor(long n) {
        int t = 32;
        while (t < MAX_THREADS && t < n) t <<= 1;
        return t;
    }

    static long ceil(long a, long b) { return (a + b - 1) / b; }

    private static long minAbsStride(CudaTensors.Layout l) {
        long m = Long.MAX_VALUE;
        for (long s : l.strides()[0]) m = Math.min(m, Math.abs(s));
        return m;
    }
}
