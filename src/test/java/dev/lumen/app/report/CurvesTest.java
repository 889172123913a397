package dev.lumen.app.report;

import dev.lumen.app.train.EpochRecord;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CurvesTest {

    /** Ten epochs of a run that learns: losses fall, accuracies rise, validation a little behind. */
    /** An epoch without EMA numbers or timing. */
    static EpochRecord record(int epoch, double trainLoss, double trainTop1, double valLoss, double valTop1, double valTop5, double lr) {
        return new EpochRecord(epoch, trainLoss, trainTop1, valLoss, valTop1, valTop5, Double.NaN, Double.NaN, Double.NaN, lr, 0, 0);
    }

    static List<EpochRecord> run(int epochs) {
        List<EpochRecord> out = new ArrayList<>();
        for (int e = 1; e <= epochs; e++) {
            double t = 1 - Math.exp(-e / 3.0);
            out.add(record(e, 1.6 - 1.3 * t, 45 + 50 * t, 1.5 - 1.1 * t + 0.02 * (e % 2), 48 + 43 * t, 80 + 19 * t,
                    0.1 * 0.5 * (1 + Math.cos(Math.PI * e / epochs))));
        }
        return out;
    }

    @Test
    void writesADecodablePngOfTwoChartsSideBySide(@TempDir Path dir) throws Exception {
        Path png = dir.resolve("run/curves.png");
        Curves.write(run(10), "resnet50", png);
        BufferedImage img = ImageIO.read(png.toFile());
        assertNotNull(img, "curves.png must decode");
        assertEquals(Curves.CHARTS * Curves.CHART_WIDTH, img.getWidth());
        assertEquals(Curves.CHART_HEIGHT, img.getHeight());
        // Both series colours appear in both halves: each chart draws a train and a val line.
        for (int half = 0; half < 2; half++) {
            assertTrue(countNear(img, half, 0x1f77b4) > 100, "train line in chart " + half);
            assertTrue(countNear(img, half, 0xd62728) > 100, "val line in chart " + half);
            assertEquals(0, countNear(img, half, 0x2ca02c), "no EMA line without an EMA, chart " + half);
        }
        assertTrue(countNear(img, 2, 0x9467bd) > 100, "lr line in the third chart");
        assertFalse(Files.exists(dir.resolve("run/curves.png.tmp")));
    }

    @Test
    void drawsTheEmaBesideTheModel(@TempDir Path dir) throws Exception {
        List<EpochRecord> withEma = new ArrayList<>();
        for (EpochRecord m : run(6)) {
            withEma.add(new EpochRecord(m.epoch(), m.trainLoss(), m.trainTop1(), m.valLoss(), m.valTop1(), m.valTop5(), m.valLoss() + 0.3,
                    m.valTop1() - 20, m.valTop5() - 5, m.lr(), 0, 0));
        }
        Path png = dir.resolve("ema.png");
        Curves.write(withEma, "ema", png);
        BufferedImage img = ImageIO.read(png.toFile());
        for (int chart = 0; chart < 2; chart++) assertTrue(countNear(img, chart, 0x2ca02c) > 100, "EMA line in chart " + chart);
    }

    @Test
    void oneEpochAndMissingValuesStillDraw(@TempDir Path dir) throws Exception {
        Path one = dir.resolve("one.png");
        Curves.write(run(1), null, one);
        assertEquals(Curves.CHARTS * Curves.CHART_WIDTH, ImageIO.read(one.toFile()).getWidth());

        // Train accuracy untracked (MixUp) and no validation in epoch 2: those points are left out.
        List<EpochRecord> gaps = new ArrayList<>();
        for (EpochRecord m : run(4)) {
            boolean noVal = m.epoch() == 2;
            gaps.add(record(m.epoch(), m.trainLoss(), Double.NaN, noVal ? Double.NaN : m.valLoss(),
                    noVal ? Double.NaN : m.valTop1(), noVal ? Double.NaN : m.valTop5(), m.lr()));
        }
        Path png = dir.resolve("gaps.png");
        Curves.write(gaps, "gaps", png);
        BufferedImage img = ImageIO.read(png.toFile());
        assertTrue(countNear(img, 0, 0x1f77b4) > 100, "train loss drawn");
        assertEquals(0, countNear(img, 1, 0x1f77b4), "no train accuracy line");
        assertTrue(countNear(img, 1, 0xd62728) > 50, "val accuracy drawn");

        Path empty = dir.resolve("empty.png");
        Curves.write(List.of(), null, empty);
        assertEquals(Curves.CHART_HEIGHT, ImageIO.read(empty.toFile()).getHeight());
    }

    /** Pixels of chart half (0 left, 1 right) within a small distance of colour rgb. */
    private static int countNear(BufferedImage img, int half, int rgb) {
        int n = 0;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = half * Curves.CHART_WIDTH; x < (half + 1) * Curves.CHART_WIDTH; x++) {
                int p = img.getRGB(x, y);
                int d = Math.abs(((p >> 16) & 0xff) - ((rgb >> 16) & 0xff)) + Math.abs(((p >> 8) & 0xff) - ((rgb >> 8) & 0xff))
                        + Math.abs((p & 0xff) - (rgb & 0xff));
                if (d < 30) n++;
            }
        }
        return n;
    }
}
