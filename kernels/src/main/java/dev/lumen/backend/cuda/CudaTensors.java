package dev.lumen.backend.cuda;

import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/** Where a device tensor's elements are, as kernels need it: its address and strided layouts. */
public final class CudaTensors {
    /** Most dims a kernel's View (lumen_tensor.cuh) holds after merging. */
    public static final int MAX_DIMS = 8;

    private CudaTensors() {}

    /** The device address of the view's first element. */
    public static long ptr(Tensor t) {
        if (t.device().kind() != Device.Kind.CUDA) {
            throw new IllegalArgumentException("expected a CUDA tensor, got " + t + " (move it with .to(device))");
        }
        return t.storage().segment().address() + t.offset() * t.dtype().byteSize();
    }

    /**
     * The device address of the storage t views, for kernels that take a lumen::View (whose
     * offset, from {@link #layout}, locates t's first element).
     */
    public static long base(Tensor t) {
        if (t.device().kind() != Device.Kind.CUDA) {
            throw new IllegalArgumentException("expected a CUDA tensor, got " + t + " (move it with .to(device))");
        }
        return t.storage().segment().address();
    }

    /** ptr(t), or 0 (a null pointer for the kernel) when t is null. */
    public static long ptrOrNull(Tensor t) { return t == null ? 0 : ptr(t); }

    /** Fails unless t is contiguous: for kernels that index flat arrays. */
    public static Tensor requireContiguous(Tensor t, String what) {
        if (!t.isContiguous()) throw new IllegalArgumentException(what + ": expected a contiguous tensor, got strides "
                + Arrays.toString(t.strides()) + " for shape " + Arrays.toString(t.shape()));
        return t;
    }

    /** Fails unless every tensor has dtype. */
    public static void requireDType(DType dtype, String what, Tensor... ts) {
        for (Tensor t : ts) {
            if (t != null && t.dtype() != dtype) throw new IllegalArgumentException(what + ": expected " + dtype + ", got " + t.dtype());
        }
    }

    /**
     * Several tensors walked over one iteration shape: every operand broadcast to it (stride 0
     * where it has size 1 or lacks the dim), then adjacent dims merged wherever every operand
     * steps through them as one (a contiguous tensor becomes one dim), and size-1 dims dropped,
     * so that a kernel's index arithmetic does as few divisions as the layouts allow.
     */
    public record Layout(int[] size, long[][] strides, long[] offsets) {
        public long numel() { return Shapes.numel(size); }

        public int rank() { return size.length; }
    }

    public static Layout layout(int[] shape, Tensor... operands) {
        int rank = shape.length;
        long[][] st = new long[operands.length][];
        long[] off = new long[operands.length];
        for (int k = 0; k < operands.length; k++) {
            Tensor t = operands[k];
            int[] ts = t.shape(), tst = t.strides();
            if (ts.length > rank) throw new IllegalArgumentException("operand of shape " + Arrays.toString(ts) + " does not broadcast to " + Arrays.toString(shape));
            long[] s = new long[rank];
            for (int d = 0; d < rank; d++) {
                int td = d - (rank - ts.length);
                if (td < 0 || ts[td] == 1) s[d] = 0;
                else if (ts[td] == shape[d]) s[d] = tst[td];
                else throw new IllegalArgumentException("operand of shape " + Arrays.toString(ts) + " does not broadcast to " + Arrays.toString(shape));
            }
            st[k] = s;
            off[k] = t.offset();
        }
        // Drop size-1 dims, then merge d into the next kept dim where every operand allows it.
        int[] size = new int[rank];
        long[][] strides = new long[operands.length][rank];
        int n = 0;
        for (int d = 0; d < rank; d++) {
            if (shape[d] == 1) continue;
            if (n > 0 && mergeable(size[n - 1], strides, st, n - 1, d, shape[d])) {
                size[n - 1] *= shape[d];
                for (int k = 0; k < operands.length; k++) strides[k][n - 1] = st[k][d];
                continue;
            }
            size[n] = shape[d];
            for (int k = 0; k < operands.length; k++) strides[k][n] = st[k][d];
            n++;
        }
        if (n > MAX_DIMS) {
            throw new IllegalArgumentException("a layout of " + n + " dims after merging (shape " + Arrays.toString(shape)
                    + ") exceeds the " + MAX_DIMS + " dims CUDA kernels take; make an operand contiguous first");
        }
        int[] outSize = Arrays.copyOf(size, n);
        long[][] outStrides = new long[operands.length][];
        for (int k = 0; k < operands.length; k++) outStrides[k] = Arrays.copyOf(strides[k], n);
        return new Layout(outSize, outStrides, off);
    }

    /** Whether kept dim j (size sj) and the next dim d (size sd) form one dim for every operand. */
    private static boolean mergeable(int sj, long[][] kept, long[][] st, int j, int d, int sd) {
        for (int k = 0; k < st.length; k++) {
            if (kept[k][j] != st[k][d] * sd) return false;
        }
        return true;
    }
}
