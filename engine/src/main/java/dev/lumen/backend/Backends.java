package dev.lumen.backend;

import dev.lumen.backend.cpu.CpuBackend;
import dev.lumen.tensor.Device;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds the backend of a device. The CPU backend is built in; others (CUDA) come from
 * {@link BackendProvider}s on the class path, looked up only when a tensor first asks for
 * that device, so a machine without a GPU never touches the driver.
 */
public final class Backends {
    private static final CpuBackend CPU = new CpuBackend();
    /** The CUDA backend of each device asked for so far, and why each that failed did. */
    private static final Map<Integer, Backend> CUDA = new ConcurrentHashMap<>();
    private static final Map<Integer, String> CUDA_UNAVAILABLE = new ConcurrentHashMap<>();

    private Backends() {}

    public static Backend cpu() { return CPU; }

    /** The backend of device: the CPU's, or device N's own CUDA backend for cuda:N. */
    public static Backend of(Device device) {
        if (device.kind() == Device.Kind.CPU) return CPU;
        if (device.kind() == Device.Kind.META) return MetaBackend.INSTANCE;
        return cuda(device.index());
    }

    /** The CUDA backend of device 0, or an exception whose message says in one line why there is none. */
    public static Backend cuda() { return cuda(0); }

    /**
     * The CUDA backend of cuda:ordinal, made on first use; an exception whose message says in one
     * line why there is none ("cuda:5 requested but the driver reports 2 devices").
     */
    public static Backend cuda(int ordinal) {
        Backend b = CUDA.get(ordinal);
        if (b != null) return b;
        synchronized (Backends.class) {
            b = CUDA.get(ordinal);
            if (b != null) return b;
            String why = CUDA_UNAVAILABLE.get(ordinal);
            if (why == null) {
                why = "no CUDA backend on the class path (lumen-kernels)";
                for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
                    if (p.kind() != Device.Kind.CUDA) continue;
                    try {
                        b = p.create(ordinal);
                        CUDA.put(ordinal, b);
                        return b;
                    } catch (RuntimeException | LinkageError e) {
                        why = e.getMessage();
                    }
                }
                CUDA_UNAVAILABLE.put(ordinal, why);
            }
            throw new IllegalStateException("CUDA backend unavailable: " + why);
        }
    }

    /**
     * How many CUDA devices the driver reports (for `--devices all`), without making a backend; 0
     * where there is no CUDA backend or driver (cudaStatus() says why).
     */
    public static int cudaDeviceCount() {
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            if (p.kind() != Device.Kind.CUDA) continue;
            try {
                return p.deviceCount();
            } catch (RuntimeException | LinkageError e) {
                return 0;
            }
        }
        return 0;
    }

    /** One line for logs: why CUDA is unavailable, or null if it is available. */
    public static String cudaStatus() { return cudaStatus(0); }

    /** One line for logs: why cuda:ordinal is unavailable, or null if it is available. */
    public static String cudaStatus(int ordinal) {
        try {
            cuda(ordinal);
            return null;
        } catch (IllegalStateException e) {
            return e.getMessage();
        }
    }
}
