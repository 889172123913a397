package dev.lumen.optim;

import java.util.Arrays;

/**
 * timm's MultiStepLRScheduler: after the warmup, lr = base * decayRate^n where n counts the
 * milestones at or below t + 1 (timm's bisect_right(decay_t, t + 1)).
 */
public final class MultiStepLR extends WarmupScheduler {
    private final double[] milestones;
    private final double decayRate;

    public MultiStepLR(Optimizer optimizer, double[] milestones, double decayRate, long warmupT, double warmupLrInit, boolean warmupPrefix,
                       boolean tInEpochs) {
        super(optimizer, warmupT, warmupLrInit, warmupPrefix, tInEpochs);
        double[] sorted = milestones.clone();
        Arrays.sort(sorted);
        if (!Arrays.equals(sorted, milestones)) throw new IllegalArgumentException("MultiStepLR: milestones must be ascending, got " + Arrays.toString(milestones));
        this.milestones = sorted;
        this.decayRate = decayRate;
    }

    @Override
    protected double decayed(double base, long t) {
        int n = 0;
        while (n < milestones.length && milestones[n] <= t + 1) n++;
        return base * Math.pow(decayRate, n);
    }
}
