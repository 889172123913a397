package dev.lumen.models.resnet;

import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelFamily;
import dev.lumen.models.ModelOptions;
import java.util.List;
import java.util.Map;

/** ResNet-50 and the Res2Net variants with timm's published weights, as a {@link ModelFamily}. */
public final class ResNetFamily implements ModelFamily {

    /** Parameter counts from timm's model index (docs/models/res2net.md) and the resnet50 model card. */
    private static final Map<String, String> PUBLISHED = Map.of(
            "res2net50_26w_4s", "25.70M",
            "res2net50_48w_2s", "25.29M",
            "res2net50_14w_8s", "25.06M",
            "res2net50_26w_6s", "37.05M",
            "res2net50_26w_8s", "48.40M",
            "res2net101_26w_4s", "45.21M",
            "resnet50", "25.56M");

    @Override
    public String name() { return "resnet"; }

    @Override
    public List<Variant> variants() {
        return ResNet.Config.presets().stream().map(c -> new Variant(c.name(), 224, PUBLISHED.get(c.name()))).toList();
    }

    @Override
    public ImageClassifier create(String variant, ModelOptions options) {
        for (ResNet.Config c : ResNet.Config.presets()) if (c.name().equals(variant)) return new ResNet(c, options);
        throw new IllegalArgumentException("resnet: no variant '" + variant + "'; variants: "
                + ResNet.Config.presets().stream().map(ResNet.Config::name).toList());
    }
}
