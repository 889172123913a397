package dev.lumen.app.data.transform;

import dev.lumen.tensor.Generator;

/**
 * The AutoAugment / RandAugment operations by timm's names, each with timm's mapping from a
 * magnitude level (0..10) to its argument. The Increasing variants grow stronger with the level
 * (RandAugment's inc1); PosterizeOriginal is the AutoAugment paper's bit range.
 */
public enum AugmentKind {
    AutoContrast, Equalize, Invert, Rotate, Posterize, PosterizeIncreasing, PosterizeOriginal, Solarize, SolarizeIncreasing,
    SolarizeAdd, Color, ColorIncreasing, Contrast, ContrastIncreasing, Brightness, BrightnessIncreasing, Sharpness,
    SharpnessIncreasing, ShearX, ShearY, TranslateX, TranslateY, TranslateXRel, TranslateYRel;

    /** timm's level-to-argument function; the random sign (timm's _randomly_negate) comes from rng. */
    public double argument(double level, AugmentParams hp, Generator rng) {
        return argument(level, hp, signed() && rng.nextUniform() > 0.5);
    }

    /** Whether the argument takes a random sign. */
    public boolean signed() {
        return switch (this) {
            case Rotate, ColorIncreasing, ContrastIncreasing, BrightnessIncreasing, SharpnessIncreasing, ShearX, ShearY, TranslateX,
                 TranslateY, TranslateXRel, TranslateYRel -> true;
            default -> false;
        };
    }

    /** The argument at a level with the sign chosen: negate flips the signed ones. */
    public double argument(double level, AugmentParams hp, boolean negate) {
        double f = level / AugmentParams.LEVEL_DENOM, sign = negate ? -1 : 1;
        return switch (this) {
            case AutoContrast, Equalize, Invert -> 0;
            case Rotate -> sign * f * 30;
            case Posterize -> (int) (f * 4);
            case PosterizeIncreasing -> 4 - (int) (f * 4);
            case PosterizeOriginal -> (int) (f * 4) + 4;
            case Solarize -> Math.min(256, (int) (f * 256));
            case SolarizeIncreasing -> 256 - Math.min(256, (int) (f * 256));
            case SolarizeAdd -> Math.min(128, (int) (f * 110));
            case Color, Contrast, Brightness, Sharpness -> f * 1.8 + 0.1;
            case ColorIncreasing, ContrastIncreasing, BrightnessIncreasing, SharpnessIncreasing -> Math.max(0.1, 1.0 + sign * f * 0.9);
            case ShearX, ShearY -> sign * f * 0.3;
            case TranslateX, TranslateY -> sign * f * hp.translateConst();
            case TranslateXRel, TranslateYRel -> sign * f * hp.translatePct();
        };
    }

    /** The op at a fixed argument (degrees, bits, threshold, factor, shear, pixels or fraction). */
    public Image8 apply(Image8 img, double arg, AugmentParams hp, Generator rng) {
        return switch (this) {
            case AutoContrast -> PilLut.autocontrast(img);
            case Equalize -> PilLut.equalize(img);
            case Invert -> PilLut.invert(img);
            case Rotate -> PilAffine.rotate(img, arg, hp.interpolation().pick(rng), fill(hp, img));
            case Posterize, PosterizeIncreasing, PosterizeOriginal -> arg >= 8 ? img : PilLut.posterize(img, (int) arg);
            case Solarize, SolarizeIncreasing -> PilLut.solarize(img, (int) arg);
            case SolarizeAdd -> PilLut.solarizeAdd(img, (int) arg, 128);
            case Color, ColorIncreasing -> PilEnhance.color(img, arg);
            case Contrast, ContrastIncreasing -> PilEnhance.contrast(img, arg);
            case Brightness, BrightnessIncreasing -> PilEnhance.brightness(img, arg);
            case Sharpness, SharpnessIncreasing -> PilEnhance.sharpness(img, arg);
            case ShearX -> PilAffine.shearX(img, arg, hp.interpolation().pick(rng), fill(hp, img));
            case ShearY -> PilAffine.shearY(img, arg, hp.interpolation().pick(rng), fill(hp, img));
            case TranslateX -> PilAffine.translateX(img, arg, hp.interpolation().pick(rng), fill(hp, img));
            case TranslateY -> PilAffine.translateY(img, arg, hp.interpolation().pick(rng), fill(hp, img));
            case TranslateXRel -> PilAffine.translateX(img, arg * img.width(), hp.interpolation().pick(rng), fill(hp, img));
            case TranslateYRel -> PilAffine.translateY(img, arg * img.height(), hp.interpolation().pick(rng), fill(hp, img));
        };
    }

    private static int[] fill(AugmentParams hp, Image8 img) {
        int[] fill = hp.fill();
        if (fill.length == img.channels()) return fill;
        if (fill.length == 3 && img.channels() == 1) return new int[] {fill[0]};
        throw new IllegalArgumentException("augment: " + fill.length + " fill values for a " + img.channels() + "-channel image");
    }
}
