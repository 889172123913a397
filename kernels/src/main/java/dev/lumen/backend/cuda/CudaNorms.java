package dev.lumen.backend.cuda;

import dev.lumen.backend.NormKernels;
import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.KernelArgs;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;

/**
 * {@link NormKernels} on the device (layernorm.cu, dropout.cu); batch norm comes from the
 * {@link BatchNormKernels} given at construction. Weight and bias gradients are sums over rows or
 * samples: each part (a chunk of rows, or one sample) writes its own double partial sums into
 * scratch and norm_affine_grad adds them in part order, so the bits never depend on scheduling.
 */
final class CudaNorms implements NormKernels {
    /** Threads of the block-per-row and block-per-group kernels. */
    private static final int BLOCK = 256;
    /** (sample, channel) pairs per block of the per-channel partial sums: one warp each. */
    private static final int PAIRS_PER_BLOCK = BLOCK / 32;
    /** Columns and rows of a block of layer_norm_rows_bwd_partials (TILE_COLS x TILE_ROWS in layernorm.cu). */
    private static final int TILE_COLS = 32, TILE_ROWS = 8;
    /** Most row chunks of the row layer norm's weight gradient; the count depends on the shape only. */
    private static final int MAX_ROW_PARTS = 1024;
    /** Fewest rows a chunk takes before chunks are added for parallelism. */
    private static final int ROWS_PER_PART = 16;

    private final CudaContext ctx;
    private final BatchNormKernels batchNorm;

    /** Batch norm comes from batchNorm (cuDNN's); the rest are Lumen's kernels. */
    CudaNorms(CudaContext ctx, BatchNormKernels batchNorm) {
        this.ctx = ctx;
        this.batchNorm = java.util.Objects.requireNonNull(batchNorm, "batchNorm");
    }


    @Override
    public void batchNormForward(Tensor x, Tensor weight, Tensor bias, double eps, boolean useInputStats,
                                 Tensor mean, Tensor var, Tensor out) {
        batchNorm.forward(x, weight, bias, eps, useInputStats, mean, var, out);
    }

    @Override
    public void batchNormBackward(Tensor gradOut, Tensor x, Tensor weight, Tensor mean, Tensor var, double eps,
                                  boolean usedInputStats, Tensor gradX, Tensor gradWeight, Tensor gradBias) {
        batchNorm.backward(gradOut, x, weight, mean, var, eps, usedInputStats, gradX, gradWeight, gradBias);
    }

    // ---------------------------------------------------------------- layer norm

