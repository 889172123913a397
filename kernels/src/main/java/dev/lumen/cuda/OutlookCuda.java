package dev.lumen.cuda;

import dev.lumen.backend.cuda.CudaBackend;
import dev.lumen.tensor.DType;

/**
 * Launches the outlook attention kernels of outlook_attention.cu on device pointers, on the
 * compute stream: v and out [B,H,W,C], logits [B,h,w,heads,K*K,K*K], all of one floating dtype
 * (computed in double for F64, in float otherwise). The shared-memory sizes here are the
 * kernels' upper bounds for a tile; CH and the thread count must match the constants of the .cu
 * file.
 */
public final class OutlookCuda {
    private static final int THREADS = 256, CH = 32, PITCH = CH + 1, LOGITS_TILE = 4;
    /** The most dynamic shared memory a block may ask for (sm_90, after cuFuncSetAttribute). */
    private static final int MAX_SHARED = 227 * 1024;

    private OutlookCuda() {}

    public record Shape(int b, int height, int width, int channels, int heads, int k, int pad, int stride) {
        public Shape {
            if (k * k > 32) throw new IllegalArgumentException("outlook: window " + k + "x" + k + " exceeds the 32 lanes of a warp");
            if (channels % heads != 0) throw new IllegalArgumentException("outlook: " + channels + " channels do not split into " + heads + " heads");
        }

        public int h() { return (height + 2 * pad - k) / stride + 1; }

        public int w() { return (width + 2 * pad - k) / stride + 1; }

        int hd() { return channels / heads; }

        /** Output pixels per tile side: 8, or 4 at stride 1 where anchors overlap more. */
        int tile() { return stride == 1 ? 4 : 8; }

        /** Most anchors per axis whose windows touch one tile, and the window they read. */
        int anchors() { return (tile() + k - 2) / stride + 1; }

        int window() { return (anchors() - 1) * stride + k; }
    }

    /** Bytes of one value the kernels compute and stage in: a double for F64, a float otherwise. */
    static int accBytes(DType t) { return t == DType.F64 ? 8 : 4; }

    private static Kernel kernel(CudaContext ctx, String op, DType t) {
        if (!t.isFloating()) throw new IllegalArgumentException("outlook: " + t + " is not a floating dtype");
        return ctx.kernel(op + "_" + CudaBackend.suffix(t));
    }

    private static KernelArgs geometry(KernelArgs a, Shape s, int tile, double scale) {
        return a.i32(s.b()).i32(s.height()).i32(s.width()).i32(s.channels()).i32(s.heads()).i32(s.h()).i32(s.w())
                .i32(s.k()).i32(s.pad()).i32(s.stride()).i32(tile).f64(scale);
    }

    private static int[] pixelGrid(Shape s) {
        long planes = (long) s.b() * s.heads() * ceil(s.hd(), CH);
        if (planes > 65535) {
            throw new IllegalArgumentException("outlook: batch*heads*ceil(head dim/32) = " + planes + " blocks exceed grid z's 65535 ("
                    + s + "); split the batch");
        }
        return new int[] {ceil(s.width(), s.tile()), ceil(s.height(), s.tile()), (int) planes};
    }

    private static int shared(String what, long bytes) {
        if (bytes > MAX_SHARED) throw new IllegalArgumentException("outlook " + what + ": " + bytes + " bytes of shared memory exceed " + MAX_SHARED);
        return (int) bytes;
    }

    public static void forward(CudaContext ctx, DType t, Shape s, long v, long logits, double scale, long out) {
        int smem = shared("forward", (long) s.window() * s.window() * PITCH * accBytes(t));
        try (KernelArgs a = new KernelArgs()) {
            geometry(a.ptr(v).ptr(logits).ptr(out), s, s.tile(), scale);
            kernel(ctx, "outlook_fwd", t).launch(pixelGrid(s), new int[] {THREADS}, smem, a);
        }
    }

    public static void backwardV(CudaContext ctx, DType t, Shape s, long logits, long gout, double scale, long dv) {
        int kk = s.k() * s.k();
        int smem = shared("dv", ((long) s.anchors() * s.anchors() * kk * kk + (long) s.window() * s.window() * PITCH) * accBytes(t));
        try (KernelArgs a = new KernelArgs()) {
            geometry(a.ptr(logits).ptr(gout).ptr(dv), s, s.tile(), scale);
            kernel(ctx, "outlook_bwd_v", t).launch(pixelGrid(s), new int[] {THREADS}, smem, a);
        }
    }

    public static void backwardLogits(CudaContext ctx, DType t, Shape s, long v, long logits, long gout, double scale, long dlogits) {
        int win = (LOGITS_TILE - 1) * s.stride() + s.k();
        int smem = shared("dlogits", 2L * win * win * (s.hd() + 1) * accBytes(t));
        long planes = (long) s.b() * s.heads();
        if (planes > 65535) throw new IllegalArgumentException("outlook dlogits: batch*heads = " + planes + " exceeds grid z's 65535; split the batch");
        try (KernelArgs a = new KernelArgs()) {
            geometry(a.ptr(v).ptr(logits).ptr(gout).ptr(dlogits), s, LOGITS_TILE, scale);
            kernel(ctx, "outlook_bwd_logits", t).launch(
                    new int[] {ceil(s.w(), LOGITS_TILE), ceil(s.h(), LOGITS_TILE), (int) planes}, new int[] {THREADS}, smem, a);
        }
    }

    private static int ceil(int a, int b) { return (a + b - 1) / b; }
}
