package dev.lumen.models.volo;

import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelFamily;
import dev.lumen.models.ModelOptions;
import java.util.List;
import java.util.Map;

/** VOLO-D1 to D5 as a {@link ModelFamily}. */
public final class VoloFamily implements ModelFamily {

    /**
     * Parameter counts at 224x224 with the aux head (timm's volo_dN_224 and the official
     * README: 26.6M, 58.7M, 86.3M, 193M). For D5 the paper's "296M" is the 512x512 model
     * (its 32x32 pos_embed: 296.09M); at 224 D5 has 295.46M, printed here as 295.5M.
     */
    private static final Map<String, String> PUBLISHED = Map.of(
            "volo_d1", "26.6M", "volo_d2", "58.7M", "volo_d3", "86.3M", "volo_d4", "193M", "volo_d5", "295.5M");

    @Override
    public String name() { return "volo"; }

    @Override
    public List<Variant> variants() {
        return Volo.Config.presets().stream().map(c -> new Variant(c.name(), 224, PUBLISHED.get(c.name()))).toList();
    }

    @Override
    public ImageClassifier create(String variant, ModelOptions options) {
        for (Volo.Config c : Volo.Config.presets()) if (c.name().equals(variant)) return new Volo(c, options);
        throw new IllegalArgumentException("volo: no variant '" + variant + "'; variants: " + Volo.Config.presets().stream().map(Volo.Config::name).toList());
    }
}