    @Override
    public void layerNormForward(Tensor x, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd) {
        String op = "layerNormForward";
        int[] s = input(op, x);
        int n = s[0], c = s[1], sp = s[2];
        long stats = (long) n * sp;
        operand(op, "weight", weight, x, c);
        operand(op, "bias", bias, x, c);
        operand(op, "out", out, x, x.numel());
        operand(op, "mean", mean, x, stats);
        operand(op, "rstd", rstd, x, stats);
        if (x.numel() == 0) return;
        String t = CudaBackend.suffix(x.dtype());
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.ptr(x)).ptr(CudaTensors.ptrOrNull(weight)).ptr(CudaTensors.ptrOrNull(bias)).f64(eps);
            if (sp == 1) {
                a.i32(c).ptr(CudaTensors.ptr(out)).ptr(CudaTensors.ptr(mean)).ptr(CudaTensors.ptr(rstd));
                ctx.kernel("layer_norm_rows_fwd_" + t).launch(new int[] {n}, new int[] {rowThreads(c)}, 0, a);
            } else {
                a.i32(n).i32(c).i32(sp).ptr(CudaTensors.ptr(out)).ptr(CudaTensors.ptr(mean)).ptr(CudaTensors.ptr(rstd));
                Launch.elementwise(ctx, "layer_norm_channels_fwd_" + t, stats, a);
            }
        }
    }

    @Override
    public void layerNormBackward(Tensor gradOut, Tensor x, Tensor weight, Tensor mean, Tensor rstd,
                                  Tensor gradX, Tensor gradWeight, Tensor gradBias) {
        String op = "layerNormBackward";
        int[] s = input(op, x);
        int n = s[0], c = s[1], sp = s[2];
        long stats = (long) n * sp;
        operand(op, "gradOut", gradOut, x, x.numel());
        operand(op, "weight", weight, x, c);
        operand(op, "mean", mean, x, stats);
        operand(op, "rstd", rstd, x, stats);
        operand(op, "gradX", gradX, x, x.numel());
        operand(op, "gradWeight", gradWeight, x, c);
        operand(op, "gradBias", gradBias, x, c);
        String t = CudaBackend.suffix(x.dtype());
        if (gradX != null && x.numel() > 0) {
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(CudaTensors.ptr(gradOut)).ptr(CudaTensors.ptr(x)).ptr(CudaTensors.ptrOrNull(weight))
                        .ptr(CudaTensors.ptr(mean)).ptr(CudaTensors.ptr(rstd));
                if (sp == 1) {
                    a.i32(c).ptr(CudaTensors.ptr(gradX));
                    ctx.kernel("layer_norm_rows_bwd_input_" + t).launch(new int[] {n}, new int[] {rowThreads(c)}, 0, a);
                } else {
                    a.i32(n).i32(c).i32(sp).ptr(CudaTensors.ptr(gradX));
                    Launch.elementwise(ctx, "layer_norm_channels_bwd_input_" + t, stats, a);
                }
            }
        }
        if (gradWeight == null && gradBias == null || c == 0) return;
        if (sp == 1) {
            int colTiles = (c + TILE_COLS - 1) / TILE_COLS;
            int parts = rowParts(n, colTiles);
            try (DeviceScratch part = DeviceScratch.allocate(ctx, 2L * parts * c * Double.BYTES); KernelArgs a = new KernelArgs()) {
                if (parts > 0) {
                    a.ptr(CudaTensors.ptr(gradOut)).ptr(CudaTensors.ptr(x)).ptr(CudaTensors.ptr(mean)).ptr(CudaTensors.ptr(rstd))
                            .i32(n).i32(c).ptr(part.ptr());
                    ctx.kernel("layer_norm_rows_bwd_partials_" + t).launch(new int[] {colTiles, parts}, new int[] {TILE_COLS, TILE_ROWS}, 0, a);
                }
                affineGrad(t, part, parts, c, null, 1, gradWeight, gradBias);
            }
        } else {
            try (DeviceScratch part = DeviceScratch.allocate(ctx, 2L * n * c * Double.BYTES); KernelArgs a = new KernelArgs()) {
                if (n > 0) {
                    a.ptr(CudaTensors.ptr(gradOut)).ptr(CudaTensors.ptr(x)).ptr(CudaTensors.ptr(mean)).ptr(CudaTensors.ptr(rstd))
                            .i32(n).i32(c).i32(sp).ptr(part.ptr());
                    ctx.kernel("layer_norm_channels_bwd_partials_" + t).launch(new int[] {pairBlocks(op, n, c)}, new int[] {BLOCK}, 0, a);
                }
                affineGrad(t, part, n, c, null, 1, gradWeight, gradBias);
            }
        }
    }

    /** Chunks of rows for the row layer norm's weight gradient: enough blocks to fill the device, a function of the shape only. */
    private static int rowParts(int rows, int colTiles) {
        int byRows = (rows + ROWS_PER_PART - 1) / ROWS_PER_PART;
        int forParallelism = Math.max(1, 2048 / colTiles);
        return Math.min(Math.min(byRows, forParallelism), MAX_ROW_PARTS);
    }

    /** Threads of a block that owns one row of d: a multiple of 32, at most BLOCK. */
    private static int rowThreads(int d) { return Math.min(BLOCK, Math.max(32, (d + 31) / 32 * 32)); }

    private static int pairBlocks(String op, int n, int c) {
        long blocks = ((long) n * c + PAIRS_PER_BLOCK - 1) / PAIRS_PER_BLOCK;
        if (blocks > Integer.MAX_VALUE) throw new IllegalArgumentException(op + ": " + n + " x " + c + " (sample, channel) pairs exceed the grid");
        return (int) blocks;
    }

    /** gradWeight and gradBias from the [2, parts, c] partial sums (times rstd per (part, group) when rstd is given). */
    private void affineGrad(String t, DeviceScratch part, int parts, int c, Tensor rstd, int groups, Tensor gradWeight, Tensor gradBias) {
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(part.ptr()).i32(parts).i32(c).ptr(CudaTensors.ptrOrNull(rstd)).i32(groups)
                    .ptr(CudaTensors.ptrOrNull(gradWeight)).ptr(CudaTensors.ptrOrNull(gradBias));
            Launch.elementwise(ctx, "norm_affine_grad_" + t, c, a);
        }
    }

    // ---------------------------------------------------------------- group norm

    @Override
    public void groupNormForward(Tensor x, int groups, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd) {
        String op = "groupNormForward";
        int[] s = input(op, x);
        int n = s[0], c = s[1], sp = s[2];
        int items = groupItems(op, n, c, groups);
        operand(op, "weight", weight, x, c);
        operand(op, "bias", bias, x, c);
        operand(op, "out", out, x, x.numel());
        operand(op, "mean", mean, x, items);
        operand(op, "rstd", rstd, x, items);
        if (x.numel() == 0) return;
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.ptr(x)).ptr(CudaTensors.ptrOrNull(weight)).ptr(CudaTensors.ptrOrNull(bias)).f64(eps)
                    .i32(c).i32(sp).i32(groups).ptr(CudaTensors.ptr(out)).ptr(CudaTensors.ptr(mean)).ptr(CudaTensors.ptr(rstd));
            ctx.kernel("group_norm_fwd_" + CudaBackend.suffix(x.dtype())).launch(new int[] {items}, new int[] {BLOCK}, 0, a);
        }
    }

    @Override
    public void groupNormBackward(Tensor gradOut, Tensor x, int groups, Tensor weight, Tensor mean, Tensor rstd,
                                  Tensor gradX, Tensor gradWeight, Tensor gradBias) {
        String op = "groupNormBackward";
        int[] s = input(op, x);
        int n = s[0], c = s[1], sp = s[2];
        int items = groupItems(op, n, c, groups);
        operand(op, "gradOut", gradOut, x, x.numel());
        operand(op, "weight", weight, x, c);
        operand(op, "mean", mean, x, items);
        operand(op, "rstd", rstd, x, items);
        operand(op, "gradX", gradX, x, x.numel());
        operand(op, "gradWeight", gradWeight, x, c);
        operand(op, "gradBias", gradBias, x, c);
        if (gradX == null && gradWeight == null && gradBias == null || c == 0) return;
        String t = CudaBackend.suffix(x.dtype());
        // Per (sample, channel) sums of g and g*(x - mean): the weight gradients' parts, and the
        // input gradient's per-group coefficients.
        try (DeviceScratch part = DeviceScratch.allocate(ctx, 2L * n * c * Double.BYTES)) {
            if (n > 0) {
                try (KernelArgs a = new KernelArgs()) {
                    a.ptr(CudaTensors.ptr(gradOut)).ptr(CudaTensors.ptr(x)).ptr(CudaTensors.ptr(mean))
                            .i32(n).i32(c).i32(sp).i32(groups).ptr(part.ptr());
                    ctx.kernel("group_norm_bwd_partials_" + t).launch(new int[] {pairBlocks(op, n, c)}, new int[] {BLOCK}, 0, a);
                }
            }
            if (gradX != null && x.numel() > 0) {
                try (KernelArgs a = new KernelArgs()) {
                    a.ptr(CudaTensors.ptr(gradOut)).ptr(CudaTensors.ptr(x)).ptr(CudaTensors.ptrOrNull(weight))
                            .ptr(CudaTensors.ptr(mean)).ptr(CudaTensors.ptr(rstd)).i32(n).i32(c).i32(sp).i32(groups)
                            .ptr(part.ptr()).ptr(CudaTensors.ptr(gradX));
                    ctx.kernel("group_norm_bwd_input_" + t).launch(new int[] {items}, new int[] {BLOCK}, 0, a);
                }
            }
            if (gradWeight != null || gradBias != null) affineGrad(t, part, n, c, rstd, groups, gradWeight, gradBias);
        }
    }

    private static int groupItems(String op, int n, int c, int groups) {
        if (groups <= 0 || c % groups != 0) throw new IllegalArgumentException(op + ": " + c + " channels do not split into " + groups + " groups");
        long items = (long) n * groups;
        if (items > Integer.MAX_VALUE) throw new IllegalArgumentException(op + ": " + n + " x " + groups + " (sample, group) blocks exceed the grid");
        return (int) items;
    }

    // ---------------------------------------------------------------- dropout

    @Override
    public void dropoutForward(Tensor x, double p, Generator gen, Tensor mask, Tensor out) {
        String op = "dropoutForward";
        floating(op, mask.dtype());
        CudaTensors.requireContiguous(mask, op + " mask");
        long n = mask.numel();
        if (out != null) {
            if (x == null) throw new IllegalArgumentException(op + ": out needs x");
            operand(op, "x", x, mask, n);
            operand(op, "out", out, mask, n);
        }
        // The same counters the CPU reserves, so the masks are the same bits.
        long first = gen.reserve(n);
        double keep = 1 - p;
        double scale = keep > 0 ? 1 / keep : 0;
        long threshold = (long) Math.ceil(keep * 0x1p53);
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(out == null ? 0 : CudaTensors.ptr(x)).i64(n).i64(gen.seed()).i64(first).i64(threshold).f64(scale)
                    .ptr(CudaTensors.ptr(mask)).ptr(CudaTensors.ptrOrNull(out));
            Launch.elementwise(ctx, "dropout_fwd_" + CudaBackend.suffix(mask.dtype()), n, a);
        }
    }

    // ---------------------------------------------------------------- checks

    /** x as [N, C, S]: contiguous, floating. */
    private static int[] input(String op, Tensor x) {
        if (x.dim() != 3) throw new IllegalArgumentException(op + ": x must be [N, C, S], got " + Shapes.str(x.shape()));
        floating(op, x.dtype());
        CudaTensors.requireContiguous(x, op + " x");
        return x.shape();
    }

    private static void floating(String op, DType t) {
        if (!t.isFloating()) throw new IllegalArgumentException(op + ": needs a floating tensor, got " + t);
    }

    /** An optional operand: when present, contiguous, of like's dtype, with numel elements. */
    private static void operand(String op, String name, Tensor v, Tensor like, long numel) {
        if (v == null) return;
        if (v.dtype() != like.dtype()) throw new IllegalArgumentException(op + ": " + name + " is " + v.dtype() + ", expected " + like.dtype());
        if (v.numel() != numel) {
            throw new IllegalArgumentException(op + ": " + name + " " + Shapes.str(v.shape()) + " must have " + numel + " elements");
        }
        CudaTensors.requireContiguous(v, op + " " + name);
    }
}
