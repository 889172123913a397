package dev.lumen.cuda;

/**
 * Runs the passes of additive_attention.cu (CAS-ViT's additive token mixer core) on f32 device
 * buffers, NCHW, weights in PyTorch's shapes. BatchNorm statistics are f32 [C] buffers (mean and
 * 1/std); scratch for per-block partial sums is allocated here. T and the thread count must
 * match the constants of the .cu file.
 */
public final class AdditiveAttentionCuda {
    private static final int T = 16, THREADS = 256, STAT_SPLITS = 8;

    private AdditiveAttentionCuda() {}

    public record Shape(int b, int c, int h, int w) {
        int hw() { return h * w; }

        int tilesX() { return ceil(w, T); }

        int tilesY() { return ceil(h, T); }

        int tiles() { return tilesX() * tilesY(); }

        long bytes() { return 4L * b * c * h * w; }
    }

    /** One gate: dw conv weight/bias, BatchNorm weight/bias, the statistics it uses (f32 mean, 1/std), w1 [C], Wc [C,C]. */
    public record Gate(DeviceBuffer dwWeight, DeviceBuffer dwBias, DeviceBuffer bnWeight, DeviceBuffer bnBias, DeviceBuffer mean,
                       DeviceBuffer invStd, DeviceBuffer spatialWeight, DeviceBuffer channelWeight) {}

    /** The spatial gate [B,H,W], channel means [B,C] and channel gate [B,C] of one gate. */
    public record State(DeviceBuffer spatial, DeviceBuffer pooled, DeviceBuffer channel) {}

    public record GateGrads(DeviceBuffer input, DeviceBuffer dwWeight, DeviceBuffer dwBias, DeviceBuffer bnWeight,
                            DeviceBuffer bnBias, DeviceBuffer spatialWeight, DeviceBuffer channelWeight) {}

    private static int splits(Shape s) { return Math.max(1, Math.min(s.b(), STAT_SPLITS)); }

    /** Batch mean, biased variance and 1/sqrt(var+eps) of u = dwconv(t) + bias, per channel. */
    public static void batchStats(CudaContext ctx, Shape s, DeviceBuffer t, DeviceBuffer dw, DeviceBuffer db, double eps,
                                  DeviceBuffer mean, DeviceBuffer var, DeviceBuffer invStd) {
        int splits = splits(s);
        try (DeviceBuffer part = ctx.allocate(16L * splits * s.c()); KernelArgs a = new KernelArgs(); KernelArgs f = new KernelArgs()) {
            a.ptr(t).ptr(dw).ptr(db).ptr(part).i32(s.b()).i32(s.c()).i32(s.h()).i32(s.w());
            ctx.kernel("catm_stats_f32").launch(new int[] {s.c(), splits}, new int[] {THREADS}, 0, a);
            f.ptr(part).i32(splits).i32(s.c()).i32(s.b() * s.hw()).f32((float) eps).ptr(mean).ptr(var).ptr(invStd);
            ctx.kernel("catm_stats_finalize_f32").launch(new int[] {ceil(s.c(), 128)}, new int[] {128}, 0, f);
            ctx.synchronize();
        }
    }

    /** Pass 1 for one gate. */
    public static void gates(CudaContext ctx, Shape s, DeviceBuffer t, Gate g, State out) {
        try (DeviceBuffer part = ctx.allocate(4L * s.b() * s.tiles() * s.c()); KernelArgs a = new KernelArgs(); KernelArgs c = new KernelArgs()) {
            a.ptr(t).ptr(g.dwWeight()).ptr(g.dwBias()).ptr(g.mean()).ptr(g.invStd()).ptr(g.bnWeight()).ptr(g.bnBias())
                    .ptr(g.spatialWeight()).ptr(out.spatial()).ptr(part).i32(s.c()).i32(s.h()).i32(s.w());
            ctx.kernel("catm_gates_f32").launch(new int[] {s.tilesX(), s.tilesY(), s.b()}, new int[] {THREADS}, 4 * (THREADS / 32) * s.c(), a);
            c.ptr(part).i32(s.tiles()).ptr(g.channelWeight()).ptr(out.pooled()).ptr(out.channel()).i32(s.c()).i32(s.hw());
            ctx.kernel("catm_channel_gate_f32").launch(new int[] {s.b()}, new int[] {THREADS}, 4 * s.c(), c);
            ctx.synchronize();
        }
    }

