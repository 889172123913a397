package dev.lumen.autograd;

import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;

/**
 * Mixed precision on this thread, as torch.autocast:
 * <pre>try (var ac = Autocast.enable(DType.BF16)) { loss = lossFn(model.forward(x)); }</pre>
 * Inside the scope, matrix products (matmul, bmm, linear) and conv2d cast their floating
 * operands (F32, F16, BF16; not F64) to the 16-bit type and compute there, with F32
 * accumulation, and return 16-bit results; the ops on PyTorch's "autocast to float32" list
 * that Lumen has (softmax, log_softmax, layer and group norm, sum, logsumexp, exp, log, pow,
 * rsqrt, reciprocal, softplus; the losses always compute in F32) cast 16-bit inputs to F32;
 * every other op runs in the dtype it gets, and binary ops on mixed types promote as
 * {@link DType#promote} says (F16 with F32 gives F32). As in PyTorch, batch norm and mean are
 * on neither list: they take 16-bit inputs and return 16-bit outputs (computed in F32). Fused
 * ops that carry BatchNorm statistics (CAS-ViT's additive attention) compute in their
 * parameters' type.
 *
 * <p>The casts are recorded on the tape, so the gradients of F32 parameters come back to
 * them in F32 (the master weights stay F32). Backward itself runs with autocast off: each
 * gradient rule computes in the dtypes its forward used. Scopes nest; closing one restores
 * the state it found.
 */
public final class Autocast implements AutoCloseable {
    /** The 16-bit type of the innermost open scope, or null when autocast is off. */
    private static final ThreadLocal<DType[]> DTYPE = ThreadLocal.withInitial(() -> new DType[1]);

    private final DType previous;

    private Autocast(DType dtype) {
        DType[] state = DTYPE.get();
        previous = state[0];
        state[0] = dtype;
    }

    /** Turns autocast on with BF16 or F16 until close(). */
    public static Autocast enable(DType lowPrecision) {
        if (lowPrecision != DType.BF16 && lowPrecision != DType.F16) {
            throw new IllegalArgumentException("Autocast: the low-precision type must be BF16 or F16, got " + lowPrecision);
        }
        return new Autocast(lowPrecision);
    }

    /** Turns autocast off until close() (torch.autocast(enabled=False) inside an autocast region). */
    public static Autocast disable() { return new Autocast(null); }

    /** The 16-bit type ops cast to, or null when autocast is off. */
    public static DType dtype() { return DTYPE.get()[0]; }

    public static boolean isEnabled() { return dtype() != null; }

    /**
     * For ops that compute in the autocast type: x cast to it (recorded) when autocast is on
     * and x is F32, F16 or BF16; otherwise x itself. null stays null (an absent bias).
     */
    public static Tensor toLowPrecision(Tensor x) {
        DType t = dtype();
        if (t == null || x == null || x.dtype() == t) return x;
        DType d = x.dtype();
        return d == DType.F32 || d == DType.F16 || d == DType.BF16 ? x.to(t) : x;
    }

    /** For ops on the F32 list: x cast to F32 (recorded) when autocast is on and x is F16 or BF16; otherwise x itself. */
    public static Tensor toF32(Tensor x) {
        if (!isEnabled()) return x;
        return x.dtype() == DType.F16 || x.dtype() == DType.BF16 ? x.to(DType.F32) : x;
    }

    @Override
    public void close() { DTYPE.get()[0] = previous; }
}
