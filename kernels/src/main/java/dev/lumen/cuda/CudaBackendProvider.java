package dev.lumen.cuda;

import dev.lumen.backend.Backend;
import dev.lumen.backend.BackendProvider;
import dev.lumen.tensor.Device;

/**
 * Answers the engine's lookup of a CUDA backend (java.util.ServiceLoader). It loads the driver,
 * the kernels module, cuBLAS and cuDNN first, so that a machine without one of them gets the
 * one-line reason ("libcuda.so.1 not found", "cuBLAS unavailable: ...").
 */
public final class CudaBackendProvider implements BackendProvider {
    @Override
    public Device.Kind kind() { return Device.Kind.CUDA; }

    @Override
    public Backend create() {
        try {
            CudaContext ctx = CudaContext.get();
            // The standard layers need both libraries: refuse up front, with their reason, rather
            // than fail at the first matmul or convolution of a run.
            Cublas.get();
            Cudnn.get();
            return new dev.lumen.backend.cuda.CudaBackend(ctx);
        } catch (CudaException | CublasException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }
}
