package dev.lumen.app.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import org.junit.jupiter.api.Test;

class MixupTest {
    private static final int B = 6, C = 2, H = 8, W = 10, K = 7;

    /** Image i has every pixel equal to i + 1 (so a mixed pixel reveals its sources). */
    private static Tensor images() {
        float[] x = new float[B * C * H * W];
        for (int i = 0; i < x.length; i++) x[i] = i / (C * H * W) + 1;
        return Tensor.fromFloats(x, B, C, H, W);
    }

    private static Tensor labels() { return Tensor.fromLongs(new long[] {0, 1, 2, 3, 4, 5}, B); } // all distinct

    private static Mixup.Config config(double mixup, double cutmix, Mixup.Mode mode) {
        return new Mixup.Config(mixup, cutmix, null, 1.0, 0.5, mode, true, 0.0, K);
    }

    private static float[] row(float[] t, int i) { return java.util.Arrays.copyOfRange(t, i * K, (i + 1) * K); }

    @Test
    void randBboxHasSideSqrtOneMinusLambdaClippedToTheImage() {
        for (int k = 0; k < 300; k++) {
            Generator g = new Generator(k);
            Mixup.Box b = Mixup.randBbox(20, 30, 0.75, 0, g);
            // cut 10 x 15: the box spans centre -+ cut // 2, clipped
            Generator replay = new Generator(k);
            int cy = Draws.randint(replay, 0, 20), cx = Draws.randint(replay, 0, 30);
            assertEquals(new Mixup.Box(Math.max(0, cy - 5), Math.min(20, cy + 5), Math.max(0, cx - 7), Math.min(30, cx + 7)), b);
        }
        Mixup.BoxLam bl = Mixup.cutmixBboxAndLam(20, 30, 0.75, null, true, new Generator(3));
        assertEquals(1 - bl.box().area() / 600.0, bl.lam(), 0);
        Mixup.BoxLam raw = Mixup.cutmixBboxAndLam(20, 30, 0.75, null, false, new Generator(3));
        assertEquals(0.75, raw.lam());
        assertEquals(bl.box(), raw.box());
    }

    @Test
    void minmaxBoxesLieInsideWithSidesInRange() {
        for (int k = 0; k < 300; k++) {
            Mixup.BoxLam bl = Mixup.cutmixBboxAndLam(20, 30, 0.5, new double[] {0.2, 0.6}, false, new Generator(k));
            Mixup.Box b = bl.box();
            int h = b.yh() - b.yl(), w = b.xh() - b.xl();
            assertTrue(h >= 4 && h < 12 && w >= 6 && w < 18, b.toString());
            assertTrue(b.yl() >= 0 && b.yh() <= 20 && b.xl() >= 0 && b.xh() <= 30, b.toString());
            assertEquals(1 - h * w / 600.0, bl.lam(), 1e-12); // minmax always corrects lambda
        }
    }

    @Test
    void targetsAreSmoothedOneHotsMixedByLambda() {
        float[] t = Mixup.targets(new long[] {2, 0, 1}, 4, new double[] {0.7}, 0.1).toFloats();
        double off = 0.1 / 4, on = 1 - 0.1 + off;
        // row 0 mixes label 2 (lam) with label 1 (the flipped batch's row 0)
        assertArrayEquals(new float[] {(float) off, (float) (0.7 * off + 0.3 * on), (float) (0.7 * on + 0.3 * off), (float) off}, row4(t, 0), 1e-7f);
        assertArrayEquals(new float[] {(float) on, (float) off, (float) off, (float) off}, row4(t, 1), 1e-7f); // row 1 mixes with itself
        for (int i = 0; i < 3; i++) {
            double sum = 0;
            for (float v : row4(t, i)) sum += v;
            assertEquals(1.0, sum, 1e-6);
        }
    }

    private static float[] row4(float[] t, int i) { return java.util.Arrays.copyOfRange(t, i * 4, i * 4 + 4); }

