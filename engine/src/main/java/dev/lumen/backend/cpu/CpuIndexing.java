package dev.lumen.backend.cpu;

import dev.lumen.backend.IndexKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.HostAccess;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * CPU implementation of {@link IndexKernels}. All four ops are one walk over an iteration
 * shape [A, K, B] (the dims before, at and after dim): element (a, j, b) moves between a
 * position of one tensor addressed by j and a position of the other addressed by the index.
 * Threads split (a, block of b), never j, so a scatter's threads write disjoint elements.
 */
final class CpuIndexing implements IndexKernels {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    /** Columns (b) per task: long enough for contiguous runs, short enough to split small A. */
    private static final int BLOCK = 512;

    @Override
    public void indexSelect(Tensor x, int dim, Tensor index, Tensor out) {
        long[] idx = indices("indexSelect", index, dim, x.shape(dim));
        walk(out.shape(), dim, idx, false, x, true, out, false, false);
    }

    @Override
    public void indexAdd(Tensor dst, int dim, Tensor index, Tensor src) {
        long[] idx = indices("indexAdd", index, dim, dst.shape(dim));
        walk(src.shape(), dim, idx, false, src, false, dst, true, true);
    }

    @Override
    public void gather(Tensor x, int dim, Tensor index, Tensor out) {
        long[] idx = indices("gather", index, dim, x.shape(dim));
        walk(index.shape(), dim, idx, true, x, true, out, false, false);
    }

    @Override
    public void scatterAdd(Tensor dst, int dim, Tensor index, Tensor src) {
        long[] idx = indices("scatterAdd", index, dim, dst.shape(dim));
        walk(index.shape(), dim, idx, true, src, false, dst, true, true);
    }

    /** The index values in logical order, each checked against the size of dim. */
    private static long[] indices(String op, Tensor index, int dim, int size) {
        if (index.dtype() != DType.I64 && index.dtype() != DType.I32) {
            throw new IllegalArgumentException(op + ": index must be I64 or I32, got " + index.dtype());
        }
        long[] v = index.toLongs();
        for (long i : v) {
            if (i < 0 || i >= size) {
                throw new IllegalArgumentException(op + ": index " + i + " is out of range for dim " + dim + " of size " + size);
            }
        }
        return v;
    }

    /**
     * For each (a, j, b) of shape: k = perElement ? idx[(a*K + j)*B + b] : idx[j];
     * to[.., toIndexed ? k : j, ..] (+)= from[.., fromIndexed ? k : j, ..].
     */
    private static void walk(int[] shape, int d, long[] idx, boolean perElement, Tensor from, boolean fromIndexed,
                             Tensor to, boolean toIndexed, boolean add) {
        int rank = shape.length;
        long count = 1;
        for (int s : shape) count *= s;
        if (count == 0) return;
        int k = shape[d];
        long[] fromA = offsets(from, shape, 0, d), fromB = offsets(from, shape, d + 1, rank);
        long[] toA = offsets(to, shape, 0, d), toB = offsets(to, shape, d + 1, rank);
        int a = fromA.length, b = fromB.length;
        int block = Math.min(b, BLOCK);
        int blocks = (b + block - 1) / block;
        long fs = from.stride(d), ts = to.stride(d), fo = from.offset(), tOff = to.offset();
        MemorySegment fm = from.storage().segment(), tm = to.storage().segment();
        DType t = to.dtype();
        int size = t.byteSize();
        Parallel.forRange((long) a * blocks, Math.max(1, 8192 / ((long) k * block)), (lo, hi) -> {
            for (long item = lo; item < hi; item++) {
                int ia = (int) (item / blocks), b0 = (int) (item % blocks) * block, b1 = Math.min(b, b0 + block);
                for (int j = 0; j < k; j++) {
                    long jf = fo + fromA[ia], jt = tOff + toA[ia];
                    if (!perElement) {
                        long kk = idx[j];
                        jf += (fromIndexed ? kk : j) * fs;
                        jt += (toIndexed ? kk : j) * ts;
                    } else {
                        if (!fromIndexed) jf += j * fs;
                        if (!toIndexed) jt += j * ts;
                    }
                    long row = ((long) ia * k + j) * b;
                    for (int ib = b0; ib < b1; ib++) {
                        long pf = jf + fromB[ib], pt = jt + toB[ib];
                        if (perElement) {
                            long kk = idx[(int) (row + ib)];
                            if (fromIndexed) pf += kk * fs;
                            if (toIndexed) pt += kk * ts;
                        }
                        if (add) {
                            if (t == DType.F32) tm.setAtIndex(F, pt, tm.getAtIndex(F, pt) + fm.getAtIndex(F, pf));
                            else HostAccess.set(tm, t, pt, HostAccess.get(tm, t, pt) + HostAccess.get(fm, t, pf));
                        } else if (size == 4) {
                            tm.setAtIndex(ValueLayout.JAVA_INT, pt, fm.getAtIndex(ValueLayout.JAVA_INT, pf));
                        } else {
                            MemorySegment.copy(fm, pf * size, tm, pt * size, size);
                        }
                    }
                }
            }
        });
    }

    /** Element offsets in t of every coordinate of shape[from, to), in row-major order. */
    private static long[] offsets(Tensor t, int[] shape, int from, int to) {
        int n = 1;
        for (int i = from; i < to; i++) n *= shape[i];
        long[] out = new long[n];
        int[] st = t.strides();
        int[] c = new int[Math.max(0, to - from)];
        long o = 0;
        for (int e = 0; e < n; e++) {
            out[e] = o;
            for (int i = to - 1; i >= from; i--) {
                int ci = i - from;
                c[ci]++;
                o += st[i];
                if (c[ci] < shape[i]) break;
                o -= (long) st[i] * shape[i];
                c[ci] = 0;
            }
        }
        return out;
    }
}
