package dev.lumen.backend.cuda;

import dev.lumen.backend.OptimizerKernels;
import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.CudaDriver;
import dev.lumen.cuda.KernelArgs;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * CUDA implementation of {@link OptimizerKernels} (kernels/cuda/optimizer.cu). The updates are
 * one grid-stride launch each over flat arrays, with the CPU backend's operations in its order,
 * so F32 and F64 trajectories follow CpuOptimizer's. Operands that are not contiguous go through
 * contiguous stand-ins, as on the CPU.
 *
 * <p>Norms never wait per tensor: the tensors are cut into chunks listed in one device table
 * (uploaded with one async copy), one launch per dtype writes a partial sum per chunk, and one
 * single-block launch turns them into per-tensor norms, the total and the clip coefficient in
 * device memory, which the clip's scale launch reads there. The host then reads one double.
 */
final class CudaOptimizer implements OptimizerKernels {
    /** Elements per chunk: one block of the norm and clip kernels each. */
    static final int CHUNK = 1 << 14;
    /** Threads of those blocks: NORM_THREADS in optimizer.cu. */
    private static final int NORM_THREADS = 256;
    /** sizeof(lumen_optim::Chunk) and sizeof(lumen_optim::Range). */
    private static final int CHUNK_BYTES = 16, RANGE_BYTES = 8;
    /** out[] of optim_norm_total_f64: the total, the clip coefficient, then one norm per tensor. */
    private static final int OUT_TOTAL = 0, OUT_COEF = 1, OUT_NORMS = 2;
    /** The dtypes of the norm kernels, in the order their chunks sit in the table. */
    private static final DType[] NORM_DTYPES = {DType.F32, DType.F64};

    private final CudaContext ctx;

    CudaOptimizer(CudaContext ctx) { this.ctx = ctx; }

    private static String suffix(DType t) { return CudaBackend.suffix(t); }

    private static void requireFloat(String op, DType t) {
        if (t != DType.F32 && t != DType.F64) throw new IllegalArgumentException(op + ": needs F32 or F64 tensors, got " + t);
    }

    /**
     * Checks that every operand has ts[0]'s shape and dtype, gives body the device addresses of
     * contiguous equivalents (0 for a null operand), and copies stand-ins of written operands back.
     */
    private static void flat(String op, Tensor[] ts, boolean[] written, Consumer<long[]> body) {
        Tensor ref = ts[0];
        requireFloat(op, ref.dtype());
        Tensor[] c = new Tensor[ts.length];
        long[] ptrs = new long[ts.length];
        try {
            for (int k = 0; k < ts.length; k++) {
                Tensor x = ts[k];
                if (x == null) continue;
                if (!Arrays.equals(x.shape(), ref.shape()) || x.dtype() != ref.dtype()) {
                    throw new IllegalArgumentException(op + ": operand " + k + " is " + x.dtype() + Arrays.toString(x.shape())
                            + ", expected " + ref.dtype() + Arrays.toString(ref.shape()));
                }
                c[k] = contiguous(x);
                ptrs[k] = CudaTensors.ptr(c[k]);
            }
            body.accept(ptrs);
            for (int k = 0; k < ts.length; k++) {
                if (c[k] != null && c[k] != ts[k] && written[k]) c[k].backend().copy(c[k], ts[k]);
            }
        } finally {
            closeStandIns(ts, c);
        }
    }

    /** x itself when contiguous, else a contiguous device copy of it. */
    private static Tensor contiguous(Tensor x) {
        CudaTensors.ptr(x);   // fails with the reason when x is not on the device
        if (x.isContiguous()) return x;
        Tensor c = Tensor.empty(x.dtype(), x.device(), x.shape());
        x.backend().copy(x, c);
        return c;
    }

    private static void closeStandIns(Tensor[] originals, Tensor[] standIns) {
        for (int k = 0; k < originals.length; k++) {
            if (standIns[k] != null && standIns[k] != originals[k]) standIns[k].close();
        }
    }

