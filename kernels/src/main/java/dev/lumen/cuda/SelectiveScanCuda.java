package dev.lumen.cuda;

/**
 * Launches the fused selective 2-D scan kernels of selective_scan.cu on device buffers (shapes
 * and semantics as dev.lumen.backend.SelectiveScanKernels). The block shape and the chunk of
 * saved states here must match the constants at the top of selective_scan.cu.
 */
public final class SelectiveScanCuda {
    private static final int THREADS = 128, CHANNELS_PER_BLOCK = 32, CHUNK = 64;

    /** Storage type of x, delta, B and C: selects the _f32, _f16 or _bf16 entry points. */
    public enum Storage { F32, F16, BF16 }

    private SelectiveScanCuda() {}

    /** Batch, channels, height, width, d_state. */
    public record Shape(int b, int d, int h, int w, int n) {
        public Shape {
            if (n < 1 || n > 16) throw new IllegalArgumentException("selective_scan_2d: d_state " + n + " must be 1..16");
        }

        public int len() { return h * w; }

        /** Number of saved states per sequence. */
        public int chunks() { return (len() + CHUNK - 1) / CHUNK; }

        /** Elements of the states buffer [B,4,D,chunks,N] (f32). */
        public long stateElements() { return (long) b * 4 * d * chunks() * n; }
    }

    private static String name(String op, Storage s) { return op + "_" + s.name().toLowerCase(java.util.Locale.ROOT); }

    /** out [B,D,H,W] f32; states (f32, or null for inference) saved for the backward. */
    public static void forward(CudaContext ctx, Storage st, Shape s, DeviceBuffer x, DeviceBuffer delta, DeviceBuffer a,
                               DeviceBuffer bs, DeviceBuffer cs, DeviceBuffer ds, DeviceBuffer bias, DeviceBuffer out,
                               DeviceBuffer states) {
        try (KernelArgs k = new KernelArgs()) {
            k.ptr(x).ptr(delta).ptr(a).ptr(bs).ptr(cs).ptr(ds).ptr(bias).ptr(out).ptr(states == null ? 0 : states.pointer())
                    .i32(s.d()).i32(s.h()).i32(s.w()).i32(s.n());
            ctx.kernel(name("selective_scan_fwd", st)).launch(
                    new int[] {ceil(s.d(), CHANNELS_PER_BLOCK), s.b()}, new int[] {THREADS}, 0, k);
        }
    }

    /** Every gradient (f32), from the upstream gradient gout [B,D,H,W] f32 and the saved states. */
    public static void backward(CudaContext ctx, Storage st, Shape s, DeviceBuffer x, DeviceBuffer delta, DeviceBuffer a,
                                DeviceBuffer bs, DeviceBuffer cs, DeviceBuffer ds, DeviceBuffer bias, DeviceBuffer states,
                                DeviceBuffer gout, DeviceBuffer gx, DeviceBuffer gdelta, DeviceBuffer ga, DeviceBuffer gb,
                                DeviceBuffer gc, DeviceBuffer gd, DeviceBuffer gbias) {
        long nA = 4L * s.d() * s.n(), nBC = (long) s.b() * 4 * s.n() * s.len(), nD = 4L * s.d();
        try (KernelArgs k = new KernelArgs()) {
            k.ptr(ga).ptr(gb).ptr(gc).ptr(gd).ptr(gbias).i64(nA).i64(nBC).i64(nD);
            long total = Math.max(nBC, Math.max(nA, nD));
            ctx.kernel("selective_scan_bwd_zero_f32").launch(new int[] {(int) Math.min(4096, (total + 255) / 256)}, new int[] {256}, 0, k);
        }
        int lanesPerChannel = Integer.highestOneBit(s.n() * 2 - 1);   // N rounded up to a power of 2
        try (KernelArgs k = new KernelArgs()) {
            k.ptr(x).ptr(delta).ptr(a).ptr(bs).ptr(cs).ptr(ds).ptr(bias).ptr(states).ptr(gout)
                    .ptr(gx).ptr(gdelta).ptr(ga).ptr(gb).ptr(gc).ptr(gd).ptr(gbias)
                    .i32(s.d()).i32(s.h()).i32(s.w()).i32(s.n());
            ctx.kernel(name("selective_scan_bwd", st)).launch(
                    new int[] {ceil(s.d(), 32 / lanesPerChannel), s.b()}, new int[] {THREADS}, 0, k);
        }
    }

    private static int ceil(int a, int b) { return (a + b - 1) / b; }
}
