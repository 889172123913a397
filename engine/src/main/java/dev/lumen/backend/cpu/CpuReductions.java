package dev.lumen.backend.cpu;

import dev.lumen.backend.ReductionKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.HostAccess;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;

/** CPU implementation of {@link ReductionKernels}. */
final class CpuReductions implements ReductionKernels {

    /**
     * Each output element is reduced by one thread in double, walking x through a view
     * whose reduced dims are moved last. Double accumulation keeps long sums accurate.
     */
    @Override
    public void sum(Tensor x, int[] dims, Tensor out) {
        int rank = x.dim();
        int[] shape = x.shape();
        int[] strides = x.strides();
        boolean[] reduced = new boolean[rank];
        for (int d : dims) reduced[d] = true;
        int[] keptShape = new int[rank - dims.length];
        int[] keptStrides = new int[keptShape.length];
        int[] redShape = new int[dims.length];
        int[] redStrides = new int[dims.length];
        int[] outStrides = new int[keptShape.length];
        int[] os = out.strides();
        for (int d = 0, k = 0, r = 0; d < rank; d++) {
            if (reduced[d]) {
                redShape[r] = shape[d];
                redStrides[r++] = strides[d];
            } else {
                keptShape[k] = shape[d];
                outStrides[k] = os[d];
                keptStrides[k++] = strides[d];
            }
        }
        MemorySegment sx = x.storage().segment(), so = out.storage().segment();
        DType tx = x.dtype(), to = out.dtype();
        long redCount = dev.lumen.tensor.Shapes.numel(redShape);
        long outCount = dev.lumen.tensor.Shapes.numel(keptShape);
        long xOff = x.offset(), oOff = out.offset();
        Parallel.forRange(outCount, Math.max(1, 32768 / Math.max(redCount, 1)), (lo, hi) -> {
            int[] idx = new int[redShape.length];
            for (long o = lo; o < hi; o++) {
                long rem = o, xb = xOff, ob = oOff;
                for (int k = keptShape.length - 1; k >= 0; k--) {
                    int i = (int) (rem % keptShape[k]);
                    rem /= keptShape[k];
                    xb += (long) i * keptStrides[k];
                    ob += (long) i * outStrides[k];
                }
                double acc = 0;
                java.util.Arrays.fill(idx, 0);
                long xi = xb;
                for (long r = 0; r < redCount; r++) {
                    acc += HostAccess.get(sx, tx, xi);
                    for (int d = redShape.length - 1; d >= 0; d--) {
                        idx[d]++;
                        xi += redStrides[d];
                        if (idx[d] < redShape[d]) break;
                        xi -= (long) redStrides[d] * redShape[d];
                        idx[d] = 0;
                    }
                }
                HostAccess.set(so, to, ob, acc);
            }
        });
    }
}
