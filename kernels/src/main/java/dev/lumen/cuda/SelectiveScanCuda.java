package dev.lumen.cuda;

import dev.lumen.backend.cuda.CudaBackend;
import dev.lumen.tensor.DType;

/**
 * Launches the fused selective 2-D scan kernels of selective_scan.cu on device pointers, on the
 * compute stream (shapes and semantics as dev.lumen.backend.SelectiveScanKernels). x, delta, B
 * and C have the storage dtype; A, D, bias, out, the states and every gradient are F64 when it
 * is F64 and F32 otherwise. The block shape, the tiles and the chunk of saved states here must
 * match the constants at the top of selective_scan.cu.
 */
public final class SelectiveScanCuda {
    private static final int THREADS = 128, CHANNELS_PER_BLOCK = 32, CHUNK = 64, ROUTES = 4, TP = 17, MAXN = 16;
    /** Shared values per warp (selective_scan.cu's FWD_WARP_FLOATS and BWD_WARP_FLOATS). */
    private static final int FWD_WARP_VALUES = 2 * 32 * TP + 2 * MAXN * TP, BWD_WARP_VALUES = 4 * TP * 33 + 16 * 32;

    private SelectiveScanCuda() {}

    /** Batch, channels, height, width, d_state. */
    public record Shape(int b, int d, int h, int w, int n) {
        public Shape {
            if (n < 1 || n > MAXN) throw new IllegalArgumentException("selective_scan_2d: d_state " + n + " must be 1.." + MAXN);
            if (b > 65535) throw new IllegalArgumentException("selective_scan_2d: batch " + b + " exceeds grid y's 65535; split it");
            if ((long) h * w * 32 > Integer.MAX_VALUE) throw new IllegalArgumentException("selective_scan_2d: " + h + "x" + w + " positions overflow the kernels' int indices");
        }

        public int len() { return h * w; }

        /** Number of saved states per sequence. */
        public int chunks() { return (len() + CHUNK - 1) / CHUNK; }

        /** Elements of the states buffer [B,4,D,chunks,N]. */
        public long stateElements() { return (long) b * ROUTES * d * chunks() * n; }
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
        int smem = ROUTES * FWD_WARP_VALUES * wide(t).byteSize();
        try (KernelArgs k = new KernelArgs()) {
            k.ptr(x).ptr(delta).ptr(a).ptr(bs).ptr(cs).ptr(ds).ptr(bias).ptr(out).ptr(states)
                    .i32(s.d()).i32(s.h()).i32(s.w()).i32(s.n());
            ctx.kernel(name("selective_scan_fwd", t)).launch(
                    new int[] {ceil(s.d(), CHANNELS_PER_BLOCK), s.b()}, new int[] {THREADS}, smem, k);
        }
    }

    /** Every gradient, from the upstream gradient gout [B,D,H,W] and the saved states (non-zero). */
    public static void backward(CudaContext ctx, DType t, Shape s, long x, long delta, long a, long bs, long cs, long ds,
                                long bias, long states, long gout, long gx, long gdelta, long ga, long gb, long gc, long gd,
                                long gbias) {
        if (states == 0) throw new IllegalArgumentException("selective_scan_2d backward: needs the states the forward saved");
        DType w = wide(t);
        long nA = (long) ROUTES * s.d() * s.n(), nBC = (long) s.b() * ROUTES * s.n() * s.len(), nD = (long) ROUTES * s.d();
        try (KernelArgs k = new KernelArgs()) {
            k.ptr(ga).ptr(gb).ptr(gc).ptr(gd).ptr(gbias).i64(nA).i64(nBC).i64(nD);
            long total = Math.max(nBC, Math.max(nA, nD));
            ctx.kernel(name("selective_scan_bwd_zero", w)).launch(new int[] {(int) Math.min(4096, (total + 255) / 256)}, new int[] {256}, 0, k);
        }
        int lanesPerChannel = Integer.highestOneBit(s.n() * 2 - 1);   // N rounded up to a power of 2
        int smem = ROUTES * BWD_WARP_VALUES * w.byteSize();
        try (KernelArgs k = new KernelArgs()) {
            k.ptr(x).ptr(delta).ptr(a).ptr(bs).ptr(cs).ptr(ds).ptr(bias).ptr(states).ptr(gout)
                    .ptr(gx).ptr(gdelta).ptr(ga).ptr(gb).ptr(gc).ptr(gd).ptr(gbias)
                    .i32(s.d()).i32(s.h()).i32(s.w()).i32(s.n());
            ctx.kernel(name("selective_scan_bwd", t)).launch(
                    new int[] {ceil(s.d(), 32 / lanesPerChannel), s.b()}, new int[] {THREADS}, smem, k);
        }
    }

    private static int ceil(int a, int b) { return (a + b - 1) / b; }
}
