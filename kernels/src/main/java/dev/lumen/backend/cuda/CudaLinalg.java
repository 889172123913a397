package dev.lumen.backend.cuda;

import dev.lumen.cuda.CudaContext;
import dev.lumen.backend.LinalgKernels;
import dev.lumen.cuda.Cublas;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * {@link LinalgKernels} on cuBLAS. Lumen's tensors are row-major and cuBLAS is column-major: a
 * row-major [R, C] matrix with unit column stride is, to cuBLAS, the column-major C x R matrix
 * X^T with the row stride as leading dimension. So a row-major out is computed as
 * out^T = b^T a^T, and an out with unit row stride as out = a b, each operand passed as it lies
 * with OP_N or OP_T: no operand with a unit stride in one of its last two dims is copied.
 * Batch dims are merged wherever all three operands step through them as one (a broadcast
 * operand has stride 0), and the innermost merged dim becomes one strided-batched GEMM.
 */
public final class CudaLinalg implements LinalgKernels {
    private final CudaContext ctx;

    CudaLinalg(CudaContext ctx) { this.ctx = ctx; }

    private static final int MAX_INT = Integer.MAX_VALUE;

    /**
     * How a [rows, cols] matrix with strides (sr, sc) reaches cuBLAS: row-major (cuBLAS sees its
     * transpose) or column-major, and the leading dimension. A dim of size 1 has no stride to
     * speak of, so it never forces a copy.
     */
    record Layout(boolean colMajor, int ld) {
        /** The layout, or null when neither dim has unit stride (the matrix must be copied). */
        static Layout of(int rows, int cols, int sr, int sc) {
            if ((cols <= 1 || sc == 1) && (rows <= 1 || sr >= Math.max(cols, 1))) {
                return new Layout(false, rows <= 1 ? Math.max(cols, 1) : sr);
            }
            if ((rows <= 1 || sr == 1) && (cols <= 1 || sc >= Math.max(rows, 1))) {
                return new Layout(true, cols <= 1 ? Math.max(rows, 1) : sc);
            }
            return null;
        }

        /** The cuBLAS op that turns this matrix's column-major view into the matrix itself. */
        int opForMatrix() { return colMajor ? Cublas.OP_N : Cublas.OP_T; }

        /** The cuBLAS op that turns this matrix's column-major view into its transpose. */
        int opForTranspose() { return colMajor ? Cublas.OP_T : Cublas.OP_N; }
    }

    /** The cudaDataType and cublasComputeType of a dtype's GEMM. */
    private record Types(int data, int compute) {
        static Types of(DType t) {
            return switch (t) {
                case F32 -> new Types(Cublas.R_32F, Cublas.f32ComputeType());  // IEEE FP32 unless TF32 is allowed
                case F64 -> new Types(Cublas.R_64F, Cublas.COMPUTE_64F_PEDANTIC);
                // Half-precision storage on tensor cores, with FP32 accumulation.
                case F16 -> new Types(Cublas.R_16F, Cublas.COMPUTE_32F);
                case BF16 -> new Types(Cublas.R_16BF, Cublas.COMPUTE_32F);
                default -> null;
            };
        }
    }

