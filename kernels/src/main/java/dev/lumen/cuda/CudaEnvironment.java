package dev.lumen.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * What CUDA Lumen can use here, in the spirit of torch.utils.collect_env: the driver and its
 * version, each device (cuda:0, cuda:1, ...) with its memory and compute capability, the kernels fatbin's
 * architectures and compiler, and the cuBLAS, cuDNN and NCCL libraries, each with the reason when it
 * is missing. Every probe is independent, so one missing piece never hides the others.
 */
public final class CudaEnvironment {
    /** One line of the report: what was probed, and what was found or why not. */
    public record Item(String name, String value, boolean ok) {}

    private static final int ATTR_MULTIPROCESSORS = 16, ATTR_CC_MAJOR = 75, ATTR_CC_MINOR = 76;

    private CudaEnvironment() {}

    public static List<Item> probe() {
        List<Item> items = new ArrayList<>();
        CudaDriver drv;
        try {
            drv = CudaDriver.get();
        } catch (CudaException | LinkageError e) {
            items.add(new Item("driver", "unavailable: " + e.getMessage() + " (set LUMEN_CUDA_DRIVER or -Dlumen.cuda.driver to pick another)", false));
            items.add(fatbin());
            return items;
        }
        items.add(new Item("driver", drv.library() + ", " + CudaContext.formatVersion(drv.driverVersion())
                + (drv.isEmulated() ? " (Lumen's CPU emulation of CUDA)" : ""), true));
        int count = drv.deviceCount();
        if (count == 0) items.add(new Item("devices", "none found by the driver", false));
        for (int i = 0; i < count; i++) {
            int dev = drv.device(i);
            items.add(new Item("cuda:" + i, String.format("%s, %.1f GiB, compute capability %d.%d, %d SMs", drv.deviceName(dev),
                    drv.deviceTotalMemory(dev) / 1073741824.0, drv.deviceAttribute(ATTR_CC_MAJOR, dev), drv.deviceAttribute(ATTR_CC_MINOR, dev),
                    drv.deviceAttribute(ATTR_MULTIPROCESSORS, dev)), true));
        }
        items.add(fatbin());
        items.add(attempt("kernels module", () -> {
            // Each device loads its own copy, so each is tried.
            List<String> on = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                CudaContext.of(i);
                on.add("cuda:" + i);
            }
            if (on.isEmpty()) throw new CudaException("no device to load it on", -1);
            return "loaded on " + String.join(", ", on);
        }));
        items.add(attempt("cuBLAS", () -> Cublas.get().describe()));
        items.add(attempt("cuDNN", () -> {
            Cudnn d = Cudnn.get();
            long v = d.version();
            return "cuDNN " + v / 10000 + "." + v % 10000 / 100 + "." + v % 100 + " (" + d.library() + ")";
        }));
        items.add(attempt("NCCL", () -> Nccl.get().describe()));
        return items;
    }

    private static Item fatbin() {
        String arch = resource("/dev/lumen/cuda/fatbin-arch.txt");
        String nvcc = resource(CudaContext.NVCC_VERSION);
        boolean present = CudaContext.class.getResource(CudaContext.FATBIN) != null;
        if (!present) return new Item("fatbin", "not on the class path (build with `make kernels`)", false);
        String compiler = nvcc == null ? "unknown nvcc" : nvcc.strip().lines().reduce((a, b) -> b).orElse("").strip();
        return new Item("fatbin", (arch == null ? "architectures not recorded" : arch.strip()) + ", built by " + compiler, true);
    }

    /** Runs a probe; its exception's message becomes the reason. */
    public static Item attempt(String name, Supplier<String> probe) {
        try {
            return new Item(name, probe.get(), true);
        } catch (RuntimeException | LinkageError e) {
            return new Item(name, "unavailable: " + e.getMessage(), false);
        }
    }

    private static String resource(String path) {
        try (InputStream in = CudaEnvironment.class.getResourceAsStream(path)) {
            return in == null ? null : new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return null;
        }
    }
}
