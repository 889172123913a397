package dev.lumen.app.data.transform;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * timm's --aa strings: {@code rand-m9-n2-mstd0.5-inc1-p0.5-mmax10} (RandAugment: magnitude,
 * layers, magnitude noise std (above 100: uniform), increasing ops, op probability, magnitude
 * clamp) and {@code original} / {@code v0} with an optional {@code -mstd0.5} (AutoAugment).
 */
public final class AutoAugmentSpec {
    private AutoAugmentSpec() {}

    /** timm's RandAugment op list (inc0). */
    public static final List<AugmentKind> RAND_OPS = List.of(AugmentKind.AutoContrast, AugmentKind.Equalize, AugmentKind.Invert,
            AugmentKind.Rotate, AugmentKind.Posterize, AugmentKind.Solarize, AugmentKind.SolarizeAdd, AugmentKind.Color,
            AugmentKind.Contrast, AugmentKind.Brightness, AugmentKind.Sharpness, AugmentKind.ShearX, AugmentKind.ShearY,
            AugmentKind.TranslateXRel, AugmentKind.TranslateYRel);

    /** The same with the ops whose strength grows with the magnitude (inc1). */
    public static final List<AugmentKind> RAND_INCREASING_OPS = List.of(AugmentKind.AutoContrast, AugmentKind.Equalize,
            AugmentKind.Invert, AugmentKind.Rotate, AugmentKind.PosterizeIncreasing, AugmentKind.SolarizeIncreasing,
            AugmentKind.SolarizeAdd, AugmentKind.ColorIncreasing, AugmentKind.ContrastIncreasing, AugmentKind.BrightnessIncreasing,
            AugmentKind.SharpnessIncreasing, AugmentKind.ShearX, AugmentKind.ShearY, AugmentKind.TranslateXRel, AugmentKind.TranslateYRel);

    private static final Pattern SECTION = Pattern.compile("([a-z]+)(\\d.*)");

    /** The transform of an --aa string; errors name the option and the bad section. */
    public static Transform create(String spec, AugmentParams hp) {
        String[] parts = spec.trim().split("-");
        if (parts[0].equals("rand")) return rand(spec, parts, hp);
        for (int i = 1; i < parts.length; i++) {
            String[] kv = section(spec, parts[i]);
            if (!kv[0].equals("mstd")) throw bad(spec, parts[i], "AutoAugment takes only mstd");
            hp = hp.withMagnitudeStd(number(spec, parts[i], kv[1]));
        }
        try {
            return AutoAugment.policy(parts[0], hp);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--aa '" + spec + "': unknown policy '" + parts[0]
                    + "'; use rand-m9-mstd0.5-inc1 (RandAugment), original or v0 (AutoAugment)");
        }
    }

    private static RandAugment rand(String spec, String[] parts, AugmentParams hp) {
        double magnitude = AugmentParams.LEVEL_DENOM, prob = 0.5;
        int layers = 2;
        boolean increasing = false;
        for (int i = 1; i < parts.length; i++) {
            String[] kv = section(spec, parts[i]);
            double v = number(spec, parts[i], kv[1]);
            switch (kv[0]) {
                case "m" -> magnitude = (int) v;
                case "n" -> layers = (int) v;
                case "p" -> prob = v;
                case "inc" -> increasing = (int) v != 0;
                case "mstd" -> hp = hp.withMagnitudeStd(v > 100 ? Double.POSITIVE_INFINITY : v);
                case "mmax" -> hp = hp.withMagnitudeMax((int) v == 0 ? AugmentParams.LEVEL_DENOM : (int) v);
                default -> throw bad(spec, parts[i], "RandAugment takes m, n, p, mstd, mmax and inc");
            }
        }
        if (!(prob >= 0 && prob <= 1) || magnitude < 0 || layers < 0) throw bad(spec, spec, "m and n must be >= 0 and p in [0, 1]");
        List<AugmentOp> ops = new ArrayList<>();
        for (AugmentKind k : increasing ? RAND_INCREASING_OPS : RAND_OPS) ops.add(new AugmentOp(k, prob, magnitude, hp));
        return new RandAugment(ops, layers);
    }

    private static String[] section(String spec, String part) {
        Matcher m = SECTION.matcher(part);
        if (!m.matches()) throw bad(spec, part, "a section is a key and a number, e.g. m9");
        return new String[] {m.group(1), m.group(2)};
    }

    private static double number(String spec, String part, String s) {
        try {
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw bad(spec, part, "'" + s + "' is not a number");
        }
    }

    private static IllegalArgumentException bad(String spec, String part, String why) {
        return new IllegalArgumentException("--aa '" + spec + "': bad section '" + part + "': " + why);
    }
}
