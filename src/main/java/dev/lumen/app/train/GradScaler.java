package dev.lumen.app.train;

import dev.lumen.optim.Optimizer;
import dev.lumen.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Dynamic loss scaling with the semantics of PyTorch's torch.cuda.amp.GradScaler: the loss is
 * multiplied by the scale before backward, so small 16-bit gradients do not flush to zero;
 * {@link #unscale} divides the gradients back (once per step, before clipping) and notes
 * whether any is inf or NaN; {@link #step} skips the optimizer update when one was; and
 * {@link #update} halves the scale after such a step, or doubles it after
 * {@code growthInterval} clean steps in a row. Defaults are PyTorch's: 2^16, x2, x0.5, 2000.
 */
public final class GradScaler {
    private final double growthFactor;
    private final double backoffFactor;
    private final int growthInterval;
    private double scale;
    private int growthTracker;
    private boolean unscaled;
    private boolean foundInf;
    private long skippedSteps;

    public GradScaler() { this(65536.0, 2.0, 0.5, 2000); }

    public GradScaler(double initScale, double growthFactor, double backoffFactor, int growthInterval) {
        if (!(initScale > 0) || !(growthFactor > 1) || !(backoffFactor > 0 && backoffFactor < 1) || growthInterval < 1) {
            throw new IllegalArgumentException("GradScaler: need init scale > 0, growth factor > 1, backoff in (0, 1), interval >= 1; got "
                    + initScale + ", " + growthFactor + ", " + backoffFactor + ", " + growthInterval);
        }
        this.scale = initScale;
        this.growthFactor = growthFactor;
        this.backoffFactor = backoffFactor;
        this.growthInterval = growthInterval;
    }

    public double scale() { return scale; }

    /** Steps skipped so far because of inf or NaN gradients. */
    public long skippedSteps() { return skippedSteps; }

    /** loss * scale, recorded by autograd. */
    public Tensor scale(Tensor loss) { return loss.mul(scale); }

    /**
     * Divides every gradient of the optimizer's parameters by the scale, in place, and checks
     * them for inf and NaN. Call at most once per step, after backward (and before clipping).
     */
    public void unscale(Optimizer optimizer) {
        if (unscaled) throw new IllegalStateException("GradScaler: unscale() was already called since the last update()");
        unscaled = true;
        double inv = 1.0 / scale;
        boolean inf = false;
        for (Tensor p : optimizer.params()) {
            Tensor g = p.grad();
            if (g == null) continue;
            g.backend().optimizer().scaleInPlace(g, inv);
            // The 1-norm accumulates |g| in double: inf or NaN exactly when an element is.
            if (!inf && !Double.isFinite(g.backend().optimizer().vectorNorm(g, 1))) inf = true;
        }
        foundInf = inf;
    }

    /** Unscales if needed, then runs optimizer.step() unless a gradient was inf or NaN; returns whether it stepped. */
    public boolean step(Optimizer optimizer) {
        if (!unscaled) unscale(optimizer);
        if (foundInf) {
            skippedSteps++;
            return false;
        }
        optimizer.step();
        return true;
    }

    /** Adjusts the scale after a step: x backoff on inf/NaN, x growth after growthInterval clean steps. */
    public void update() {
        if (!unscaled) throw new IllegalStateException("GradScaler: update() without a step() since the last update()");
        if (foundInf) {
            scale *= backoffFactor;
            growthTracker = 0;
        } else if (++growthTracker == growthInterval) {
            scale *= growthFactor;
            growthTracker = 0;
        }
        unscaled = false;
        foundInf = false;
    }

    /** PyTorch's state_dict keys: scale, growth_factor, backoff_factor, growth_interval, _growth_tracker (plus skipped steps). */
    public Map<String, Object> stateDict() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("scale", scale);
        m.put("growth_factor", growthFactor);
        m.put("backoff_factor", backoffFactor);
        m.put("growth_interval", growthInterval);
        m.put("_growth_tracker", growthTracker);
        m.put("skipped_steps", skippedSteps);
        return m;
    }

    /** Restores the scale and growth tracker; the factors must match this scaler's. */
    public void loadStateDict(Map<String, Object> m) {
        for (String k : List.of("growth_factor", "backoff_factor", "growth_interval")) {
            double mine = ((Number) stateDict().get(k)).doubleValue(), theirs = ((Number) m.get(k)).doubleValue();
            if (mine != theirs) throw new IllegalArgumentException("GradScaler: state has " + k + " " + theirs + ", this scaler " + mine);
        }
        scale = ((Number) m.get("scale")).doubleValue();
        growthTracker = ((Number) m.get("_growth_tracker")).intValue();
        Object skipped = m.get("skipped_steps");
        skippedSteps = skipped == null ? 0 : ((Number) skipped).longValue();
        unscaled = false;
        foundInf = false;
    }
}
