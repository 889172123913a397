package dev.lumen.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.Backends;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Asking for CUDA where there is no usable device backend is a clear one-line error, never a CPU fallback. */
class CudaBackendProviderTest {
    /** Run in a fresh JVM whose driver is missing: the engine's lookup must explain itself in one line. */
    public static void main(String[] args) {
        String status = Backends.cudaStatus();
        System.out.print((status == null ? "available" : status) + "; " + Backends.cudaDeviceCount() + " devices");
    }

    @Test
    void aMissingDriverGivesOneLineReason() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                "-Dlumen.cuda.driver=/nonexistent/libcuda.so.1", CudaBackendProviderTest.class.getName()))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child JVM finished");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals("CUDA backend unavailable: /nonexistent/libcuda.so.1 not found; 0 devices", out);
    }

    @Test
    void aMissingDriverLibraryIsNamed() {
        var e = assertThrows(CudaException.class, () -> CudaDriver.load("/nonexistent/libcuda.so.1"));
        assertTrue(e.getMessage().equals("/nonexistent/libcuda.so.1 not found"), e.getMessage());
        e = assertThrows(CudaException.class, () -> CudaDriver.load("libcuda_lumen_missing.so.9"));
        assertTrue(e.getMessage().equals("libcuda_lumen_missing.so.9 not found"), e.getMessage());
    }
}
