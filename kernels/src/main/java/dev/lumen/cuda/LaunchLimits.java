package dev.lumen.cuda;

/**
 * The device's limits on a launch's shape, read once from the driver, and the check every
 * {@link Kernel#launch} makes against them before calling it: the driver would refuse such a
 * launch with a bare CUDA_ERROR_INVALID_VALUE, which names neither the kernel nor the dimension.
 *
 * @param maxGrid       blocks per grid in x, y, z (2^31-1, 65,535, 65,535 on every GPU since sm_30)
 * @param maxBlock      threads per block in x, y, z (1,024, 1,024, 64)
 * @param maxThreads    threads per block in all (1,024)
 * @param sharedOptIn   shared memory per block with the opt-in, static and dynamic together (227 KiB on sm_90)
 */
public record LaunchLimits(int[] maxGrid, int[] maxBlock, int maxThreads, int sharedOptIn) {
    private static final int MAX_THREADS_PER_BLOCK = 1, MAX_BLOCK_DIM_X = 2, MAX_GRID_DIM_X = 5;
    private static final int MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
    private static final String[] AXES = {"x", "y", "z"};

    /** The limits of device dev as its driver reports them. */
    public static LaunchLimits of(CudaDriver driver, int dev) {
        int[] grid = new int[3], block = new int[3];
        for (int a = 0; a < 3; a++) {
            grid[a] = driver.deviceAttribute(MAX_GRID_DIM_X + a, dev);
            block[a] = driver.deviceAttribute(MAX_BLOCK_DIM_X + a, dev);
        }
        return new LaunchLimits(grid, block, driver.deviceAttribute(MAX_THREADS_PER_BLOCK, dev),
                driver.deviceAttribute(MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, dev));
    }

    /**
     * Throws an IllegalArgumentException naming the kernel and the dimension where grid (1 to 3
     * dims), block or the dynamic shared bytes exceed the device's limits or the kernel's own
     * (kernelMaxThreads from its registers or __launch_bounds__, staticShared its __shared__ bytes).
     */
    public void check(String kernel, int[] grid, int[] block, int sharedBytes, int kernelMaxThreads, int staticShared) {
        dims(kernel, "grid", grid, maxGrid);
        dims(kernel, "block", block, maxBlock);
        long threads = (long) at(block, 0) * at(block, 1) * at(block, 2);
        if (threads > maxThreads) {
            throw new IllegalArgumentException(kernel + ": block " + shape(block) + " has " + threads
                    + " threads, above the device's limit of " + maxThreads + " per block");
        }
        if (threads > kernelMaxThreads) {
            throw new IllegalArgumentException(kernel + ": block " + shape(block) + " has " + threads
                    + " threads, above this kernel's limit of " + kernelMaxThreads + " (its registers or __launch_bounds__)");
        }
        if (sharedBytes < 0 || (long) sharedBytes + staticShared > sharedOptIn) {
            throw new IllegalArgumentException(kernel + ": " + sharedBytes + " bytes of dynamic shared memory (plus "
                    + staticShared + " static) exceed the device's opt-in limit of " + sharedOptIn + " per block");
        }
    }

    private static void dims(String kernel, String what, int[] d, int[] max) {
        if (d.length < 1 || d.length > 3) {
            throw new IllegalArgumentException(kernel + ": a " + what + " has 1 to 3 dimensions, not " + d.length);
        }
        for (int a = 0; a < 3; a++) {
            int v = at(d, a);
            if (v < 1 || v > max[a]) {
                throw new IllegalArgumentException(kernel + ": " + what + " " + AXES[a] + " = " + v + " outside CUDA's limits [1, "
                        + max[a] + "] (" + what + " " + shape(d) + ")");
            }
        }
    }

    private static int at(int[] d, int a) { return a < d.length ? d[a] : 1; }

    private static String shape(int[] d) { return at(d, 0) + "x" + at(d, 1) + "x" + at(d, 2); }
}
