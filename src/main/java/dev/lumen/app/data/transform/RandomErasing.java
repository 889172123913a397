package dev.lumen.app.data.transform;

import dev.lumen.app.data.Draws;
import dev.lumen.app.data.Image;
import dev.lumen.tensor.Generator;

/**
 * timm's RandomErasing (Zhong et al., 2017), applied to normalised images: with probability p,
 * erases {@code count} rectangles (count uniform in [minCount, maxCount]) each of a random area
 * fraction in [minArea, maxArea] / count and a log-uniform aspect ratio in [minAspect, maxAspect],
 * 10 attempts each to fit strictly inside the image. Values: 0 (CONST), one normal draw per
 * channel (RAND) or one per pixel (PIXEL).
 */
public record RandomErasing(double probability, double minArea, double maxArea, double minAspect, double maxAspect,
                            Mode mode, int minCount, int maxCount) implements Transform {
    public enum Mode { CONST, RAND, PIXEL }

    public RandomErasing {
        if (!(probability >= 0 && probability <= 1) || !(minArea > 0 && minArea <= maxArea) || !(minAspect > 0 && minAspect <= maxAspect)
                || minCount < 1 || maxCount < minCount) {
            throw new IllegalArgumentException("RandomErasing: bad arguments p=" + probability + ", area (" + minArea + ", " + maxArea
                    + "), aspect (" + minAspect + ", " + maxAspect + "), count (" + minCount + ", " + maxCount + ")");
        }
    }

    /** timm's defaults (area 0.02 to 1/3, aspect 0.3 to 1/0.3, one rectangle) with the given p and mode. */
    public static RandomErasing of(double probability, Mode mode) { return of(probability, mode, 1); }

    /** timm's defaults with up to maxCount rectangles (timm's --recount: a count uniform in [1, maxCount]). */
    public static RandomErasing of(double probability, Mode mode, int maxCount) {
        return new RandomErasing(probability, 0.02, 1.0 / 3, 0.3, 1 / 0.3, mode, 1, maxCount);
    }

    /** timm's --remode names: const, rand or pixel. */
    public static Mode mode(String name) {
        return switch (name == null ? "" : name.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "const" -> Mode.CONST;
            case "rand" -> Mode.RAND;
            case "pixel" -> Mode.PIXEL;
            default -> throw new IllegalArgumentException("--remode must be const, rand or pixel, got '" + name + "'");
        };
    }

    @Override
    public Image apply(Image img, Generator rng) {
        if (rng.nextUniform() >= probability) return img;
        int c = img.channels(), imgH = img.height(), imgW = img.width();
        double area = (double) imgH * imgW;
        int count = minCount == maxCount ? minCount : Draws.randint(rng, minCount, maxCount + 1);
        double logLo = Math.log(minAspect), logHi = Math.log(maxAspect);
        float[] out = img.data().clone();
        for (int k = 0; k < count; k++) {
            for (int attempt = 0; attempt < 10; attempt++) {
                double target = Draws.uniform(rng, minArea, maxArea) * area / count;
                double aspect = Math.exp(Draws.uniform(rng, logLo, logHi));
                int h = (int) Math.rint(Math.sqrt(target * aspect)), w = (int) Math.rint(Math.sqrt(target / aspect));
                if (w < imgW && h < imgH) {
                    int top = Draws.randint(rng, 0, imgH - h + 1), left = Draws.randint(rng, 0, imgW - w + 1);
                    for (int ch = 0; ch < c; ch++) {
                        float v = mode == Mode.RAND ? (float) rng.nextNormal() : 0f;
                        for (int y = top; y < top + h; y++) {
                            int row = (ch * imgH + y) * imgW;
                            for (int x = left; x < left + w; x++) out[row + x] = mode == Mode.PIXEL ? (float) rng.nextNormal() : v;
                        }
                    }
                    break;
                }
            }
        }
        return new Image(c, imgH, imgW, out);
    }
}
