package dev.lumen.backend.cuda;

import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.Cudnn;
import dev.lumen.cuda.KernelArgs;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Batch norm on cuDNN (SPATIAL mode), with the contract of NormKernels.batchNormForward and
 * batchNormBackward: x is a contiguous [N, C, S]; weight, bias, mean and var are [C] in x's
 * dtype; weight and bias may be null; in training mode the batch mean and the biased variance
 * are written to mean and var, in eval mode they are read.
 *
 * <p>cuDNN keeps per-channel parameters in F32 (F64 for F64 data), needs a scale and a shift,
 * and reports the unbiased variance, so small kernels (batchnorm.cu) convert on the way in and
 * out. The backward pass with constant statistics has no cuDNN call and is batchnorm.cu's own.
 */
public final class CudnnBatchNorm implements BatchNormKernels {
    private final CudaContext ctx;

    CudnnBatchNorm(CudaContext ctx) { this.ctx = ctx; }

    private static final int THREADS = 256;

    /** Descriptors of one [N, C, S] shape and dtype: x (as N x C x S x 1) and its 1xCx1x1 parameters. */
    private record Plan(int dtype, MemorySegment x, MemorySegment params) {}

    private record Key(DType dtype, int n, int c, int s) {}

    private final ConcurrentHashMap<Key, Plan> plans = new ConcurrentHashMap<>();

    private Plan plan(Tensor x) {
        int[] sh = x.shape();
        Key k = new Key(x.dtype(), sh[0], sh[1], sh[2]);
        return plans.computeIfAbsent(k, key -> {
            Cudnn dnn = Cudnn.of(ctx);
            int t = CudaConv.cudnnType(key.dtype());
            MemorySegment xd = dnn.tensor(t, key.n(), key.c(), key.s(), 1);
            return new Plan(t, xd, dnn.batchNormParams(xd));
        });
    }

    /** Bytes of one cuDNN parameter: F64 for F64 data, F32 otherwise. */
    private static int paramBytes(DType t) { return t == DType.F64 ? 8 : 4; }

    private static long ptr(Tensor t, String what) { return t == null ? 0 : CudaTensors.ptr(CudaTensors.requireContiguous(t, what)); }

    /** Blocks resident at once on an H100 at THREADS threads (132 SMs, 8 blocks each); two waves' worth fill it. */
    static final int FILL_BLOCKS = 2 * 132 * 8;
    /** Fewest elements one block of the constant-statistics backward sums: 8 per thread. */
    static final int MIN_RUN = 8 * THREADS;

    /**
     * Runs per channel of batchnorm_bwd_const: enough blocks to fill the GPU for few channels,
     * none shorter than MIN_RUN. A function of the shape alone, so the sums' order is fixed.
     */
    static int constSplits(int channels, long perChannel) {
        long byFill = (FILL_BLOCKS + channels - 1) / channels, byLength = (perChannel + MIN_RUN - 1) / MIN_RUN;
        return (int) Math.max(1, Math.min(byFill, byLength));
    }

    private void perChannel(String kernel, DType t, int c, KernelArgs a) {
        ctx.kernel(kernel + "_" + CudaBackend.suffix(t)).launch(new int[] {(c + THREADS - 1) / THREADS}, new int[] {THREADS}, 0, a);
    }

