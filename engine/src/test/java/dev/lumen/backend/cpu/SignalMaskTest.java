package dev.lumen.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The calling thread's signal mask around SignalMask blocks, read from the kernel (/proc/thread-self/status). */
class SignalMaskTest {
    private static final int SIGINT = 2, SIGSEGV = 11, SIGUSR2 = 12, SIGTERM = 15;

    private static long blocked() throws IOException {
        String status = Files.readString(Path.of("/proc/thread-self/status"));
        String line = status.lines().filter(l -> l.startsWith("SigBlk:")).findFirst().orElseThrow();
        return Long.parseUnsignedLong(line.substring("SigBlk:".length()).strip(), 16);
    }

    private static boolean isBlocked(long mask, int signal) { return (mask & (1L << (signal - 1))) != 0; }

    @Test
    void blocksAsynchronousSignalsNotFaultsAndNestedBlocksRestoreOnlyAtTheOutermost() throws IOException {
        long before = blocked();
        assertTrue(!isBlocked(before, SIGUSR2), "the test thread starts with SIGUSR2 deliverable");
        try (SignalMask outer = SignalMask.blockAsynchronous()) {
            long inside = blocked();
            for (int s : new int[] {SIGINT, SIGUSR2, SIGTERM}) assertTrue(isBlocked(inside, s), "signal " + s + " blocked");
            assertTrue(!isBlocked(inside, SIGSEGV), "faults stay deliverable");
            try (SignalMask inner = SignalMask.blockAsynchronous()) {
                assertEquals(inside, blocked());
            }
            assertEquals(inside, blocked(), "an inner close leaves the outer block in force");
            outer.close();
            assertEquals(before, blocked(), "the outermost close restores the mask");
        }
        assertEquals(before, blocked(), "closing twice changes nothing");
    }
}
