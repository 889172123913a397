package dev.lumen.cuda;

import dev.lumen.backend.cuda.DeviceScratch;
import java.util.Set;

/**
 * Launches the depth-wise convolution kernels of dwconv.cu on device pointers (NCHW, weight
 * [C,1,K,K]), on the context's compute stream; CudaConv routes depth-wise convs here. The kernel
 * sizes in {@link #TEMPLATED} have their own entry points (dwconv2d_fwd_k31_s1_f32, ...), every
 * other size the runtime-K ones (..._kany_s1_...). The tile constants and shared-memory layout
 * here must match the top of dwconv.cu.
 */
public final class DepthwiseConvCuda {
    /** Outputs per thread along a row and rows per thread of the conv kernels. */
    private static final int V = 7, R = 4;
    private static final int MAX_THREADS = 256, TARGET_THREADS = 128;
    /** Shared memory a conv block may take: within the default, so several blocks share an SM. */
    private static final int MAX_SHARED = 48 * 1024;
    private static final int WG_THREADS = 256, WG_TILE_H = 56, WG_TILE_W = 56;
    /** Weight-gradient blocks resident at once: two per SM (__launch_bounds__(256, 2)) of an H100's 132. */
    private static final int WG_SLOTS = 2 * 132;
    private static final int MAX_GRID_YZ = 65535, MAX_BLOCK_Z = 64;

    /** Kernel sizes with an unrolled entry point, per stride (dwconv.cu's LUMEN_DWCONV_ENTRIES). */
    private static final Set<Integer> TEMPLATED_S1 = Set.of(3, 5, 7, 13, 27, 29, 31), TEMPLATED_S2 = Set.of(3, 5, 7);

    /** Storage type of the tensors: selects the _f32 or _f16 entry points. */
    public enum Storage { F32, F16 }

    private DepthwiseConvCuda() {}

    public record Shape(int n, int c, int h, int w, int k, int stride, int pad) {
        public Shape {
            if (k % 2 == 0 || k < 1 || k > 31) throw new IllegalArgumentException("dwconv2d: kernel " + k + " must be odd, 1..31");
            if (stride != 1 && stride != 2) throw new IllegalArgumentException("dwconv2d: stride " + stride + " must be 1 or 2");
            if (pad < 0) throw new IllegalArgumentException("dwconv2d: padding " + pad + " must be >= 0");
        }

        public int oh() { return (h + 2 * pad - k) / stride + 1; }

        public int ow() { return (w + 2 * pad - k) / stride + 1; }

        public int planes() { return Math.multiplyExact(n, c); }

        /** True when this kernel size and stride have unrolled entry points. */
        public boolean templated() { return (stride == 1 ? TEMPLATED_S1 : TEMPLATED_S2).contains(k); }
    }

    /** Entry point of op for the shape's kernel size, stride and storage type. */
    static String name(String op, Shape s, Storage st) {
        return op + "_" + (s.templated() ? "k" + s.k() : "kany") + "_s" + s.stride() + "_" + st.name().toLowerCase(java.util.Locale.ROOT);
    }

    /** y = dwconv(x, w) + bias (bias may be null). */
    public static void forward(CudaContext ctx, Storage st, Shape s, DeviceBuffer x, DeviceBuffer w, DeviceBuffer bias, DeviceBuffer y) {
        forward(ctx, st, s, x.pointer(), w.pointer(), bias == null ? 0 : bias.pointer(), y.pointer());
    }

