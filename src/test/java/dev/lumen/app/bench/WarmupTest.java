package dev.lumen.app.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The warm-up's stopping rule, on scripted steps: each takes 100 ms and the JIT compiles a given amount during it. */
class WarmupTest {
    /** Runs the warm-up over steps whose compilation milliseconds are jit[i] (the last repeats). */
    private static Warmup.Result run(int min, int max, long... jit) {
        AtomicLong clock = new AtomicLong(1000);
        AtomicInteger i = new AtomicInteger();
        return Warmup.run(() -> {
            clock.addAndGet(jit[Math.min(i.getAndIncrement(), jit.length - 1)]);
            return 100.0;
        }, min, max, clock::get);
    }

    @Test
    void goesOnWhileTheJitCompilesAndStopsAfterTwoQuietStepsInARow() {
        // 5 ms of 100 is not under 5%: that step does not count as settled
        Warmup.Result r = run(3, 50, 900, 300, 80, 2, 40, 4, 5, 1, 0, 0);
        assertEquals(9, r.steps(), "three minimum, then 2, 40 (not quiet), 4, 5 (not quiet), 1, 0");
        assertEquals(900 + 300 + 80 + 2 + 40 + 4 + 5 + 1 + 0, r.compileMs());
        assertTrue(r.watched() && r.settled());
        assertEquals("9 warm-up steps until the JIT settled (1332 ms compiling)", r.describe());
    }

    @Test
    void theMinimumRunsEvenWhenQuietAndTheMaximumCapsAStillCompilingJit() {
        assertEquals(4, run(4, 50, 0).steps(), "quiet from the start: the minimum");
        assertEquals(2, run(0, 50, 0).steps(), "no minimum: two quiet steps");
        Warmup.Result capped = run(3, 10, 50);
        assertEquals(10, capped.steps());
        assertFalse(capped.settled());
        assertEquals("10 warm-up steps, the JIT still compiling (500 ms compiling)", capped.describe());
        Warmup.Result exact = run(3, 3, 500);
        assertEquals(3, exact.steps(), "maximum = minimum: exactly that many, no JIT check");
        assertFalse(exact.watched());
        assertEquals("3 warm-up steps (1500 ms compiling)", exact.describe());
        assertEquals(0, run(0, 0, 500).steps());
    }

    @Test
    void badBoundsAreNamed() {
        var e = assertThrows(IllegalArgumentException.class, () -> run(5, 4, 0));
        assertEquals("warm-up: need 0 <= minimum <= maximum steps, got 5 and 4", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> run(-1, 4, 0));
    }

    @Test
    void theJvmReportsCompilationTime() {
        long a = Warmup.jitMillis().getAsLong();
        assertTrue(a >= 0 && Warmup.jitMillis().getAsLong() >= a, "accumulated milliseconds, never falling");
    }
}
