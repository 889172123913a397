package dev.lumen.models.replknet;

import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelFamily;
import dev.lumen.models.ModelOptions;
import java.util.List;
import java.util.Map;

/** RepLKNet-31B, -31L and -XL, as a {@link ModelFamily}. */
public final class RepLKNetFamily implements ModelFamily {

    /**
     * Parameter counts as published: the 79.9M for 31B; the paper and the official
     * README give 79M, 172M and 335M, truncating the training-form counts (79.86M, 172.67M,
     * 335.44M), so 31L's 172M agrees by truncation, not by rounding.
     */
    private static final Map<String, String> PUBLISHED = Map.of(
            "replknet_31b", "79.9M",
            "replknet_31l", "172M",
            "replknet_xl", "335M");

    @Override
    public String name() { return "replknet"; }

    @Override
    public List<Variant> variants() {
        return RepLKNet.Config.presets().stream().map(c -> new Variant(c.name(), 224, PUBLISHED.get(c.name()))).toList();
    }

    @Override
    public ImageClassifier create(String variant, ModelOptions options) {
        for (RepLKNet.Config c : RepLKNet.Config.presets()) if (c.name().equals(variant)) return new RepLKNet(c, options);
        throw new IllegalArgumentException("replknet: no variant '" + variant + "'; variants: "
                + RepLKNet.Config.presets().stream().map(RepLKNet.Config::name).toList());
    }
}