    /** Pass 2: out = dwc(q*s_q*g_q + k*s_k*g_k) * v. */
    public static void forward(CudaContext ctx, Shape s, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, State sq, State sk,
                               DeviceBuffer dwcWeight, DeviceBuffer dwcBias, DeviceBuffer out) {
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(q).ptr(k).ptr(v).ptr(sq.spatial()).ptr(sq.channel()).ptr(sk.spatial()).ptr(sk.channel()).ptr(dwcWeight)
                    .ptr(dwcBias).ptr(out).i32(s.c()).i32(s.h()).i32(s.w());
            ctx.kernel("catm_fwd_f32").launch(new int[] {s.tilesX(), s.tilesY(), s.b() * s.c()}, new int[] {THREADS}, 0, a);
        }
    }

    /** Every gradient; batchStats: the gates' statistics are this batch's (training). */
    public static void backward(CudaContext ctx, Shape s, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, Gate gq, Gate gk,
                                State sq, State sk, DeviceBuffer dwcWeight, DeviceBuffer dwcBias, boolean batchStats,
                                DeviceBuffer gradOut, DeviceBuffer gradV, DeviceBuffer gradDwcWeight, DeviceBuffer gradDwcBias,
                                GateGrads gradQ, GateGrads gradK) {
        int[] tileGrid = {s.tilesX(), s.tilesY(), s.b() * s.c()};
        int bc = s.b() * s.c();
        try (DeviceBuffer dS = ctx.allocate(s.bytes()); DeviceBuffer part = ctx.allocate(4L * bc * s.tiles() * 12);
             DeviceBuffer dgq = ctx.allocate(4L * bc); DeviceBuffer dgk = ctx.allocate(4L * bc);
             DeviceBuffer dmq = ctx.allocate(4L * bc); DeviceBuffer dmk = ctx.allocate(4L * bc);
             DeviceBuffer dzq = ctx.allocate(4L * s.b() * s.hw()); DeviceBuffer dzk = ctx.allocate(4L * s.b() * s.hw())) {
            try (KernelArgs a = new KernelArgs(); KernelArgs r = new KernelArgs()) {
                a.ptr(q).ptr(k).ptr(v).ptr(sq.spatial()).ptr(sq.channel()).ptr(sk.spatial()).ptr(sk.channel()).ptr(dwcWeight)
                        .ptr(dwcBias).ptr(gradOut).ptr(gradV).ptr(dS).ptr(part).i32(s.c()).i32(s.h()).i32(s.w());
                ctx.kernel("catm_bwd_dwc_f32").launch(tileGrid, new int[] {THREADS}, 0, a);
                r.ptr(part).i32(s.b()).i32(s.c()).i32(s.tiles()).i32(12).ptr(gradDwcWeight).ptr(gradDwcBias).ptr(dgq).ptr(dgk);
                ctx.kernel("catm_bwd_reduce_f32").launch(new int[] {ceil(Math.max(s.c(), bc), THREADS)}, new int[] {THREADS}, 0, r);
            }
            channelGate(ctx, s, dgq, sq, gq, gradQ, dmq);
            channelGate(ctx, s, dgk, sk, gk, gradK, dmk);
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(q).ptr(k).ptr(dS).ptr(sq.spatial()).ptr(sq.channel()).ptr(dmq).ptr(sk.spatial()).ptr(sk.channel()).ptr(dmk)
                        .ptr(dzq).ptr(dzk).i32(s.b()).i32(s.c()).i32(s.hw());
                ctx.kernel("catm_bwd_spatial_f32").launch(new int[] {ceil(s.b() * s.hw(), THREADS)}, new int[] {THREADS}, 0, a);
            }
            spatialGate(ctx, s, q, gq, sq, dzq, dS, dmq, batchStats, part, gradQ);
            spatialGate(ctx, s, k, gk, sk, dzk, dS, dmk, batchStats, part, gradK);
            ctx.synchronize();
        }
    }

    private static void channelGate(CudaContext ctx, Shape s, DeviceBuffer dg, State st, Gate g, GateGrads out, DeviceBuffer dm) {
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(dg).ptr(st.channel()).ptr(st.pooled()).ptr(g.channelWeight()).ptr(out.channelWeight()).ptr(dm).i32(s.b()).i32(s.c());
            int n = Math.max(s.c() * s.c(), s.b() * s.c());
            ctx.kernel("catm_bwd_channel_gate_f32").launch(new int[] {ceil(n, THREADS)}, new int[] {THREADS}, 0, a);
        }
    }

    private static void spatialGate(CudaContext ctx, Shape s, DeviceBuffer t, Gate g, State st, DeviceBuffer dz, DeviceBuffer dS,
                                    DeviceBuffer dm, boolean batchStats, DeviceBuffer part, GateGrads out) {
        int splits = splits(s);
        try (DeviceBuffer bn = ctx.allocate(24L * splits * s.c()); DeviceBuffer meanDa = ctx.allocate(4L * s.c());
             DeviceBuffer meanDau = ctx.allocate(4L * s.c());
             KernelArgs a = new KernelArgs(); KernelArgs f = new KernelArgs(); KernelArgs in = new KernelArgs(); KernelArgs r = new KernelArgs()) {
            a.ptr(t).ptr(g.dwWeight()).ptr(g.dwBias()).ptr(g.mean()).ptr(g.invStd()).ptr(g.bnWeight()).ptr(g.bnBias())
                    .ptr(g.spatialWeight()).ptr(dz).ptr(bn).i32(s.b()).i32(s.c()).i32(s.h()).i32(s.w());
            ctx.kernel("catm_bwd_bn_stats_f32").launch(new int[] {s.c(), splits}, new int[] {THREADS}, 0, a);
            f.ptr(bn).i32(splits).i32(s.c()).i32(s.b() * s.hw()).i32(batchStats ? 1 : 0).ptr(out.bnWeight()).ptr(out.bnBias())
                    .ptr(out.spatialWeight()).ptr(meanDa).ptr(meanDau);
            ctx.kernel("catm_bwd_bn_finalize_f32").launch(new int[] {ceil(s.c(), 128)}, new int[] {128}, 0, f);
            in.ptr(t).ptr(g.dwWeight()).ptr(g.dwBias()).ptr(g.mean()).ptr(g.invStd()).ptr(g.bnWeight()).ptr(g.bnBias())
                    .ptr(g.spatialWeight()).ptr(dz).ptr(meanDa).ptr(meanDau).ptr(dS).ptr(st.spatial()).ptr(st.channel()).ptr(dm)
                    .ptr(out.input()).ptr(part).i32(s.c()).i32(s.h()).i32(s.w());
            ctx.kernel("catm_bwd_input_f32").launch(new int[] {s.tilesX(), s.tilesY(), s.b() * s.c()}, new int[] {THREADS}, 0, in);
            r.ptr(part).i32(s.b()).i32(s.c()).i32(s.tiles()).i32(10).ptr(out.dwWeight()).ptr(out.dwBias()).ptr(0).ptr(0);
            ctx.kernel("catm_bwd_reduce_f32").launch(new int[] {ceil(s.c(), THREADS)}, new int[] {THREADS}, 0, r);
            ctx.synchronize();
        }
    }

    private static int ceil(int a, int b) { return (a + b - 1) / b; }
}
