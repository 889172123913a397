package dev.lumen.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.Backends;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** lumen doctor agrees with the engine about CUDA, and says why when it is not usable. */
class DoctorCommandTest {
    @Test
    void reportsTheDriverAndAgreesWithTheEngine() {
        DoctorCommand cmd = new DoctorCommand();
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        cmd.out = new PrintStream(buf, true, StandardCharsets.UTF_8);
        assertEquals(0, new CommandLine(cmd).execute());
        String text = buf.toString(StandardCharsets.UTF_8);
        assertTrue(text.startsWith("java "), text);
        assertTrue(text.contains(String.format("%n%-16s %s%n", "onednn", dev.lumen.backend.cpu.OneDnnConv.status())), "whether oneDNN loaded: " + text);
        String why = Backends.cudaStatus();
        if (why == null) {
            int devices = dev.lumen.cuda.CudaContext.deviceCount();
            StringBuilder loaded = new StringBuilder();
            for (int i = 0; i < devices; i++) {
                assertTrue(text.contains("\ncuda:" + i + " "), "a line for device " + i + " of " + devices + ": " + text);
                loaded.append(i == 0 ? "" : ", ").append("cuda:").append(i);
            }
            assertTrue(text.contains("loaded on " + loaded + "\n"), "the kernels module on every device: " + text);
            assertTrue(text.contains("\nfatbin ") && text.contains("sm_90"), "the fatbin's architectures: " + text);
        } else {
            assertTrue(text.contains("unavailable: "), "the reason: " + text);
            assertTrue(text.strip().endsWith("--device cuda: not usable here (see the lines above); --device cpu works"), text);
        }
    }
}
