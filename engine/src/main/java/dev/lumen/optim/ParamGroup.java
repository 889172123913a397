package dev.lumen.optim;

import dev.lumen.tensor.Tensor;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parameters that share hyper-parameters, as torch's param_groups entries: the options set
 * here override the optimizer's defaults, and schedulers change "lr" between steps. Option
 * names are torch's ("lr", "weight_decay", "momentum", "beta1", ...).
 */
public final class ParamGroup {
    private final List<Tensor> params;
    private final Map<String, Object> options = new LinkedHashMap<>();
    private double lrScale = 1;

    public ParamGroup(List<Tensor> params) {
        if (params.isEmpty()) throw new IllegalArgumentException("param group: empty parameter list");
        this.params = List.copyOf(params);
    }

    public static ParamGroup of(List<Tensor> params) { return new ParamGroup(params); }

    public ParamGroup set(String key, double value) {
        options.put(key, value);
        return this;
    }

    public ParamGroup set(String key, boolean value) {
        options.put(key, value);
        return this;
    }

    public List<Tensor> params() { return params; }

    /**
     * timm's "lr_scale" (layer-wise lr decay): a scheduler sets this group's lr to its schedule
     * value times the scale. Not an optimizer option, so not in the state dict: it is rebuilt
     * with the groups.
     */
    public ParamGroup lrScale(double scale) {
        if (!(scale >= 0)) throw new IllegalArgumentException("param group: lr_scale must be >= 0, got " + scale);
        lrScale = scale;
        return this;
    }

    public double lrScale() { return lrScale; }

    public boolean has(String key) { return options.containsKey(key); }

    public double getDouble(String key) {
        Object v = options.get(key);
        if (!(v instanceof Number n)) throw new IllegalArgumentException("param group: no numeric option '" + key + "' in " + options);
        return n.doubleValue();
    }

    public boolean getBoolean(String key) {
        Object v = options.get(key);
        if (!(v instanceof Boolean b)) throw new IllegalArgumentException("param group: no boolean option '" + key + "' in " + options);
        return b;
    }

    public double lr() { return getDouble("lr"); }

    public void setLr(double lr) { options.put("lr", lr); }

    public double weightDecay() { return getDouble("weight_decay"); }

    /** The options, read-only, in insertion order. */
    public Map<String, Object> options() { return Collections.unmodifiableMap(options); }

    /** Fills options the group did not set; rejects names the optimizer does not know. */
    void applyDefaults(String optimizer, Map<String, Object> defaults) {
        for (String k : options.keySet()) {
            if (!defaults.containsKey(k)) {
                throw new IllegalArgumentException(optimizer + ": unknown option '" + k + "'; known: " + defaults.keySet());
            }
        }
        for (Map.Entry<String, Object> e : defaults.entrySet()) {
            Object mine = options.get(e.getKey());
            if (mine == null) options.put(e.getKey(), e.getValue());
            else if (mine.getClass() != e.getValue().getClass() && !(mine instanceof Number && e.getValue() instanceof Number)) {
                throw new IllegalArgumentException(optimizer + ": option '" + e.getKey() + "' must be like " + e.getValue() + ", got " + mine);
            }
        }
    }

    /** Replaces an option's value when loading a state dict (numbers stay doubles). */
    void restore(String key, Object value) {
        options.put(key, value instanceof Number n ? (Object) n.doubleValue() : value);
    }
}
