package dev.lumen.backend;

import dev.lumen.backend.cpu.CpuBackend;
import dev.lumen.tensor.Device;
import java.util.ServiceLoader;

/**
 * Finds the backend of a device. The CPU backend is built in; others (CUDA) come from
 * {@link BackendProvider}s on the class path, looked up only when a tensor first asks for
 * that device, so a machine without a GPU never touches the driver.
 */
public final class Backends {
    private static final CpuBackend CPU = new CpuBackend();
    private static volatile Backend cuda;
    private static volatile String cudaUnavailable;

    private Backends() {}

    public static Backend cpu() { return CPU; }

    public static Backend of(Device device) {
        if (device.kind() == Device.Kind.CPU) return CPU;
        if (device.kind() == Device.Kind.META) return MetaBackend.INSTANCE;
        return cuda();
    }

    /** The CUDA backend, or an exception whose message says in one line why there is none. */
    public static synchronized Backend cuda() {
        if (cuda != null) return cuda;
        if (cudaUnavailable == null) {
            String reason = "no CUDA backend on the class path (lumen-kernels)";
            for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
                if (p.kind() != Device.Kind.CUDA) continue;
                try {
                    cuda = p.create();
                    return cuda;
                } catch (RuntimeException | LinkageError e) {
                    reason = e.getMessage();
                }
            }
            cudaUnavailable = reason;
        }
        throw new IllegalStateException("CUDA backend unavailable: " + cudaUnavailable);
    }

    /** One line for logs: why CUDA is unavailable, or null if it is available. */
    public static String cudaStatus() {
        try {
            cuda();
            return null;
        } catch (IllegalStateException e) {
            return e.getMessage();
        }
    }
}
