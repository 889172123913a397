package dev.lumen.backend;

import dev.lumen.tensor.Device;

/** A service (java.util.ServiceLoader) that makes a backend for a device kind. */
public interface BackendProvider {
    Device.Kind kind();

    /** Creates the backend; throws with a one-line reason when the device cannot be used. */
    Backend create();
}
