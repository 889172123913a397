package dev.lumen.app.data.transform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Every AutoAugment / RandAugment op against timm's own functions on PIL (tools/golden/timm_augment.py):
 * ops at fixed arguments on an 8-bit RGB and a grey image, the level-to-argument values, the
 * AutoAugment policies and what the --aa parser builds. PIL works on uint8 with fixed rules
 * (truncation after float blends and filters), which the ops reproduce, so the pixels must be
 * equal: a tolerance of 0.
 */
class AugmentGoldenTest {
    private record Case(String line, String op, double arg, String resample, String image, Image8 out) {}

    private static final Map<String, Image8> IMAGES = new HashMap<>();
    private static final List<Case> OPS = new ArrayList<>();
    private static dev.lumen.app.data.Image floatImage;
    private static final List<String[]> RESIZES = new ArrayList<>();
    private static final Map<Double, Image8> HUES = new HashMap<>();
    private static final List<String[]> LEVELS = new ArrayList<>(), POLICIES = new ArrayList<>(), RANDS = new ArrayList<>();

    static {
        try (InputStream in = AugmentGoldenTest.class.getResourceAsStream("/golden/augment.txt")) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                String[] f = line.split(" ");
                switch (f[0]) {
                    case "image" -> IMAGES.put(f[1], image(f, 2));
                    case "op" -> OPS.add(new Case(line.substring(0, Math.min(60, line.length())), f[1], Double.parseDouble(f[2]), f[3], f[4], image(f, 5)));
                    case "level" -> LEVELS.add(f);
                    case "policy" -> POLICIES.add(line.split(" ", 4));
                    case "rand" -> RANDS.add(f);
                    case "resize" -> RESIZES.add(f);
                    case "hue" -> HUES.put(Double.parseDouble(f[1]), image(f, 2));
                    case "fimage" -> {
                        int h = Integer.parseInt(f[1]), w = Integer.parseInt(f[2]);
                        float[] v = new float[h * w];
                        for (int i = 0; i < v.length; i++) v[i] = Float.parseFloat(f[3 + i]);
                        floatImage = new dev.lumen.app.data.Image(1, h, w, v);
                    }
                    default -> { }
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Image8 image(String[] f, int at) {
        int c = Integer.parseInt(f[at]), h = Integer.parseInt(f[at + 1]), w = Integer.parseInt(f[at + 2]);
        int[] v = new int[c * h * w];
        for (int i = 0; i < v.length; i++) v[i] = Integer.parseInt(f[at + 3 + i]);
        return new Image8(c, h, w, v);
    }

    private static AugmentParams params(String resample, int channels) {
        Interpolation r = resample.equals("none") ? Interpolation.BILINEAR : Interpolation.parse(resample, "test");
        int[] fill = channels == 3 ? new int[] {124, 116, 104} : new int[] {124};
        return new AugmentParams(0, 10, 100, 0.45, fill, r);
    }

    @Test
    void everyOpMatchesPilPixelForPixel() {
        assertTrue(OPS.size() > 100, "golden cases: " + OPS.size());
        List<String> wrong = new ArrayList<>();
        for (Case c : OPS) {
            Image8 in = IMAGES.get(c.image);
            Image8 got = AugmentKind.valueOf(c.op).apply(in, c.arg, params(c.resample, in.channels()), null);
            int bad = 0, worst = 0;
            for (int i = 0; i < got.v().length; i++) {
                int d = Math.abs(got.v()[i] - c.out.v()[i]);
                if (d > 0) bad++;
                worst = Math.max(worst, d);
            }
            if (bad > 0) wrong.add(c.op + " " + c.arg + " " + c.resample + " " + c.image + ": " + bad + " pixels off, worst " + worst);
        }
        assertTrue(wrong.isEmpty(), wrong.size() + " of " + OPS.size() + " cases differ:\n" + String.join("\n", wrong));
    }

    /**
     * Float resizes against PIL's mode-F resize: PIL sums in double and Lumen in float, hence
     * 1e-5. Bicubic is compared after clipping PIL's result to [0, 1], as Lumen clips (PIL clips
     * 8-bit images, which is what a photo is).
     */
    @Test
    void resizeFiltersMatchPil() {
        assertEquals(9, RESIZES.size());
        for (String[] f : RESIZES) {
            Interpolation filter = Interpolation.parse(f[1], "test");
            int oh = Integer.parseInt(f[2]), ow = Integer.parseInt(f[3]);
            dev.lumen.app.data.Image got = ImageOps.resize(floatImage, oh, ow, filter);
            for (int i = 0; i < oh * ow; i++) {
                double want = Double.parseDouble(f[4 + i]);
                if (filter == Interpolation.BICUBIC) want = Math.max(0, Math.min(1, want));
                assertEquals(want, got.data()[i], 1e-5, f[1] + " " + oh + "x" + ow + " element " + i);
            }
        }
    }

    /**
     * Lumen's ColorJitter works on floats (torchvision's tensor rules); timm jitters 8-bit PIL
     * images. On the same 8-bit input the two agree to 1.5 levels in 255 for brightness,
     * contrast and saturation: PIL truncates each blend (under 1 level) and rounds the grey it
     * blends with (half a level, times |factor - 1| &lt;= 0.9). The hue is compared at the shift
     * PIL can make (whole 1/255 steps of the wheel) and agrees to 7 levels: PIL stores H, S and V
     * in 8 bits, and half a hue step moves a channel by up to 3 levels of the pixel's chroma,
     * plus the rounding of S and V.
     */
    @Test
    void colorJitterAgreesWithTimmsPilJitterToThe8BitRounding() {
        int checked = 0;
        for (Case c : OPS) {
            if (!List.of("Brightness", "Contrast", "Color").contains(c.op)) continue;
            dev.lumen.app.data.Image in = IMAGES.get(c.image).toImage();
            dev.lumen.app.data.Image got = switch (c.op) {
                case "Brightness" -> ColorJitter.adjustBrightness(in, c.arg);
                case "Contrast" -> ColorJitter.adjustContrast(in, c.arg);
                default -> ColorJitter.adjustSaturation(in, c.arg);
            };
            double d = maxDiff(got, c.out);
            assertTrue(d <= 1.5, c.op + " " + c.arg + " " + c.image + " differs by " + d + " levels");
            checked++;
        }
        for (Map.Entry<Double, Image8> e : HUES.entrySet()) {
            double shift = (int) (e.getKey() * 255) / 255.0; // the shift PIL can make: whole 1/255 steps
            double d = maxDiff(ColorJitter.adjustHue(IMAGES.get("rgb").toImage(), shift), e.getValue());
            assertTrue(d <= 7, "hue " + e.getKey() + " differs by " + d + " levels");
            checked++;
        }
        assertEquals(34, checked);
    }

    private static double maxDiff(dev.lumen.app.data.Image got, Image8 want) {
        double d = 0;
        for (int i = 0; i < want.v().length; i++) d = Math.max(d, Math.abs(got.data()[i] * 255.0 - want.v()[i]));
        return d;
    }

    @Test
    void levelToArgumentIsTimms() {
        AugmentParams hp = new AugmentParams(0, 10, 100, 0.45, new int[] {124, 116, 104}, Interpolation.BILINEAR);
        for (String[] f : LEVELS) {
            double got = AugmentKind.valueOf(f[1]).argument(Double.parseDouble(f[2]), hp, false);
            assertEquals(Double.parseDouble(f[3]), got, 1e-12, String.join(" ", f));
        }
        assertTrue(LEVELS.size() >= 20 * 6, "levels: " + LEVELS.size());
    }

    @Test
    void autoAugmentPoliciesAreTimms() {
        AugmentParams hp = params("bilinear", 3);
        Map<String, AutoAugment> ours = new HashMap<>();
        for (String name : List.of("original", "originalr", "v0", "v0r")) ours.put(name, (AutoAugment) AutoAugmentSpec.create(name, hp));
        int n = 0;
        for (String[] f : POLICIES) {
            List<AugmentOp> sub = ours.get(f[1]).policy().get(Integer.parseInt(f[2]));
            String got = String.join(" ; ", sub.stream().map(o -> o.kind() + " " + o.prob() + " " + (int) o.magnitude()).toList());
            assertEquals(f[3], got, f[1] + " sub-policy " + f[2]);
            n++;
        }
        assertEquals(100, n);
        assertEquals(25, ours.get("v0").policy().size());
        assertEquals(25, ours.get("original").policy().size());
    }

    @Test
    void randAugmentStringsBuildTimmsOps() {
        AugmentParams hp = params("bilinear", 3);
        for (String[] f : RANDS) {
            RandAugment ra = (RandAugment) AutoAugmentSpec.create(f[1], hp);
            AugmentOp op = ra.ops().getFirst();
            assertEquals(Integer.parseInt(f[2]), ra.layers(), f[1]);
            assertEquals(Double.parseDouble(f[3]), op.prob(), f[1]);
            assertEquals(Double.parseDouble(f[4]), op.magnitude(), f[1]);
            double std = f[5].equals("inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(f[5]);
            assertEquals(std, op.hp().magnitudeStd(), f[1]);
            assertEquals(f[6].equals("None") ? 10.0 : Double.parseDouble(f[6]), op.hp().magnitudeMax(), f[1]);
            assertEquals(Arrays.asList(f[7].split(",")), ra.ops().stream().map(o -> o.kind().name()).toList(), f[1]);
            if (f[8].equals("none")) {
                assertEquals(null, ra.weights(), f[1]);
            } else {
                double[] want = Arrays.stream(f[8].split(",")).mapToDouble(Double::parseDouble).toArray();
                double total = Arrays.stream(ra.weights()).sum();
                for (int i = 0; i < want.length; i++) assertEquals(want[i], ra.weights()[i] / total, 1e-12, f[1] + " weight " + i);
            }
        }
        assertEquals(5, RANDS.size());
    }
}
