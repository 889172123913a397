package dev.lumen.cuda;

import dev.lumen.backend.Backend;
import dev.lumen.backend.BackendProvider;
import dev.lumen.tensor.Device;

/**
 * Answers the engine's lookup of a CUDA backend (java.util.ServiceLoader), one per device. It
 * loads the driver, the device's context and kernels module, cuBLAS and cuDNN first, so that a
 * machine without one of them gets the one-line reason ("libcuda.so.1 not found", "cuBLAS
 * unavailable: ...", "cuda:5 requested but the driver reports 2 devices").
 */
public final class CudaBackendProvider implements BackendProvider {
    @Override
    public Device.Kind kind() { return Device.Kind.CUDA; }

    @Override
    public Backend create() { return create(0); }

    /** The driver's device count; where there is no driver it throws, which the engine counts as none. */
    @Override
    public int deviceCount() { return CudaContext.deviceCount(); }

    @Override
    public Backend create(int ordinal) {
        try {
            CudaContext ctx = CudaContext.of(ordinal);
            // The standard layers need both libraries: refuse up front, with their reason, rather
            // than fail at the first matmul or convolution of a run.
            Cublas.of(ctx);
            Cudnn.of(ctx);
            return new dev.lumen.backend.cuda.CudaBackend(ctx);
        } catch (CudaException | CublasException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }
}
