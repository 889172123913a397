package dev.lumen.app.data.transform;

import dev.lumen.app.data.Image;
import dev.lumen.tensor.Generator;

/**
 * torchvision's ColorJitter on float images: brightness, contrast and saturation factors uniform
 * in [max(0, 1 - x), 1 + x], a hue shift uniform in [-hue, hue] (hue &lt;= 0.5), applied in a
 * random order; a zero argument disables that adjustment. Each adjustment blends with a
 * reference (black, the mean grey level, the grey image) and clamps to [0, 1]; the hue turns in
 * HSV space. Saturation and hue leave 1-channel images unchanged, as torchvision.
 */
public record ColorJitter(double brightness, double contrast, double saturation, double hue) implements Transform {
    public ColorJitter {
        if (brightness < 0 || contrast < 0 || saturation < 0 || hue < 0 || hue > 0.5) {
            throw new IllegalArgumentException("ColorJitter: factors must be >= 0 and hue <= 0.5, got " + brightness + ", "
                    + contrast + ", " + saturation + ", " + hue);
        }
    }

    @Override
    public Image apply(Image img, Generator rng) {
        int[] order = {0, 1, 2, 3};
        for (int i = 3; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        double b = factor(brightness, rng), c = factor(contrast, rng), s = factor(saturation, rng);
        double h = hue > 0 ? -hue + 2 * hue * rng.nextUniform() : 0;
        for (int op : order) {
            img = switch (op) {
                case 0 -> brightness > 0 ? adjustBrightness(img, b) : img;
                case 1 -> contrast > 0 ? adjustContrast(img, c) : img;
                case 2 -> saturation > 0 ? adjustSaturation(img, s) : img;
                default -> hue > 0 ? adjustHue(img, h) : img;
            };
        }
        return img;
    }

    private static double factor(double x, Generator rng) {
        if (x <= 0) return 1;
        double lo = Math.max(0, 1 - x);
        return lo + (1 + x - lo) * rng.nextUniform();
    }

    /** ratio * a + (1 - ratio) * b, clamped to [0, 1]. */
    private static float blend(float a, float b, double ratio) {
        float v = (float) (ratio * a + (1 - ratio) * b);
        return v < 0 ? 0 : Math.min(v, 1f);
    }

    public static Image adjustBrightness(Image img, double f) {
        float[] in = img.data(), out = new float[in.length];
        for (int i = 0; i < in.length; i++) out[i] = blend(in[i], 0f, f);
        return new Image(img.channels(), img.height(), img.width(), out);
    }

    public static Image adjustContrast(Image img, double f) {
        float[] grey = grey(img);
        double sum = 0;
        for (float v : grey) sum += v;
        float mean = (float) (sum / grey.length);
        float[] in = img.data(), out = new float[in.length];
        for (int i = 0; i < in.length; i++) out[i] = blend(in[i], mean, f);
        return new Image(img.channels(), img.height(), img.width(), out);
    }

    public static Image adjustSaturation(Image img, double f) {
        if (img.channels() == 1) return img;
        float[] grey = grey(img), in = img.data(), out = new float[in.length];
        int n = img.planeSize();
        for (int i = 0; i < in.length; i++) out[i] = blend(in[i], grey[i % n], f);
        return new Image(img.channels(), img.height(), img.width(), out);
    }

    /** Turns the hue by f (a fraction of the colour wheel, in [-0.5, 0.5]). */
    public static Image adjustHue(Image img, double f) {
        if (img.channels() == 1) return img;
        int n = img.planeSize();
        float[] in = img.data(), out = new float[in.length];
        for (int i = 0; i < n; i++) {
            float r = in[i], g = in[n + i], b = in[2 * n + i];
            float max = Math.max(r, Math.max(g, b)), min = Math.min(r, Math.min(g, b)), cr = max - min;
            boolean eq = max == min;
            float s = cr / (eq ? 1f : max), div = eq ? 1f : cr;
            float rc = (max - r) / div, gc = (max - g) / div, bc = (max - b) / div;
            float hh;
            if (max == r) hh = bc - gc;
            else if (max == g) hh = 2f + rc - bc;
            else hh = 4f + gc - rc;
            double h = ((hh / 6.0 + 1.0) % 1.0 + f) % 1.0;
            if (h < 0) h += 1.0;
            double h6 = h * 6.0, fi = Math.floor(h6), fr = h6 - fi;
            int sector = ((int) fi % 6 + 6) % 6;
            float v = max;
            float p = clamp01(v * (1f - s)), q = clamp01((float) (v * (1.0 - s * fr))), t = clamp01((float) (v * (1.0 - s * (1.0 - fr))));
            float[] rgb = switch (sector) {
                case 0 -> new float[] {v, t, p};
                case 1 -> new float[] {q, v, p};
                case 2 -> new float[] {p, v, t};
                case 3 -> new float[] {p, q, v};
                case 4 -> new float[] {t, p, v};
                default -> new float[] {v, p, q};
            };
            out[i] = rgb[0];
            out[n + i] = rgb[1];
            out[2 * n + i] = rgb[2];
        }
        return new Image(3, img.height(), img.width(), out);
    }

    private static float clamp01(float v) { return v < 0 ? 0 : Math.min(v, 1f); }

    /** torchvision's rgb_to_grayscale weights; the image itself when it has one channel. */
    static float[] grey(Image img) {
        if (img.channels() == 1) return img.data();
        int n = img.planeSize();
        float[] in = img.data(), out = new float[n];
        for (int i = 0; i < n; i++) out[i] = 0.2989f * in[i] + 0.587f * in[n + i] + 0.114f * in[2 * n + i];
        return out;
    }
}
