package dev.lumen.cuda;

import dev.lumen.backend.cuda.CudaBackend;
import dev.lumen.backend.cuda.DeviceScratch;
import dev.lumen.tensor.DType;

/**
 * Runs the passes of additive_attention.cu (CAS-ViT's additive token mixer core) on device
 * pointers, on the compute stream: NCHW tensors of one floating dtype, weights in PyTorch's
 * shapes, BatchNorm statistics as [C] of that dtype. Scratch (partial sums, dS, dz) comes from
 * DeviceScratch, in the type the kernels compute in (double for F64, float otherwise). THREADS must
 * match the constant of the .cu file. Every grid is one-dimensional (boxes or tiles times planes, or
 * one block per channel), checked against grid x's 2^31-1 blocks, so no B*C reaches the 65535 limit
 * of y and z. Partial sums go to one slot per box, channel-major, and one block per channel reduces
 * them in a fixed order.
 */
public final class AdditiveAttentionCuda {
    private static final int THREADS = 256, WARPS = THREADS / 32;
    /** The 9 taps, BatchNorm's folded scale and shift, and w1 of a gate's channel (additive_attention.cu's COEFS). */
    private static final int GATE_COEFS = 12;
    /** Grid x's limit; y and z (65535) are never used. */
    private static final long MAX_GRID_X = Integer.MAX_VALUE;
    private static final int MAX_SHARED = 227 * 1024;

    private AdditiveAttentionCuda() {}

    public record Shape(int b, int c, int h, int w) {
        public Shape {
            if ((long) b * c * h * w > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("catm: " + b + "x" + c + "x" + h + "x" + w + " exceeds the kernels' 2^31 elements");
            }
        }

        int hw() { return h * w; }

        long elements() { return (long) b * c * h * w; }

        Strips strips() { return Strips.of(h, w); }

        /** A 1-D grid of one block per box of each of planes planes (the kernels' StripOf). */
        int[] planeGrid(long planes) { return grid(planes * strips().boxes(), "plane blocks of " + this); }

        /** Box slots per channel: the batch's boxes of one channel. */
        int slotsPerChannel() { return b * strips().boxes(); }
    }

    /**
     * How the plane kernels cover a plane (additive_attention.cu's StripOf): a block owns a box of
     * {@code columns} columns by {@code strips} strips of {@code rows} rows, a thread one column of
     * one strip, walked down with its 3x3 neighbourhood in registers. Whole rows up to 128 columns
     * (coalesced); strips of 4 to 16 rows, enough to amortise a thread's set-up, few enough to leave
     * blocks for every SM: at 56x56 one block of 4 x 14 rows per plane.
     */
    record Strips(int columns, int strips, int rows, int boxes, int threads) {
        static final int MAX_COLUMNS = 128, MIN_ROWS = 4, MAX_ROWS = 16;

        static Strips of(int h, int w) {
            int columns = Math.min(w, MAX_COLUMNS);
            int most = THREADS / columns;
            int rows = Math.min(h, Math.clamp(ceil(h, most), MIN_ROWS, MAX_ROWS));
            int strips = Math.min(most, ceil(h, rows));
            return new Strips(columns, strips, rows, ceil(w, columns) * ceil(h, strips * rows), ceil(columns * strips, 32) * 32);
        }

        KernelArgs append(KernelArgs a) { return a.i32(columns).i32(strips).i32(rows); }

        int[] block() { return new int[] {threads}; }
    }

    /**
     * catm_gates' tiles: up to 14x14 pixels of one image (56, 28, 14 and 7 maps tile exactly), the
     * tile and its halo staged for every channel, a thread per staged cell (the first ones also one
     * per pixel); smaller where that would not fit in shared memory.
     */
    record GateTile(int h, int w, int tiles, int threads, int sharedBytes) {
        static final int SIDE = 14;

        static GateTile of(Shape s, int accBytes) {
            int th = Math.min(s.h(), SIDE), tw = Math.min(s.w(), SIDE);
            while (bytes(s.c(), th, tw, accBytes) > MAX_SHARED && th * tw > 1) {
                if (th >= tw) th--;
                else tw--;
            }
            long bytes = bytes(s.c(), th, tw, accBytes);
            if (bytes > MAX_SHARED) {
                throw new IllegalArgumentException("catm: " + s.c() + " channels need " + bytes + " bytes of shared memory for the gates, over " + MAX_SHARED);
            }
            return new GateTile(th, tw, ceil(s.w(), tw) * ceil(s.h(), th), ceil((th + 2) * (tw + 2), 32) * 32, (int) bytes);
        }

