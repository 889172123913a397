package dev.lumen.app.data.transform;

import dev.lumen.tensor.Generator;
import java.util.Locale;

/**
 * The resampling filter of a resize or an affine warp, by timm's names. RANDOM picks bilinear or
 * bicubic on every call, as timm's 'random' interpolation.
 */
public enum Interpolation {
    NEAREST, BILINEAR, BICUBIC, RANDOM;

    /** timm's name ("bilinear"); the error names the option that carried it. */
    public static Interpolation parse(String name, String option) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        return switch (n) {
            case "nearest" -> NEAREST;
            case "bilinear" -> BILINEAR;
            case "bicubic" -> BICUBIC;
            case "random" -> RANDOM;
            default -> throw new IllegalArgumentException(option + " must be nearest, bilinear, bicubic or random, got '" + name + "'");
        };
    }

    /** The filter to use now: RANDOM draws bilinear or bicubic with equal odds. */
    public Interpolation pick(Generator rng) {
        if (this != RANDOM) return this;
        return rng.nextInt(2) == 0 ? BILINEAR : BICUBIC;
    }

    public String timmName() { return name().toLowerCase(Locale.ROOT); }
}