    /** out = (x - mean) / sqrt(var + eps) * weight + bias, with the batch's statistics when useInputStats. */
    @Override
    public void forward(Tensor x, Tensor weight, Tensor bias, double eps, boolean useInputStats, Tensor mean, Tensor var, Tensor out) {
        int[] sh = x.shape();
        int c = sh[1];
        long count = (long) sh[0] * sh[2];
        if (x.numel() == 0) return;
        DType t = x.dtype();
        long xp = ptr(x, "batchNorm x"), op = ptr(out, "batchNorm out"), wp = ptr(weight, "batchNorm weight"), bp = ptr(bias, "batchNorm bias");
        long mp = ptr(mean, "batchNorm mean"), vp = ptr(var, "batchNorm var");
        Plan p = plan(x);
        Cudnn dnn = Cudnn.of(ctx);
        Cudnn.Scalars k = Cudnn.scalars(p.dtype());
        ctx.bind();
        long pb = (long) c * paramBytes(t);
        try (DeviceScratch params = DeviceScratch.allocate(ctx, 4 * pb)) {
            long scale = params.ptr(), shift = scale + pb, pmean = shift + pb, pvar = pmean + pb;
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(wp).ptr(bp).ptr(useInputStats ? 0 : mp).ptr(useInputStats ? 0 : vp).f64(eps)
                        .ptr(scale).ptr(shift).ptr(useInputStats ? 0 : pmean).ptr(useInputStats ? 0 : pvar).ptr(0).i32(c);
                perChannel("batchnorm_prepare", t, c, a);
            }
            if (!useInputStats) {
                dnn.batchNormForwardInference(k.one(), k.zero(), p.x(), xp, p.x(), op, p.params(), scale, shift, pmean, pvar, eps);
                return;
            }
            // Factor 1 makes the "running" outputs the batch's own mean and unbiased variance; they
            // are blended with what the buffers held (0 * NaN is NaN), so they start at zero.
            ctx.driver().memsetD8Async(pmean, (byte) 0, 2 * pb, ctx.stream());
            dnn.batchNormForwardTraining(k.one(), k.zero(), p.x(), xp, p.x(), op, p.params(), scale, shift, 1.0, pmean, pvar, eps, 0, 0);
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(pmean).ptr(pvar).i64(count).ptr(mp).ptr(vp).i32(c);
                perChannel("batchnorm_store_stats", t, c, a);
            }
        }
    }

    /**
     * Gradients of {@link #forward}; with usedInputStats the statistics depend on x (cuDNN's
     * backward), otherwise they are constants (batchnorm.cu). Any gradient may be null.
     */
    @Override
    public void backward(Tensor gradOut, Tensor x, Tensor weight, Tensor mean, Tensor var, double eps, boolean usedInputStats,
                         Tensor gradX, Tensor gradWeight, Tensor gradBias) {
        int[] sh = x.shape();
        int c = sh[1];
        if (gradX == null && gradWeight == null && gradBias == null) return;
        DType t = x.dtype();
        long gp = ptr(gradOut, "batchNorm gradOut"), xp = ptr(x, "batchNorm x"), wp = ptr(weight, "batchNorm weight");
        long mp = ptr(mean, "batchNorm mean"), vp = ptr(var, "batchNorm var");
        long gxp = ptr(gradX, "batchNorm gradX"), gwp = ptr(gradWeight, "batchNorm gradWeight"), gbp = ptr(gradBias, "batchNorm gradBias");
        if (x.numel() == 0) {
            // No values: the parameter gradients are empty sums.
            if (gradWeight != null) gradWeight.backend().fill(gradWeight, 0);
            if (gradBias != null) gradBias.backend().fill(gradBias, 0);
            return;
        }
        if (!usedInputStats) {
            int splits = constSplits(c, (long) sh[0] * sh[2]);
            try (DeviceScratch partial = DeviceScratch.allocate(ctx, (long) c * splits * 2 * Double.BYTES)) {
                try (KernelArgs a = new KernelArgs()) {
                    a.ptr(gp).ptr(xp).ptr(wp).ptr(mp).ptr(vp).f64(eps).ptr(gxp).i32(sh[0]).i32(c).i64(sh[2]).i32(splits).ptr(partial.ptr());
                    ctx.kernel("batchnorm_bwd_const_" + CudaBackend.suffix(t))
                            .launch(new int[] {Math.multiplyExact(c, splits)}, new int[] {THREADS}, 0, a);
                }
                if (gradWeight != null || gradBias != null) {
                    try (KernelArgs a = new KernelArgs()) {
                        a.ptr(partial.ptr()).i32(splits).ptr(vp).f64(eps).ptr(gwp).ptr(gbp).i32(c);
                        perChannel("batchnorm_bwd_const_sum", t, c, a);
                    }
                }
            }
            return;
        }
        Plan p = plan(x);
        Cudnn dnn = Cudnn.of(ctx);
        Cudnn.Scalars k = Cudnn.scalars(p.dtype());
        ctx.bind();
        long pb = (long) c * paramBytes(t);
        // cuDNN always writes dx, dScale and dBias: missing outputs get scratch.
        try (DeviceScratch params = DeviceScratch.allocate(ctx, 5 * pb);
             DeviceScratch dxScratch = gradX == null ? DeviceScratch.allocate(ctx, x.numel() * t.byteSize()) : null) {
            long scale = params.ptr(), pmean = scale + pb, pinv = pmean + pb, dscale = pinv + pb, dshift = dscale + pb;
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(wp).ptr(0).ptr(mp).ptr(vp).f64(eps).ptr(scale).ptr(0).ptr(pmean).ptr(0).ptr(pinv).i32(c);
                perChannel("batchnorm_prepare", t, c, a);
            }
            long dx = gradX != null ? gxp : dxScratch.ptr();
            dnn.batchNormBackward(k.one(), k.zero(), k.one(), k.zero(), p.x(), xp, p.x(), gp, p.x(), dx, p.params(), scale,
                    dscale, dshift, eps, pmean, pinv);
            if (gradWeight != null || gradBias != null) {
                try (KernelArgs a = new KernelArgs()) {
                    a.ptr(dscale).ptr(dshift).ptr(gwp).ptr(gbp).i32(c);
                    perChannel("batchnorm_store_grads", t, c, a);
                }
            }
        }
    }
}
