package dev.lumen.models.vit;

import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelFamily;
import dev.lumen.models.ModelOptions;
import java.util.List;
import java.util.Map;

/** The Vision Transformers of the ViT paper with timm's names and weights, as a {@link ModelFamily}. */
public final class VitFamily implements ModelFamily {

    /** Parameter counts (1000 classes, 224x224) as timm's model cards give them. */
    private static final Map<String, String> PUBLISHED = Map.of(
            "vit_tiny_patch16_224", "5.7M",
            "vit_small_patch16_224", "22.1M",
            "vit_base_patch16_224", "86.6M",
            "vit_large_patch16_224", "304.3M",
            "vit_base_patch32_224", "88.2M",
            "vit_large_patch32_224", "306.5M",
            "vit_huge_patch14_224", "632M");

    @Override
    public String name() { return "vit"; }

    @Override
    public List<Variant> variants() {
        return VisionTransformer.Config.presets().stream().map(c -> new Variant(c.name(), c.imgSize(), PUBLISHED.get(c.name()))).toList();
    }

    @Override
    public ImageClassifier create(String variant, ModelOptions options) {
        for (VisionTransformer.Config c : VisionTransformer.Config.presets()) {
            if (c.name().equals(variant)) return new VisionTransformer(c, options);
        }
        throw new IllegalArgumentException("vit: no variant '" + variant + "'; variants: "
                + VisionTransformer.Config.presets().stream().map(VisionTransformer.Config::name).toList());
    }
}
