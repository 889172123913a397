package dev.lumen.app.data.transform;

import dev.lumen.app.data.Image;
import dev.lumen.tensor.Generator;
import java.util.Arrays;

/** (x - mean[c]) / std[c] per channel, as torchvision's Normalize. */
public record Normalize(float[] mean, float[] std) implements Transform {
    /** ImageNet statistics, the usual choice for RGB photos (and pretrained weights). */
    public static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f};
    public static final float[] IMAGENET_STD = {0.229f, 0.224f, 0.225f};

    public Normalize {
        if (mean.length == 0 || mean.length != std.length) {
            throw new IllegalArgumentException("Normalize: " + mean.length + " means and " + std.length + " stds");
        }
        for (float s : std) if (!(s > 0)) throw new IllegalArgumentException("Normalize: std must be > 0, got " + Arrays.toString(std));
        mean = mean.clone();
        std = std.clone();
    }

    @Override
    public Image apply(Image img, Generator rng) {
        int c = img.channels(), n = img.planeSize();
        if (c != mean.length) {
            throw new IllegalArgumentException("Normalize: " + mean.length + " channel statistics for a " + c + "-channel image");
        }
        float[] in = img.data(), out = new float[in.length];
        for (int ch = 0; ch < c; ch++) {
            float m = mean[ch], s = std[ch];
            for (int i = ch * n; i < (ch + 1) * n; i++) out[i] = (in[i] - m) / s;
        }
        return new Image(c, img.height(), img.width(), out);
    }

    @Override
    public boolean equals(Object o) { return o instanceof Normalize z && Arrays.equals(z.mean, mean) && Arrays.equals(z.std, std); }

    @Override
    public int hashCode() { return 31 * Arrays.hashCode(mean) + Arrays.hashCode(std); }

    @Override
    public String toString() { return "Normalize(mean=" + Arrays.toString(mean) + ", std=" + Arrays.toString(std) + ")"; }
}