    @Override
    public void sgd(Tensor param, Tensor grad, Tensor momentumBuffer, double lr, double momentum, double dampening,
                    double weightDecay, boolean nesterov, boolean initBuffer) {
        boolean hasBuf = momentum != 0;
        if (hasBuf && momentumBuffer == null) throw new IllegalArgumentException("sgd: momentum " + momentum + " needs a momentum buffer");
        Tensor[] ts = hasBuf ? new Tensor[] {param, grad, momentumBuffer} : new Tensor[] {param, grad};
        boolean[] written = hasBuf ? new boolean[] {true, false, true} : new boolean[] {true, false};
        long n = param.numel();
        flat("sgd", ts, written, p -> {
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(p[0]).ptr(p[1]).ptr(hasBuf ? p[2] : 0).i64(n).f64(lr).f64(momentum).f64(dampening).f64(weightDecay)
                        .i32(nesterov ? 1 : 0).i32(initBuffer ? 1 : 0);
                Launch.elementwise("optim_sgd_" + suffix(param.dtype()), n, a);
            }
        });
    }

    @Override
    public void adam(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, Tensor maxExpAvgSq, double lr, double beta1,
                     double beta2, double eps, double weightDecay, boolean decoupled, long step) {
        if (step < 1) throw new IllegalArgumentException("adam: step counts from 1, got " + step);
        boolean ams = maxExpAvgSq != null;
        Tensor[] ts = ams ? new Tensor[] {param, grad, expAvg, expAvgSq, maxExpAvgSq} : new Tensor[] {param, grad, expAvg, expAvgSq};
        boolean[] written = ams ? new boolean[] {true, false, true, true, true} : new boolean[] {true, false, true, true};
        // The bias corrections are host scalars computed as CpuOptimizer computes them, in double.
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
        double stepSize = lr / bc1;
        double decay = 1 - lr * weightDecay;
        boolean l2 = !decoupled && weightDecay != 0, shrink = decoupled && weightDecay != 0;
        long n = param.numel();
        flat(decoupled ? "adamw" : "adam", ts, written, p -> {
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(p[0]).ptr(p[1]).ptr(p[2]).ptr(p[3]).ptr(ams ? p[4] : 0).i64(n).f64(beta1).f64(beta2).f64(eps)
                        .f64(weightDecay).f64(decay).f64(-stepSize).f64(bc2Sqrt).i32(l2 ? 1 : 0).i32(shrink ? 1 : 0);
                Launch.elementwise("optim_adam_" + suffix(param.dtype()), n, a);
            }
        });
    }

    @Override
    public void scaleInPlace(Tensor x, double factor) {
        flat("scale", new Tensor[] {x}, new boolean[] {true}, p -> {
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(p[0]).i64(x.numel()).f64(factor);
                Launch.elementwise("optim_scale_" + suffix(x.dtype()), x.numel(), a);
            }
        });
    }

    @Override
    public void clampInPlace(Tensor x, double lo, double hi) {
        if (lo > hi) throw new IllegalArgumentException("clamp: min " + lo + " > max " + hi);
        flat("clamp", new Tensor[] {x}, new boolean[] {true}, p -> {
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(p[0]).i64(x.numel()).f64(lo).f64(hi);
                Launch.elementwise("optim_clamp_" + suffix(x.dtype()), x.numel(), a);
            }
        });
    }

    @Override
    public void emaUpdate(Tensor ema, Tensor src, double decay) {
        flat("ema_update", new Tensor[] {ema, src}, new boolean[] {true, false}, p -> {
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(p[0]).ptr(p[1]).i64(ema.numel()).f64(decay);
                Launch.elementwise("optim_ema_" + suffix(ema.dtype()), ema.numel(), a);
            }
        });
    }

    @Override
    public double vectorNorm(Tensor x, double ord) {
        if (!(ord > 0)) throw new IllegalArgumentException("vector_norm: ord must be > 0, got " + ord);
        requireFloat("vector_norm", x.dtype());
        Tensor[] ts = {x};
        Tensor[] c = {contiguous(x)};
        try {
            return norms(List.of(c[0]), ord, Double.POSITIVE_INFINITY, false, OUT_NORMS);
        } finally {
            closeStandIns(ts, c);
        }
    }

    /** The composite's result with one host wait for the whole list (see the class comment). */
    @Override
    public double clipGradNorm(List<Tensor> grads, double maxNorm, double ord) {
        if (!(ord > 0)) throw new IllegalArgumentException("clip_grad_norm: norm_type must be > 0, got " + ord);
        if (grads.isEmpty()) return 0;
        Tensor[] ts = grads.toArray(new Tensor[0]);
        Tensor[] c = new Tensor[ts.length];
        try {
            for (int k = 0; k < ts.length; k++) {
                requireFloat("clip_grad_norm", ts[k].dtype());
                c[k] = contiguous(ts[k]);
            }
            double total = norms(Arrays.asList(c), ord, maxNorm, true, OUT_TOTAL);
            for (int k = 0; k < ts.length; k++) {
                if (c[k] != ts[k]) c[k].backend().copy(c[k], ts[k]);
            }
            return total;
        } finally {
            closeStandIns(ts, c);
        }
    }

    /**
     * Runs the norm kernels over contiguous F32/F64 tensors xs, scales them by the clip
     * coefficient for maxNorm when clip is set, and returns out[read] (one host wait).
     */
    private double norms(List<Tensor> xs, double ord, double maxNorm, boolean clip, int read) {
        int tensors = xs.size();
        // Chunks grouped by dtype (one launch per dtype), tensors in list order within a group.
        List<long[]> chunks = new ArrayList<>();
        int[][] ranges = new int[tensors][2];
        int[] groupFirst = new int[NORM_DTYPES.length], groupCount = new int[NORM_DTYPES.length];
        for (int gi = 0; gi < NORM_DTYPES.length; gi++) {
            groupFirst[gi] = chunks.size();
            for (int t = 0; t < tensors; t++) {
                Tensor x = xs.get(t);
                if (x.dtype() != NORM_DTYPES[gi]) continue;
                long n = x.numel(), base = CudaTensors.ptr(x), esize = x.dtype().byteSize();
                ranges[t][0] = chunks.size();
                for (long s = 0; s < n; s += CHUNK) {
                    chunks.add(new long[] {base + s * esize, Math.min(CHUNK, n - s)});
                    if (chunks.size() == Integer.MAX_VALUE) {
                        throw new IllegalArgumentException("clip_grad_norm: more than " + Integer.MAX_VALUE + " chunks of " + CHUNK + " elements");
                    }
                }
                ranges[t][1] = chunks.size() - ranges[t][0];
            }
            groupCount[gi] = chunks.size() - groupFirst[gi];
        }
        int nChunks = chunks.size();
        long tableBytes = (long) nChunks * CHUNK_BYTES + (long) tensors * RANGE_BYTES;
        long rangesOff = (long) nChunks * CHUNK_BYTES, partialOff = tableBytes, outOff = partialOff + (long) nChunks * 8;
        CudaDriver drv = ctx.bind().driver();
        try (Arena arena = Arena.ofConfined(); DeviceScratch scratch = DeviceScratch.allocate(outOff + (2L + tensors) * 8)) {
            MemorySegment table = arena.allocate(tableBytes, 8);
            for (int k = 0; k < nChunks; k++) {
                table.setAtIndex(ValueLayout.JAVA_LONG, 2L * k, chunks.get(k)[0]);
                table.setAtIndex(ValueLayout.JAVA_LONG, 2L * k + 1, chunks.get(k)[1]);
            }
            for (int t = 0; t < tensors; t++) {
                table.set(ValueLayout.JAVA_INT, rangesOff + 8L * t, ranges[t][0]);
                table.set(ValueLayout.JAVA_INT, rangesOff + 8L * t + 4, ranges[t][1]);
            }
            long dev = scratch.ptr();
            // From pageable memory the driver stages the bytes before returning: no host wait, and the arena may close.
            drv.copyHtoDAsync(dev, table, tableBytes, ctx.stream());
            for (int gi = 0; gi < NORM_DTYPES.length; gi++) {
                if (groupCount[gi] == 0) continue;
                try (KernelArgs a = new KernelArgs()) {
                    a.ptr(dev + (long) groupFirst[gi] * CHUNK_BYTES).f64(ord).ptr(dev + partialOff + 8L * groupFirst[gi]);
                    ctx.kernel("optim_norm_partial_" + suffix(NORM_DTYPES[gi])).launch(new int[] {groupCount[gi]}, new int[] {NORM_THREADS}, 0, a);
                }
            }
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(dev + rangesOff).i32(tensors).ptr(dev + partialOff).f64(ord).f64(maxNorm).ptr(dev + outOff);
                ctx.kernel("optim_norm_total_f64").launch(new int[] {1}, new int[] {NORM_THREADS}, 0, a);
            }
            if (clip) {
                for (int gi = 0; gi < NORM_DTYPES.length; gi++) {
                    if (groupCount[gi] == 0) continue;
                    try (KernelArgs a = new KernelArgs()) {
                        a.ptr(dev + (long) groupFirst[gi] * CHUNK_BYTES).ptr(dev + outOff + 8L * OUT_COEF);
                        ctx.kernel("optim_clip_scale_" + suffix(NORM_DTYPES[gi])).launch(new int[] {groupCount[gi]}, new int[] {NORM_THREADS}, 0, a);
                    }
                }
            }
            MemorySegment result = arena.allocate(ValueLayout.JAVA_DOUBLE);
            drv.copyDtoHAsync(result, dev + outOff + 8L * read, 8, ctx.stream());
            drv.streamSynchronize(ctx.stream());
            return result.get(ValueLayout.JAVA_DOUBLE, 0);
        }
    }
}
