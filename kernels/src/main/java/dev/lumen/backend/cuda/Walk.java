package dev.lumen.backend.cuda;

import java.util.Arrays;

/**
 * An iteration shape with each operand's element strides over it, built from parts of tensors'
 * layouts (the kept dims of a reduction, every dim but one): what {@link CudaTensors#layout}
 * does for whole tensors. Strides may be 0 (an operand that does not move along a dim), and an
 * operand may be virtual: {@link #coordinate} gives the position along one dim, so a kernel can
 * recover it with the same offset arithmetic as the real operands.
 */
final class Walk {
    private final int[] size;
    private final long[][] strides;
    private final long[] offsets;

    private Walk(int[] size, long[][] strides, long[] offsets) {
        this.size = size;
        this.strides = strides;
        this.offsets = offsets;
    }

    /** A walk over size with no operands yet. */
    static Walk over(int[] size, int operands) {
        return new Walk(size.clone(), new long[operands][size.length], new long[operands]);
    }

    /** Sets operand k: its element strides over the walk's dims and its element offset. */
    Walk operand(int k, long[] st, long offset) {
        if (st.length != size.length) throw new IllegalArgumentException("operand " + k + " has " + st.length + " strides for " + size.length + " dims");
        strides[k] = st.clone();
        offsets[k] = offset;
        return this;
    }

    /** Sets operand k to the coordinate along dim: stride 1 there, 0 elsewhere, offset 0. */
    Walk coordinate(int k, int dim) {
        long[] st = new long[size.length];
        st[dim] = 1;
        return operand(k, st, 0);
    }

    /** A tensor's strides as longs, with the one at dim set to 0 (an operand held still along dim). */
    static long[] stridesHeldAt(int[] strides, int dim) {
        long[] s = new long[strides.length];
        for (int d = 0; d < strides.length; d++) s[d] = d == dim ? 0 : strides[d];
        return s;
    }

    /** The merged layout: size-1 dims dropped, adjacent dims fused where every operand steps through them as one. */
    CudaTensors.Layout layout() {
        int ops = strides.length;
        int[] sz = new int[size.length];
        long[][] st = new long[ops][size.length];
        int n = 0;
        for (int d = 0; d < size.length; d++) {
            if (size[d] == 1) continue;
            if (n > 0 && fuses(st, n - 1, d)) {
                sz[n - 1] *= size[d];
                for (int k = 0; k < ops; k++) st[k][n - 1] = strides[k][d];
                continue;
            }
            sz[n] = size[d];
            for (int k = 0; k < ops; k++) st[k][n] = strides[k][d];
            n++;
        }
        if (n > CudaTensors.MAX_DIMS) {
            throw new IllegalArgumentException("a walk of " + n + " dims after merging (sizes " + Arrays.toString(size)
                    + ") exceeds the " + CudaTensors.MAX_DIMS + " dims CUDA kernels take; make an operand contiguous first");
        }
        long[][] out = new long[ops][];
        for (int k = 0; k < ops; k++) out[k] = Arrays.copyOf(st[k], n);
        return new CudaTensors.Layout(Arrays.copyOf(sz, n), out, offsets.clone());
    }

    private boolean fuses(long[][] merged, int j, int d) {
        for (int k = 0; k < strides.length; k++) if (merged[k][j] != strides[k][d] * size[d]) return false;
        return true;
    }
}
