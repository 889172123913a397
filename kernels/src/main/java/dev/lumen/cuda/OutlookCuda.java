package dev.lumen.cuda;

/**
 * Launches the outlook attention kernels of outlook_attention.cu on device buffers: v and out
 * [B,H,W,C], logits [B,h,w,heads,K*K,K*K]. The shared-memory sizes here are the kernels' upper
 * bounds for a tile; CH and the thread count must match the constants of the .cu file.
 */
public final class OutlookCuda {
    private static final int THREADS = 256, CH = 32, PITCH = CH + 1, LOGITS_TILE = 4;

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

    private static String name(String op, DepthwiseConvCuda.Storage s) { return op + "_" + s.name().toLowerCase(java.util.Locale.ROOT); }

    private static KernelArgs geometry(KernelArgs a, Shape s, int tile, double scale) {
        return a.i32(s.b()).i32(s.height()).i32(s.width()).i32(s.channels()).i32(s.heads()).i32(s.h()).i32(s.w())
                .i32(s.k()).i32(s.pad()).i32(s.stride()).i32(tile).f32((float) scale);
    }

    private static int[] pixelGrid(Shape s) {
        int chunks = (s.hd() + CH - 1) / CH;
        return new int[] {ceil(s.width(), s.tile()), ceil(s.height(), s.tile()), s.b() * s.heads() * chunks};
    }

    public static void forward(CudaContext ctx, DepthwiseConvCuda.Storage st, Shape s, DeviceBuffer v, DeviceBuffer logits, double scale, DeviceBuffer out) {
        int smem = s.window() * s.window() * PITCH * 4;
        try (KernelArgs a = new KernelArgs()) {
            geometry(a.ptr(v).ptr(logits).ptr(out), s, s.tile(), scale);
            ctx.kernel(name("outlook_fwd", st)).launch(pixelGrid(s), new int[] {THREADS}, smem, a);
        }
    }

    public static void backwardV(CudaContext ctx, DepthwiseConvCuda.Storage st, Shape s, DeviceBuffer logits, DeviceBuffer gout, double scale, DeviceBuffer dv) {
        int kk = s.k() * s.k();
        int smem = (s.anchors() * s.anchors() * kk * kk + s.window() * s.window() * PITCH) * 4;
        try (KernelArgs a = new KernelArgs()) {
            geometry(a.ptr(logits).ptr(gout).ptr(dv), s, s.tile(), scale);
            ctx.kernel(name("outlook_bwd_v", st)).launch(pixelGrid(s), new int[] {THREADS}, smem, a);
        }
    }

    public static void backwardLogits(CudaContext ctx, DepthwiseConvCuda.Storage st, Shape s, DeviceBuffer v, DeviceBuffer logits,
                                      DeviceBuffer gout, double scale, DeviceBuffer dlogits) {
        int win = (LOGITS_TILE - 1) * s.stride() + s.k();
        int smem = 2 * win * win * (s.hd() + 1) * 4;
        try (KernelArgs a = new KernelArgs()) {
            geometry(a.ptr(v).ptr(logits).ptr(gout).ptr(dlogits), s, LOGITS_TILE, scale);
            ctx.kernel(name("outlook_bwd_logits", st)).launch(
                    new int[] {ceil(s.w(), LOGITS_TILE), ceil(s.h(), LOGITS_TILE), s.b() * s.heads()}, new int[] {THREADS}, smem, a);
        }
    }

    private static int ceil(int a, int b) { return (a + b - 1) / b; }
}
