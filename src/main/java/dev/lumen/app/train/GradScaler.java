package dev.lumen.app.train;

import dev.lumen.autograd.GradMode;
import dev.lumen.ops.Reductions;
import dev.lumen.optim.Optimizer;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
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
    /** unscale() ran but its flag has not been read yet. */
    private boolean pendingInf;
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
     * Divides every gradient of the optimizer's parameters by the scale, in place, and returns a
     * one-element F64 tensor on the gradients' device that is NaN when any gradient holds an inf
     * or NaN and 0 otherwise (the sum of g * 0 over every gradient). Nothing waits for the
     * device: the caller reads the flag with the step's other values and passes the verdict to
     * {@link #foundInf(boolean)}. Call at most once per step, after backward (and before clipping).
     */
    public Tensor unscale(Optimizer optimizer) {
        if (unscaled) throw new IllegalStateException("GradScaler: unscale() was already called since the last update()");
        unscaled = true;
        pendingInf = true;
        double inv = 1.0 / scale;
        Tensor flag = null;
        try (GradMode off = GradMode.noGrad()) {
            for (Tensor p : optimizer.params()) {
                Tensor g = p.grad();
                if (g == null) continue;
                g.backend().optimizer().scaleInPlace(g, inv);
                Tensor z = Reductions.sum(g.mul(0.0).to(DType.F64));
                flag = flag == null ? z : flag.add(z);
            }
            return flag == null ? Tensor.zeros(DType.F64, Device.CPU) : flag;
        }
    }

    /** The verdict on the flag {@link #unscale} returned: whether a gradient was inf or NaN. */
    public void foundInf(boolean inf) {
        if (!unscaled) throw new IllegalStateException("GradScaler: foundInf() before unscale()");
        foundInf = inf;
        pendingInf = false;
    }

    /** Unscales if needed, then runs optimizer.step() unless a gradient was inf or NaN; returns whether it stepped. */
    public boolean step(Optimizer optimizer) {
        if (!unscaled) {
            Tensor flag = unscale(optimizer);
            foundInf(!Double.isFinite(flag.item()));
        } else if (pendingInf) {
            throw new IllegalStateException("GradScaler: step() before foundInf() gave the verdict on unscale()'s flag");
        }
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
        pendingInf = false;
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
