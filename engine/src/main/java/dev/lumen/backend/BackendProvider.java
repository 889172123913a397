package dev.lumen.backend;

import dev.lumen.tensor.Device;

/** A service (java.util.ServiceLoader) that makes a backend for a device kind, one per device. */
public interface BackendProvider {
    Device.Kind kind();

    /** Creates the backend of device 0; throws with a one-line reason when the device cannot be used. */
    Backend create();

    /**
     * Creates the backend of device ordinal (cuda:N); throws with a one-line reason when there is
     * no such device or it cannot be used. Providers of one-device kinds keep this default.
     */
    /** How many devices of this kind there are (0 where none can be used); made without creating a backend. */
    default int deviceCount() { return 1; }

    default Backend create(int ordinal) {
        if (ordinal == 0) return create();
        throw new IllegalStateException(kind().name().toLowerCase(java.util.Locale.ROOT) + ":" + ordinal
                + " requested but this backend drives device 0 only");
    }
}
