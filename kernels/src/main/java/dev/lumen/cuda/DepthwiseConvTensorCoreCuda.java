package dev.lumen.cuda;

/**
 * Launches the tensor-core depth-wise convolution of dwconv_tc.cu (f16 or bf16 storage, f32
 * accumulation; NCHW, weight [C,1,K,K]) on the context's compute stream: the forward pass and the
 * input gradient (the forward with the rotated filter). It applies to stride 1, K <= 31 and
 * padding 0..K-1 ({@link #supports}); the weight gradient stays on {@link DepthwiseConvCuda}.
 * Tile sizes and the shared-memory layout here must match the constants of dwconv_tc.cu.
 */
public final class DepthwiseConvTensorCoreCuda {
    private static final int WARPS = 12, THREADS = WARPS * 32, FRAG = 16;
    /** Blocks wanted for a full H100 (132 SMs, one 12-warp block each), before images share a block. */
    private static final int TARGET_BLOCKS = 132;
    /** The 48 KiB default plus the opt-in an sm_90 block may ask for. */
    private static final int MAX_SHARED = 227 * 1024;

    /** Storage type of the tensors: selects the _f16 or _bf16 entry point. */
    public enum Storage { F16, BF16 }

    private DepthwiseConvTensorCoreCuda() {}

    /** Whether this path computes the conv of {@code s}: stride 1, K <= 31, padding below K. */
    public static boolean supports(DepthwiseConvCuda.Shape s) {
        return s.stride() == 1 && s.k() <= 31 && s.pad() >= 0 && s.pad() < s.k() && s.oh() > 0 && s.ow() > 0;
    }

    /** y = dwconv(x, w) + bias (bias may be null). */
    public static void forward(CudaContext ctx, Storage st, DepthwiseConvCuda.Shape s, DeviceBuffer x, DeviceBuffer w,
                               DeviceBuffer bias, DeviceBuffer y) {
        forward(ctx, st, s, x.pointer(), w.pointer(), bias == null ? 0 : bias.pointer(), y.pointer());
    }

    /** y = dwconv(x, w) + bias on device pointers (bias 0: none), queued on the compute stream. */
    public static void forward(CudaContext ctx, Storage st, DepthwiseConvCuda.Shape s, long x, long w, long bias, long y) {
        check(s);
        launch(ctx, st, s.n(), s.c(), s.h(), s.w(), s.k(), s.pad(), s.oh(), s.ow(), false, x, w, bias, y);
    }

    /** dx from the upstream gradient go. */
    public static void backwardInput(CudaContext ctx, Storage st, DepthwiseConvCuda.Shape s, DeviceBuffer go, DeviceBuffer w,
                                     DeviceBuffer dx) {
        backwardInput(ctx, st, s, go.pointer(), w.pointer(), dx.pointer());
    }

    /**
     * dx on device pointers: for stride 1 the input gradient is the forward conv of go (OH x OW)
     * with the filter rotated by 180 degrees and padding K-1-pad, giving H x W.
     */
    public static void backwardInput(CudaContext ctx, Storage st, DepthwiseConvCuda.Shape s, long go, long w, long dx) {
        check(s);
        launch(ctx, st, s.n(), s.c(), s.oh(), s.ow(), s.k(), s.k() - 1 - s.pad(), s.h(), s.w(), true, go, w, 0, dx);
    }

    private static void check(DepthwiseConvCuda.Shape s) {
        if (!supports(s)) {
            throw new IllegalArgumentException("dwconv2d tensor cores: " + s + " needs stride 1, kernel <= 31 and padding < kernel");
        }
    }

    private static void launch(CudaContext ctx, Storage st, int n, int c, int ih, int iw, int k, int pad, int oh, int ow,
                               boolean flip, long in, long w, long bias, long out) {
        int tiling = tiling(oh, ow);
        int smem = sharedBytes(k, tiling);
        if (smem > MAX_SHARED) throw new IllegalArgumentException("dwconv2d tensor cores: kernel " + k + " needs " + smem + " bytes of shared memory");
        // Images of one channel share a block (and its Toeplitz) until the grid would drop below TARGET_BLOCKS.
        int groups = Math.min(n, Math.max(1, ceil(TARGET_BLOCKS, c)));
        int perBlock = ceil(n, groups);
        groups = ceil(n, perBlock);
        long blocks = (long) c * groups;
        if (blocks > Integer.MAX_VALUE) throw new IllegalArgumentException("dwconv2d tensor cores: " + blocks + " blocks exceed the grid limit");
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(in).ptr(w).ptr(bias).ptr(out).i32(n).i32(c).i32(ih).i32(iw).i32(k).i32(pad).i32(oh).i32(ow)
                    .i32(flip ? 1 : 0).i32(perBlock).i32(tiling);
            ctx.kernel("dwconv2d_tc_" + st.name().toLowerCase(java.util.Locale.ROOT))
                    .launch(new int[] {(int) blocks}, new int[] {THREADS}, smem, a);
        }
    }

    /**
     * dwconv_tc.cu's tiling of an oh x ow output map: 2 for maps over 32x32 (64x32 warp tiles, two
     * warps per staged window), 1 for maps over 16x16 (32x32 tiles), 0 otherwise (16x16 tiles).
     */
    static int tiling(int oh, int ow) {
        if (oh > 2 * FRAG && ow > 2 * FRAG) return 2;
        return oh > FRAG || ow > FRAG ? 1 : 0;
    }

    /**
     * The Toeplitz blocks of one channel plus each slot's transposed input window (2-byte elements):
     * a slot is the WX warps that share a window, 16 / WX slots per block.
     */
    static int sharedBytes(int k, int tiling) {
        int mb = tiling == 2 ? 4 : tiling == 1 ? 2 : 1, nb = tiling == 0 ? 1 : 2, wx = tiling == 2 ? 2 : 1;
        int s = (k + 30) / FRAG;
        int ld = FRAG * ((mb + s - 1) | 1);
        int cols = FRAG * nb * wx + k - 1;
        int region = Math.max(cols * ld, wx * 2 * FRAG * FRAG);
        return (k * s * FRAG * FRAG + WARPS / wx * region) * 2;
    }

    private static int ceil(int a, int b) { return (a + b - 1) / b; }
}
