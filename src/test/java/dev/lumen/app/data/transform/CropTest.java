package dev.lumen.app.data.transform;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.data.Draws;
import dev.lumen.app.data.Image;
import dev.lumen.app.data.TestImages;
import dev.lumen.tensor.Generator;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CropTest {
    @Test
    void centerCropTakesTheMiddleWithHalfEvenRounding() {
        Image img = TestImages.ramp(1, 4, 5); // pixel (y, x) = 5y + x
        assertArrayEquals(new float[] {6, 7, 8, 11, 12, 13}, new CenterCrop(2, 3).apply(img, null).data());
        Image odd = TestImages.ramp(1, 5, 4); // pixel = 4y + x
        // offsets (5 - 2) / 2 = 1.5 and (4 - 1) / 2 = 1.5 both round to 2
        assertArrayEquals(new float[] {10, 14}, new CenterCrop(2, 1).apply(odd, null).data());
        assertArrayEquals(new float[] {8, 9, 10, 11}, new CenterCrop(1, 4).apply(odd, null).data());
        // (7 - 2) / 2 = 2.5 rounds to 2, as Python's round, not 3
        assertArrayEquals(new float[] {2, 3}, new CenterCrop(2, 1).apply(TestImages.ramp(1, 7, 1), null).data());
    }

    @Test
    void centerCropPadsWhenLargerThanTheImage() {
        Image img = TestImages.ramp(2, 2, 2);
        Image out = new CenterCrop(4, 5).apply(img, null);
        assertEquals("2x4x5", out.sizeString());
        // padding left (5 - 2) // 2 = 1, top (4 - 2) // 2 = 1
        float[] ch1 = {0, 0, 0, 0, 0, 0, 4, 5, 0, 0, 0, 6, 7, 0, 0, 0, 0, 0, 0, 0};
        float[] got = java.util.Arrays.copyOfRange(out.data(), 20, 40);
        assertArrayEquals(ch1, got);
    }

    @Test
    void padAndCropIsAWindowOfThePaddedImage() {
        Image img = TestImages.ramp(1, 3, 3);
        Image padded = ImageOps.pad(img, 2); // 7x7, image at rows and columns 2..4
        assertEquals(0f, padded.get(0, 1, 3));
        assertEquals(4f, padded.get(0, 3, 3));
        Map<String, Integer> offsets = new HashMap<>();
        Generator g = new Generator(5);
        for (int k = 0; k < 2500; k++) {
            Generator draw = new Generator(k);
            Image out = RandomCrop.square(3, 2).apply(img, draw);
            Generator replay = new Generator(k);
            int top = Draws.randint(replay, 0, 5), left = Draws.randint(replay, 0, 5);
            assertArrayEquals(ImageOps.crop(padded, top, left, 3, 3).data(), out.data());
            offsets.merge(top + "," + left, 1, Integer::sum);
        }
        assertEquals(25, offsets.size()); // every offset of the 5 x 5 possible occurs, about equally
        for (int count : offsets.values()) assertTrue(count > 50 && count < 150, offsets.toString());
        assertArrayEquals(img.data(), RandomCrop.square(3, 0).apply(img, g).data());
        var e = assertThrows(IllegalArgumentException.class, () -> RandomCrop.square(8, 2).apply(img, g));
        assertTrue(e.getMessage().contains("8x8") && e.getMessage().contains("7x7"), e.getMessage());
    }

    @Test
    void randomResizedCropWindowsFollowScaleAndRatio() {
        RandomResizedCrop t = RandomResizedCrop.square(16);
        int fits = 0;
        for (int k = 0; k < 400; k++) {
            int[] p = t.params(60, 80, new Generator(k));
            int top = p[0], left = p[1], h = p[2], w = p[3];
            assertTrue(top >= 0 && left >= 0 && top + h <= 60 && left + w <= 80, java.util.Arrays.toString(p));
            double area = (double) h * w / (60 * 80), ratio = (double) w / h;
            if (p[2] == 60 && p[3] == 80) continue; // the fallback
            fits++;
            assertTrue(area > 0.07 && area < 1.03, "area " + area);
            assertTrue(ratio > 0.7 && ratio < 1.43, "ratio " + ratio);
        }
        assertTrue(fits > 380);
        assertEquals("3x16x16", t.apply(TestImages.filled(3, 60, 80, 0.5f), new Generator(1)).sizeString());
    }

    @Test
    void randomResizedCropFallsBackToTheCentre() {
        // A 2x100 strip: no window with a ratio in [3/4, 4/3] holds 90% of its area, so all 10 tries fail.
        RandomResizedCrop t = new RandomResizedCrop(4, 4, 0.9, 1.0, 3.0 / 4, 4.0 / 3);
        assertArrayEquals(new int[] {0, 48, 2, 3}, t.params(2, 100, new Generator(0))); // h = 2, w = round(2 * 4/3) = 3, left (100 - 3) // 2
        assertArrayEquals(new int[] {48, 0, 3, 2}, t.params(100, 2, new Generator(0))); // w = 2, h = round(2 / (3/4)) = 3
        Image out = t.apply(TestImages.filled(1, 2, 100, 0.25f), new Generator(0));
        for (float v : out.data()) assertEquals(0.25f, v, 1e-6);
    }

    @Test
    void horizontalFlipMirrorsRows() {
        Image img = TestImages.ramp(2, 2, 3);
        assertArrayEquals(new float[] {2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9}, new RandomHorizontalFlip(1).apply(img, new Generator(0)).data());
        assertArrayEquals(img.data(), new RandomHorizontalFlip(0).apply(img, new Generator(0)).data());
        int flipped = 0;
        for (int k = 0; k < 1000; k++) if (new RandomHorizontalFlip(0.5).apply(img, new Generator(k)) != img) flipped++;
        assertTrue(flipped > 430 && flipped < 570, "flipped " + flipped);
    }
}
