package dev.lumen.cuda;

import dev.lumen.backend.cuda.CudaBackend;
import dev.lumen.tensor.DType;

/**
 * Launches the outlook attention kernels of outlook_attention.cu on device pointers, on the
 * compute stream: v and out [B,H,W,C], logits [B,h,w,heads,K*K,K*K], all of one floating dtype
 * (computed in double for F64, in float otherwise). The shared-memory sizes here are the
 * kernels' upper bounds for a tile; CH and the thread count must match the constants of the .cu
 * file. Grids are one-dimensional (tiles times planes), checked against grid x's 2^31-1 blocks, so
 * B*heads never reaches the 65535 limit of y and z.
 */
public final class OutlookCuda {
    private static final int THREADS = 256, CH = 32, PITCH = CH + 1;
    /** Grid x's limit; y and z (65535) are never used. */
    private static final long MAX_GRID_X = Integer.MAX_VALUE;
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

        /**
         * Anchors per block of the logits gradient, {rows, columns}: one thread per softmax row,
         * so the most anchors whose k*k rows fit the block's threads, as square as that allows
         * (4x7 for k = 3: 252 of 256 threads busy).
         */
        int[] logitsTile() {
            int n = THREADS / (k * k), bestH = 1, bestW = 1;
            for (int th = 1; th * th <= n; th++) {
                int tw = n / th;
                if (th * tw >= bestH * bestW) {   // a tie goes to the squarer tile: a smaller window
                    bestH = th;
                    bestW = tw;
                }
            }
            return new int[] {bestH, bestW};
        }
    }

    /** Bytes of one value the kernels compute and stage in: a double for F64, a float otherwise. */
    static int accBytes(DType t) { return t == DType.F64 ? 8 : 4; }

    private static Kernel kernel(CudaContext ctx, String op, DType t) {
        if (!t.isFloating()) throw new IllegalArgumentException("outlook: " + t + " is not a floating dtype");
        return ctx.kernel(op + "_" + CudaBackend.suffix(t));
    }

    private static KernelArgs geometry(KernelArgs a, Shape s, int tile, int tileW, double scale) {
        return a.i32(s.b()).i32(s.height()).i32(s.width()).i32(s.channels()).i32(s.heads()).i32(s.h()).i32(s.w())
                .i32(s.k()).i32(s.pad()).i32(s.stride()).i32(tile).i32(tileW).f64(scale);
    }

    /** A 1-D grid of tilesX * tilesY * planes blocks (the kernels' BlockOf), or a one-line error past grid x. */
    static int[] grid(long tilesX, long tilesY, long planes, String what, Shape s) {
        long blocks = tilesX * tilesY * planes;
        if (blocks > MAX_GRID_X) throw new IllegalArgumentException("outlook " + what + ": " + blocks + " blocks exceed grid x's 2^31-1 (" + s + ")");
        return new int[] {(int) Math.max(1, blocks)};
    }

    private static int[] pixelGrid(Shape s, String what) {
        return grid(ceil(s.width(), s.tile()), ceil(s.height(), s.tile()), (long) s.b() * s.heads() * ceil(s.hd(), CH), what, s);
    }

    /** Shared memory of fwd and bwd_v: the probabilities of a tile's anchors and one window. */
    private static int pixelShared(Shape s, DType t, String what) {
        int kk = s.k() * s.k();
        return shared(what, ((long) s.anchors() * s.anchors() * kk * kk + (long) s.window() * s.window() * PITCH) * accBytes(t));
    }

    private static int shared(String what, long bytes) {
        if (bytes > MAX_SHARED) throw new IllegalArgumentException("outlook " + what + ": " + bytes + " bytes of shared memory exceed " + MAX_SHARED);
        return (int) bytes;
    }

    public static void forward(CudaContext ctx, DType t, Shape s, long v, long logits, double scale, long out) {
        int smem = pixelShared(s, t, "forward");
        try (KernelArgs a = new KernelArgs()) {
            geometry(a.ptr(v).ptr(logits).ptr(out), s, s.tile(), s.tile(), scale);
            kernel(ctx, "outlook_fwd", t).launch(pixelGrid(s, "forward"), new int[] {THREADS}, smem, a);
        }
    }

    public static void backwardV(CudaContext ctx, DType t, Shape s, long logits, long gout, double scale, long dv) {
        int smem = pixelShared(s, t, "dv");
        try (KernelArgs a = new KernelArgs()) {
            geometry(a.ptr(logits).ptr(gout).ptr(dv), s, s.tile(), s.tile(), scale);
            kernel(ctx, "outlook_bwd_v", t).launch(pixelGrid(s, "dv"), new int[] {THREADS}, smem, a);
        }
    }

    public static void backwardLogits(CudaContext ctx, DType t, Shape s, long v, long logits, long gout, double scale, long dlogits) {
        int[] tile = s.logitsTile();
        int rows = (tile[0] - 1) * s.stride() + s.k(), cols = (tile[1] - 1) * s.stride() + s.k();
        int smem = shared("dlogits", 2L * rows * cols * (s.hd() + 1) * accBytes(t));
        int[] grid = grid(ceil(s.w(), tile[1]), ceil(s.h(), tile[0]), (long) s.b() * s.heads(), "dlogits", s);
        // VOLO's k = 3 has its own entry with K at compile time: 9-value row arrays, no index arithmetic per channel.
        String op = s.k() == 3 ? "outlook_bwd_logits_k3" : "outlook_bwd_logits";
        try (KernelArgs a = new KernelArgs()) {
            geometry(a.ptr(v).ptr(logits).ptr(gout).ptr(dlogits), s, tile[0], tile[1], scale);
            kernel(ctx, op, t).launch(grid, new int[] {THREADS}, smem, a);
        }
    }

    private static int ceil(int a, int b) { return (a + b - 1) / b; }
}
