package dev.lumen.optim;

/**
 * timm's CosineLRScheduler with one cycle: lr = lrMin + (base - lrMin) * (1 + cos(pi * t /
 * tInitial)) / 2 for t < tInitial, then lrMin. Without warmupPrefix the warmup is part of
 * tInitial (timm's default).
 */
public final class CosineLR extends WarmupScheduler {
    private final long tInitial;
    private final double lrMin;

    public CosineLR(Optimizer optimizer, long tInitial, double lrMin, long warmupT, double warmupLrInit, boolean warmupPrefix,
                    boolean tInEpochs) {
        super(optimizer, warmupT, warmupLrInit, warmupPrefix, tInEpochs);
        if (tInitial <= 0) throw new IllegalArgumentException("CosineLR: t_initial must be > 0, got " + tInitial);
        if (lrMin < 0) throw new IllegalArgumentException("CosineLR: lr_min must be >= 0, got " + lrMin);
        this.tInitial = tInitial;
        this.lrMin = lrMin;
    }

    @Override
    protected double decayed(double base, long t) {
        if (t >= tInitial) return lrMin;
        return lrMin + 0.5 * (base - lrMin) * (1 + Math.cos(Math.PI * t / tInitial));
    }
}