        private static long bytes(int c, int th, int tw, int accBytes) { return (long) accBytes * ((long) c * (th + 2) * (tw + 2) + th * tw); }
    }

    /** One gate: dw conv weight/bias, BatchNorm weight/bias, the statistics it uses (mean, 1/std), w1 [C], Wc [C,C]. */
    public record Gate(long dwWeight, long dwBias, long bnWeight, long bnBias, long mean, long invStd, long spatialWeight,
                       long channelWeight) {}

    /** The spatial gate [B,H,W], channel means [B,C] and channel gate [B,C] of one gate. */
    public record State(long spatial, long pooled, long channel) {}

    public record GateGrads(long input, long dwWeight, long dwBias, long bnWeight, long bnBias, long spatialWeight,
                            long channelWeight) {}

    private static int accBytes(DType t) { return t == DType.F64 ? 8 : 4; }

    private static Kernel kernel(CudaContext ctx, String op, DType t) {
        if (!t.isFloating()) throw new IllegalArgumentException("catm: " + t + " is not a floating dtype");
        return ctx.kernel(op + "_" + CudaBackend.suffix(t));
    }

    private static int shared(long bytes) {
        if (bytes > MAX_SHARED) throw new IllegalArgumentException("catm: " + bytes + " bytes of shared memory exceed " + MAX_SHARED + " (too many channels)");
        return (int) bytes;
    }

    /** A 1-D grid of blocks, or a one-line error where it exceeds grid x. */
    static int[] grid(long blocks, String what) {
        if (blocks > MAX_GRID_X) throw new IllegalArgumentException("catm: " + blocks + " " + what + " exceed grid x's 2^31-1 blocks");
        return new int[] {(int) Math.max(1, blocks)};
    }

    /** Batch mean and biased variance of u = dwconv(t) + bias, per channel. */
    public static void batchStats(CudaContext ctx, DType dt, Shape s, long t, long dw, long db, long mean, long var) {
        try (DeviceScratch part = DeviceScratch.allocate(ctx, 16L * s.c() * s.slotsPerChannel()); KernelArgs a = new KernelArgs();
             KernelArgs f = new KernelArgs()) {
            a.ptr(t).ptr(dw).ptr(db).ptr(part.ptr()).i32(s.b()).i32(s.c()).i32(s.h()).i32(s.w());
            s.strips().append(a);
            kernel(ctx, "catm_stats", dt).launch(s.planeGrid((long) s.b() * s.c()), s.strips().block(), 0, a);
            f.ptr(part.ptr()).i32(s.slotsPerChannel()).i32(s.c()).i64((long) s.b() * s.hw()).ptr(mean).ptr(var);
            kernel(ctx, "catm_stats_finalize", dt).launch(grid(s.c(), "channels"), new int[] {THREADS}, 0, f);
        }
    }

