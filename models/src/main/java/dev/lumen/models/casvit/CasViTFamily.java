package dev.lumen.models.casvit;

import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelFamily;
import dev.lumen.models.ModelOptions;
import java.util.List;
import java.util.Map;

/** CAS-ViT's four published RCViT classifiers, as a {@link ModelFamily}. */
public final class CasViTFamily implements ModelFamily {

    /** Parameter counts of the official MODEL_ZOO.md (distillation head included). */
    private static final Map<String, String> PUBLISHED = Map.of(
            "rcvit_xs", "3.20M",
            "rcvit_s", "5.76M",
            "rcvit_m", "12.42M",
            "rcvit_t", "21.76M");

    @Override
    public String name() { return "casvit"; }

    @Override
    public List<Variant> variants() {
        return CasViT.Config.presets().stream().map(c -> new Variant(c.name(), 224, PUBLISHED.get(c.name()))).toList();
    }

    /** The official main.py trains without the distillation head: a checkpoint without dist_head.* builds none. */
    @Override
    public ModelOptions fitTo(java.util.Set<String> stateKeys, ModelOptions options) {
        if (options.extra().containsKey("distillation")) return options;
        boolean dist = stateKeys.stream().anyMatch(k -> k.startsWith("dist_head."));
        return options.with("distillation", dist);
    }

    @Override
    public ImageClassifier create(String variant, ModelOptions options) {
        for (CasViT.Config c : CasViT.Config.presets()) if (c.name().equals(variant)) return new CasViT(c, options);
        throw new IllegalArgumentException("casvit: no variant '" + variant + "'; variants: "
                + CasViT.Config.presets().stream().map(CasViT.Config::name).toList());
    }
}
