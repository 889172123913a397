package dev.lumen.app.train;

/** Prints how many GPUs the selected CUDA driver sees (run in a child JVM with LUMEN_EMU_DEVICES set), or -1 with the reason. */
public final class DeviceCountProbe {
    private DeviceCountProbe() {}

    public static void main(String[] args) {
        try {
            System.out.println(dev.lumen.cuda.CudaDriver.get().deviceCount());
        } catch (RuntimeException | LinkageError e) {
            System.out.println("-1 " + e.getMessage());
        }
    }
}
