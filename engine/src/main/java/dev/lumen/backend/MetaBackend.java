package dev.lumen.backend;

import dev.lumen.memory.Storage;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.util.function.LongFunction;

/**
 * The backend of {@link Device#META}: storage of no bytes, and kernels that do nothing. The ops
 * above it still check shapes and allocate their outputs, so a forward pass on META tensors
 * yields every intermediate's shape (and the autograd tape MacCounter reads) without computing.
 */
final class MetaBackend implements Backend {
    static final MetaBackend INSTANCE = new MetaBackend();

    private final ElementwiseKernels elementwise = noop(ElementwiseKernels.class);
    private final ReductionKernels reductions = noop(ReductionKernels.class);
    private final LinalgKernels linalg = noop(LinalgKernels.class);
    private final ConvKernels conv = noop(ConvKernels.class);
    private final PoolKernels pool = noop(PoolKernels.class);
    private final NormKernels norms = noop(NormKernels.class);
    private final IndexKernels indexing = noop(IndexKernels.class);
    private final ResizeKernels resize = noop(ResizeKernels.class);
    private final OptimizerKernels optimizer = noop(OptimizerKernels.class);
    private final OutlookKernels outlook = noop(OutlookKernels.class);
    private final SelectiveScanKernels selectiveScan = noop(SelectiveScanKernels.class);
    private final AdditiveAttentionKernels additiveAttention = noop(AdditiveAttentionKernels.class);

    private MetaBackend() {}

    /**
     * A kernel family whose void kernels return at once; one that must return a value has none to
     * give, except a family's default queries (what layouts a kernel takes), which answer as
     * their defaults do.
     */
    private static <T> T noop(Class<T> family) {
        Object p = Proxy.newProxyInstance(family.getClassLoader(), new Class<?>[] {family}, (proxy, m, args) -> {
            if (m.getDeclaringClass() == Object.class) {
                return switch (m.getName()) {
                    case "toString" -> "meta " + family.getSimpleName();
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> throw new UnsupportedOperationException(m.getName());
                };
            }
            if (m.getReturnType() == void.class) return null;
            if (m.isDefault()) return InvocationHandler.invokeDefault(proxy, m, args);
            throw new IllegalStateException("meta tensors hold no values: " + family.getSimpleName() + "." + m.getName() + " cannot run on them");
        });
        return family.cast(p);
    }

    @Override
    public Device.Kind kind() { return Device.Kind.META; }

    @Override
    public Storage allocate(long bytes, Device device) { return new Storage(MemorySegment.NULL, bytes, device, (s, b) -> { }); }

    @Override
    public void copy(Tensor src, Tensor dst) {
        if (src.device().kind() != Device.Kind.META || dst.device().kind() != Device.Kind.META) throw noValues();
    }

    @Override
    public void fill(Tensor dst, double value) {}

    @Override
    public void randomUniform(Tensor dst, Generator gen, double lo, double hi) {}

    @Override
    public void randomNormal(Tensor dst, Generator gen, double mean, double std) {}

    @Override
    public void randomTruncatedNormal(Tensor dst, Generator gen, double mean, double std, double lo, double hi) {}

    @Override
    public void transfer(Tensor src, Tensor dst) { throw noValues(); }

    @Override
    public void checkIndices(Tensor indices, long size, LongFunction<String> outOfRange) {}

    private static IllegalStateException noValues() {
        return new IllegalStateException("meta tensors hold no values (a shape-only model cannot be read or copied to a device)");
    }

    @Override
    public ElementwiseKernels elementwise() { return elementwise; }

    @Override
    public ReductionKernels reductions() { return reductions; }

    @Override
    public LinalgKernels linalg() { return linalg; }

    @Override
    public ConvKernels conv() { return conv; }

    @Override
    public PoolKernels pool() { return pool; }

    @Override
    public NormKernels norms() { return norms; }

    @Override
    public IndexKernels indexing() { return indexing; }

    @Override
    public ResizeKernels resize() { return resize; }

    @Override
    public OptimizerKernels optimizer() { return optimizer; }

    @Override
    public OutlookKernels outlook() { return outlook; }

    @Override
    public SelectiveScanKernels selectiveScan() { return selectiveScan; }

    @Override
    public AdditiveAttentionKernels additiveAttention() { return additiveAttention; }
}
