package dev.lumen.backend.cuda;

import dev.lumen.backend.AdamBiasCorrection;
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
 *
 * <p>The multi-tensor updates cut the parameters into the same chunks, listed as slices of a
 * table of per-parameter records (addresses, per-step scalars) with one async copy, and run one
 * launch per dtype whose blocks do the per-tensor kernel's element code: the same bits as one
 * launch per parameter. Parameters with a strided operand take the per-tensor path.
 */
final class CudaOptimizer implements OptimizerKernels {
    /** Elements per chunk: one block of the norm and clip kernels each. */
    static final int CHUNK = 1 << 14;
    /** Threads of the blocks of every kernel that runs one block per chunk: CHUNK_THREADS in optimizer.cu. */
    private static final int CHUNK_THREADS = 256;
    /** sizeof(lumen_optim::Chunk), sizeof(lumen_optim::Range) and sizeof(lumen_optim::Slice). */
    private static final int CHUNK_BYTES = 16, RANGE_BYTES = 8, SLICE_BYTES = 16;
    /** Longs of lumen_optim::SgdTensor and lumen_optim::AdamTensor. */
    private static final int SGD_RECORD_LONGS = 4, ADAM_RECORD_LONGS = 7;
    /** out[] of optim_norm_total_f64: the total, the clip coefficient, then one norm per tensor. */
    private static final int OUT_TOTAL = 0, OUT_COEF = 1, OUT_NORMS = 2;
    /** The dtypes of the chunked kernels, in the order their chunks sit in a table. */
    private static final DType[] CHUNK_DTYPES = {DType.F32, DType.F64};

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
        requireMatching(op, ts);
        Tensor[] c = new Tensor[ts.length];
        long[] ptrs = new long[ts.length];
        try {
            for (int k = 0; k < ts.length; k++) {
                Tensor x = ts[k];
                if (x == null) continue;
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

    /** Fails unless the operands (nulls skipped) are F32 or F64 with ts[0]'s shape and dtype. */
    private static void requireMatching(String op, Tensor[] ts) {
        Tensor ref = ts[0];
        requireFloat(op, ref.dtype());
        for (int k = 1; k < ts.length; k++) {
            Tensor x = ts[k];
            if (x != null && (!Arrays.equals(x.shape(), ref.shape()) || x.dtype() != ref.dtype())) {
                throw new IllegalArgumentException(op + ": operand " + k + " is " + x.dtype() + Arrays.toString(x.shape())
                        + ", expected " + ref.dtype() + Arrays.toString(ref.shape()));
            }
        }
    }

    /** Whether every operand (nulls skipped) is a contiguous device tensor; fails with the reason for a host one. */
    private static boolean allContiguous(Tensor[] ts) {
        for (Tensor x : ts) {
            if (x == null) continue;
            CudaTensors.ptr(x);   // fails with the reason when x is not on the device
            if (!x.isContiguous()) return false;
        }
        return true;
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
                Launch.elementwise(ctx, "optim_sgd_" + suffix(param.dtype()), n, a);
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
        AdamBiasCorrection bc = AdamBiasCorrection.of(decoupled ? "adamw" : "adam", lr, beta1, beta2, step);
        double decay = 1 - lr * weightDecay;
        boolean l2 = !decoupled && weightDecay != 0, shrink = decoupled && weightDecay != 0;
        long n = param.numel();
        flat(decoupled ? "adamw" : "adam", ts, written, p -> {
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(p[0]).ptr(p[1]).ptr(p[2]).ptr(p[3]).ptr(ams ? p[4] : 0).i64(n).f64(beta1).f64(beta2).f64(eps)
                        .f64(weightDecay).f64(decay).f64(bc.negStepSize()).f64(bc.bc2Sqrt()).i32(l2 ? 1 : 0).i32(shrink ? 1 : 0);
                Launch.elementwise(ctx, "optim_adam_" + suffix(param.dtype()), n, a);
            }
        });
    }

    @Override
    public void sgdMulti(List<Tensor> params, List<Tensor> grads, List<Tensor> momentumBuffers, double lr, double momentum,
                         double dampening, double weightDecay, boolean nesterov, boolean[] initBuffers) {
        int n = params.size();
        OptimizerKernels.requireLengths("sgd", n, grads.size(), momentumBuffers == null ? n : momentumBuffers.size(), initBuffers.length);
        boolean hasBuf = momentum != 0;
        if (hasBuf && momentumBuffers == null) throw new IllegalArgumentException("sgd: momentum " + momentum + " needs momentum buffers");
        List<Tensor> fused = new ArrayList<>();
        List<long[]> records = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Tensor buf = hasBuf ? momentumBuffers.get(i) : null;
            Tensor[] ts = {params.get(i), grads.get(i), buf};
            if (!allContiguous(ts)) {
                sgd(ts[0], ts[1], buf, lr, momentum, dampening, weightDecay, nesterov, initBuffers[i]);
                continue;
            }
            requireMatching("sgd", ts);
            if (hasBuf && buf == null) throw new IllegalArgumentException("sgd: momentum " + momentum + " needs a momentum buffer");
            fused.add(ts[0]);
            records.add(new long[] {CudaTensors.ptr(ts[0]), CudaTensors.ptr(ts[1]), hasBuf ? CudaTensors.ptr(buf) : 0,
                initBuffers[i] ? 1 : 0});
        }
        launchMulti("sgd", "optim_sgd_multi_", fused, records, SGD_RECORD_LONGS,
                a -> a.f64(lr).f64(momentum).f64(dampening).f64(weightDecay).i32(nesterov ? 1 : 0));
    }

