package dev.lumen.bench;

import dev.lumen.backend.Backends;
import dev.lumen.backend.cuda.CudaBackend;

/**
 * One line on the device the CUDA benchmarks would run on, for tools/bench-gpu.sh: exit 0 on a
 * GPU, 3 under the emulated driver, 1 (with the reason on standard error) when no driver loads.
 */
public final class CudaDeviceCheck {
    private CudaDeviceCheck() {}

    public static void main(String[] args) {
        String why = Backends.cudaStatus();
        if (why != null) {
            System.err.println(why);
            System.exit(1);
        }
        CudaBackend b = CudaBackend.get();
        System.out.println(b.context().describe());
        System.exit(b.driver().isEmulated() ? 3 : 0);
    }
}
