package dev.lumen.cuda;

import java.lang.foreign.MemorySegment;

/** One entry point of the kernels module, e.g. {@code selective_scan_fwd_f32}. */
public final class Kernel {
    /** CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, _SHARED_SIZE_BYTES, _MAX_DYNAMIC_SHARED_SIZE_BYTES. */
    private static final int MAX_THREADS_PER_BLOCK = 0, SHARED_SIZE_BYTES = 1, MAX_DYNAMIC_SHARED = 8;

    private final CudaContext context;
    private final CudaDriver driver;
    private final MemorySegment function;
    private final String name;
    /** Threads per block its registers or __launch_bounds__ allow, and its static __shared__ bytes. */
    private final int maxThreads, staticShared;
    private int sharedLimitSet = 48 * 1024;

    Kernel(CudaContext context, MemorySegment function, String name) {
        this.context = context;
        this.driver = context.driver();
        this.function = function;
        this.name = name;
        this.maxThreads = driver.funcAttribute(function, MAX_THREADS_PER_BLOCK);
        this.staticShared = driver.funcAttribute(function, SHARED_SIZE_BYTES);
    }

    public String name() { return name; }

    /** Launches on the compute stream, asynchronously. */
    public void launch(int[] grid, int[] block, int sharedBytes, KernelArgs args) {
        launch(grid, block, sharedBytes, context.stream(), args);
    }

    /**
     * Launches on stream after checking grid, block and sharedBytes against the device's and this
     * kernel's limits ({@link LaunchLimits#check}): an IllegalArgumentException names the kernel
     * and the dimension before the driver is called.
     */
    public void launch(int[] grid, int[] block, int sharedBytes, MemorySegment stream, KernelArgs args) {
        context.bind();
        context.launchLimits().check(name, grid, block, sharedBytes, maxThreads, staticShared);
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
