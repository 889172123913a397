package dev.lumen.models.vmamba;

import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelFamily;
import dev.lumen.models.ModelOptions;
import java.util.List;
import java.util.Map;

/**
 * The VMamba variants as a {@link ModelFamily}; see {@link VMamba} for the mapping to the
 * official configuration names.
 *
 * <p>Published counts: the v2 models as the official README's classification table gives
 * them (VMamba-T[s1l8] 30M, VMamba-S[s2l15] 50M, VMamba-B[s2l15] 89M), whole models. The v0
 * models as the paper (arXiv 2401.10166v1) and the stage-0 table give them (22M, 44M, 75M):
 * those were counted without the classifier (norm and head), as the official
 * analyze/show/flops/flops.log shows (22,122,912, 43,646,880 and 75,227,008 parameters for
 * the three); with the 1000-class classifier the models have 22.89M, 44.42M and 76.25M.
 */
public final class VMambaFamily implements ModelFamily {

    private static final Map<String, String> PUBLISHED = Map.of(
            "vmamba_tiny", "30M",
            "vmamba_small", "50M",
            "vmamba_base", "89M",
            "vmamba_tiny_v0", "22M",
            "vmamba_small_v0", "44M",
            "vmamba_base_v0", "75M");

    @Override
    public String name() { return "vmamba"; }

    @Override
    public List<Variant> variants() {
        return VMamba.Config.presets().stream().map(c -> new Variant(c.name(), 224, PUBLISHED.get(c.name()))).toList();
    }

    @Override
    public ImageClassifier create(String variant, ModelOptions options) {
        for (VMamba.Config c : VMamba.Config.presets()) if (c.name().equals(variant)) return new VMamba(c, options);
        throw new IllegalArgumentException("vmamba: no variant '" + variant + "'; variants: "
                + VMamba.Config.presets().stream().map(VMamba.Config::name).toList());
    }
}