    @Test
    void batchMixupBlendsWithTheFlippedBatch() {
        Mixup m = new Mixup(config(1.0, 0, Mixup.Mode.BATCH), new Generator(11));
        try (Mixup.Result r = m.apply(images(), labels())) {
            float[] x = r.images().toFloats(), t = r.targets().toFloats();
            double lam = t[0]; // row 0, class 0 (its own label)
            assertTrue(lam > 0 && lam < 1);
            for (int i = 0; i < B; i++) {
                int j = B - 1 - i;
                assertEquals(lam, row(t, i)[i], 1e-6);
                assertEquals(1 - lam, row(t, i)[j], 1e-6);
                assertEquals((float) lam * (i + 1) + (float) (1 - lam) * (j + 1), x[i * C * H * W + 17], 1e-5);
            }
        }
    }

    @Test
    void batchCutmixPastesOneBoxAndCorrectsLambda() {
        Mixup m = new Mixup(config(0, 1.0, Mixup.Mode.BATCH), new Generator(5));
        for (int rep = 0; rep < 20; rep++) {
            try (Mixup.Result r = m.apply(images(), labels())) {
                float[] x = r.images().toFloats(), t = r.targets().toFloats();
                for (int i = 0; i < B; i++) {
                    int j = B - 1 - i, pasted = 0;
                    for (int p = 0; p < C * H * W; p++) {
                        float v = x[i * C * H * W + p];
                        assertTrue(v == i + 1 || v == j + 1, "a CutMix pixel comes from one source");
                        if (v == j + 1 && i != j) pasted++;
                    }
                    if (i != j) assertEquals(1 - pasted / (double) (C * H * W), row(t, i)[i], 1e-6, "corrected lambda = kept area");
                }
            }
        }
    }

    @Test
    void elemAndPairModesDrawPerElementAndPerPair() {
        Mixup elem = new Mixup(config(1.0, 0, Mixup.Mode.ELEM), new Generator(2));
        float[] t = elem.apply(images(), labels()).targets().toFloats();
        java.util.Set<Float> lams = new java.util.HashSet<>();
        for (int i = 0; i < B; i++) lams.add(row(t, i)[i]);
        assertEquals(B, lams.size(), "one lambda per element");

        Mixup pair = new Mixup(config(1.0, 1.0, Mixup.Mode.PAIR), new Generator(4));
        for (int rep = 0; rep < 10; rep++) {
            try (Mixup.Result r = pair.apply(images(), labels())) {
                float[] x = r.images().toFloats(), tp = r.targets().toFloats();
                for (int i = 0; i < B / 2; i++) {
                    int j = B - 1 - i;
                    assertEquals(row(tp, i)[i], row(tp, j)[j], 1e-7, "a pair shares lambda");
                    // the two images of a pair are complementary mixes: their pixel sums are i + j + 2
                    for (int p = 0; p < C * H * W; p += 7) assertEquals(i + j + 2, x[i * C * H * W + p] + x[j * C * H * W + p], 1e-5);
                }
            }
        }
        assertThrows(IllegalArgumentException.class,
                () -> pair.apply(Tensor.zeros(3, 1, 2, 2), Tensor.fromLongs(new long[] {0, 1, 2}, 3)));
        // batch and elem modes take an odd batch: the middle image mixes with itself
        assertEquals(3, elem.apply(Tensor.zeros(3, 1, 2, 2), Tensor.fromLongs(new long[] {0, 1, 2}, 3)).targets().shape(0));
    }

