package dev.lumen.app.data.transform;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * timm's --aa strings: {@code rand-m9-n2-mstd0.5-inc1-p0.5-mmax10} (RandAugment: magnitude,
 * layers, magnitude noise std (above 100: uniform), increasing ops, op probability, magnitude
 * clamp; {@code tweights}: timm's weighted op set, drawn without replacement) and
 * {@code original}, {@code originalr}, {@code v0}, {@code v0r} with an optional {@code -mstd0.5}
 * (AutoAugment).
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

    /** timm's experimental op weights ('tweights'), by op. */
    private static final java.util.Map<AugmentKind, Double> WEIGHTS = weights();

    private static java.util.Map<AugmentKind, Double> weights() {
        java.util.Map<AugmentKind, Double> w = new java.util.LinkedHashMap<>();
        w.put(AugmentKind.Rotate, 3.0);
        w.put(AugmentKind.ShearX, 2.0);
        w.put(AugmentKind.ShearY, 2.0);
        w.put(AugmentKind.TranslateXRel, 1.0);
        w.put(AugmentKind.TranslateYRel, 1.0);
        w.put(AugmentKind.ColorIncreasing, 0.25);
        w.put(AugmentKind.SharpnessIncreasing, 0.25);
        w.put(AugmentKind.AutoContrast, 0.25);
        for (AugmentKind k : List.of(AugmentKind.SolarizeIncreasing, AugmentKind.SolarizeAdd, AugmentKind.ContrastIncreasing,
                AugmentKind.BrightnessIncreasing, AugmentKind.Equalize, AugmentKind.PosterizeIncreasing, AugmentKind.Invert)) {
            w.put(k, 0.05);
        }
        return java.util.Collections.unmodifiableMap(w);
    }

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
                    + "'; use rand-m9-mstd0.5-inc1 (RandAugment), original, originalr, v0 or v0r (AutoAugment)");
        }
    }

    private static RandAugment rand(String spec, String[] parts, AugmentParams hp) {
        double magnitude = AugmentParams.LEVEL_DENOM, prob = 0.5;
        int layers = 2;
        boolean increasing = false, weighted = false;
        for (int i = 1; i < parts.length; i++) {
            if (parts[i].startsWith("t")) {
                String set = parts[i].substring(1);
                if (set.equals("weights")) weighted = true;
                else if (set.startsWith("3a")) throw bad(spec, parts[i], "the 3a op sets (Desaturate, GaussianBlur) are not implemented");
                continue; // timm: any other name is the plain (or inc1) list
            }
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
        List<AugmentKind> kinds = weighted ? List.copyOf(WEIGHTS.keySet()) : increasing ? RAND_INCREASING_OPS : RAND_OPS;
        for (AugmentKind k : kinds) ops.add(new AugmentOp(k, prob, magnitude, hp));
        if (!weighted) return new RandAugment(ops, layers);
        if (layers > ops.size()) throw bad(spec, spec, "tweights draws n ops without replacement, so n <= " + ops.size());
        return new RandAugment(ops, layers, WEIGHTS.values().stream().mapToDouble(Double::doubleValue).toArray());
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
