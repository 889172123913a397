package dev.lumen.cuda;

import dev.lumen.backend.cuda.DeviceScratch;

/**
 * Launches the depth-wise convolution kernels of dwconv.cu on device pointers (NCHW, weight
 * [C,1,K,K]), on the context's compute stream; CudaConv routes depth-wise convs here. Tile sizes
 * here must match the constants at the top of dwconv.cu.
 */
public final class DepthwiseConvCuda {
    private static final int TILE_W = 32, TILE_H = 32, THREADS_Y = 8, WGRAD_TILE_H = 8, THREADS = 256;

    /** Storage type of the tensors: selects the _f32 or _f16 entry points. */
    public enum Storage { F32, F16 }

    private DepthwiseConvCuda() {}

    public record Shape(int n, int c, int h, int w, int k, int stride, int pad) {
        public Shape {
            if (k % 2 == 0 || k < 1 || k > 31) throw new IllegalArgumentException("dwconv2d: kernel " + k + " must be odd, 1..31");
            if (stride != 1 && stride != 2) throw new IllegalArgumentException("dwconv2d: stride " + stride + " must be 1 or 2");
        }

        public int oh() { return (h + 2 * pad - k) / stride + 1; }

        public int ow() { return (w + 2 * pad - k) / stride + 1; }
    }

    private static String name(String op, Storage s) { return op + "_" + s.name().toLowerCase(java.util.Locale.ROOT); }

    /** y = dwconv(x, w) + bias (bias may be null). */
    public static void forward(CudaContext ctx, Storage st, Shape s, DeviceBuffer x, DeviceBuffer w, DeviceBuffer bias, DeviceBuffer y) {
        forward(ctx, st, s, x.pointer(), w.pointer(), bias == null ? 0 : bias.pointer(), y.pointer());
    }

    /** y = dwconv(x, w) + bias on device pointers (bias 0: none), queued on the compute stream. */
    public static void forward(CudaContext ctx, Storage st, Shape s, long x, long w, long bias, long y) {
        int inW = (TILE_W - 1) * s.stride() + s.k(), inH = (TILE_H - 1) * s.stride() + s.k();
        int smem = (inW * inH + s.k() * s.k()) * 4;
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(x).ptr(w).ptr(bias).ptr(y)
                    .i32(s.c()).i32(s.h()).i32(s.w()).i32(s.k()).i32(s.stride()).i32(s.pad()).i32(s.oh()).i32(s.ow());
            ctx.kernel(name("dwconv2d_fwd", st)).launch(
                    new int[] {ceil(s.ow(), TILE_W), ceil(s.oh(), TILE_H), s.n() * s.c()}, new int[] {TILE_W, THREADS_Y}, smem, a);
        }
    }

    /** dx from the upstream gradient go. */
    public static void backwardInput(CudaContext ctx, Storage st, Shape s, DeviceBuffer go, DeviceBuffer w, DeviceBuffer dx) {
        backwardInput(ctx, st, s, go.pointer(), w.pointer(), dx.pointer());
    }

    /** dx from the upstream gradient go, on device pointers, queued on the compute stream. */
    public static void backwardInput(CudaContext ctx, Storage st, Shape s, long go, long w, long dx) {
        // A tile of 32 dx rows is reached by at most floor((31 + K - 1) / stride) + 2 grad-output rows.
        int gh = (TILE_H - 1 + s.k() - 1) / s.stride() + 2;
        int gw = (TILE_W - 1 + s.k() - 1) / s.stride() + 2;
        int smem = (gh * gw + s.k() * s.k()) * 4;
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(go).ptr(w).ptr(dx).i32(s.c()).i32(s.h()).i32(s.w()).i32(s.k()).i32(s.stride()).i32(s.pad()).i32(s.oh()).i32(s.ow());
            ctx.kernel(name("dwconv2d_bwd_input", st)).launch(
                    new int[] {ceil(s.w(), TILE_W), ceil(s.h(), TILE_H), s.n() * s.c()}, new int[] {TILE_W, THREADS_Y}, smem, a);
        }
    }

    /** dw (and db when not null): partial sums over batch slices, then one reduction launch. */
    public static void backwardWeight(CudaContext ctx, Storage st, Shape s, DeviceBuffer x, DeviceBuffer go, DeviceBuffer dw, DeviceBuffer db) {
        backwardWeight(ctx, st, s, x.pointer(), go.pointer(), dw.pointer(), db == null ? 0 : db.pointer());
    }

    /**
     * dw (and db unless 0) on device pointers. The f32 partial sums live in scratch from the
     * caching allocator; both launches are queued on the compute stream, so no host wait.
     */
    public static void backwardWeight(CudaContext ctx, Storage st, Shape s, long x, long go, long dw, long db) {
        int splits = Math.max(1, Math.min(s.n(), ceil(264, s.c())));   // about two blocks per SM of an H100
        int taps = s.k() * s.k();
        int inW = (TILE_W - 1) * s.stride() + s.k(), inH = (WGRAD_TILE_H - 1) * s.stride() + s.k();
        int smem = (inW * inH + WGRAD_TILE_H * TILE_W + THREADS) * 4;
        try (DeviceScratch pw = DeviceScratch.allocate((long) splits * s.c() * taps * 4);
             DeviceScratch pb = DeviceScratch.allocate((long) splits * s.c() * 4)) {
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(x).ptr(go).ptr(pw.ptr()).ptr(pb.ptr()).i32(s.n()).i32(s.c()).i32(s.h()).i32(s.w()).i32(s.k()).i32(s.stride())
                        .i32(s.pad()).i32(s.oh()).i32(s.ow());
                ctx.kernel(name("dwconv2d_bwd_weight", st)).launch(new int[] {s.c(), splits}, new int[] {TILE_W, THREADS_Y}, smem, a);
            }
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(pw.ptr()).ptr(pb.ptr()).ptr(dw).ptr(db).i32(s.c()).i32(s.k()).i32(splits);
                int total = Math.max(s.c() * taps, s.c());
                ctx.kernel(name("dwconv2d_bwd_weight_reduce", st)).launch(new int[] {ceil(total, 256)}, new int[] {256}, 0, a);
            }
        }
    }

    private static int ceil(int a, int b) { return (a + b - 1) / b; }
}
