package dev.lumen.app.data.transform;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.data.Image;
import dev.lumen.app.data.TestImages;
import dev.lumen.tensor.Generator;
import org.junit.jupiter.api.Test;

class ColorJitterTest {
    private static Image rgb(float... pixelsRgb) { // one row of pixels given as r,g,b triples
        int n = pixelsRgb.length / 3;
        float[] d = new float[3 * n];
        for (int i = 0; i < n; i++) for (int c = 0; c < 3; c++) d[c * n + i] = pixelsRgb[3 * i + c];
        return new Image(3, 1, n, d);
    }

    @Test
    void brightnessScalesAndClamps() {
        Image img = rgb(0.2f, 0.5f, 0.8f);
        assertArrayEquals(new float[] {0.3f, 0.75f, 1f}, ColorJitter.adjustBrightness(img, 1.5).data(), 1e-6f);
        assertArrayEquals(new float[] {0, 0, 0}, ColorJitter.adjustBrightness(img, 0).data());
    }

    @Test
    void contrastBlendsWithTheMeanGreyLevel() {
        Image img = rgb(1, 0, 0, 0, 0, 1);
        float mean = (0.2989f + 0.114f) / 2;
        Image flat = ColorJitter.adjustContrast(img, 0);
        for (float v : flat.data()) assertEquals(mean, v, 1e-6);
        Image twice = ColorJitter.adjustContrast(img, 2);
        assertEquals(Math.min(1, 2 - mean), twice.get(0, 0, 0), 1e-6);
        assertEquals(0f, twice.get(1, 0, 0)); // 2 * 0 - mean clamps to 0
    }

    @Test
    void saturationZeroGivesGreyAndHueTurnsTheWheel() {
        Image img = rgb(1, 0, 0, 0.2f, 0.4f, 0.6f);
        Image grey = ColorJitter.adjustSaturation(img, 0);
        for (int x = 0; x < 2; x++) {
            assertEquals(grey.get(0, 0, x), grey.get(1, 0, x));
            assertEquals(grey.get(0, 0, x), grey.get(2, 0, x));
        }
        assertEquals(0.2989f, grey.get(0, 0, 0), 1e-6);
        Image green = ColorJitter.adjustHue(rgb(1, 0, 0), 1.0 / 3);
        assertArrayEquals(new float[] {0, 1, 0}, green.data(), 1e-6f);
        Image blue = ColorJitter.adjustHue(rgb(1, 0, 0), -1.0 / 3);
        assertArrayEquals(new float[] {0, 0, 1}, blue.data(), 1e-6f);
        Image same = ColorJitter.adjustHue(img, 0);
        assertArrayEquals(img.data(), same.data(), 1e-6f);
        // a half turn of (0.2, 0.4, 0.6) (hue 7/12) gives hue 1/12: (0.6, 0.4, 0.2)
        assertArrayEquals(new float[] {0.6f, 0.4f, 0.2f}, ColorJitter.adjustHue(rgb(0.2f, 0.4f, 0.6f), 0.5).data(), 1e-6f);
    }

    @Test
    void greyImagesIgnoreSaturationAndHue() {
        Image g = TestImages.filled(1, 2, 2, 0.4f);
        assertSame(g, ColorJitter.adjustSaturation(g, 0.1));
        assertSame(g, ColorJitter.adjustHue(g, 0.2));
        Image out = new ColorJitter(0, 0, 0.9, 0.5).apply(g, new Generator(1));
        assertArrayEquals(g.data(), out.data());
    }

    @Test
    void brightnessFactorsCoverTheirRange() {
        ColorJitter j = new ColorJitter(0.4, 0, 0, 0);
        Image img = TestImages.filled(3, 1, 1, 0.5f);
        double lo = 1, hi = 0, sum = 0;
        int n = 2000;
        for (int k = 0; k < n; k++) {
            double f = j.apply(img, new Generator(k)).data()[0] / 0.5;
            lo = Math.min(lo, f);
            hi = Math.max(hi, f);
            sum += f;
        }
        assertTrue(lo >= 0.6 - 1e-6 && lo < 0.62 && hi <= 1.4 + 1e-6 && hi > 1.38, lo + " " + hi);
        assertEquals(1.0, sum / n, 0.02);
        // reproducible for one generator state
        Image photo = TestImages.ramp(3, 4, 4);
        ColorJitter all = new ColorJitter(0.4, 0.4, 0.4, 0.1);
        Image scaled = new Image(3, 4, 4, java.util.Arrays.copyOf(photo.data(), 48));
        for (int i = 0; i < 48; i++) scaled.data()[i] = photo.data()[i] / 48f;
        assertArrayEquals(all.apply(scaled, new Generator(9)).data(), all.apply(scaled, new Generator(9)).data());
    }
}
