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
        String why = Backends.cudaStatus();
        if (why == null) {
            assertTrue(text.contains("\ncuda:0 "), "a device line: " + text);
            assertTrue(text.contains("\nfatbin ") && text.contains("sm_90"), "the fatbin's architectures: " + text);
        } else {
            assertTrue(text.contains("unavailable: "), "the reason: " + text);
            assertTrue(text.strip().endsWith("--device cuda: not usable here (see the lines above); --device cpu works"), text);
        }
    }
}
