package dev.lumen.optim;

import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * Exponential moving average of a model's weights, as timm's ModelEmaV2: every entry of the
 * model's state (parameters and buffers alike) becomes ema = decay * ema + (1 - decay) * value.
 * Integer buffers (BatchNorm's num_batches_tracked) follow ModelEmaV2 too: the blend is
 * computed in float32 and truncated back to an integer, which in practice keeps the first value.
 *
 * <p>A warmup keeps early averages close to the model, since an average over the first few
 * hundred updates of a fresh model is mostly its random init: {@link Warmup#TF} uses
 * min(decay, (1 + t) / (10 + t)) for update t (counting from 0). {@link Warmup#V3} and
 * {@link Warmup#V3_WARMUP} are timm's ModelEmaV3 as train.py calls it (step = the updates done,
 * this one included): the first update copies the model, later ones use the decay, or with
 * warmup min(decay, 1 - (1 + t)^(-2/3)); integer buffers are copied, not blended. The averaged tensors live outside every Scope.
 */
public final class ModelEma {
    /** How the decay grows to its target over the first updates. */
    public enum Warmup {
        NONE, TF, V3, V3_WARMUP;

        boolean timm() { return this == V3 || this == V3_WARMUP; }
    }

    /** timm's ModelEmaV3 warmup_power (warmup_gamma is 1). */
    static final double TIMM_WARMUP_POWER = 2.0 / 3.0;

    private final double decay;
    private final Warmup warmup;
    private final Map<String, Tensor> ema = new LinkedHashMap<>();
    private long updates;

    /** Starts from a copy of the model's named parameters and buffers. */
    public ModelEma(Map<String, Tensor> namedState, double decay, boolean warmup) { this(namedState, decay, warmup ? Warmup.TF : Warmup.NONE); }

    /** Starts from a copy of the model's named parameters and buffers. */
    public ModelEma(Map<String, Tensor> namedState, double decay, Warmup warmup) {
        if (decay < 0 || decay > 1) throw new IllegalArgumentException("ModelEma: decay must be in [0, 1], got " + decay);
        this.decay = decay;
        this.warmup = warmup;
        try (GradMode off = GradMode.noGrad()) {
            for (Map.Entry<String, Tensor> e : namedState.entrySet()) {
                Tensor v = e.getValue();
                Tensor c = Scope.detachFromScopes(Tensor.empty(v.dtype(), v.device(), v.shape()));
                v.backend().copy(v, c);
                ema.put(e.getKey(), c);
            }
        }
    }

    public ModelEma(Map<String, Tensor> namedState, double decay) { this(namedState, decay, Warmup.NONE); }

    /** The decay used by update number t (0 for the first update). */
    public double decayAt(long t) {
        return switch (warmup) {
            case NONE -> decay;
            case TF -> Math.min(decay, (1.0 + t) / (10.0 + t));
            case V3 -> t <= 0 ? 0.0 : decay;
            case V3_WARMUP -> t <= 0 ? 0.0 : Math.max(0.0, Math.min(decay, 1 - Math.pow(1.0 + t, -TIMM_WARMUP_POWER)));
        };
    }

    /** The target decay (reached after the warmup). */
    public double decay() { return decay; }

    public Warmup warmup() { return warmup; }

    /** The decay the next update will use. */
    public double currentDecay() { return decayAt(updates); }

    public long updates() { return updates; }

    /** The averaged tensors by name (read-only map; the tensors are the live averages). */
    public Map<String, Tensor> ema() { return Collections.unmodifiableMap(ema); }

    /** Blends the model's current values into the averages. */
    public void update(Map<String, Tensor> namedState) {
        double d = decayAt(updates);
        // Floating entries go to one multi-tensor call per device and dtype (a model's many small
        // norms and biases share the threads); integer buffers are blended one by one.
        Map<List<Object>, List<Tensor[]>> floating = new LinkedHashMap<>();
        forEachPair(namedState, (e, m) -> {
            if (e.dtype().isFloating()) {
                floating.computeIfAbsent(List.of(e.device(), e.dtype()), k -> new ArrayList<>())
                        .add(new Tensor[] {e, m.dtype() == e.dtype() ? m : m.to(e.dtype())});
            } else if (warmup.timm()) {
                e.backend().copy(m, e);
            } else {
                blendInteger(e, m, d);
            }
        }, () -> {
            for (List<Tensor[]> pairs : floating.values()) {
                List<Tensor> emas = pairs.stream().map(p -> p[0]).toList(), srcs = pairs.stream().map(p -> p[1]).toList();
                emas.get(0).backend().optimizer().emaUpdateMulti(emas, srcs, d);
            }
        });
        updates++;
    }

    /** Copies the model's values into the averages (timm's set()). */
    public void set(Map<String, Tensor> namedState) {
        forEachPair(namedState, (e, m) -> e.backend().copy(m, e), () -> {});
    }

    /** Checks the names and shapes, then runs body on every pair and finish after them, inside one scope without grad. */
    private void forEachPair(Map<String, Tensor> namedState, BiConsumer<Tensor, Tensor> body, Runnable finish) {
        if (!namedState.keySet().equals(ema.keySet())) {
            throw new IllegalArgumentException("ModelEma: the model's names " + namedState.keySet() + " differ from the EMA's " + ema.keySet());
        }
        try (GradMode off = GradMode.noGrad(); Scope s = Scope.open()) {
            for (Map.Entry<String, Tensor> en : ema.entrySet()) {
                Tensor e = en.getValue(), m = namedState.get(en.getKey());
                if (!Arrays.equals(e.shape(), m.shape())) {
                    throw new IllegalArgumentException("ModelEma: '" + en.getKey() + "' has shape " + Arrays.toString(m.shape())
                            + ", its average " + Arrays.toString(e.shape()));
                }
                body.accept(e, m);
            }
            finish.run();
        }
    }

    /** ModelEmaV2 on an integer buffer: float32 decay * e + (1 - decay) * m, truncated by copy_. */
    private static void blendInteger(Tensor e, Tensor m, double d) {
        long[] ev = e.toLongs(), mv = m.toLongs();
        float fd = (float) d, fc = (float) (1 - d);
        double[] out = new double[ev.length];
        for (int i = 0; i < ev.length; i++) out[i] = (long) (fd * (float) ev[i] + fc * (float) mv[i]);
        Tensor t = Tensor.fromDoubles(out, e.dtype(), e.shape());
        e.backend().copy(t, e);
    }

    /** Tensors "ema.NAME"; metadata {"type": "ModelEma", "decay", "warmup", "updates"}. */
    public StateDict stateDict() {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        ema.forEach((k, v) -> tensors.put("ema." + k, v));
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("type", "ModelEma");
        meta.put("decay", decay);
        meta.put("warmup", warmup != Warmup.NONE);
        meta.put("warmup_mode", warmup.name());
        meta.put("updates", updates);
        return new StateDict(tensors, meta);
    }

    /** Restores the averages (copied into this EMA's tensors) and the update count. */
    public void loadStateDict(StateDict sd) {
        if (!"ModelEma".equals(sd.require("ModelEma", "type"))) throw new IllegalArgumentException("ModelEma: state dict is for " + sd.meta().get("type"));
        Map<String, Tensor> named = new LinkedHashMap<>();
        sd.tensors().forEach((k, v) -> {
            if (!k.startsWith("ema.")) throw new IllegalArgumentException("ModelEma: unexpected tensor '" + k + "'");
            named.put(k.substring(4), v);
        });
        set(named);
        updates = ((Number) sd.require("ModelEma", "updates")).longValue();
    }
}
