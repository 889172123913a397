package dev.lumen.optim;

import java.util.Arrays;
import java.util.Map;

/**
 * timm's Scheduler with linear warmup: called at the end of each epoch with the next epoch
 * (step) or after each optimizer update with the update count (stepUpdate); which one moves the
 * lr depends on tInEpochs. For t < warmupT the lr is warmupLrInit + t * (base - warmupLrInit) /
 * warmupT; after it, the subclass's decay of t, where t counts from the end of warmup when
 * warmupPrefix is set and from 0 otherwise. Construction sets the lrs to warmupLrInit when
 * there is a warmup.
 */
public abstract class WarmupScheduler extends LRScheduler {
    private final boolean tInEpochs;
    private final long warmupT;
    private final double warmupLrInit;
    private final boolean warmupPrefix;
    private long lastT = -1;

    protected WarmupScheduler(Optimizer optimizer, long warmupT, double warmupLrInit, boolean warmupPrefix, boolean tInEpochs) {
        super(optimizer);
        if (warmupT < 0) throw new IllegalArgumentException(getClass().getSimpleName() + ": warmup_t must be >= 0, got " + warmupT);
        this.tInEpochs = tInEpochs;
        this.warmupT = warmupT;
        this.warmupLrInit = warmupLrInit;
        this.warmupPrefix = warmupPrefix;
        setLrs(warmupT > 0 ? filled(warmupLrInit) : baseLrs.clone());
    }

    private double[] filled(double v) {
        double[] a = new double[baseLrs.length];
        Arrays.fill(a, v);
        return a;
    }

    /** The lr of a group with base lr base at t (after warmup, t already shifted by warmupPrefix). */
    protected abstract double decayed(double base, long t);

    /** The lr of every group at t. */
    public double[] lrsAt(long t) {
        double[] out = new double[baseLrs.length];
        for (int i = 0; i < out.length; i++) {
            if (t < warmupT) {
                out[i] = warmupLrInit + t * ((baseLrs[i] - warmupLrInit) / warmupT);
            } else {
                out[i] = decayed(baseLrs[i], warmupPrefix ? t - warmupT : t);
            }
        }
        return out;
    }

    /** End of an epoch: sets the lrs for epoch (the next one), when t counts epochs. */
    public void step(long epoch) {
        if (!tInEpochs) return;
        lastT = epoch;
        setLrs(lrsAt(epoch));
    }

    /** After an update: sets the lrs for update numUpdates, when t counts updates. */
    public void stepUpdate(long numUpdates) {
        if (tInEpochs) return;
        lastT = numUpdates;
        setLrs(lrsAt(numUpdates));
    }

    /** Metadata {"type", "base_lrs", "last_t"}: the schedule itself comes from the constructor. */
    @Override
    public StateDict stateDict() {
        Map<String, Object> m = meta(getClass().getSimpleName());
        m.put("base_lrs", baseLrList());
        m.put("last_t", lastT);
        return new StateDict(Map.of(), m);
    }

    /** Restores the base lrs and, when the state had stepped, the lrs at its last t. */
    @Override
    public void loadStateDict(StateDict sd) {
        restoreBase(sd, getClass().getSimpleName());
        lastT = ((Number) sd.require(getClass().getSimpleName(), "last_t")).longValue();
        if (lastT >= 0) setLrs(lrsAt(lastT));
    }
}
