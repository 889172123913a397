package dev.lumen.app.data.transform;

import dev.lumen.app.data.Draws;
import dev.lumen.app.data.Image;
import dev.lumen.tensor.Generator;

/**
 * torchvision's RandomResizedCrop: a window of a random fraction of the area (scale) and a
 * log-uniform aspect ratio (ratio), tried 10 times, else the central crop clamped to the ratio
 * range; then resized to height x width (bilinear unless told; RANDOM picks bilinear or bicubic
 * per image, as timm's RandomResizedCropAndInterpolation).
 */
public record RandomResizedCrop(int height, int width, double scaleMin, double scaleMax, double ratioMin, double ratioMax,
                                Interpolation filter) implements Transform {
    public RandomResizedCrop {
        if (height < 1 || width < 1 || !(scaleMin > 0 && scaleMin <= scaleMax) || !(ratioMin > 0 && ratioMin <= ratioMax)) {
            throw new IllegalArgumentException("RandomResizedCrop: bad arguments size " + height + "x" + width + ", scale ("
                    + scaleMin + ", " + scaleMax + "), ratio (" + ratioMin + ", " + ratioMax + ")");
        }
    }

    public RandomResizedCrop(int height, int width, double scaleMin, double scaleMax, double ratioMin, double ratioMax) {
        this(height, width, scaleMin, scaleMax, ratioMin, ratioMax, Interpolation.BILINEAR);
    }

    /** The defaults: scale (0.08, 1), ratio (3/4, 4/3), bilinear. */
    public static RandomResizedCrop square(int size) { return new RandomResizedCrop(size, size, 0.08, 1.0, 3.0 / 4, 4.0 / 3); }

    /** The window as {top, left, height, width}. */
    public int[] params(int imgH, int imgW, Generator rng) {
        double area = (double) imgH * imgW;
        double logLo = Math.log(ratioMin), logHi = Math.log(ratioMax);
        for (int attempt = 0; attempt < 10; attempt++) {
            double targetArea = area * Draws.uniform(rng, scaleMin, scaleMax);
            double aspect = Math.exp(Draws.uniform(rng, logLo, logHi));
            int w = (int) Math.rint(Math.sqrt(targetArea * aspect));
            int h = (int) Math.rint(Math.sqrt(targetArea / aspect));
            if (w > 0 && w <= imgW && h > 0 && h <= imgH) {
                int top = Draws.randint(rng, 0, imgH - h + 1), left = Draws.randint(rng, 0, imgW - w + 1);
                return new int[] {top, left, h, w};
            }
        }
        double inRatio = (double) imgW / imgH;
        int w, h;
        if (inRatio < ratioMin) {
            w = imgW;
            h = (int) Math.rint(w / ratioMin);
        } else if (inRatio > ratioMax) {
            h = imgH;
            w = (int) Math.rint(h * ratioMax);
        } else {
            w = imgW;
            h = imgH;
        }
        return new int[] {(imgH - h) / 2, (imgW - w) / 2, h, w};
    }

    @Override
    public Image apply(Image img, Generator rng) {
        int[] p = params(img.height(), img.width(), rng);
        return ImageOps.resizedCrop(img, p[0], p[1], p[2], p[3], height, width, filter.pick(rng));
    }
}
