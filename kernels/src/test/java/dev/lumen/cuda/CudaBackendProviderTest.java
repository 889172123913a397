package dev.lumen.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.Backends;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Asking for CUDA where there is no usable device backend is a clear one-line error, never a CPU fallback. */
class CudaBackendProviderTest {
    @Test
    void cudaTensorsGiveAOneLineReason() {
        var e = assertThrows(IllegalStateException.class, () -> Tensor.zeros(dev.lumen.tensor.DType.F32, Device.cuda(0), 2));
        assertTrue(e.getMessage().startsWith("CUDA backend unavailable: "), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
        assertTrue(Backends.cudaStatus().equals(e.getMessage()));
    }

    @Test
    void aMissingDriverLibraryIsNamed() {
        var e = assertThrows(CudaException.class, () -> CudaDriver.load("/nonexistent/libcuda.so.1"));
        assertTrue(e.getMessage().equals("/nonexistent/libcuda.so.1 not found"), e.getMessage());
        e = assertThrows(CudaException.class, () -> CudaDriver.load("libcuda_lumen_missing.so.9"));
        assertTrue(e.getMessage().equals("libcuda_lumen_missing.so.9 not found"), e.getMessage());
    }
}