    /**
     * The statistics a gate normalizes with ([C] each): with batch statistics (batchMean non-zero)
     * mean = batch mean, invStd = 1/sqrt(batchVar + eps), and the running ones move toward the
     * batch's in place; otherwise mean = running mean and invStd = 1/sqrt(runningVar + eps).
     */
    public static void normalization(CudaContext ctx, DType dt, int c, long batchMean, long batchVar, long runningMean,
                                     long runningVar, double momentum, double varianceCorrection, double eps, long mean, long invStd) {
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(batchMean).ptr(batchVar).ptr(runningMean).ptr(runningVar).f64(momentum).f64(varianceCorrection).f64(eps)
                    .ptr(mean).ptr(invStd).i32(c);
            kernel(ctx, "catm_normalization", dt).launch(grid(ceil(c, 128), "blocks of channels"), new int[] {128}, 0, a);
        }
    }

    /** Pass 1 for one gate: its folded per-channel constants, the spatial gate and the channel sums, the channel gate. */
    public static void gates(CudaContext ctx, DType dt, Shape s, long t, Gate g, State out) {
        int acc = accBytes(dt);
        GateTile tile = GateTile.of(s, acc);
        try (DeviceScratch part = DeviceScratch.allocate(ctx, (long) acc * s.b() * tile.tiles() * s.c());
             DeviceScratch coef = DeviceScratch.allocate(ctx, (long) acc * s.c() * GATE_COEFS);
             KernelArgs k = new KernelArgs(); KernelArgs a = new KernelArgs(); KernelArgs c = new KernelArgs()) {
            k.ptr(g.dwWeight()).ptr(g.dwBias()).ptr(g.mean()).ptr(g.invStd()).ptr(g.bnWeight()).ptr(g.bnBias()).ptr(g.spatialWeight())
                    .ptr(coef.ptr()).i32(s.c());
            kernel(ctx, "catm_gate_coefs", dt).launch(grid(ceil(s.c(), 128), "blocks of channels"), new int[] {128}, 0, k);
            a.ptr(t).ptr(coef.ptr()).ptr(out.spatial()).ptr(part.ptr()).i32(s.c()).i32(s.h()).i32(s.w()).i32(tile.h()).i32(tile.w());
            kernel(ctx, "catm_gates", dt).launch(grid((long) s.b() * tile.tiles(), "gate tile blocks of " + s), new int[] {tile.threads()},
                    tile.sharedBytes(), a);
            c.ptr(part.ptr()).i32(tile.tiles()).ptr(g.channelWeight()).ptr(out.pooled()).ptr(out.channel()).i32(s.c()).i32(s.hw());
            kernel(ctx, "catm_channel_gate", dt).launch(grid(s.b(), "images"), new int[] {THREADS}, shared((long) acc * s.c()), c);
        }
    }

    /** Pass 2: out = dwc(q*s_q*g_q + k*s_k*g_k) * v. */
    public static void forward(CudaContext ctx, DType dt, Shape s, long q, long k, long v, State sq, State sk, long dwcWeight,
                               long dwcBias, long out) {
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(q).ptr(k).ptr(v).ptr(sq.spatial()).ptr(sq.channel()).ptr(sk.spatial()).ptr(sk.channel()).ptr(dwcWeight)
                    .ptr(dwcBias).ptr(out).i32(s.c()).i32(s.h()).i32(s.w());
            s.strips().append(a);
            kernel(ctx, "catm_fwd", dt).launch(s.planeGrid((long) s.b() * s.c()), s.strips().block(), 0, a);
        }
    }

    /** Every gradient; batchStats: the gates' statistics are this batch's (training). */
    public static void backward(CudaContext ctx, DType dt, Shape s, long q, long k, long v, Gate gq, Gate gk, State sq, State sk,
                                long dwcWeight, long dwcBias, boolean batchStats, long gradOut, long gradV, long gradDwcWeight,
                                long gradDwcBias, GateGrads gradQ, GateGrads gradK) {
        int acc = accBytes(dt);
        long bc = (long) s.b() * s.c(), pix = (long) s.b() * s.hw();
        try (DeviceScratch dS = DeviceScratch.allocate(ctx, acc * s.elements());
             DeviceScratch part = DeviceScratch.allocate(ctx, acc * bc * s.strips().boxes() * 12);
             DeviceScratch dg = DeviceScratch.allocate(ctx, acc * bc * 4);     // dg_q, dg_k, dm_q, dm_k
             DeviceScratch dz = DeviceScratch.allocate(ctx, acc * pix * 2)) {  // dz_q, dz_k
            long dgq = dg.ptr(), dgk = dgq + acc * bc, dmq = dgk + acc * bc, dmk = dmq + acc * bc;
            long dzq = dz.ptr(), dzk = dzq + acc * pix;
            try (KernelArgs a = new KernelArgs(); KernelArgs r = new KernelArgs()) {
                a.ptr(q).ptr(k).ptr(v).ptr(sq.spatial()).ptr(sq.channel()).ptr(sk.spatial()).ptr(sk.channel()).ptr(dwcWeight)
                        .ptr(dwcBias).ptr(gradOut).ptr(gradV).ptr(dS.ptr()).ptr(part.ptr()).i32(s.b()).i32(s.c()).i32(s.h()).i32(s.w());
                s.strips().append(a);
                kernel(ctx, "catm_bwd_dwc", dt).launch(s.planeGrid(bc), s.strips().block(), 0, a);
                r.ptr(part.ptr()).i32(s.b()).i32(s.c()).i32(s.strips().boxes()).i32(12).ptr(gradDwcWeight).ptr(gradDwcBias).ptr(dgq).ptr(dgk);
                // A block per channel for the taps, then a warp per (b, c) for dg.
                kernel(ctx, "catm_bwd_reduce", dt).launch(grid(s.c() + (bc + WARPS - 1) / WARPS, "reduction blocks"),
                        new int[] {THREADS}, 0, r);
            }
            channelGate(ctx, dt, s, dgq, sq, gq, gradQ, dmq);
            channelGate(ctx, dt, s, dgk, sk, gk, gradK, dmk);
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(q).ptr(k).ptr(dS.ptr()).ptr(sq.spatial()).ptr(sq.channel()).ptr(dmq).ptr(sk.spatial()).ptr(sk.channel()).ptr(dmk)
                        .ptr(dzq).ptr(dzk).i32(s.b()).i32(s.c()).i32(s.hw());
                kernel(ctx, "catm_bwd_spatial", dt).launch(grid(blocks(pix), "pixel blocks"), new int[] {THREADS}, 0, a);
            }
            spatialGate(ctx, dt, s, q, gq, sq, dzq, dS.ptr(), dmq, batchStats, part.ptr(), gradQ);
            spatialGate(ctx, dt, s, k, gk, sk, dzk, dS.ptr(), dmk, batchStats, part.ptr(), gradK);
        }
    }

    private static void channelGate(CudaContext ctx, DType dt, Shape s, long dg, State st, Gate g, GateGrads out, long dm) {
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(dg).ptr(st.channel()).ptr(st.pooled()).ptr(g.channelWeight()).ptr(out.channelWeight()).ptr(dm).i32(s.b()).i32(s.c());
            long n = Math.max((long) s.c() * s.c(), (long) s.b() * s.c());
            kernel(ctx, "catm_bwd_channel_gate", dt).launch(grid(blocks(n), "channel-gate blocks"), new int[] {THREADS}, 0, a);
        }
    }

    private static void spatialGate(CudaContext ctx, DType dt, Shape s, long t, Gate g, State st, long dz, long dS, long dm,
                                    boolean batchStats, long part, GateGrads out) {
        int acc = accBytes(dt);
        try (DeviceScratch bn = DeviceScratch.allocate(ctx, 24L * s.c() * s.slotsPerChannel()); DeviceScratch means = DeviceScratch.allocate(ctx, 2L * acc * s.c());
             KernelArgs a = new KernelArgs(); KernelArgs f = new KernelArgs(); KernelArgs in = new KernelArgs(); KernelArgs r = new KernelArgs()) {
            long meanDa = means.ptr(), meanDau = meanDa + (long) acc * s.c();
            a.ptr(t).ptr(g.dwWeight()).ptr(g.dwBias()).ptr(g.mean()).ptr(g.invStd()).ptr(g.bnWeight()).ptr(g.bnBias())
                    .ptr(g.spatialWeight()).ptr(dz).ptr(bn.ptr()).i32(s.b()).i32(s.c()).i32(s.h()).i32(s.w());
            s.strips().append(a);
            kernel(ctx, "catm_bwd_bn_stats", dt).launch(s.planeGrid((long) s.b() * s.c()), s.strips().block(), 0, a);
            f.ptr(bn.ptr()).i32(s.slotsPerChannel()).i32(s.c()).i64((long) s.b() * s.hw()).i32(batchStats ? 1 : 0).ptr(out.bnWeight()).ptr(out.bnBias())
                    .ptr(out.spatialWeight()).ptr(meanDa).ptr(meanDau);
            kernel(ctx, "catm_bwd_bn_finalize", dt).launch(grid(s.c(), "channels"), new int[] {THREADS}, 0, f);
            in.ptr(t).ptr(g.dwWeight()).ptr(g.dwBias()).ptr(g.mean()).ptr(g.invStd()).ptr(g.bnWeight()).ptr(g.bnBias())
                    .ptr(g.spatialWeight()).ptr(dz).ptr(meanDa).ptr(meanDau).ptr(dS).ptr(st.spatial()).ptr(st.channel()).ptr(dm)
                    .ptr(out.input()).ptr(part).i32(s.b()).i32(s.c()).i32(s.h()).i32(s.w());
            s.strips().append(in);
            kernel(ctx, "catm_bwd_input", dt).launch(s.planeGrid((long) s.b() * s.c()), s.strips().block(), 0, in);
            r.ptr(part).i32(s.b()).i32(s.c()).i32(s.strips().boxes()).i32(10).ptr(out.dwWeight()).ptr(out.dwBias()).ptr(0).ptr(0);
            kernel(ctx, "catm_bwd_reduce", dt).launch(grid(s.c(), "channels"), new int[] {THREADS}, 0, r);
        }
    }

    /** Blocks of THREADS threads for one thread per item. */
    private static long blocks(long threads) { return (threads + THREADS - 1) / THREADS; }

    private static int ceil(int a, int b) { return (a + b - 1) / b; }
}
