package dev.lumen.cuda;

import dev.lumen.backend.Backend;
import dev.lumen.backend.BackendProvider;
import dev.lumen.tensor.Device;

/**
 * Answers the engine's lookup of a CUDA backend (java.util.ServiceLoader). It loads the driver
 * and the kernels module first, so that a machine without them gets the one-line reason
 * ("libcuda.so.1 not found").
 */
public final class CudaBackendProvider implements BackendProvider {
    @Override
    public Device.Kind kind() { return Device.Kind.CUDA; }

    @Override
    public Backend create() {
        try {
            return new dev.lumen.backend.cuda.CudaBackend(CudaContext.get());
        } catch (CudaException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }
}
