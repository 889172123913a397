package dev.lumen.tensor;

/**
 * A seeded, counter-based random generator. Draw i of a call is a pure function of
 * (seed, offset + i), so results do not depend on how many threads fill a tensor, and the
 * state is two longs that a checkpoint can store and restore exactly.
 */
public final class Generator {
    private static final Generator GLOBAL = new Generator(0x5EED_1234L);
    /** A thread's own default generator: each rank thread of a data-parallel run draws from its own. */
    private static final ThreadLocal<Generator> THREAD_DEFAULT = new ThreadLocal<>();

    private long seed;
    private long offset;

    public Generator(long seed) { this.seed = seed; }

    /** The default generator: the calling thread's own where one is set ({@link #useOnThisThread}), else the process's. */
    public static Generator global() {
        Generator g = THREAD_DEFAULT.get();
        return g != null ? g : GLOBAL;
    }

    /** The default generator's replacement on this thread, until the returned scope closes. */
    public interface ThreadDefault extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Makes g the calling thread's default generator until the scope closes, so that ranks driven
     * by threads of one process draw their dropout masks and initial weights independently of how
     * the threads interleave (each rank is then as deterministic as a lone run).
     */
    public static ThreadDefault useOnThisThread(Generator g) {
        Generator previous = THREAD_DEFAULT.get();
        THREAD_DEFAULT.set(java.util.Objects.requireNonNull(g, "generator"));
        return () -> {
            if (previous == null) THREAD_DEFAULT.remove();
            else THREAD_DEFAULT.set(previous);
        };
    }

    public synchronized void manualSeed(long s) {
        seed = s;
        offset = 0;
    }

    /** Reserves n draws; returns the counter of the first. */
    public synchronized long reserve(long n) {
        long first = offset;
        offset += n;
        return first;
    }

    public long seed() { return seed; }

    public synchronized long[] state() { return new long[] {seed, offset}; }

    public synchronized void setState(long[] state) {
        seed = state[0];
        offset = state[1];
    }

    /** 64 random bits for counter c (SplitMix64 finalizer over seed and counter). */
    public static long bits(long seed, long c) {
        long z = seed * 0x9E3779B97F4A7C15L + c * 0xBF58476D1CE4E5B9L + 0x94D049BB133111EBL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z ^= z >>> 31;
        z = (z ^ (z >>> 29)) * 0xBF58476D1CE4E5B9L;
        return z ^ (z >>> 32);
    }

    /** Uniform in [0, 1) with 53 random bits. */
    public static double uniform(long seed, long c) { return (bits(seed, c) >>> 11) * 0x1.0p-53; }

    /** Standard normal for counter c (Box-Muller over two draws). */
    public static double normal(long seed, long c) {
        double u1 = 1.0 - uniform(seed, 2 * c);
        double u2 = uniform(seed, 2 * c + 1);
        return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    /** Convenience draws on the host, for data augmentation and samplers. */
    public double nextUniform() { return uniform(seed, reserve(1)); }

    public double nextNormal() { return normal(seed, reserve(1)); }

    public int nextInt(int bound) { return (int) Math.floor(nextUniform() * bound); }
}