    /** y = dwconv(x, w) + bias on device pointers (bias 0: none), queued on the compute stream. */
    public static void forward(CudaContext ctx, Storage st, Shape s, long x, long w, long bias, long y) {
        Tiling t = Tiling.of(s.planes(), s.oh(), s.ow(), s.stride(), s.k(), 1);
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(x).ptr(w).ptr(bias).ptr(y).i32(s.planes()).i32(s.c()).i32(s.h()).i32(s.w()).i32(s.k()).i32(s.pad())
                    .i32(s.oh()).i32(s.ow());
            ctx.kernel(name("dwconv2d_fwd", s, st)).launch(t.grid(name("dwconv2d_fwd", s, st)), t.block(), t.sharedBytes(), a);
        }
    }

    /** dx from the upstream gradient go. */
    public static void backwardInput(CudaContext ctx, Storage st, Shape s, DeviceBuffer go, DeviceBuffer w, DeviceBuffer dx) {
        backwardInput(ctx, st, s, go.pointer(), w.pointer(), dx.pointer());
    }

    /**
     * dx from the upstream gradient go, on device pointers, queued on the compute stream: a
     * stride-1 conv with the flipped filter over H x W, or at stride 2 four parity phases of
     * ceil(H/2) x ceil(W/2) with every other tap (the phases are the low bits of grid y and z).
     */
    public static void backwardInput(CudaContext ctx, Storage st, Shape s, long go, long w, long dx) {
        String kernel = name("dwconv2d_bwd_input", s, st);
        Tiling t = s.stride() == 1 ? Tiling.of(s.planes(), s.h(), s.w(), 1, s.k(), 1)
                : Tiling.of(s.planes(), (s.h() + 1) / 2, (s.w() + 1) / 2, 1, (s.k() + 1) / 2, 2);
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(go).ptr(w).ptr(dx).i32(s.planes()).i32(s.c()).i32(s.h()).i32(s.w()).i32(s.k()).i32(s.pad()).i32(s.oh()).i32(s.ow());
            ctx.kernel(kernel).launch(t.grid(kernel), t.block(), t.sharedBytes(), a);
        }
    }

    /** dw (and db when not null): partial sums over batch slices, then one reduction launch. */
    public static void backwardWeight(CudaContext ctx, Storage st, Shape s, DeviceBuffer x, DeviceBuffer go, DeviceBuffer dw, DeviceBuffer db) {
        backwardWeight(ctx, st, s, x.pointer(), go.pointer(), dw.pointer(), db == null ? 0 : db.pointer());
    }

    /**
     * dw (and db unless 0) on device pointers. The f32 partial sums live in scratch from the
     * caching allocator; both launches are queued on the compute stream, so no host wait. Grid
     * (C, splits): channels on x, so any C fits.
     */
    public static void backwardWeight(CudaContext ctx, Storage st, Shape s, long x, long go, long dw, long db) {
        int splits = weightSplits(s.n(), s.c());
        int taps = s.k() * s.k();
        int smem = weightSharedBytes(s);
        try (DeviceScratch pw = DeviceScratch.allocate(ctx, (long) splits * s.c() * taps * 4);
             DeviceScratch pb = DeviceScratch.allocate(ctx, (long) splits * s.c() * 4)) {
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(x).ptr(go).ptr(pw.ptr()).ptr(pb.ptr()).i32(s.n()).i32(s.c()).i32(s.h()).i32(s.w()).i32(s.k()).i32(s.pad())
                        .i32(s.oh()).i32(s.ow());
                ctx.kernel(name("dwconv2d_bwd_weight", s, st)).launch(new int[] {s.c(), splits}, new int[] {WG_THREADS}, smem, a);
            }
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(pw.ptr()).ptr(pb.ptr()).ptr(dw).ptr(db).i32(s.c()).i32(s.k()).i32(splits);
                int total = Math.max(s.c() * taps, s.c());
                ctx.kernel("dwconv2d_bwd_weight_reduce_" + st.name().toLowerCase(java.util.Locale.ROOT))
                        .launch(new int[] {ceil(total, 256)}, new int[] {256}, 0, a);
            }
        }
    }

    /**
     * Batch slices of the weight gradient: of the counts that give at most two waves of blocks
     * (more would only add partial sums), the one that finishes soonest when each of the c * splits
     * blocks takes n / splits images and WG_SLOTS blocks run at once, the fewest on a tie. At B64
     * C128 that is 2 (256 blocks, one wave of 264) rather than 3 (384 blocks: a second wave half
     * empty).
     */
    static int weightSplits(int n, int c) {
        int best = 1;
        long bestTime = Long.MAX_VALUE;
        for (int s = 1; s <= Math.min(n, Math.max(1, ceil(2 * WG_SLOTS, c))); s++) {
            long time = ceil((long) c * s, WG_SLOTS) * ceil(n, s);
            if (time < bestTime) {
                best = s;
                bestTime = time;
            }
        }
        return best;
    }

    /** Dynamic shared memory of the weight gradient: dwconv.cu's grad-output tile and input window, or its reduction. */
    static int weightSharedBytes(Shape s) {
        int rw = s.templated() ? (s.k() + 7) / 8 : 4, vw = s.templated() ? (s.k() + 3) / 4 : 8;   // taps per lane, as in dwconv.cu
        int tileH = WG_TILE_H / s.stride();
        int xrows = (tileH - 1) * s.stride() + 8 * rw, xcols = (WG_TILE_W - 1) * s.stride() + 4 * vw;
        int xpitch = xcols + ((4 - xcols) & 7);
        return (Math.max(tileH * WG_TILE_W + xrows * xpitch, WG_THREADS / 32 * rw * vw * 32) + WG_THREADS) * 4;
    }

    /**
     * Block (tx, ty, planes) and grid of a conv pass over planes maps of oh x ow outputs with a
     * kh x kh filter read at the given stride; phases (1 or 2) multiplies the tiles on grid y and z.
     */
    record Tiling(int tx, int ty, int planesPerBlock, int tilesY, int tilesX, int phases, int sharedBytes, int planes) {
        static Tiling of(int planes, int oh, int ow, int stride, int kh, int phases) {
            int tx = Math.min(8, ceil(ow, V));
            int rowStrips = ceil(oh, R);
            int ty = Math.min(rowStrips, MAX_THREADS / tx);
            while (ty > 1 && planeFloats(tx, ty, stride, kh) * 4 > MAX_SHARED) ty--;
            int tilesY = ceil(rowStrips, ty);
            ty = ceil(rowStrips, tilesY);   // the same number of tiles, evenly filled
            int perPlane = planeFloats(tx, ty, stride, kh) * 4;
            int p = Math.min(Math.min(planes, ceil(TARGET_THREADS, tx * ty)), Math.min(MAX_THREADS / (tx * ty), MAX_SHARED / perPlane));
            p = Math.max(1, Math.min(p, MAX_BLOCK_Z));
            return new Tiling(tx, ty, p, tilesY, ceil(ow, tx * V), phases, p * perPlane, planes);
        }

        int[] block() { return new int[] {tx, ty, planesPerBlock}; }

        /** Planes on x (up to 2^31 - 1 blocks), tiles (times phases) on y and z, checked against 65535. */
        int[] grid(String kernel) {
            long y = (long) tilesY * phases, z = (long) tilesX * phases;
            if (y > MAX_GRID_YZ || z > MAX_GRID_YZ) {
                throw new IllegalArgumentException(kernel + ": " + y + " x " + z + " tiles exceed CUDA's grid limit of 65535 on y and z");
            }
            return new int[] {ceil(planes, planesPerBlock), (int) y, (int) z};
        }
    }

    /** Shared-memory floats of one plane of a conv block: dwconv.cu's plane_floats. */
    static int planeFloats(int tx, int ty, int stride, int k) {
        int cols = (tx * V - 1) * stride + k, rows = (ty * R - 1) * stride + k;
        int pitch = tx == 8 && stride == 1 ? cols + ((2 - cols) & 3) : cols | 1;
        int wp = (k + 3) & ~3;
        return ((k + 1) * wp + rows * pitch + 3) & ~3;
    }

    private static int ceil(int a, int b) { return (a + b - 1) / b; }

    private static long ceil(long a, long b) { return (a + b - 1) / b; }
}
