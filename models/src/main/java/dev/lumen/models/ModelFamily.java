package dev.lumen.models;

import java.util.List;

/**
 * A family of models (ViT, ResNet ...) as a service: its published variants and a factory.
 * Implementations are listed in META-INF/services/dev.lumen.models.ModelFamily, one line
 * per family, and found by {@link ModelRegistry}.
 */
public interface ModelFamily {

    /**
     * One published configuration.
     *
     * @param name            the official / timm name ("resnet50")
     * @param defaultImgSize  input side length it was trained at
     * @param publishedParams the parameter count as the paper or timm gives it, with its
     *                        precision ("25.56M", "296M"); a count agrees when it rounds to it
     */
    record Variant(String name, int defaultImgSize, String publishedParams) {
        public Variant {
            if (name == null || name.isBlank()) throw new IllegalArgumentException("Variant: empty name");
            if (defaultImgSize < 1) throw new IllegalArgumentException("Variant " + name + ": defaultImgSize " + defaultImgSize);
            ModelRegistry.parsePublished(publishedParams);
        }
    }

    /** Short family name ("resnet", "vit"). */
    String name();

    List<Variant> variants();

    /** Builds variant with options; the variant is one of {@link #variants()}. */
    ImageClassifier create(String variant, ModelOptions options);

    /**
     * The options that build the layout a checkpoint with these keys (model names, no prefix)
     * was saved from, where the family has variants of layout (CAS-ViT with or without its
     * distillation head); options given explicitly in extra win. The default changes nothing.
     */
    default ModelOptions fitTo(java.util.Set<String> stateKeys, ModelOptions options) { return options; }
}
