package dev.lumen.backend.cpu;

import dev.lumen.backend.LinalgKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/** CPU implementation of {@link LinalgKernels}: every product is one or more calls of {@link Gemm#active()}. */
public final class CpuLinalg implements LinalgKernels {

    /** The GEMM in use, for logs and the CLI ("OpenBLAS (libopenblas.so.0)", "Java Vector API ..."). */
    public static String gemmName() { return Gemm.active().name(); }

    /** How a [rows, cols] matrix with strides (sr, sc) reaches BLAS: transposed or not, and its leading dimension. */
    record Layout(boolean trans, int ld) {
        /** The layout, or null when neither dim has unit stride (the matrix must be copied). */
        static Layout of(int rows, int cols, int sr, int sc) {
            if (cols <= 1) sc = 1;
            if (rows <= 1) sr = Math.max(cols, 1);
            if (sc == 1 && sr >= Math.max(cols, 1)) return new Layout(false, sr);
            if (rows <= 1 || cols <= 1) return null;
            if (sr == 1 && sc >= rows) return new Layout(true, sc);
            return null;
        }
    }

    @Override
    public void matmul(Tensor a, Tensor b, Tensor out, boolean accumulate) {
        int r = out.dim();
        DType t = out.dtype();
        if (a.dtype() != t || b.dtype() != t || !t.isCompute()) {
            throw new IllegalArgumentException("matmul kernel: dtypes " + a.dtype() + ", " + b.dtype() + " -> " + t + " (needs one of F32, F64)");
        }
        int[] as = a.shape(), bs = b.shape(), os = out.shape();
        if (r < 2 || a.dim() != r || b.dim() != r) {
            throw new IllegalArgumentException("matmul kernel: ranks of " + Arrays.toString(as) + ", " + Arrays.toString(bs) + " -> " + Arrays.toString(os));
        }
        int m = os[r - 2], n = os[r - 1], k = as[r - 1];
        boolean ok = as[r - 2] == m && bs[r - 2] == k && bs[r - 1] == n;
        for (int d = 0; d < r - 2; d++) ok &= as[d] == os[d] && bs[d] == os[d];
        if (!ok) throw new IllegalArgumentException("matmul kernel: shapes " + Arrays.toString(as) + " @ " + Arrays.toString(bs) + " -> " + Arrays.toString(os));
        if (out.numel() == 0) return;

        Tensor ta = a, tb = b, to = out;
        Layout la = layout(a, m, k), lb = layout(b, k, n), lo = layout(out, m, n);
        if (la == null) { ta = contiguousCopy(a); la = layout(ta, m, k); }
        if (lb == null) { tb = contiguousCopy(b); lb = layout(tb, k, n); }
        if (lo == null || lo.trans) {
            to = accumulate ? contiguousCopy(out) : Tensor.empty(t, Device.CPU, os);
            lo = layout(to, m, n);
        }
        try {
            run(ta, la, tb, lb, to, lo, m, n, k, accumulate);
            if (to != out) out.backend().copy(to, out);
        } finally {
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
        Tensor c = Tensor.empty(x.dtype(), Device.CPU, x.shape());
        x.backend().copy(x, c);
        return c;
    }

    private static void run(Tensor a, Layout la, Tensor b, Layout lb, Tensor out, Layout lo, int m, int n, int k, boolean acc) {
        int r = out.dim();
        int[] batch = Arrays.copyOf(out.shape(), r - 2);
        int[] sa = a.strides(), sb = b.strides(), so = out.strides();
        long prod = 1;
        for (int d : batch) prod *= d;
        long count = prod;
        boolean f32 = out.dtype() == DType.F32;
        Gemm gemm = Gemm.active();
        MemorySegment ma = a.storage().segment(), mb = b.storage().segment(), mo = out.storage().segment();
        int lda = Math.max(la.ld, 1), ldb = Math.max(lb.ld, 1), ldo = Math.max(lo.ld, 1);

        // A weight shared by every batch entry (b broadcast) against a row-major a and out:
        // the batch folds into M and the product is a single large GEMM.
        if (count > 1 && !la.trans && allZero(sb, r - 2) && foldsIntoRows(a, la.ld) && foldsIntoRows(out, lo.ld)) {
            long rows = count * m;
            call(gemm, f32, la.trans, lb.trans, (int) rows, n, k, ma, a.offset(), lda, mb, b.offset(), ldb, acc, mo, out.offset(), ldo);
            return;
        }
        // One matrix per thread where each is small, or mid-sized and there are enough to share out
        // evenly: a GEMM's own threads cost more than they win on attention's [197, 64] x [64, 197]
        // (q k^T of vit_small at batch 8, 48 heads: 3.6 ms one after another, 1.45 ms side by side; BatchedMatmulBench).
        long work = (long) m * n * Math.max(k, 1);
        boolean parallel = count > 1 && gemm.concurrentOk(m, n, k)
                && (work < (1L << 21) || work < (1L << 23) && count >= 2L * Parallel.threads());
        Parallel.forRange(parallel ? count : 1, 1, (lo0, hi0) -> {
            long from = parallel ? lo0 : 0, to = parallel ? hi0 : count;
            for (long bi = from; bi < to; bi++) {
                long oa = a.offset(), ob = b.offset(), oo = out.offset(), rem = bi;
                for (int d = batch.length - 1; d >= 0; d--) {
                    int i = (int) (rem % batch[d]);
                    rem /= batch[d];
                    oa += (long) i * sa[d];
                    ob += (long) i * sb[d];
                    oo += (long) i * so[d];
                }
                call(gemm, f32, la.trans, lb.trans, m, n, k, ma, oa, lda, mb, ob, ldb, acc, mo, oo, ldo);
            }
        });
    }

    private static void call(Gemm g, boolean f32, boolean ta, boolean tb, int m, int n, int k, MemorySegment a, long oa, int lda,
                             MemorySegment b, long ob, int ldb, boolean acc, MemorySegment c, long oc, int ldc) {
        if (f32) g.sgemm(ta, tb, m, n, k, 1f, a, oa, lda, b, ob, ldb, acc ? 1f : 0f, c, oc, ldc);
        else g.dgemm(ta, tb, m, n, k, 1.0, a, oa, lda, b, ob, ldb, acc ? 1.0 : 0.0, c, oc, ldc);
    }

    private static boolean allZero(int[] strides, int upTo) {
        for (int d = 0; d < upTo; d++) if (strides[d] != 0) return false;
        return true;
    }

    /** True if x's batch dims and its row dim walk memory as one dim of stride ld. */
    private static boolean foldsIntoRows(Tensor x, int ld) {
        int r = x.dim();
        int[] s = x.shape(), st = x.strides();
        long expect = (long) ld * s[r - 2];
        for (int d = r - 3; d >= 0; d--) {
            if (s[d] != 1 && st[d] != expect) return false;
            expect *= s[d];
        }
        return true;
    }
}
