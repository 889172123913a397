package dev.lumen.tensor;

import dev.lumen.autograd.Autograd;
import dev.lumen.autograd.Node;
import dev.lumen.backend.Backend;
import dev.lumen.backend.Backends;
import dev.lumen.memory.Scope;
import dev.lumen.memory.Storage;
import dev.lumen.ops.Elementwise;
import dev.lumen.ops.Views;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.util.Arrays;

/**
 * An n-dimensional array: a view (shape, strides, offset, dtype) of a storage, plus its
 * place on the autograd tape. Ops live in the classes of {@code dev.lumen.ops}; the
 * methods here are the view operations and a few shortcuts that read naturally
 * ({@code x.add(y)}).
 *
 * <p>A tensor made inside a {@link Scope} is freed when the scope closes; one made outside
 * every scope lives until {@link #close()} or until the GC finds it unreachable.
 */
public final class Tensor implements Scope.Resource, AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    private final Storage storage;
    private final int[] shape;
    private final int[] strides;
    private final long offset;
    private final DType dtype;
    private final StorageRef ref;
    private Scope owner;
    private Cleaner.Cleanable cleanable;
    /** Who still needs the bytes: the creator (until {@link #release()}) and each autograd node that saved this tensor. */
    private final java.util.concurrent.atomic.AtomicInteger holds = new java.util.concurrent.atomic.AtomicInteger(1);
    private volatile boolean released;

    private boolean requiresGrad;
    private boolean retainGrad;
    private Tensor grad;
    private Node gradFn;

    /** Releases the storage once, whether by close() or by the cleaner. Holds no reference to the tensor. */
    private static final class StorageRef implements Runnable {
        private Storage storage;

        StorageRef(Storage storage) { this.storage = storage; }

        @Override
        public synchronized void run() {
            if (storage != null) {
                storage.release();
                storage = null;
            }
        }

        synchronized boolean closed() { return storage == null; }
    }

    /** A tensor over storage; takes over one reference to it. */
    public Tensor(Storage storage, int[] shape, int[] strides, long offset, DType dtype) {
        this.storage = storage;
        this.shape = shape;
        this.strides = strides;
        this.offset = offset;
        this.dtype = dtype;
        this.ref = new StorageRef(storage);
        Scope.adopt(this);
    }

    // ---------------------------------------------------------------- creation

    /** Uninitialized tensor. */
    public static Tensor empty(DType dtype, Device device, int... shape) {
        long n = Shapes.numel(shape);
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("tensor of " + n + " elements is too large");
        device = ShapeOnly.redirect(device);
        Backend b = Backends.of(device);
        return new Tensor(b.allocate(n * dtype.byteSize(), device), shape.clone(), Shapes.contiguousStrides(shape), 0, dtype);
    }

    public static Tensor empty(int... shape) { return empty(DType.F32, Device.CPU, shape); }

    public static Tensor full(double value, DType dtype, Device device, int... shape) {
        Tensor t = empty(dtype, device, shape);
        t.backend().fill(t, value);
        return t;
    }

    public static Tensor zeros(int... shape) { return full(0, DType.F32, Device.CPU, shape); }

    public static Tensor zeros(DType dtype, Device device, int... shape) { return full(0, dtype, device, shape); }

    public static Tensor ones(int... shape) { return full(1, DType.F32, Device.CPU, shape); }

    public static Tensor scalar(double v) { return full(v, DType.F32, Device.CPU); }

    public static Tensor scalar(double v, DType dtype, Device device) { return full(v, dtype, device); }

    /** 0, step, 2*step ... below end, as PyTorch's arange. */
    public static Tensor arange(double start, double end, double step, DType dtype) {
        int n = (int) Math.ceil((end - start) / step);
        double[] v = new double[Math.max(n, 0)];
        for (int i = 0; i < v.length; i++) v[i] = start + i * step;
        return fromDoubles(v, dtype, v.length);
    }

    public static Tensor arange(int n) { return arange(0, n, 1, DType.I64); }

    public static Tensor fromFloats(float[] data, int... shape) {
        checkLength(data.length, shape);
        if (ShapeOnly.active()) return empty(DType.F32, Device.META, shape);
        Tensor t = empty(DType.F32, Device.CPU, shape);
        MemorySegment.copy(data, 0, t.storage.segment(), java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, data.length);
        return t;
    }

    public static Tensor fromDoubles(double[] data, DType dtype, int... shape) {
        checkLength(data.length, shape);
        if (ShapeOnly.active()) return empty(dtype, Device.META, shape);
        Tensor t = empty(dtype, Device.CPU, shape);
        MemorySegment seg = t.storage.segment();
        for (int i = 0; i < data.length; i++) HostAccess.set(seg, dtype, i, data[i]);
        return t;
    }

    public static Tensor fromLongs(long[] data, int... shape) {
        checkLength(data.length, shape);
        if (ShapeOnly.active()) return empty(DType.I64, Device.META, shape);
        Tensor t = empty(DType.I64, Device.CPU, shape);
        MemorySegment.copy(data, 0, t.storage.segment(), java.lang.foreign.ValueLayout.JAVA_LONG, 0, data.length);
        return t;
    }

    private static void checkLength(int length, int[] shape) {
        if (Shapes.numel(shape) != length) {
            throw new IllegalArgumentException(length + " values do not fill shape " + Arrays.toString(shape));
        }
    }

    /** Uniform in [lo, hi) from the generator. */
    public static Tensor rand(Generator gen, DType dtype, int... shape) {
        Tensor t = empty(dtype, Device.CPU, shape);
        t.backend().randomUniform(t, gen, 0, 1);
        return t;
    }

    public static Tensor rand(int... shape) { return rand(Generator.global(), DType.F32, shape); }

    /** Standard normal from the generator. */
    public static Tensor randn(Generator gen, DType dtype, int... shape) {
        Tensor t = empty(dtype, Device.CPU, shape);
        t.backend().randomNormal(t, gen, 0, 1);
        return t;
    }

    public static Tensor randn(int... shape) { return randn(Generator.global(), DType.F32, shape); }

    /** Normal(mean, std) truncated to [lo, hi], as timm's trunc_normal_. */
    public static Tensor truncNormal(Generator gen, DType dtype, double mean, double std, double lo, double hi, int... shape) {
        if (!(std > 0) || !(lo < hi)) {
            throw new IllegalArgumentException("truncNormal: need std > 0 and lo < hi, got std " + std + ", [" + lo + ", " + hi + "]");
        }
        Tensor t = empty(dtype, Device.CPU, shape);
        t.backend().randomTruncatedNormal(t, gen, mean, std, lo, hi);
        return t;
    }

    // ---------------------------------------------------------------- layout

    public int[] shape() { return shape.clone(); }

    public int shape(int dim) { return shape[Shapes.wrapDim(dim, shape.length)]; }

    public int[] strides() { return strides.clone(); }

    public int stride(int dim) { return strides[Shapes.wrapDim(dim, shape.length)]; }

    public long offset() { return offset; }

    public DType dtype() { return dtype; }

    public Device device() { return storage.device(); }

    public int dim() { return shape.length; }

    public long numel() { return Shapes.numel(shape); }

    public Storage storage() {
        if (ref.closed()) {
            throw new IllegalStateException(released
                    ? "use of a released tensor " + Arrays.toString(shape) + ": its memory was freed once nothing could use it"
                            + " (released early by a container, block or in-place op); keep the tensor, or copy it before"
                    : "use of a closed tensor " + Arrays.toString(shape));
        }
        return storage;
    }

    public boolean isContiguous() { return Arrays.equals(strides, Shapes.contiguousStrides(shape)) || numel() <= 1; }

    public Backend backend() { return Backends.of(storage.device()); }

    /** A view of the same storage with another layout; shares the autograd history of nothing (callers record it). */
    public Tensor viewOf(int[] newShape, int[] newStrides, long newOffset) {
        return new Tensor(storage().retain(), newShape, newStrides, newOffset, dtype);
    }

    // ---------------------------------------------------------------- views (recorded on the tape)

    public Tensor reshape(int... newShape) { return Views.reshape(this, newShape); }

    public Tensor view(int... newShape) { return Views.view(this, newShape); }

    public Tensor flatten(int startDim, int endDim) { return Views.flatten(this, startDim, endDim); }

    public Tensor permute(int... dims) { return Views.permute(this, dims); }

    public Tensor transpose(int d0, int d1) { return Views.transpose(this, d0, d1); }

    /** The slice [start, start+length) of dim. */
    public Tensor narrow(int dim, int start, int length) { return Views.narrow(this, dim, start, length); }

    /** The slice [start, end) with a step, as Python's t[start:end:step]. */
    public Tensor slice(int dim, int start, int end, int step) { return Views.slice(this, dim, start, end, step); }

    public Tensor select(int dim, int index) { return Views.select(this, dim, index); }

    public Tensor expand(int... newShape) { return Views.expand(this, newShape); }

    public Tensor squeeze(int dim) { return Views.squeeze(this, dim); }

    public Tensor unsqueeze(int dim) { return Views.unsqueeze(this, dim); }

    public Tensor contiguous() { return isContiguous() ? this : Views.copy(this); }

    /** A new tensor with its own storage and the same values; differentiable. */
    public Tensor copy() { return Views.copy(this); }

    public Tensor to(DType target) { return target == dtype ? this : Views.cast(this, target); }

    public Tensor to(Device target) {
        target = ShapeOnly.redirect(target);
        return target.equals(device()) ? this : Views.toDevice(this, target);
    }

    // ---------------------------------------------------------------- shortcuts to ops

    public Tensor add(Tensor o) { return Elementwise.add(this, o); }

    public Tensor sub(Tensor o) { return Elementwise.sub(this, o); }

    public Tensor mul(Tensor o) { return Elementwise.mul(this, o); }

    public Tensor div(Tensor o) { return Elementwise.div(this, o); }

    public Tensor add(double s) { return Elementwise.add(this, s); }

    public Tensor mul(double s) { return Elementwise.mul(this, s); }

    public Tensor neg() { return Elementwise.neg(this); }

    public Tensor sub(double s) { return Elementwise.sub(this, s); }

    public Tensor div(double s) { return Elementwise.div(this, s); }

    public Tensor pow(double e) { return Elementwise.pow(this, e); }

    public Tensor exp() { return Elementwise.exp(this); }

    public Tensor log() { return Elementwise.log(this); }

    public Tensor sqrt() { return Elementwise.sqrt(this); }

    public Tensor relu() { return dev.lumen.ops.Activations.relu(this); }

    public Tensor gt(double s) { return Elementwise.gt(this, s); }

    public Tensor matmul(Tensor o) { return dev.lumen.ops.LinearAlgebra.matmul(this, o); }

    public Tensor softmax(int dim) { return dev.lumen.ops.Softmax.softmax(this, dim); }

    /** Sum of all elements. */
    public Tensor sum() { return dev.lumen.ops.Reductions.sum(this); }

    /** Sum over dims, dropping them. */
    public Tensor sum(int... dims) { return dev.lumen.ops.Reductions.sum(this, dims, false); }

    /** Mean of all elements. */
    public Tensor mean() { return dev.lumen.ops.Reductions.mean(this); }

    /** Mean over dims, dropping them. */
    public Tensor mean(int... dims) { return dev.lumen.ops.Reductions.mean(this, dims, false); }

    /** Index of the largest value along dim (I64), dropping the dim. */
    public Tensor argmax(int dim) { return dev.lumen.ops.Reductions.argmax(this, dim, false); }

    // ---------------------------------------------------------------- host access

    /** All values as floats, in logical (row-major) order. */
    public float[] toFloats() {
        storage();
        if (isMeta()) return new float[(int) numel()];
        Tensor c = hostContiguous(DType.F32);
        float[] out = c.storage.segment().asSlice(c.offset * 4, numel() * 4L).toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
        if (c != this) c.close();
        return out;
    }

    /** All values as doubles, in logical order. */
    public double[] toDoubles() {
        storage();
        if (isMeta()) return new double[(int) numel()];
        Tensor c = hostContiguous(DType.F64);
        double[] out = c.storage.segment().asSlice(c.offset * 8, numel() * 8L).toArray(java.lang.foreign.ValueLayout.JAVA_DOUBLE);
        if (c != this) c.close();
        return out;
    }

    /** All values as longs (integer tensors), in logical order. */
    public long[] toLongs() {
        storage();
        if (isMeta()) return new long[(int) numel()];
        Tensor c = hostContiguous(DType.I64);
        long[] out = c.storage.segment().asSlice(c.offset * 8, numel() * 8L).toArray(java.lang.foreign.ValueLayout.JAVA_LONG);
        if (c != this) c.close();
        return out;
    }

    /** The value of a one-element tensor. */
    public double item() {
        if (numel() != 1) throw new IllegalStateException("item() of a tensor with " + numel() + " elements");
        return toDoubles()[0];
    }

    /**
     * A META tensor read inside a shape-only region reads as zeros (a model's init may derive
     * values from others; their shapes are all that matter there); outside one it is an error.
     */
    private boolean isMeta() {
        if (device().kind() != Device.Kind.META) return false;
        if (!ShapeOnly.active()) throw new IllegalStateException("a meta tensor of shape " + Arrays.toString(shape) + " holds no values");
        return true;
    }

    private Tensor hostContiguous(DType target) {
        if (dtype == target && isContiguous() && device().kind() == Device.Kind.CPU) return this;
        try (GradOff g = new GradOff()) {
            Tensor host = device().kind() == Device.Kind.CPU ? this : to(Device.CPU);
            Tensor out = empty(target, Device.CPU, shape);
            Backends.of(Device.CPU).copy(host, out);
            if (host != this) host.close();
            return out;
        }
    }

    private static final class GradOff implements AutoCloseable {
        private final dev.lumen.autograd.GradMode mode = dev.lumen.autograd.GradMode.noGrad();

        @Override
        public void close() { mode.close(); }
    }

    // ---------------------------------------------------------------- autograd

    public boolean requiresGrad() { return requiresGrad; }

    /** Marks a leaf as needing gradients; returns this. */
    public Tensor requiresGrad(boolean on) {
        if (gradFn != null && !on) throw new IllegalStateException("requiresGrad(false) on a non-leaf tensor: use detach()");
        if (on && !dtype.isFloating()) throw new IllegalStateException("only floating tensors can require gradients, not " + dtype);
        this.requiresGrad = on;
        return this;
    }

    public boolean isLeaf() { return gradFn == null; }

    public Node gradFn() { return gradFn; }

    /** Called by Autograd.record. */
    public void attachGradFn(Node node) {
        this.gradFn = node;
        this.requiresGrad = true;
    }

    /** Keeps .grad on a non-leaf tensor too (PyTorch's retain_grad). */
    public Tensor retainGrad() {
        this.retainGrad = true;
        return this;
    }

    public boolean retainsGrad() { return retainGrad; }

    public Tensor grad() { return grad; }

    /** Replaces .grad (null clears it and frees the old one). */
    public void setGrad(Tensor g) {
        if (grad != null && grad != g) grad.close();
        grad = g;
    }

    /** Adds g into .grad; .grad is owned by this tensor, outside every scope. */
    public void accumulateGrad(Tensor g) {
        if (grad == null) {
            Tensor fresh = Tensor.empty(dtype, device(), shape);
            Scope.detachFromScopes(fresh);
            fresh.registerCleaner();
            backend().copy(g, fresh);
            grad = fresh;
        } else {
            Elementwise.addInPlace(grad, g, 1.0);
        }
    }

    /** Backward from a one-element tensor. */
    public void backward() {
        if (numel() != 1) throw new IllegalStateException("backward() needs a scalar; give a gradient for shape " + Arrays.toString(shape));
        Tensor one = full(1.0, dtype, device(), shape);
        Autograd.backward(this, one);
        one.close();
    }

    public void backward(Tensor gradOutput) { Autograd.backward(this, gradOutput); }

    /** Backward that keeps the graph for another backward, as PyTorch's retain_graph=True. */
    public void backward(Tensor gradOutput, boolean retainGraph) { Autograd.backward(this, gradOutput, null, retainGraph); }

    /** Same storage, no history. */
    public Tensor detach() { return viewOf(shape.clone(), strides.clone(), offset); }

    // ---------------------------------------------------------------- lifetime

    @Override
    public Scope owner() { return owner; }

    @Override
    public void setOwner(Scope scope) {
        owner = scope;
        if (scope == null && cleanable == null) registerCleaner();
    }

    private void registerCleaner() {
        if (cleanable == null) cleanable = CLEANER.register(this, ref);
    }

    /** Frees this tensor's hold on its storage now. Further use of it is an error. */
    @Override
    public void close() {
        if (cleanable != null) cleanable.clean();
        else ref.run();
        if (grad != null) {
            grad.close();
            grad = null;
        }
        gradFn = null;
    }

    public boolean isClosed() { return ref.closed(); }

    /**
     * Drops the creator's claim on the bytes: they are freed now, or as soon as the last autograd
     * node that saved this tensor has run its backward. The tensor stays on the tape (its gradFn
     * and shape remain, so backward can pass through it), but reading its values afterwards is an
     * error that says so. A second call does nothing. Scopes stay the safety net: one that closes
     * frees whatever is still held.
     */
    @Override
    public void release() {
        if (released) return;
        released = true;
        dropHold();
    }

    /** True once {@link #release()} ran, whether or not a saved copy still holds the bytes. */
    public boolean isReleased() { return released; }

    /**
     * An autograd node saved this tensor for its backward: the bytes stay until {@link #unsave()}.
     * False (and nothing held) when they are already gone: a rule that kept only the shape of a freed tensor.
     */
    public boolean save() {
        while (true) {
            int h = holds.get();
            if (h <= 0 || ref.closed()) return false;
            if (holds.compareAndSet(h, h + 1)) return true;
        }
    }

    /** The node that saved this tensor has run (or was dropped): its hold goes. */
    public void unsave() { dropHold(); }

    /** True when nothing but the creator needs this tensor's bytes: no saved copy, no other view of the storage. */
    public boolean isExclusive() { return !released && holds.get() == 1 && !ref.closed() && storage.isExclusive(); }

    private void dropHold() {
        if (holds.decrementAndGet() == 0) {
            if (cleanable != null) cleanable.clean();
            else ref.run();
        }
    }

    /** Moves this tensor out of the current scope into the enclosing one. */
    public Tensor keep() {
        if (owner != null) owner.keep(this);
        return this;
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape) + " " + dtype + " " + device() + (requiresGrad ? " requires_grad" : "");
    }
}
