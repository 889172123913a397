package dev.lumen.optim;

/**
 * timm's StepLRScheduler: lr = base * decayRate^floor(t / decayT) after the warmup. Without a
 * warmup it equals torch's StepLR(step_size = decayT, gamma = decayRate) stepped once per epoch.
 */
public final class StepLR extends WarmupScheduler {
    private final double decayT;
    private final double decayRate;

    public StepLR(Optimizer optimizer, double decayT, double decayRate, long warmupT, double warmupLrInit, boolean warmupPrefix,
                  boolean tInEpochs) {
        super(optimizer, warmupT, warmupLrInit, warmupPrefix, tInEpochs);
        if (!(decayT > 0)) throw new IllegalArgumentException("StepLR: decay_t must be > 0, got " + decayT);
        this.decayT = decayT;
        this.decayRate = decayRate;
    }

    /** Per-epoch step decay without warmup. */
    public StepLR(Optimizer optimizer, double decayT, double decayRate) { this(optimizer, decayT, decayRate, 0, 0, true, true); }

    @Override
    protected double decayed(double base, long t) { return base * Math.pow(decayRate, Math.floor(t / decayT)); }
}