    @Override
    public void matmul(Tensor a, Tensor b, Tensor out, boolean accumulate) {
        int r = out.dim();
        DType t = out.dtype();
        Types types = Types.of(t);
        if (a.dtype() != t || b.dtype() != t || types == null) {
            throw new IllegalArgumentException("matmul kernel: dtypes " + a.dtype() + ", " + b.dtype() + " -> " + t + " (needs one of F32, F64, F16, BF16)");
        }
        int[] as = a.shape(), bs = b.shape(), os = out.shape();
        if (r < 2 || a.dim() != r || b.dim() != r) {
            throw new IllegalArgumentException("matmul kernel: ranks of " + Arrays.toString(as) + ", " + Arrays.toString(bs) + " -> " + Arrays.toString(os));
        }
        int m = os[r - 2], n = os[r - 1], k = as[r - 1];
        boolean ok = as[r - 2] == m && bs[r - 2] == k && bs[r - 1] == n;
        for (int d = 0; d < r - 2; d++) ok &= as[d] == os[d] && bs[d] == os[d];
        if (!ok) throw new IllegalArgumentException("matmul kernel: shapes " + Arrays.toString(as) + " @ " + Arrays.toString(bs) + " -> " + Arrays.toString(os));
        for (Tensor x : new Tensor[] {a, b, out}) {
            if (x.device().kind() != Device.Kind.CUDA) throw new IllegalArgumentException("matmul kernel: expected CUDA tensors, got " + x);
        }
        if (out.numel() == 0) return;
        if (k == 0) {  // an empty sum: out is 0, or unchanged when accumulating
            if (!accumulate) out.backend().fill(out, 0);
            return;
        }

        Tensor ta = a, tb = b, to = out;
        try {
            Layout la = layout(a, m, k), lb = layout(b, k, n), lo = layout(out, m, n);
            if (la == null) { ta = contiguousCopy(a); la = layout(ta, m, k); }
            if (lb == null) { tb = contiguousCopy(b); lb = layout(tb, k, n); }
            // An out whose batch entries overlap (stride 0) cannot take a batched write.
            if (lo == null || overlapsAcrossBatch(out)) {
                to = accumulate ? contiguousCopy(out) : Tensor.empty(t, out.device(), os);
                lo = layout(to, m, n);
            }
            run(types, ta, la, tb, lb, to, lo, m, n, k, accumulate);
            if (to != out) out.backend().copy(to, out);
        } finally {
            // The caching allocator hands freed blocks only to later work on the same stream.
            if (ta != a) ta.close();
            if (tb != b) tb.close();
            if (to != out) to.close();
        }
    }

    private static Layout layout(Tensor x, int rows, int cols) {
        int r = x.dim();
        return Layout.of(rows, cols, x.stride(r - 2), x.stride(r - 1));
    }

    private static Tensor contiguousCopy(Tensor x) {
        Tensor c = Tensor.empty(x.dtype(), x.device(), x.shape());
        x.backend().copy(x, c);
        return c;
    }

    private static boolean overlapsAcrossBatch(Tensor x) {
        for (int d = 0; d < x.dim() - 2; d++) if (x.shape(d) > 1 && x.stride(d) == 0) return true;
        return false;
    }

    /**
     * One GEMM in cuBLAS's terms: C (m x n) = op(X) op(Y) (+ C); x, y and c are the device
     * addresses of the first batch entry.
     */
    private record Call(Types types, int opX, int opY, int m, int n, int k, long x, int ldx, long y, int ldy,
                        long c, int ldc) {}

    private void run(Types types, Tensor a, Layout la, Tensor b, Layout lb, Tensor out, Layout lo, int m, int n,
                            int k, boolean accumulate) {
        long pa = CudaTensors.ptr(a), pb = CudaTensors.ptr(b), po = CudaTensors.ptr(out);
        int r = out.dim();
        int[] size = Arrays.copyOf(out.shape(), r - 2);
        long[][] strides = {batchStrides(a), batchStrides(b), batchStrides(out)};
        Call call;
        long[][] batchX;
        if (!lo.colMajor) {
            // out^T (n x m, column-major) = b^T a^T.
            call = new Call(types, lb.opForTranspose(), la.opForTranspose(), n, m, k, pb, lb.ld, pa, la.ld, po, lo.ld);
            batchX = new long[][] {strides[1], strides[0], strides[2]};
        } else {
            // out (m x n, column-major) = a b.
            call = new Call(types, la.opForMatrix(), lb.opForMatrix(), m, n, k, pa, la.ld, pb, lb.ld, po, lo.ld);
            batchX = new long[][] {strides[0], strides[1], strides[2]};
        }
        Batch batch = Batch.merge(size, batchX);
        if (!lo.colMajor && !la.colMajor && foldsIntoColumns(batch, la.ld, lo.ld, m)) {
            // One matrix shared by every batch entry (a broadcast weight) against a row-major a and
            // out: the batch folds into out^T's columns, and the product is a single large GEMM.
            int cols = (int) (batch.size[0] * m);
            gemm(call.types, call.opX, call.opY, call.m, cols, k, call.x, call.ldx, 0, call.y, call.ldy, 0,
                    call.c, call.ldc, 0, 1, accumulate);
            return;
        }
        batch.forEachOuter((ox, oy, oc) -> {
            int inner = batch.rank() == 0 ? 1 : batch.size[batch.rank() - 1];
            long sx = batch.rank() == 0 ? 0 : batch.strides[0][batch.rank() - 1];
            long sy = batch.rank() == 0 ? 0 : batch.strides[1][batch.rank() - 1];
            long sc = batch.rank() == 0 ? 0 : batch.strides[2][batch.rank() - 1];
            int bytes = out.dtype().byteSize();
            gemm(call.types, call.opX, call.opY, call.m, call.n, call.k, call.x + ox * bytes, call.ldx, sx,
                    call.y + oy * bytes, call.ldy, sy, call.c + oc * bytes, call.ldc, sc, inner, accumulate);
        });
    }

