package dev.lumen.bench;

import dev.lumen.backend.Backend;
import dev.lumen.backend.Backends;
import dev.lumen.backend.cuda.CudaBackend;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * The device the CUDA benchmarks run on (cuda:0 through the Backend) and whether its driver is
 * Lumen's CPU emulation. Under the emulator each benchmark picks a tiny problem: there the
 * times measure the emulation, so the run is a smoke check of the benchmark code, never a
 * speed figure, and {@link #backend()} says so on standard output once per JVM.
 */
public final class BenchDevice {
    public static final Device GPU = Device.cuda(0);
    /** Calls per JMH invocation ({@link DeviceTimer}): enough to amortize the one host wait, few enough for big problems. */
    public static final int REPS = 10;
    public static final String EMULATED_NOTE =
            "EMULATED CUDA driver: these times measure Lumen's CPU emulation of CUDA at tiny sizes, not a GPU (a smoke check only)";
    private static volatile boolean announced;

    private BenchDevice() {}

    /** The CUDA backend; throws with the one-line reason when no driver loads. */
    public static Backend backend() {
        Backend b = Backends.of(GPU);
        if (emulated() && !announced) {
            announced = true;
            System.out.println(EMULATED_NOTE);
        }
        return b;
    }

    public static boolean emulated() { return CudaBackend.get().driver().isEmulated(); }

    /** A device tensor of normal(0, std) values of dtype, belonging to no scope (the benchmark's teardown closes it). */
    public static Tensor randn(Generator g, DType dtype, double std, int... shape) {
        Tensor t = empty(dtype, shape);
        t.backend().randomNormal(t, g, 0, std);
        return t;
    }

    /** A device tensor of uniform [lo, hi) values of dtype, belonging to no scope. */
    public static Tensor uniform(Generator g, DType dtype, double lo, double hi, int... shape) {
        Tensor t = empty(dtype, shape);
        t.backend().randomUniform(t, g, lo, hi);
        return t;
    }

    /** An uninitialized device tensor, belonging to no scope. */
    public static Tensor empty(DType dtype, int... shape) {
        return Scope.detachFromScopes(Tensor.empty(dtype, GPU, shape));
    }

    /** A device copy of host's values, belonging to no scope; host is closed. */
    public static Tensor upload(Tensor host) {
        try (host) {
            return backend().upload(host, GPU);
        }
    }

    /** Closes every non-null tensor. */
    public static void close(Tensor... tensors) {
        for (Tensor t : tensors) {
            if (t != null) t.close();
        }
    }
}
