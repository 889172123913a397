package dev.lumen.cuda;

import dev.lumen.backend.cuda.CudaBackend;
import dev.lumen.backend.cuda.DeviceScratch;
import dev.lumen.tensor.DType;

/**
 * Launches the fused selective 2-D scan kernels of selective_scan.cu on device pointers, on the
 * compute stream (shapes and semantics as dev.lumen.backend.SelectiveScanKernels). x, delta, B
 * and C have the storage dtype; A, D, bias, out, the states and every gradient are F64 when it
 * is F64 and F32 otherwise. The block shape, the tiles and the chunk of saved states here must
 * match the constants at the top of selective_scan.cu. Sums that cross threads or blocks go
 * through partials in DeviceScratch with one writer each, summed in a fixed order, so the results
 * are the same bits run to run.
 */
public final class SelectiveScanCuda {
    private static final int MAX_THREADS = 128, MAX_WARPS = MAX_THREADS / 32, ITEMS = 4, CHANNELS_PER_BACKWARD_BLOCK = 8,
            CHUNK = 64, ROUTES = 4, MAXN = 16;

    private SelectiveScanCuda() {}

    /** Batch, channels, height, width, d_state. */
    public record Shape(int b, int d, int h, int w, int n) {
        public Shape {
            if (n < 1 || n > MAXN) throw new IllegalArgumentException("selective_scan_2d: d_state " + n + " must be 1.." + MAXN);
            if ((long) h * w + 512 > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("selective_scan_2d: " + h + "x" + w + " positions overflow the kernels' int indices");
            }
            // Both kernels put (batch, channel or channel group) in gridDim.x, whose limit is 2^31-1.
            if ((long) b * d > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("selective_scan_2d: batch " + b + " x " + d + " channels exceeds grid x's 2^31-1 blocks; split the batch");
            }
        }

        public int len() { return h * w; }

        /** Number of saved states per sequence. */
        public int chunks() { return (len() + CHUNK - 1) / CHUNK; }

        /** Elements of one [B,D,H,W] plane (x, out, gx). */
        public long planeElements() { return (long) b * d * len(); }

        /** Elements of the states buffer [B,4,D,chunks,N]. */
        public long stateElements() { return (long) b * ROUTES * d * chunks() * n; }

        /** Channel groups of the backward (one block per batch and group). */
        int groups() { return ceil(d, CHANNELS_PER_BACKWARD_BLOCK); }

        /** Threads per block: 4 steps each, in whole warps, at most 128 (fewer for short sequences). */
        int threads() { return Math.min(MAX_THREADS, ceil(ceil(len(), ITEMS), 32) * 32); }

        /** A staged span of threads * 4 steps with one pad per 32 (selective_scan.cu's buf()). */
        private int spanValues() { return threads() * ITEMS + threads() * ITEMS / 32; }

        /** Shared values per block (selective_scan.cu's FWD_SMEM and BWD_SMEM at this block size). */
        int forwardSharedValues() { return 2 * spanValues() + 4 * MAX_WARPS + MAXN; }

        int backwardSharedValues() { return 3 * spanValues() + 4 * MAX_WARPS + MAXN + MAXN * threads() + MAX_WARPS * (MAXN + 2); }
    }

    /** The dtype of A, D, bias, out, states and the gradients for storage dtype t. */
    public static DType wide(DType t) {
        return switch (t) {
            case F64 -> DType.F64;
            case F32, F16, BF16 -> DType.F32;
            default -> throw new IllegalArgumentException("selective_scan_2d: " + t + " is not a floating dtype");
        };
    }

    private static String name(String op, DType t) { return op + "_" + CudaBackend.suffix(t); }

    /** out [B,D,H,W]; states (or 0 for inference) saved for the backward. */
    public static void forward(CudaContext ctx, DType t, Shape s, long x, long delta, long a, long bs, long cs, long ds,
                               long bias, long out, long states) {
        int smem = s.forwardSharedValues() * wide(t).byteSize();
        try (KernelArgs k = new KernelArgs()) {
            k.ptr(x).ptr(delta).ptr(a).ptr(bs).ptr(cs).ptr(ds).ptr(bias).ptr(out).ptr(states)
                    .i32(s.d()).i32(s.h()).i32(s.w()).i32(s.n());
            ctx.kernel(name("selective_scan_fwd", t)).launch(new int[] {s.b() * s.d()}, new int[] {s.threads()}, smem, k);
        }
    }

    /** Every gradient, from the upstream gradient gout [B,D,H,W] and the saved states (non-zero). */
    public static void backward(CudaContext ctx, DType t, Shape s, long x, long delta, long a, long bs, long cs, long ds,
                                long bias, long states, long gout, long gx, long gdelta, long ga, long gb, long gc, long gd,
                                long gbias) {
        if (states == 0) throw new IllegalArgumentException("selective_scan_2d backward: needs the states the forward saved");
        DType w = wide(t);
        int e = w.byteSize();
        int groups = s.groups();
        long nA = (long) ROUTES * s.d() * s.n(), nD = (long) ROUTES * s.d(), nBC = (long) s.b() * ROUTES * s.n() * s.len();
        long bcBytes = groups * 2 * nBC * e, pBytes = s.b() * (nA + 2 * nD) * e;
        try (DeviceScratch partBC = DeviceScratch.allocate(ctx, bcBytes); DeviceScratch partP = DeviceScratch.allocate(ctx, pBytes)) {
            // The column-major routes split span ends into (column, row) by a multiply-high, not a division.
            MagicDivisor byH = MagicDivisor.of(s.h());
            try (KernelArgs k = new KernelArgs()) {
                k.ptr(x).ptr(delta).ptr(a).ptr(bs).ptr(cs).ptr(ds).ptr(bias).ptr(states).ptr(gout)
                        .ptr(gx).ptr(gdelta).ptr(partBC.ptr()).ptr(partP.ptr())
                        .i32(s.d()).i32(s.h()).i32(s.w()).i32(s.n()).i32(byH.magic32()).i32(byH.shift());
                ctx.kernel(name("selective_scan_bwd", t)).launch(new int[] {s.b() * groups}, new int[] {s.threads()},
                        s.backwardSharedValues() * e, k);
            }
            sum(ctx, w, partP.ptr(), s.b(), nA, nD, nD, ga, gd, gbias);
            sum(ctx, w, partBC.ptr(), groups, nBC, nBC, 0, gb, gc, 0);
        }
    }

    /** out0, out1, out2 = the sum over groups of rows [n0 + n1 + n2] of part, in group order. */
    private static void sum(CudaContext ctx, DType w, long part, int groups, long n0, long n1, long n2, long out0, long out1,
                            long out2) {
        long row = n0 + n1 + n2;
        try (KernelArgs k = new KernelArgs()) {
            k.ptr(part).i32(groups).i64(n0).i64(n1).i64(n2).ptr(out0).ptr(out1).ptr(out2);
            ctx.kernel(name("selective_scan_sum", w)).launch(new int[] {(int) Math.min(4096, (row + 255) / 256)}, new int[] {256}, 0, k);
        }
    }

    private static int ceil(int a, int b) { return (a + b - 1) / b; }
}
