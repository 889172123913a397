package dev.lumen.optim;

import java.util.Map;
import java.util.function.DoubleUnaryOperator;

/**
 * torch's LambdaLR: lr = base * lambda(epoch), where epoch counts step() calls; construction
 * applies lambda(0). The lambda is code, so the state dict holds only the base lrs and epoch.
 */
public final class LambdaLR extends LRScheduler {
    private final DoubleUnaryOperator lambda;
    private long lastEpoch;

    public LambdaLR(Optimizer optimizer, DoubleUnaryOperator lambda) {
        super(optimizer);
        this.lambda = lambda;
        apply();
    }

    /**
     * The cosine of YOLO-style training scripts: ((1 - cos(x * pi / epochs)) / 2) * (lrf - 1) + 1,
     * from 1 at epoch 0 down to lrf at the last epoch.
     */
    public static DoubleUnaryOperator cosineToFraction(int epochs, double lrf) {
        if (epochs <= 0) throw new IllegalArgumentException("cosineToFraction: epochs must be > 0, got " + epochs);
        return x -> ((1 - Math.cos(x * Math.PI / epochs)) / 2) * (lrf - 1) + 1;
    }

    public long lastEpoch() { return lastEpoch; }

    /** Moves to the next epoch. */
    public void step() {
        lastEpoch++;
        apply();
    }

    private void apply() {
        double[] lrs = new double[baseLrs.length];
        double f = lambda.applyAsDouble(lastEpoch);
        for (int i = 0; i < lrs.length; i++) lrs[i] = baseLrs[i] * f;
        setLrs(lrs);
    }

    @Override
    public StateDict stateDict() {
        Map<String, Object> m = meta("LambdaLR");
        m.put("base_lrs", baseLrList());
        m.put("last_epoch", lastEpoch);
        return new StateDict(Map.of(), m);
    }

    @Override
    public void loadStateDict(StateDict sd) {
        restoreBase(sd, "LambdaLR");
        lastEpoch = ((Number) sd.require("LambdaLR", "last_epoch")).longValue();
        apply();
    }
}
