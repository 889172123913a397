package dev.lumen.cuda;

import java.lang.foreign.MemorySegment;

/** One entry point of the kernels module, e.g. {@code selective_scan_fwd_f32}. */
public final class Kernel {
    /** CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES. */
    private static final int MAX_DYNAMIC_SHARED = 8;

    private final CudaContext context;
    private final CudaDriver driver;
    private final MemorySegment function;
    private final String name;
    private int sharedLimitSet = 48 * 1024;

    Kernel(CudaContext context, MemorySegment function, String name) {
        this.context = context;
        this.driver = context.driver();
        this.function = function;
        this.name = name;
    }

    public String name() { return name; }

    /** Launches on the compute stream, asynchronously. */
    public void launch(int[] grid, int[] block, int sharedBytes, KernelArgs args) {
        launch(grid, block, sharedBytes, context.stream(), args);
    }

    public void launch(int[] grid, int[] block, int sharedBytes, MemorySegment stream, KernelArgs args) {
        context.bind();
        int[] g0 = dims(grid);
        if (g0[1] > 65535 || g0[2] > 65535 || g0[0] < 1 || g0[1] < 1 || g0[2] < 1) {
            throw new IllegalArgumentException(name + ": grid " + g0[0] + "x" + g0[1] + "x" + g0[2]
                    + " outside CUDA's limits (x >= 1, y and z in [1, 65535])");
        }
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
