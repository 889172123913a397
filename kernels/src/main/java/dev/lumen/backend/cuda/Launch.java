package dev.lumen.backend.cuda;

import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.KernelArgs;

/** Launch shapes shared by the backend's kernels. */
public final class Launch {
    /** Threads per block of the grid-stride kernels. */
    public static final int THREADS = 256;
    /**
     * Most blocks of a grid-stride launch: 32 per SM of a 132-SM H100 is 4x what stays resident,
     * enough to hide tail effects; beyond it, threads loop.
     */
    public static final int MAX_BLOCKS = 4224;

    private Launch() {}

    /** Blocks for n elements, one per THREADS, at most MAX_BLOCKS (the kernel's loop covers the rest). */
    public static int blocks(long n) { return (int) Math.max(1, Math.min((n + THREADS - 1) / THREADS, MAX_BLOCKS)); }

    /** Launches a grid-stride kernel over n elements on ctx's compute stream; nothing when n is 0. */
    public static void elementwise(CudaContext ctx, String kernel, long n, KernelArgs args) {
        if (n == 0) return;
        ctx.kernel(kernel).launch(new int[] {blocks(n)}, new int[] {THREADS}, 0, args);
    }
}
