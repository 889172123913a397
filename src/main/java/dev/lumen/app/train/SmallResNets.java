package dev.lumen.app.train;

import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelFamily;
import dev.lumen.models.ModelOptions;
import dev.lumen.models.resnet.ResNet;
import java.util.List;

/**
 * Small ResNets for small images (Fashion-MNIST, CIFAR-sized data) that train in minutes on a
 * CPU: the models family's ResNet with one bottleneck per stage and narrow widths. At inputs up
 * to 64 pixels they use the small-input stem (no max-pool): resnet_micro's stem conv runs at
 * stride 1 (28x28 maps in the first stage at 28x28), resnet_fmnist's at stride 2 (14x14), which
 * pays for its doubled widths. Published counts are at the registry's defaults (1000 classes);
 * with 10 classes resnet_micro has 0.13M parameters and resnet_fmnist 0.51M.
 */
public final class SmallResNets implements ModelFamily {
    /** stemStride: the stem conv's stride with the small-input stem. */
    private record Spec(String name, int[] layers, int stem, int base, int stemStride, String published) {}

    private static final List<Spec> SPECS = List.of(
            new Spec("resnet_fmnist", new int[] {1, 1, 1, 1}, 16, 16, 2, "1.02M"),
            new Spec("resnet_micro", new int[] {1, 1, 1, 1}, 16, 8, 1, "0.39M"));

    @Override
    public String name() { return "resnet-small"; }

    @Override
    public List<Variant> variants() { return SPECS.stream().map(s -> new Variant(s.name(), 32, s.published())).toList(); }

    @Override
    public ImageClassifier create(String variant, ModelOptions options) {
        for (Spec s : SPECS) {
            if (!s.name().equals(variant)) continue;
            ResNet.Config c = new ResNet.Config(s.name(), s.layers(), ResNet.Block.BOTTLENECK, s.stem(), s.base(), 64, 1);
            ModelOptions o = options.extra().containsKey("small_input_stem") ? options
                    : options.with("small_input_stem", options.imgSizeOr(32) <= 64);
            if (o.flag("small_input_stem", false) && !o.extra().containsKey("stem_stride")) o = o.with("stem_stride", s.stemStride());
            return new ResNet(c, o);
        }
        throw new IllegalArgumentException("resnet-small: no variant '" + variant + "'; variants: " + SPECS.stream().map(Spec::name).toList());
    }
}
