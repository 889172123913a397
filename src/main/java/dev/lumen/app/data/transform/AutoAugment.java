package dev.lumen.app.data.transform;

import dev.lumen.app.data.Image;
import dev.lumen.tensor.Generator;
import java.util.ArrayList;
import java.util.List;

/**
 * AutoAugment (Cubuk et al., 2019) as timm: one sub-policy drawn uniformly per image, its ops
 * applied in order, each with its own probability and magnitude. The policies are the published
 * ImageNet ones: {@code original} (the paper's) and {@code v0} (TPU EfficientNet's), and timm's
 * {@code originalr} / {@code v0r}, the same with Posterize removing more bits as the magnitude grows.
 */
public record AutoAugment(String name, List<List<AugmentOp>> policy) implements Transform {
    public AutoAugment {
        policy = policy.stream().map(List::copyOf).toList();
        if (policy.isEmpty()) throw new IllegalArgumentException("AutoAugment: empty policy");
    }

    /** The named policy ("original" or "v0") with the given hparams. */
    public static AutoAugment policy(String name, AugmentParams hp) {
        String[] table = switch (name) {
            case "original", "originalr" -> ORIGINAL;
            case "v0", "v0r" -> V0;
            default -> throw new IllegalArgumentException("--aa: unknown AutoAugment policy '" + name + "' (original, originalr, v0, v0r, or rand-...)");
        };
        List<List<AugmentOp>> p = new ArrayList<>();
        for (String sub : table) {
            if (name.endsWith("r")) sub = sub.replace("PosterizeOriginal ", "PosterizeIncreasing ").replace("Posterize ", "PosterizeIncreasing ");
            List<AugmentOp> ops = new ArrayList<>();
            for (String op : sub.split(";")) {
                String[] f = op.trim().split(" ");
                ops.add(new AugmentOp(AugmentKind.valueOf(f[0]), Double.parseDouble(f[1]), Double.parseDouble(f[2]), hp));
            }
            p.add(ops);
        }
        return new AutoAugment(name, p);
    }

    @Override
    public Image apply(Image img, Generator rng) {
        Image8 b = Image8.of(img);
        for (AugmentOp op : choose(rng)) b = op.apply(b, rng);
        return b.toImage();
    }

    /** One sub-policy, uniform over the policy. */
    List<AugmentOp> choose(Generator rng) { return policy.get(rng.nextInt(policy.size())); }

    @Override
    public String toString() { return "AutoAugment(" + name + ", " + policy.size() + " sub-policies)"; }

    // Sub-policies as "op probability magnitude; op probability magnitude".
    private static final String[] ORIGINAL = {
        "PosterizeOriginal 0.4 8; Rotate 0.6 9", "Solarize 0.6 5; AutoContrast 0.6 5", "Equalize 0.8 8; Equalize 0.6 3",
        "PosterizeOriginal 0.6 7; PosterizeOriginal 0.6 6", "Equalize 0.4 7; Solarize 0.2 4", "Equalize 0.4 4; Rotate 0.8 8",
        "Solarize 0.6 3; Equalize 0.6 7", "PosterizeOriginal 0.8 5; Equalize 1.0 2", "Rotate 0.2 3; Solarize 0.6 8",
        "Equalize 0.6 8; PosterizeOriginal 0.4 6", "Rotate 0.8 8; Color 0.4 0", "Rotate 0.4 9; Equalize 0.6 2",
        "Equalize 0.0 7; Equalize 0.8 8", "Invert 0.6 4; Equalize 1.0 8", "Color 0.6 4; Contrast 1.0 8", "Rotate 0.8 8; Color 1.0 2",
        "Color 0.8 8; Solarize 0.8 7", "Sharpness 0.4 7; Invert 0.6 8", "ShearX 0.6 5; Equalize 1.0 9", "Color 0.4 0; Equalize 0.6 3",
        "Equalize 0.4 7; Solarize 0.2 4", "Solarize 0.6 5; AutoContrast 0.6 5", "Invert 0.6 4; Equalize 1.0 8",
        "Color 0.6 4; Contrast 1.0 8", "Equalize 0.8 8; Equalize 0.6 3",
    };

    private static final String[] V0 = {
        "Equalize 0.8 1; ShearY 0.8 4", "Color 0.4 9; Equalize 0.6 3", "Color 0.4 1; Rotate 0.6 8", "Solarize 0.8 3; Equalize 0.4 7",
        "Solarize 0.4 2; Solarize 0.6 2", "Color 0.2 0; Equalize 0.8 8", "Equalize 0.4 8; SolarizeAdd 0.8 3", "ShearX 0.2 9; Rotate 0.6 8",
        "Color 0.6 1; Equalize 1.0 2", "Invert 0.4 9; Rotate 0.6 0", "Equalize 1.0 9; ShearY 0.6 3", "Color 0.4 7; Equalize 0.6 0",
        "Posterize 0.4 6; AutoContrast 0.4 7", "Solarize 0.6 8; Color 0.6 9", "Solarize 0.2 4; Rotate 0.8 9",
        "Rotate 1.0 7; TranslateYRel 0.8 9", "ShearX 0.0 0; Solarize 0.8 4", "ShearY 0.8 0; Color 0.6 4", "Color 1.0 0; Rotate 0.6 2",
        "Equalize 0.8 4; Equalize 0.0 8", "Equalize 1.0 4; AutoContrast 0.6 2", "ShearY 0.4 7; SolarizeAdd 0.6 7",
        "Posterize 0.8 2; Solarize 0.6 10", "Solarize 0.6 8; Equalize 0.6 1", "Color 0.8 6; Rotate 0.4 5",
    };
}