    @Test
    void switchProbChoosesCutmixAndProbSkipsMixing() {
        int cutmix = 0, n = 300;
        Mixup both = new Mixup(new Mixup.Config(1.0, 1.0, null, 1.0, 0.5, Mixup.Mode.BATCH, true, 0, K), new Generator(8));
        for (int k = 0; k < n; k++) {
            float[] x = both.apply(images(), labels()).images().toFloats();
            float v = x[0]; // image 0 pixel 0: 1 (kept), 6 (pasted) or a blend strictly between
            if (v == 1f || v == 6f) cutmix++;
        }
        assertTrue(cutmix > 110 && cutmix < 190, "cutmix batches " + cutmix);

        Mixup never = new Mixup(new Mixup.Config(1.0, 1.0, null, 0.0, 0.5, Mixup.Mode.ELEM, true, 0.1, K), new Generator(8));
        Tensor x = images();
        try (Mixup.Result r = never.apply(x, labels())) {
            assertArrayEquals(x.toFloats(), r.images().toFloats());
            assertEquals(1 - 0.1 + 0.1 / K, r.targets().toFloats()[0], 1e-6); // smoothed one-hot
        }
        Mixup off = new Mixup(config(1.0, 0, Mixup.Mode.BATCH), new Generator(8));
        off.setEnabled(false);
        assertArrayEquals(x.toFloats(), off.apply(x, labels()).images().toFloats());
    }

    @Test
    void sameSeedSameMix() {
        Mixup.Config c = new Mixup.Config(0.8, 1.0, null, 0.9, 0.5, Mixup.Mode.ELEM, true, 0.1, K);
        Mixup a = new Mixup(c, new Generator(42)), b = new Mixup(c, new Generator(42)), other = new Mixup(c, new Generator(43));
        boolean differs = false;
        for (int k = 0; k < 3; k++) {
            Mixup.Result ra = a.apply(images(), labels()), rb = b.apply(images(), labels()), ro = other.apply(images(), labels());
            assertArrayEquals(ra.images().toFloats(), rb.images().toFloats());
            assertArrayEquals(ra.targets().toFloats(), rb.targets().toFloats());
            differs |= !java.util.Arrays.equals(ra.targets().toFloats(), ro.targets().toFloats());
        }
        assertTrue(differs);
        // restoring the generator state replays the same mix (resume)
        long[] state = a.generator().state();
        float[] next = a.apply(images(), labels()).targets().toFloats();
        a.generator().setState(state);
        assertArrayEquals(next, a.apply(images(), labels()).targets().toFloats());
    }

    @Test
    void betaDrawsHaveTheRightMoments() {
        for (double alpha : new double[] {0.2, 1.0, 2.5}) {
            Generator g = new Generator(17);
            int n = 20000;
            double sum = 0, sq = 0;
            for (int k = 0; k < n; k++) {
                double v = Draws.beta(g, alpha, alpha);
                assertTrue(v >= 0 && v <= 1);
                sum += v;
                sq += v * v;
            }
            double mean = sum / n, var = sq / n - mean * mean;
            assertEquals(0.5, mean, 0.01, "alpha " + alpha);
            assertEquals(1 / (4 * (2 * alpha + 1)), var, 0.006, "alpha " + alpha);
        }
    }

    @Test
    void badConfigsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new Mixup.Config(0, 0, null, 1, 0.5, Mixup.Mode.BATCH, true, 0, K));
        assertThrows(IllegalArgumentException.class, () -> new Mixup.Config(1, 0, new double[] {0.5, 0.2}, 1, 0.5, Mixup.Mode.BATCH, true, 0, K));
        Mixup.Config minmax = new Mixup.Config(0, 0, new double[] {0.2, 0.8}, 1, 0.5, Mixup.Mode.BATCH, true, 0, K);
        assertEquals(1.0, minmax.cutmixAlpha()); // minmax turns CutMix on, as timm
        Mixup m = new Mixup(config(1, 0, Mixup.Mode.BATCH), new Generator(0));
        var e = assertThrows(IllegalArgumentException.class, () -> m.apply(images(), Tensor.fromLongs(new long[] {0, 1}, 2)));
        assertTrue(e.getMessage().contains("[2]") && e.getMessage().contains("[6, 2, 8, 10]"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }
}
