package dev.lumen.app.data.transform;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.data.Draws;
import dev.lumen.app.data.Image;
import dev.lumen.app.data.TestImages;
import dev.lumen.tensor.Generator;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Cutout and RandomErasing. */
class ErasingTest {
    @Test
    void cutoutZeroesAClippedSquareAroundAUniformCentre() {
        Image img = TestImages.filled(2, 6, 7, 1f);
        for (int seed = 0; seed < 50; seed++) {
            Image out = new Cutout(1, 4).apply(img, new Generator(seed));
            Generator replay = new Generator(seed);
            int cy = Draws.randint(replay, 0, 6), cx = Draws.randint(replay, 0, 7);
            for (int c = 0; c < 2; c++) {
                for (int y = 0; y < 6; y++) {
                    for (int x = 0; x < 7; x++) {
                        boolean hole = y >= Math.max(0, cy - 2) && y < Math.min(6, cy + 2) && x >= Math.max(0, cx - 2) && x < Math.min(7, cx + 2);
                        assertEquals(hole ? 0f : 1f, out.get(c, y, x), "seed " + seed + " at " + y + "," + x);
                    }
                }
            }
        }
        assertSame(img, new Cutout(0, 4).apply(img, new Generator(0)));
    }

    @Test
    void erasingConstModeErasesOneRectangleOfTheAllowedShape() {
        RandomErasing re = RandomErasing.of(1.0, RandomErasing.Mode.CONST);
        Image img = TestImages.filled(3, 40, 50, 1f);
        for (int seed = 0; seed < 200; seed++) {
            Image out = re.apply(img, new Generator(seed));
            int y0 = 40, y1 = -1, x0 = 50, x1 = -1, zeros = 0;
            for (int y = 0; y < 40; y++) {
                for (int x = 0; x < 50; x++) {
                    if (out.get(0, y, x) == 0f) {
                        zeros++;
                        y0 = Math.min(y0, y);
                        y1 = Math.max(y1, y);
                        x0 = Math.min(x0, x);
                        x1 = Math.max(x1, x);
                    }
                    assertEquals(out.get(0, y, x), out.get(2, y, x));
                }
            }
            if (zeros == 0) continue; // all 10 attempts can miss
            int h = y1 - y0 + 1, w = x1 - x0 + 1;
            assertEquals(h * w, zeros, "a filled rectangle");
            assertTrue(h < 40 && w < 50);
            double area = zeros / 2000.0;
            assertTrue(area > 0.015 && area < 0.36, "area " + area);
        }
    }

    @Test
    void erasingModesFillWithZerosNormalsPerChannelOrPerPixel() {
        Image img = TestImages.filled(3, 30, 30, 5f);
        assertSame(img, RandomErasing.of(0.0, RandomErasing.Mode.PIXEL).apply(img, new Generator(0)));
        Image rand = RandomErasing.of(1.0, RandomErasing.Mode.RAND).apply(img, new Generator(3));
        Image pixel = RandomErasing.of(1.0, RandomErasing.Mode.PIXEL).apply(img, new Generator(3));
        for (int c = 0; c < 3; c++) {
            Set<Float> r = new HashSet<>(), p = new HashSet<>();
            for (int i = c * 900; i < (c + 1) * 900; i++) {
                if (rand.data()[i] != 5f) r.add(rand.data()[i]);
                if (pixel.data()[i] != 5f) p.add(pixel.data()[i]);
            }
            assertEquals(1, r.size(), "RAND: one value per channel");
            assertTrue(p.size() > 10, "PIXEL: a value per pixel");
        }
        int applied = 0;
        for (int k = 0; k < 500; k++) if (RandomErasing.of(0.3, RandomErasing.Mode.CONST).apply(img, new Generator(k)) != img) applied++;
        assertTrue(applied > 110 && applied < 190, "applied " + applied);
        assertArrayEquals(pixel.data(), RandomErasing.of(1.0, RandomErasing.Mode.PIXEL).apply(img, new Generator(3)).data());
    }
}
