package dev.lumen.backend.cpu;

import dev.lumen.backend.Backend;
import dev.lumen.backend.ConvKernels;
import dev.lumen.backend.ElementwiseKernels;
import dev.lumen.backend.IndexKernels;
import dev.lumen.backend.LinalgKernels;
import dev.lumen.backend.NormKernels;
import dev.lumen.backend.OptimizerKernels;
import dev.lumen.backend.OutlookKernels;
import dev.lumen.backend.SelectiveScanKernels;
import dev.lumen.backend.AdditiveAttentionKernels;
import dev.lumen.backend.AttentionKernels;
import dev.lumen.backend.PoolKernels;
import dev.lumen.backend.ReductionKernels;
import dev.lumen.backend.ResizeKernels;
import dev.lumen.memory.Storage;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.HostAccess;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/** The CPU backend: host memory, Java kernels on {@link Parallel}'s threads, OpenBLAS for GEMM. */
public final class CpuBackend implements Backend {
    private final CpuElementwise elementwise = new CpuElementwise();
    private final CpuReductions reductions = new CpuReductions();
    private final LinalgKernels linalg = HalfPrecision.linalg(new CpuLinalg());
    private final ConvKernels conv = HalfPrecision.conv(new CpuConv());
    private final CpuPool pool = new CpuPool();
    private final CpuNorms norms = new CpuNorms();
    private final CpuIndexing indexing = new CpuIndexing();
    private final CpuResize resize = new CpuResize();
    private final CpuOptimizer optimizer = new CpuOptimizer();
    private final CpuOutlook outlook = new CpuOutlook();
    private final CpuSelectiveScan selectiveScan = new CpuSelectiveScan();
    private final CpuAdditiveAttention additiveAttention = new CpuAdditiveAttention();
    private final CpuAttention attention = new CpuAttention();

    @Override
    public Device.Kind kind() { return Device.Kind.CPU; }

    @Override
    public Storage allocate(long bytes, Device device) { return Storage.host(bytes); }

    @Override
    public void copy(Tensor src, Tensor dst) {
        if (!Arrays.equals(src.shape(), dst.shape())) {
            throw new IllegalArgumentException("copy: shapes " + Arrays.toString(src.shape()) + " and " + Arrays.toString(dst.shape()) + " differ");
        }
        MemorySegment s = src.storage().segment();
        MemorySegment d = dst.storage().segment();
        DType st = src.dtype();
        DType dt = dst.dtype();
        StridedLoop loop = StridedLoop.of(dst.shape(), src, dst);
        if (st == dt && st.byteSize() == 4) {
            loop.forEachRow((base, n, step) -> {
                if (step[0] == 1 && step[1] == 1) {
                    MemorySegment.copy(s, base[0] * 4, d, base[1] * 4, n * 4L);
                } else {
                    long a = base[0], b = base[1];
                    for (int i = 0; i < n; i++, a += step[0], b += step[1]) {
                        d.setAtIndex(ValueLayout.JAVA_INT, b, s.getAtIndex(ValueLayout.JAVA_INT, a));
                    }
                }
            });
        } else if (st == dt) {
            int size = st.byteSize();
            loop.forEachRow((base, n, step) -> {
                if (step[0] == 1 && step[1] == 1) {
                    MemorySegment.copy(s, base[0] * size, d, base[1] * size, (long) n * size);
                } else {
                    long a = base[0], b = base[1];
                    for (int i = 0; i < n; i++, a += step[0], b += step[1]) {
                        MemorySegment.copy(s, a * size, d, b * size, size);
                    }
                }
            });
        } else if (st == DType.I64 || dt == DType.I64) {
            // Integer copies go through long so that large indices stay exact.
            loop.forEachRow((base, n, step) -> {
                long a = base[0], b = base[1];
                for (int i = 0; i < n; i++, a += step[0], b += step[1]) {
                    if (st == DType.I64) HostAccess.set(d, dt, b, s.getAtIndex(ValueLayout.JAVA_LONG, a));
                    else d.setAtIndex(ValueLayout.JAVA_LONG, b, (long) HostAccess.get(s, st, a));
                }
            });
        } else {
            loop.forEachRow((base, n, step) -> {
                long a = base[0], b = base[1];
                for (int i = 0; i < n; i++, a += step[0], b += step[1]) HostAccess.set(d, dt, b, HostAccess.get(s, st, a));
            });
        }
    }

