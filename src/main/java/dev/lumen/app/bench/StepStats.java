package dev.lumen.app.bench;

import java.util.Arrays;

/** Mean, median and minimum of the timed steps, in milliseconds. */
public record StepStats(int steps, double meanMs, double medianMs, double minMs) {
    public static StepStats of(double[] ms) {
        if (ms.length == 0) throw new IllegalArgumentException("no timed steps");
        double[] s = ms.clone();
        Arrays.sort(s);
        int n = s.length;
        double median = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
        return new StepStats(n, Arrays.stream(s).sum() / n, median, s[0]);
    }
}
