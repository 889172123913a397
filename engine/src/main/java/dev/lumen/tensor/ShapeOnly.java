package dev.lumen.tensor;

/**
 * A shape-only region of the current thread: inside it, tensors that would be made on the CPU
 * are made on {@link Device#META} instead, holding no bytes, and tensors built from host arrays
 * keep their shape but not their values. Building a model inside it costs no memory for its
 * weights and no time for their init, and a forward pass only propagates shapes: what
 * {@code lumen models} needs to count parameters and MACs of a 600M-parameter model in a
 * moment. Reading a value of a META tensor is an error.
 */
public final class ShapeOnly implements AutoCloseable {
    private static final ThreadLocal<Integer> DEPTH = ThreadLocal.withInitial(() -> 0);

    private ShapeOnly() {}

    /** Enters the region; close leaves it. Regions nest. */
    public static ShapeOnly enter() {
        DEPTH.set(DEPTH.get() + 1);
        return new ShapeOnly();
    }

    /** True inside a region on this thread. */
    public static boolean active() { return DEPTH.get() > 0; }

    /** The device a tensor asked for on device is made on: META for the CPU inside a region. */
    static Device redirect(Device device) { return device.kind() == Device.Kind.CPU && active() ? Device.META : device; }

    @Override
    public void close() { DEPTH.set(Math.max(0, DEPTH.get() - 1)); }
}
