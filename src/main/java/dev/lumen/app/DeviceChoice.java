package dev.lumen.app;

import dev.lumen.backend.Backends;
import dev.lumen.tensor.Device;

/** The --device option of train, eval and predict: cpu, or cuda[:N] when that device's backend loads; never a silent fallback. */
public final class DeviceChoice {
    private DeviceChoice() {}

    /** The device named, or an IllegalArgumentException whose one-line message says why it cannot be used. */
    public static Device resolve(String name) {
        Device d;
        try {
            d = Device.parse(name);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--device: " + e.getMessage());
        }
        if (d.kind() == Device.Kind.CUDA) {
            String why;
            try {
                why = Backends.cudaStatus(d.index());
            } catch (java.util.ServiceConfigurationError e) {
                // A kernels jar whose provider class cannot load: as unavailable as no jar at all.
                why = "CUDA backend unavailable: " + e.getMessage();
            }
            if (why != null) throw new IllegalArgumentException("--device " + name + ": " + why + " (use --device cpu)");
        }
        return d;
    }
}
