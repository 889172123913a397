package dev.lumen.cuda;

import java.lang.foreign.MemorySegment;

/** One entry point of the kernels module, e.g. {@code selective_scan_fwd_f32}. */
public final class Kernel {
    /** CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES. */
    private static final int MAX_DYNAMIC_SHARED = 8;

    private final CudaDriver driver;
    private final MemorySegment function;
    private final String name;
    private int sharedLimitSet = 48 * 1024;

    Kernel(CudaDriver driver, MemorySegment function, String name) {
        this.driver = driver;
        this.function = function;
        this.name = name;
    }

    public String name() { return name; }

    /** Launches on the default stream (synchronous with respect to later copies). */
    public void launch(int[] grid, int[] block, int sharedBytes, KernelArgs args) {
        launch(grid, block, sharedBytes, MemorySegment.NULL, args);
    }

    public void launch(int[] grid, int[] block, int sharedBytes, MemorySegment stream, KernelArgs args) {
        if (sharedBytes > sharedLimitSet) {
            driver.funcSetAttribute(function, MAX_DYNAMIC_SHARED, sharedBytes);
            sharedLimitSet = sharedBytes;
        }
        int[] g = dims(grid), b = dims(block);
        try {
            driver.launchKernel(function, g[0], g[1], g[2], b[0], b[1], b[2], sharedBytes, stream, args.pack());
        } catch (CudaException e) {
            throw new CudaException(name + ": " + e.getMessage(), e.code());
        }
    }

    private static int[] dims(int[] d) {
        return new int[] {d.length > 0 ? d[0] : 1, d.length > 1 ? d[1] : 1, d.length > 2 ? d[2] : 1};
    }
}
