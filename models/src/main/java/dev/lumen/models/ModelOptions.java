package dev.lumen.models;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How to build a model, as timm's create_model keyword arguments: class count, input
 * channels, input size (0: the variant's default), dropout before the classifier, the
 * stochastic-depth rate, and family-specific switches by name (VOLO's "return_dense",
 * ResNet's "small_input_stem").
 */
public record ModelOptions(int numClasses, int inChannels, int imgSize, double dropRate, double dropPathRate,
                           Map<String, Object> extra) {

    public ModelOptions {
        if (numClasses < 0) throw new IllegalArgumentException("ModelOptions: numClasses must be >= 0, got " + numClasses);
        if (inChannels < 1) throw new IllegalArgumentException("ModelOptions: inChannels must be >= 1, got " + inChannels);
        if (imgSize < 0) throw new IllegalArgumentException("ModelOptions: imgSize must be >= 0 (0: the default), got " + imgSize);
        if (!(dropRate >= 0 && dropRate < 1)) throw new IllegalArgumentException("ModelOptions: dropRate must be in [0, 1), got " + dropRate);
        if (!(dropPathRate >= 0 && dropPathRate < 1)) throw new IllegalArgumentException("ModelOptions: dropPathRate must be in [0, 1), got " + dropPathRate);
        extra = Map.copyOf(extra == null ? Map.of() : extra);
    }

    /** 1000 classes, 3 channels, the default size, no dropout, no drop path. */
    public static ModelOptions defaults() { return new ModelOptions(1000, 3, 0, 0, 0, Map.of()); }

    public static Builder builder() { return new Builder(defaults()); }

    public Builder toBuilder() { return new Builder(this); }

    public ModelOptions withNumClasses(int n) { return new ModelOptions(n, inChannels, imgSize, dropRate, dropPathRate, extra); }

    public ModelOptions withInChannels(int c) { return new ModelOptions(numClasses, c, imgSize, dropRate, dropPathRate, extra); }

    public ModelOptions withImgSize(int s) { return new ModelOptions(numClasses, inChannels, s, dropRate, dropPathRate, extra); }

    public ModelOptions withDropRate(double p) { return new ModelOptions(numClasses, inChannels, imgSize, p, dropPathRate, extra); }

    public ModelOptions withDropPathRate(double p) { return new ModelOptions(numClasses, inChannels, imgSize, dropRate, p, extra); }

    public ModelOptions with(String key, Object value) {
        Map<String, Object> m = new LinkedHashMap<>(extra);
        m.put(key, value);
        return new ModelOptions(numClasses, inChannels, imgSize, dropRate, dropPathRate, m);
    }

    /** imgSize, or fallback (the variant's default) when it is 0. */
    public int imgSizeOr(int fallback) { return imgSize == 0 ? fallback : imgSize; }

    public boolean flag(String key, boolean fallback) {
        Object v = extra.get(key);
        if (v == null) return fallback;
        if (v instanceof Boolean b) return b;
        if (v instanceof String s && (s.equalsIgnoreCase("true") || s.equalsIgnoreCase("false"))) return Boolean.parseBoolean(s);
        throw new IllegalArgumentException("ModelOptions: option '" + key + "' must be a boolean, got " + v);
    }

    public int intOption(String key, int fallback) {
        Object v = extra.get(key);
        if (v == null) return fallback;
        if (v instanceof Number n) return n.intValue();
        try {
            return Integer.parseInt(v.toString());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("ModelOptions: option '" + key + "' must be an integer, got " + v);
        }
    }

    public double doubleOption(String key, double fallback) {
        Object v = extra.get(key);
        if (v == null) return fallback;
        if (v instanceof Number n) return n.doubleValue();
        try {
            return Double.parseDouble(v.toString());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("ModelOptions: option '" + key + "' must be a number, got " + v);
        }
    }

    /** Mutable counterpart for call sites that set several fields. */
    public static final class Builder {
        private int numClasses, inChannels, imgSize;
        private double dropRate, dropPathRate;
        private final Map<String, Object> extra;

        private Builder(ModelOptions o) {
            numClasses = o.numClasses;
            inChannels = o.inChannels;
            imgSize = o.imgSize;
            dropRate = o.dropRate;
            dropPathRate = o.dropPathRate;
            extra = new LinkedHashMap<>(o.extra);
        }

        public Builder numClasses(int n) { numClasses = n; return this; }

        public Builder inChannels(int c) { inChannels = c; return this; }

        public Builder imgSize(int s) { imgSize = s; return this; }

        public Builder dropRate(double p) { dropRate = p; return this; }

        public Builder dropPathRate(double p) { dropPathRate = p; return this; }

        public Builder option(String key, Object value) { extra.put(key, value); return this; }

        public ModelOptions build() { return new ModelOptions(numClasses, inChannels, imgSize, dropRate, dropPathRate, extra); }
    }
}
