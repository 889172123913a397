package dev.lumen.cuda;

import dev.lumen.backend.Backend;
import dev.lumen.backend.BackendProvider;
import dev.lumen.tensor.Device;

/**
 * Answers the engine's lookup of a CUDA backend (java.util.ServiceLoader). It loads the driver
 * first, so that a machine without one gets the one-line reason ("libcuda.so.1 not found").
 * Where the driver loads, it still refuses: device tensors (allocation, the standard layers
 * through cuBLAS and cuDNN) are not built yet; today the GPU runs Lumen's own kernels through
 * {@link CudaContext} and the launchers in this package.
 */
public final class CudaBackendProvider implements BackendProvider {
    @Override
    public Device.Kind kind() { return Device.Kind.CUDA; }

    @Override
    public Backend create() {
        CudaContext ctx;
        try {
            ctx = CudaContext.get();
        } catch (CudaException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
        throw new IllegalStateException("device tensors are not supported yet on " + ctx.describe()
                + " (Lumen's CUDA kernels run through dev.lumen.cuda; training runs on --device cpu)");
    }
}