    @Override
    public void adamMulti(List<Tensor> params, List<Tensor> grads, List<Tensor> expAvgs, List<Tensor> expAvgSqs,
                          List<Tensor> maxExpAvgSqs, double lr, double beta1, double beta2, double eps, double weightDecay,
                          boolean decoupled, long[] steps) {
        String op = decoupled ? "adamw" : "adam";
        int n = params.size();
        boolean ams = maxExpAvgSqs != null;
        OptimizerKernels.requireLengths(op, n, grads.size(), expAvgs.size(), expAvgSqs.size(), ams ? maxExpAvgSqs.size() : n, steps.length);
        List<Tensor> fused = new ArrayList<>();
        List<long[]> records = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Tensor[] ts = {params.get(i), grads.get(i), expAvgs.get(i), expAvgSqs.get(i), ams ? maxExpAvgSqs.get(i) : null};
            if (!allContiguous(ts)) {
                adam(ts[0], ts[1], ts[2], ts[3], ts[4], lr, beta1, beta2, eps, weightDecay, decoupled, steps[i]);
                continue;
            }
            requireMatching(op, ts);
            AdamBiasCorrection bc = AdamBiasCorrection.of(op, lr, beta1, beta2, steps[i]);
            fused.add(ts[0]);
            records.add(new long[] {CudaTensors.ptr(ts[0]), CudaTensors.ptr(ts[1]), CudaTensors.ptr(ts[2]), CudaTensors.ptr(ts[3]),
                ams ? CudaTensors.ptr(ts[4]) : 0, Double.doubleToRawLongBits(bc.negStepSize()), Double.doubleToRawLongBits(bc.bc2Sqrt())});
        }
        double decay = 1 - lr * weightDecay;
        boolean l2 = !decoupled && weightDecay != 0, shrink = decoupled && weightDecay != 0;
        launchMulti(op, "optim_adam_multi_", fused, records, ADAM_RECORD_LONGS,
                a -> a.f64(beta1).f64(beta2).f64(eps).f64(weightDecay).f64(decay).i32(l2 ? 1 : 0).i32(shrink ? 1 : 0));
    }

    /**
     * Uploads the records of the parameters (one per parameter, recordLongs longs each) and their
     * slices in one table, then launches kernel + dtype once per dtype present with the table's
     * two addresses followed by the scalars that scalars appends. No host wait.
     */
    private void launchMulti(String op, String kernel, List<Tensor> params, List<long[]> records, int recordLongs,
                             Consumer<KernelArgs> scalars) {
        if (params.isEmpty()) return;
        Runs runs = Runs.of(op, params);
        int nSlices = runs.list().size();
        long recordBytes = 8L * recordLongs * params.size();
        long tableBytes = recordBytes + (long) nSlices * SLICE_BYTES;
        try (Arena arena = Arena.ofConfined(); DeviceScratch scratch = DeviceScratch.allocate(ctx, tableBytes)) {
            MemorySegment table = arena.allocate(tableBytes, 8);
            for (int t = 0; t < params.size(); t++) {
                long[] r = records.get(t);
                for (int k = 0; k < recordLongs; k++) table.setAtIndex(ValueLayout.JAVA_LONG, (long) t * recordLongs + k, r[k]);
            }
            for (int k = 0; k < nSlices; k++) {
                long[] run = runs.list().get(k);
                long at = recordBytes + (long) k * SLICE_BYTES;
                table.set(ValueLayout.JAVA_LONG, at, run[Runs.START]);
                table.set(ValueLayout.JAVA_INT, at + 8, (int) run[Runs.LENGTH]);
                table.set(ValueLayout.JAVA_INT, at + 12, (int) run[Runs.TENSOR]);
            }
            long dev = scratch.ptr();
            upload(table, tableBytes, dev);
            for (int gi = 0; gi < CHUNK_DTYPES.length; gi++) {
                if (runs.groupCount()[gi] == 0) continue;
                try (KernelArgs a = new KernelArgs()) {
                    a.ptr(dev).ptr(dev + recordBytes + (long) runs.groupFirst()[gi] * SLICE_BYTES);
                    scalars.accept(a);
                    ctx.kernel(kernel + suffix(CHUNK_DTYPES[gi])).launch(new int[] {runs.groupCount()[gi]}, new int[] {CHUNK_THREADS}, 0, a);
                }
            }
        }
    }

    /** Copies a host table to device memory at dev, queued on the compute stream ahead of the launches that read it. */
    private void upload(MemorySegment table, long bytes, long dev) {
        // From pageable memory the driver stages the bytes before returning: no host wait, and the arena may close.
        ctx.bind().driver().copyHtoDAsync(dev, table, bytes, ctx.stream());
    }

    /**
     * Tensors cut into runs of at most CHUNK elements, {tensor index, first element, length}:
     * grouped by dtype in CHUNK_DTYPES order (one launch per dtype), tensors in list order
     * within a group; groupFirst and groupCount say where each dtype's runs are.
     */
    private record Runs(List<long[]> list, int[] groupFirst, int[] groupCount) {
        static final int TENSOR = 0, START = 1, LENGTH = 2;

        static Runs of(String op, List<Tensor> xs) {
            List<long[]> list = new ArrayList<>();
            int[] first = new int[CHUNK_DTYPES.length], count = new int[CHUNK_DTYPES.length];
            for (int gi = 0; gi < CHUNK_DTYPES.length; gi++) {
                first[gi] = list.size();
                for (int t = 0; t < xs.size(); t++) {
                    Tensor x = xs.get(t);
                    if (x.dtype() != CHUNK_DTYPES[gi]) continue;
                    long n = x.numel();
                    for (long s = 0; s < n; s += CHUNK) {
                        list.add(new long[] {t, s, Math.min(CHUNK, n - s)});
                        if (list.size() == Integer.MAX_VALUE) {
                            throw new IllegalArgumentException(op + ": more than " + Integer.MAX_VALUE + " chunks of " + CHUNK + " elements");
                        }
                    }
                }
                count[gi] = list.size() - first[gi];
            }
            return new Runs(list, first, count);
        }
    }

    @Override
    public void scaleInPlace(Tensor x, double factor) {
        flat("scale", new Tensor[] {x}, new boolean[] {true}, p -> {
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(p[0]).i64(x.numel()).f64(factor);
                Launch.elementwise(ctx, "optim_scale_" + suffix(x.dtype()), x.numel(), a);
            }
        });
    }

    @Override
    public void clampInPlace(Tensor x, double lo, double hi) {
        if (lo > hi) throw new IllegalArgumentException("clamp: min " + lo + " > max " + hi);
        flat("clamp", new Tensor[] {x}, new boolean[] {true}, p -> {
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(p[0]).i64(x.numel()).f64(lo).f64(hi);
                Launch.elementwise(ctx, "optim_clamp_" + suffix(x.dtype()), x.numel(), a);
            }
        });
    }

    @Override
    public void emaUpdate(Tensor ema, Tensor src, double decay) {
        flat("ema_update", new Tensor[] {ema, src}, new boolean[] {true, false}, p -> {
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(p[0]).ptr(p[1]).i64(ema.numel()).f64(decay);
                Launch.elementwise(ctx, "optim_ema_" + suffix(ema.dtype()), ema.numel(), a);
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
        Runs runs = Runs.of("clip_grad_norm", xs);
        int[] groupFirst = runs.groupFirst(), groupCount = runs.groupCount();
        List<long[]> chunks = runs.list();
        // Each tensor's runs are consecutive; an empty tensor keeps the range (0, 0).
        int[][] ranges = new int[tensors][2];
        for (int k = 0; k < chunks.size(); k++) {
            int t = (int) chunks.get(k)[Runs.TENSOR];
            if (chunks.get(k)[Runs.START] == 0) ranges[t][0] = k;
            ranges[t][1]++;
        }
        int nChunks = chunks.size();
        long tableBytes = (long) nChunks * CHUNK_BYTES + (long) tensors * RANGE_BYTES;
        long rangesOff = (long) nChunks * CHUNK_BYTES, partialOff = tableBytes, outOff = partialOff + (long) nChunks * 8;
        CudaDriver drv = ctx.bind().driver();
        try (Arena arena = Arena.ofConfined(); DeviceScratch scratch = DeviceScratch.allocate(ctx, outOff + (2L + tensors) * 8)) {
            MemorySegment table = arena.allocate(tableBytes, 8);
            for (int k = 0; k < nChunks; k++) {
                long[] run = chunks.get(k);
                Tensor x = xs.get((int) run[Runs.TENSOR]);
                table.setAtIndex(ValueLayout.JAVA_LONG, 2L * k, CudaTensors.ptr(x) + run[Runs.START] * x.dtype().byteSize());
                table.setAtIndex(ValueLayout.JAVA_LONG, 2L * k + 1, run[Runs.LENGTH]);
            }
            for (int t = 0; t < tensors; t++) {
                table.set(ValueLayout.JAVA_INT, rangesOff + 8L * t, ranges[t][0]);
                table.set(ValueLayout.JAVA_INT, rangesOff + 8L * t + 4, ranges[t][1]);
            }
            long dev = scratch.ptr();
            upload(table, tableBytes, dev);
            for (int gi = 0; gi < CHUNK_DTYPES.length; gi++) {
                if (groupCount[gi] == 0) continue;
                try (KernelArgs a = new KernelArgs()) {
                    a.ptr(dev + (long) groupFirst[gi] * CHUNK_BYTES).f64(ord).ptr(dev + partialOff + 8L * groupFirst[gi]);
                    ctx.kernel("optim_norm_partial_" + suffix(CHUNK_DTYPES[gi])).launch(new int[] {groupCount[gi]}, new int[] {CHUNK_THREADS}, 0, a);
                }
            }
            try (KernelArgs a = new KernelArgs()) {
                a.ptr(dev + rangesOff).i32(tensors).ptr(dev + partialOff).f64(ord).f64(maxNorm).ptr(dev + outOff);
                ctx.kernel("optim_norm_total_f64").launch(new int[] {1}, new int[] {CHUNK_THREADS}, 0, a);
            }
            if (clip) {
                for (int gi = 0; gi < CHUNK_DTYPES.length; gi++) {
                    if (groupCount[gi] == 0) continue;
                    try (KernelArgs a = new KernelArgs()) {
                        a.ptr(dev + (long) groupFirst[gi] * CHUNK_BYTES).ptr(dev + outOff + 8L * OUT_COEF);
                        ctx.kernel("optim_clip_scale_" + suffix(CHUNK_DTYPES[gi])).launch(new int[] {groupCount[gi]}, new int[] {CHUNK_THREADS}, 0, a);
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
