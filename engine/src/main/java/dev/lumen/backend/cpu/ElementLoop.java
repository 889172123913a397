package dev.lumen.backend.cpu;

import dev.lumen.tensor.ChannelsLast;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * Drives an element-wise row body over tensors of one (broadcast) shape. When every operand
 * is contiguous with exactly that shape (or every one is channels-last), the whole tensor is one flat range split evenly
 * across threads (a StridedLoop would see one long row and run it on one thread);
 * otherwise rows come from {@link StridedLoop}.
 */
final class ElementLoop {
    private ElementLoop() {}

    /** Elements per chunk below which a range stays on the calling thread. */
    static final long GRAIN = 1 << 15;

    static void run(int[] shape, StridedLoop.Row body, Tensor... ts) {
        if (!dense(shape, ts)) {
            StridedLoop.of(shape, ts).forEachRow(body);
            return;
        }
        int ops = ts.length;
        long[] offsets = new long[ops];
        for (int k = 0; k < ops; k++) offsets[k] = ts[k].offset();
        long n = Shapes.numel(shape);
        Parallel.forRange(n, GRAIN, (lo, hi) -> {
            long[] base = new long[ops];
            int[] step = new int[ops];
            for (int k = 0; k < ops; k++) {
                base[k] = offsets[k] + lo;
                step[k] = 1;
            }
            body.run(base, (int) (hi - lo), step);
        });
    }

    /**
     * Whether the operands are one flat range each, element i of one being element i of every
     * other: all of exactly that shape and either contiguous, or all channels-last (the same
     * strides, each dense from its offset).
     */
    private static boolean dense(int[] shape, Tensor... ts) {
        boolean contiguous = true;
        for (Tensor t : ts) {
            if (!Arrays.equals(t.shape(), shape)) return false;
            contiguous &= t.isContiguous();
        }
        if (contiguous) return true;
        // Only when some operand is not contiguous: the common case pays no stride checks.
        for (Tensor t : ts) if (!ChannelsLast.is(t)) return false;
        return true;
    }
}
