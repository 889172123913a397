package dev.lumen.backend.cuda;

import dev.lumen.backend.AdditiveAttentionKernels;
import dev.lumen.backend.Backend;
import dev.lumen.backend.Backends;
import dev.lumen.backend.ConvKernels;
import dev.lumen.backend.ElementwiseKernels;
import dev.lumen.backend.IndexKernels;
import dev.lumen.backend.LinalgKernels;
import dev.lumen.backend.NormKernels;
import dev.lumen.backend.OptimizerKernels;
import dev.lumen.backend.OutlookKernels;
import dev.lumen.backend.PoolKernels;
import dev.lumen.backend.ReductionKernels;
import dev.lumen.backend.ResizeKernels;
import dev.lumen.backend.SelectiveScanKernels;
import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.CudaDriver;
import dev.lumen.memory.Storage;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.function.LongFunction;

/**
 * The CUDA backend of one device (cuda:N; one instance per device, {@link #of}): the same kernel
 * families as the CPU backend. Storage comes from the device's own caching allocator; every kernel, cuBLAS and cuDNN call is queued on the
 * context's compute stream, and the host waits only where a value must reach it (a copy to the
 * host). Standard layers go to cuBLAS (GEMM) and cuDNN (convolution, BatchNorm); everything else
 * runs Lumen's own kernels from kernels/cuda, compiled into the fatbin (or, under the emulated
 * driver, into libcuda_emu.so).
 */
public final class CudaBackend implements Backend {
    private final CudaContext ctx;
    private final DeviceAllocator allocator;
    private final DeferredChecks checks;
    private final CudaCopy copies;
    private final BatchUploader uploader;
    private final ElementwiseKernels elementwise;
    private final ReductionKernels reductions;
    private final LinalgKernels linalg;
    private final ConvKernels conv;
    private final PoolKernels pool;
    private final NormKernels norms;
    private final IndexKernels indexing;
    private final ResizeKernels resize;
    private final OptimizerKernels optimizer;
    private final OutlookKernels outlook;
    private final SelectiveScanKernels selectiveScan;
    private final AdditiveAttentionKernels additiveAttention;

    /** The backend over ctx's device; the engine makes one per device through CudaBackendProvider. */
    public CudaBackend(CudaContext ctx) {
        this.ctx = ctx;
        this.allocator = new DeviceAllocator(ctx);
        this.checks = new DeferredChecks(ctx);
        this.copies = new CudaCopy(ctx, checks);
        this.uploader = new BatchUploader(ctx);
        this.elementwise = new CudaElementwise(ctx);
        this.reductions = new CudaReductions(ctx);
        this.linalg = new CudaLinalg(ctx);
        this.conv = new CudaConv(ctx);
        this.pool = new CudaPool(ctx);
        this.norms = new CudaNorms(ctx, new CudnnBatchNorm(ctx));
        this.indexing = new CudaIndexing(ctx, checks);
        this.resize = new CudaResize(ctx);
        this.optimizer = new CudaOptimizer(ctx);
        this.outlook = new CudaOutlook(ctx);
        this.selectiveScan = new CudaSelectiveScan(ctx);
        this.additiveAttention = new CudaAdditiveAttention(ctx);
    }

    /** Device 0's CUDA backend (Backends.cuda()); throws with the reason when there is none. */
    public static CudaBackend get() { return (CudaBackend) Backends.cuda(); }

    /** The backend of cuda:ordinal (Backends.of(cuda:N)); throws with the reason when there is none. */
    public static CudaBackend of(int ordinal) { return (CudaBackend) Backends.of(Device.cuda(ordinal)); }

    /** The backend of ctx's device. */
    public static CudaBackend of(CudaContext ctx) { return of(ctx.ordinal()); }

    public CudaContext context() { return ctx; }

    /** The device this backend drives. */
    public Device device() { return Device.cuda(ctx.ordinal()); }

    DeviceAllocator allocator() { return allocator; }

    @Override
    public Device.Kind kind() { return Device.Kind.CUDA; }

    @Override
    public Storage allocate(long bytes, Device device) {
        if (device.kind() != Device.Kind.CUDA || device.index() != ctx.ordinal()) {
            throw new IllegalArgumentException("the backend of cuda:" + ctx.ordinal() + " cannot allocate on " + device);
        }
        long ptr = allocator.allocate(bytes);
        return new Storage(MemorySegment.ofAddress(ptr), bytes, device, (seg, b) -> allocator.free(seg.address(), b));
    }

    @Override
    public void copy(Tensor src, Tensor dst) { copies.copy(src, dst); }

    @Override
    public void fill(Tensor dst, double value) { copies.fill(dst, value); }

    // Random fills draw on the host with the CPU backend's counter-based generator and upload:
    // a model initialized on cuda holds the same values as one initialized on the CPU, and
    // initialization is not a hot path.
    @Override
    public void randomUniform(Tensor dst, Generator gen, double lo, double hi) {
        fromHost(dst, h -> Backends.cpu().randomUniform(h, gen, lo, hi));
    }

    @Override
    public void randomNormal(Tensor dst, Generator gen, double mean, double std) {
        fromHost(dst, h -> Backends.cpu().randomNormal(h, gen, mean, std));
    }

    @Override
    public void randomTruncatedNormal(Tensor dst, Generator gen, double mean, double std, double lo, double hi) {
        fromHost(dst, h -> Backends.cpu().randomTruncatedNormal(h, gen, mean, std, lo, hi));
    }

    private void fromHost(Tensor dst, java.util.function.Consumer<Tensor> fill) {
        try (Tensor h = Tensor.empty(dst.dtype(), Device.CPU, dst.shape())) {
            fill.accept(h);
            copies.transfer(h, dst);
        }
    }

    @Override
    public void transfer(Tensor src, Tensor dst) { copies.transfer(src, dst); }

    /** Through pinned staging and the copy stream, overlapped with queued compute (BatchUploader). */
    @Override
    public Tensor upload(Tensor host, Device device) {
        if (host.device().kind() != Device.Kind.CPU) throw new IllegalArgumentException("upload: expected a host tensor, got " + host);
        if (!device.equals(device())) throw new IllegalArgumentException("upload: the backend of " + device() + " cannot upload to " + device);
        return uploader.upload(host, device);
    }

    /** Queued on the device (DeferredChecks): a bad index throws at the next copy to the host or synchronize. */
    @Override
    public void checkIndices(Tensor indices, long size, LongFunction<String> outOfRange) { checks.check(indices, size, outOfRange); }

    /**
     * Waits until every queued kernel and copy has finished (for timing and tests; ops never need
     * it), then throws the first index check that failed since the last wait, if any.
     */
    public void synchronize() { checks.waitForHost(); }

    /** Bytes of device memory held by tensors and scratch now. */
    public long liveBytes() { return allocator.liveBytes(); }

    /** How many device allocations reached the driver since start. */
    public long driverAllocations() { return allocator.driverAllocations(); }

    /** One line: the allocator's state. */
    public String memoryStats() { return allocator.stats(); }

    /** The driver in use. */
    public CudaDriver driver() { return ctx.driver(); }

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

    /** The kernel name suffix of a dtype: f32, f64, f16, bf16, i32, i64, bool. */
    public static String suffix(DType t) { return t.name().toLowerCase(java.util.Locale.ROOT); }
}
