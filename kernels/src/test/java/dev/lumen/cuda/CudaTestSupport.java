package dev.lumen.cuda;

import org.junit.jupiter.api.Assumptions;

/**
 * The CUDA context for kernel tests: the emulated driver in CI (lumen.cuda.driver points at
 * libcuda_emu.so), the real one under `make gpu-test`. Where neither can be loaded the tests are
 * skipped with the reason, unless lumen.cuda.required is set (the build sets it whenever it built
 * the emulator), so a broken driver setup can never pass silently.
 */
final class CudaTestSupport {
    private CudaTestSupport() {}

    static CudaContext context() {
        try {
            return CudaContext.get();
        } catch (CudaException e) {
            if (Boolean.getBoolean("lumen.cuda.required")) throw e;
            Assumptions.abort("CUDA unavailable: " + e.getMessage());
            throw e;
        }
    }

    /** A short label for messages: emulated (checked or not) or the device name. */
    static String mode(CudaContext ctx) {
        if (!ctx.driver().isEmulated()) return ctx.describe();
        String check = System.getenv("LUMEN_EMU_CHECK");
        return "emulated" + ("1".equals(check) ? ", checking mode" : "");
    }
}
