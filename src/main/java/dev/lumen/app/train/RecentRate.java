package dev.lumen.app.train;

import java.util.ArrayDeque;

/**
 * Batches per second over the recent past (the last WINDOW_NANOS, at least two samples), for
 * an ETA that follows the steady rate: the first batches of a run carry JIT compilation and
 * allocator warm-up, and an average since the start would count them for the whole epoch.
 */
final class RecentRate {
    static final long WINDOW_NANOS = 20_000_000_000L;

    private record Sample(long nanos, int done) {}

    private final ArrayDeque<Sample> samples = new ArrayDeque<>();

    void reset(long nanos) {
        samples.clear();
        samples.add(new Sample(nanos, 0));
    }

    void record(long nanos, int done) {
        samples.addLast(new Sample(nanos, done));
        // Keep one sample older than the window, so the rate always spans it.
        while (samples.size() > 2) {
            var it = samples.iterator();
            it.next();
            if (nanos - it.next().nanos() >= WINDOW_NANOS) samples.removeFirst();
            else break;
        }
    }

    /** Batches per second over the window, NaN before two samples. */
    double perSecond() {
        if (samples.size() < 2) return Double.NaN;
        Sample a = samples.peekFirst(), b = samples.peekLast();
        double s = (b.nanos() - a.nanos()) / 1e9;
        return s > 0 ? (b.done() - a.done()) / s : Double.NaN;
    }

    /** Seconds left for the remaining batches at the recent rate, NaN when unknown. */
    double etaSeconds(int done, int total) {
        double r = perSecond();
        return r > 0 ? (total - done) / r : Double.NaN;
    }

    /** "1:02:03", "4:05", or "?" for an unknown time. */
    static String clock(double seconds) {
        if (!Double.isFinite(seconds) || seconds < 0) return "?";
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String.format("%d:%02d", s / 60, s % 60);
    }
}
