package dev.lumen.app.bench;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;

/**
 * Untimed steps before a benchmark: at least a minimum, then more while the JIT is still
 * compiling. Lumen's kernels are Java, and C2 keeps compiling them for tens of steps; its
 * threads share the cores with the step, so steps timed meanwhile measure the compiler. On
 * rcvit_xs at 2 threads, steps 4-10 took 325-470 ms with 40-380 ms of compilation each, and from
 * step 20 on 250-290 ms with a few ms. The warm-up ends after {@link #SETTLED_STEPS} steps in a
 * row whose compilation time stayed under {@link #SETTLED_SHARE} of their wall time, or at the
 * maximum (then it says so: the timed steps still include compilation).
 */
public final class Warmup {
    /** Compilation under this share of a step's wall time counts as settled. */
    static final double SETTLED_SHARE = 0.05;
    /** Consecutive settled steps that end the warm-up. */
    static final int SETTLED_STEPS = 2;

    /**
     * What the warm-up did.
     *
     * @param steps     untimed steps run
     * @param compileMs the JIT's compilation milliseconds during them
     * @param watched   whether steps past the minimum were allowed (the JIT check was on)
     * @param settled   whether it ended because the JIT settled
     */
    public record Result(int steps, long compileMs, boolean watched, boolean settled) {
        /** A few words for the benchmark's line. */
        public String describe() {
            String why = !watched ? "" : settled ? " until the JIT settled" : ", the JIT still compiling";
            return steps + " warm-up steps" + why + " (" + compileMs + " ms compiling)";
        }
    }

    private Warmup() {}

    /** The JIT's accumulated compilation milliseconds, or a constant 0 where the JVM does not report it. */
    public static LongSupplier jitMillis() {
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        if (jit == null || !jit.isCompilationTimeMonitoringSupported()) return () -> 0;
        return jit::getTotalCompilationTime;
    }

    /**
     * Runs step (which returns its wall milliseconds) minSteps times, then until the JIT has
     * settled or maxSteps steps have run; maxSteps == minSteps turns the JIT check off.
     */
    public static Result run(DoubleSupplier step, int minSteps, int maxSteps, LongSupplier compileMillis) {
        if (minSteps < 0 || maxSteps < minSteps) {
            throw new IllegalArgumentException("warm-up: need 0 <= minimum <= maximum steps, got " + minSteps + " and " + maxSteps);
        }
        long start = compileMillis.getAsLong();
        int steps = 0, settledInARow = 0;
        while (steps < maxSteps) {
            if (steps >= minSteps && settledInARow >= SETTLED_STEPS) break;
            long before = compileMillis.getAsLong();
            double ms = step.getAsDouble();
            long compiled = compileMillis.getAsLong() - before;
            settledInARow = compiled < SETTLED_SHARE * ms ? settledInARow + 1 : 0;
            steps++;
        }
        boolean watched = maxSteps > minSteps;
        return new Result(steps, compileMillis.getAsLong() - start, watched, watched && settledInARow >= SETTLED_STEPS);
    }
}