    @Override
    public void fill(Tensor dst, double value) {
        MemorySegment d = dst.storage().segment();
        DType dt = dst.dtype();
        StridedLoop.of(dst.shape(), dst).forEachRow((base, n, step) -> {
            long b = base[0];
            if (dt == DType.F32) {
                float v = (float) value;
                if (step[0] == 1 && v == 0f) {
                    d.asSlice(b * 4, n * 4L).fill((byte) 0);
                } else {
                    for (int i = 0; i < n; i++, b += step[0]) d.setAtIndex(ValueLayout.JAVA_FLOAT, b, v);
                }
            } else {
                for (int i = 0; i < n; i++, b += step[0]) HostAccess.set(d, dt, b, value);
            }
        });
    }

    @Override
    public void randomUniform(Tensor dst, Generator gen, double lo, double hi) {
        fillRandom(dst, gen, (seed, c) -> lo + (hi - lo) * Generator.uniform(seed, c));
    }

    @Override
    public void randomNormal(Tensor dst, Generator gen, double mean, double std) {
        fillRandom(dst, gen, (seed, c) -> mean + std * Generator.normal(seed, c));
    }

    @Override
    public void randomTruncatedNormal(Tensor dst, Generator gen, double mean, double std, double lo, double hi) {
        double cdfLo = SpecialFunctions.normalCdf((lo - mean) / std);
        double cdfHi = SpecialFunctions.normalCdf((hi - mean) / std);
        fillRandom(dst, gen, (seed, c) -> {
            double u = cdfLo + (cdfHi - cdfLo) * Generator.uniform(seed, c);
            double x = mean + std * SpecialFunctions.normalQuantile(u);
            return Math.min(hi, Math.max(lo, x));
        });
    }

    /** The value of draw c for a seed. */
    private interface Draw {
        double at(long seed, long c);
    }

    /** Draw i goes to logical element i, so the values do not depend on strides or threads. */
    private void fillRandom(Tensor dst, Generator gen, Draw draw) {
        long n = dst.numel();
        long first = gen.reserve(n);
        long seed = gen.seed();
        Tensor target = dst.isContiguous() ? dst : Tensor.empty(dst.dtype(), Device.CPU, dst.shape());
        MemorySegment d = target.storage().segment();
        DType dt = target.dtype();
        long off = target.offset();
        Parallel.forRange(n, 8192, (lo, hi) -> {
            for (long i = lo; i < hi; i++) {
                HostAccess.set(d, dt, off + i, draw.at(seed, first + i));
            }
        });
        if (target != dst) {
            copy(target, dst);
            target.close();
        }
    }

    @Override
    public void transfer(Tensor src, Tensor dst) {
        if (src.device().kind() != Device.Kind.CPU || dst.device().kind() != Device.Kind.CPU) {
            throw new IllegalStateException("the CPU backend moves host tensors only; " + src.device() + " -> " + dst.device()
                    + " is the device backend's job");
        }
        copy(src, dst);
    }

    @Override public ElementwiseKernels elementwise() { return elementwise; }
    @Override public ReductionKernels reductions() { return reductions; }
    @Override public LinalgKernels linalg() { return linalg; }
    @Override public ConvKernels conv() { return conv; }
    @Override public PoolKernels pool() { return pool; }
    @Override public NormKernels norms() { return norms; }
    @Override public IndexKernels indexing() { return indexing; }
    @Override public ResizeKernels resize() { return resize; }
    @Override public OptimizerKernels optimizer() { return optimizer; }
    @Override public OutlookKernels outlook() { return outlook; }
    @Override public SelectiveScanKernels selectiveScan() { return selectiveScan; }
    @Override public AdditiveAttentionKernels additiveAttention() { return additiveAttention; }
    @Override public AttentionKernels attention() { return attention; }
}