    private static long[] batchStrides(Tensor x) {
        long[] s = new long[x.dim() - 2];
        for (int d = 0; d < s.length; d++) s[d] = x.stride(d);
        return s;
    }

    /** True if the batch is one dim where Y's row-major matrices and C's follow each other at their leading dims. */
    private static boolean foldsIntoColumns(Batch batch, int lda, int ldo, int m) {
        if (batch.rank() != 1 || batch.strides[0][0] != 0) return false;
        long cols = batch.size[0] * (long) m;
        return cols <= MAX_INT && batch.strides[1][0] == (long) lda * m && batch.strides[2][0] == (long) ldo * m;
    }

    private void gemm(Types types, int opX, int opY, int m, int n, int k, long x, int ldx, long sx, long y, int ldy,
                             long sy, long c, int ldc, long sc, int count, boolean accumulate) {
        Cublas blas = Cublas.of(ctx);
        double beta = accumulate ? 1 : 0;
        if (count == 1) {
            blas.gemmEx(opX, opY, m, n, k, 1, x, types.data(), ldx, y, types.data(), ldy, beta, c, types.data(), ldc, types.compute());
        } else {
            blas.gemmStridedBatchedEx(opX, opY, m, n, k, 1, x, types.data(), ldx, sx, y, types.data(), ldy, sy, beta,
                    c, types.data(), ldc, sc, count, types.compute());
        }
    }

    /**
     * The batch dims of three operands (X, Y, C), size-1 dims dropped and adjacent dims merged
     * wherever all three step through them as one; a merged size stays an int, as cuBLAS's
     * batchCount is. The last dim is the strided batch; the ones before it are looped over.
     */
    record Batch(int[] size, long[][] strides) {
        int rank() { return size.length; }

        static Batch merge(int[] shape, long[][] st) {
            int[] size = new int[shape.length];
            long[][] strides = new long[3][shape.length];
            int n = 0;
            for (int d = 0; d < shape.length; d++) {
                if (shape[d] == 1) continue;
                if (n > 0 && (long) size[n - 1] * shape[d] <= MAX_INT && joins(strides, n - 1, st, d, shape[d])) {
                    size[n - 1] *= shape[d];
                    for (int o = 0; o < 3; o++) strides[o][n - 1] = st[o][d];
                    continue;
                }
                size[n] = shape[d];
                for (int o = 0; o < 3; o++) strides[o][n] = st[o][d];
                n++;
            }
            long[][] out = new long[3][];
            for (int o = 0; o < 3; o++) out[o] = Arrays.copyOf(strides[o], n);
            return new Batch(Arrays.copyOf(size, n), out);
        }

        private static boolean joins(long[][] kept, int j, long[][] st, int d, int sd) {
            for (int o = 0; o < 3; o++) if (kept[o][j] != st[o][d] * sd) return false;
            return true;
        }

        interface Offsets { void at(long x, long y, long c); }

        /** Calls body with the element offsets of every index of the dims before the last. */
        void forEachOuter(Offsets body) {
            int outer = Math.max(rank() - 1, 0);
            long count = 1;
            for (int d = 0; d < outer; d++) count *= size[d];
            for (long i = 0; i < count; i++) {
                long rem = i, ox = 0, oy = 0, oc = 0;
                for (int d = outer - 1; d >= 0; d--) {
                    long idx = rem % size[d];
                    rem /= size[d];
                    ox += idx * strides[0][d];
                    oy += idx * strides[1][d];
                    oc += idx * strides[2][d];
                }
                body.at(ox, oy, oc);
            }
        }
    }
}
