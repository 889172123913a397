package dev.lumen.app.data.transform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.data.Image;
import dev.lumen.app.data.TestImages;
import dev.lumen.tensor.Generator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The random parts of AutoAugment / RandAugment, by their statistics over many draws: op choice,
 * op probability, the magnitude noise and its clamp, and the random sign. Tolerances are about
 * 5 standard errors of the draw count, so a correct sampler fails with odds below 1e-6.
 */
class AugmentSamplingTest {
    private static final int N = 40_000;
    private static final AugmentParams HP = AugmentParams.forImage(32, Normalize.IMAGENET_MEAN, Interpolation.BILINEAR);

    @Test
    void randAugmentChoosesEachOpUniformly() {
        RandAugment ra = (RandAugment) AutoAugmentSpec.create("rand-m9-mstd0.5-inc1", HP);
        Generator g = new Generator(11);
        Map<AugmentKind, Integer> count = new HashMap<>();
        int repeats = 0;
        for (int i = 0; i < N / 2; i++) {
            List<AugmentOp> two = ra.choose(g);
            two.forEach(op -> count.merge(op.kind(), 1, Integer::sum));
            if (two.get(0) == two.get(1)) repeats++;
        }
        assertEquals(15, count.size());
        double p = 1.0 / 15, tol = 5 * Math.sqrt(p * (1 - p) / N);
        for (int c : count.values()) assertEquals(p, (double) c / N, tol);
        assertEquals(p, (double) repeats / (N / 2), 5 * Math.sqrt(p * (1 - p) / (N / 2))); // with replacement
    }

    @Test
    void weightedOpsAreDrawnWithoutReplacementInProportion() {
        RandAugment ra = (RandAugment) AutoAugmentSpec.create("rand-m9-tweights", HP);
        double[] w = ra.weights();
        double total = java.util.Arrays.stream(w).sum();
        Generator g = new Generator(17);
        int[] first = new int[w.length], second = new int[w.length];
        for (int i = 0; i < N; i++) {
            List<AugmentOp> two = ra.choose(g);
            assertNotEquals(two.get(0), two.get(1));
            first[ra.ops().indexOf(two.get(0))]++;
            second[ra.ops().indexOf(two.get(1))]++;
        }
        for (int k = 0; k < w.length; k++) {
            double p1 = w[k] / total, p2 = 0; // P(second = k) = sum over j != k of p_j p_k / (1 - p_j)
            for (int j = 0; j < w.length; j++) if (j != k) p2 += (w[j] / total) * (w[k] / total) / (1 - w[j] / total);
            assertEquals(p1, (double) first[k] / N, 5 * Math.sqrt(p1 * (1 - p1) / N) + 1e-9, "first draw of op " + k);
            assertEquals(p2, (double) second[k] / N, 5 * Math.sqrt(p2 * (1 - p2) / N) + 1e-9, "second draw of op " + k);
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AutoAugmentSpec.create("rand-t3a", HP)).getMessage()
                .contains("3a op sets"));
    }

    @Test
    void autoAugmentChoosesEachSubPolicyUniformly() {
        AutoAugment aa = (AutoAugment) AutoAugmentSpec.create("v0", HP);
        Generator g = new Generator(12);
        Map<List<AugmentOp>, Integer> count = new HashMap<>();
        for (int i = 0; i < N; i++) count.merge(aa.choose(g), 1, Integer::sum);
        assertEquals(25, count.size());
        double p = 1.0 / 25, tol = 5 * Math.sqrt(p * (1 - p) / N);
        for (int c : count.values()) assertEquals(p, (double) c / N, tol);
    }

    @Test
    void opProbabilityIsTheShareOfImagesChanged() {
        Image8 img = Image8.of(TestImages.filled(3, 6, 6, 0.3f));
        AugmentOp invert = new AugmentOp(AugmentKind.Invert, 0.3, 5, HP);
        Generator g = new Generator(13);
        int changed = 0;
        for (int i = 0; i < N; i++) if (invert.apply(img, g) != img) changed++;
        assertEquals(0.3, (double) changed / N, 5 * Math.sqrt(0.21 / N));
        assertSame(img, new AugmentOp(AugmentKind.Invert, 0, 5, HP).apply(img, g));
    }

    @Test
    void magnitudeNoiseIsGaussianClampedToTheMax() {
        AugmentOp op = new AugmentOp(AugmentKind.Rotate, 1, 9, HP.withMagnitudeStd(0.5));
        Generator g = new Generator(14);
        double sum = 0, sq = 0, max = 0;
        int atCap = 0;
        for (int i = 0; i < N; i++) {
            double m = op.sampleMagnitude(g);
            sum += m;
            sq += m * m;
            max = Math.max(max, m);
            if (m == 10) atCap++;
        }
        // N(9, 0.5) clamped at 10: P(m >= 10) = P(z >= 2) = 0.02275; the clamped mean is 8.9957.
        assertEquals(10, max);
        assertEquals(0.02275, (double) atCap / N, 5 * Math.sqrt(0.0228 * 0.977 / N));
        assertEquals(8.9957, sum / N, 5 * 0.5 / Math.sqrt(N));
        assertTrue(Math.sqrt(sq / N - (sum / N) * (sum / N)) < 0.5);
        AugmentOp fixed = new AugmentOp(AugmentKind.Rotate, 1, 9, HP);
        assertEquals(9, fixed.sampleMagnitude(g));
        // mmax lifts the clamp, as timm's mmax: magnitude 12 stays 12.
        assertEquals(12, new AugmentOp(AugmentKind.Rotate, 1, 12, HP.withMagnitudeMax(20)).sampleMagnitude(g));
        assertEquals(10, new AugmentOp(AugmentKind.Rotate, 1, 12, HP).sampleMagnitude(g));
    }

    @Test
    void mstdAbove100IsUniformUpToTheMagnitude() {
        RandAugment ra = (RandAugment) AutoAugmentSpec.create("rand-m8-mstd101", HP);
        AugmentOp op = ra.ops().getFirst();
        Generator g = new Generator(15);
        double sum = 0, min = 10, max = 0;
        for (int i = 0; i < N; i++) {
            double m = op.sampleMagnitude(g);
            sum += m;
            min = Math.min(min, m);
            max = Math.max(max, m);
        }
        assertEquals(4, sum / N, 5 * 8 / Math.sqrt(12.0 * N));
        assertTrue(min < 0.01 && max > 7.99 && max <= 8, min + " " + max);
    }

    @Test
    void signedArgumentsFlipHalfTheTime() {
        Generator g = new Generator(16);
        int negative = 0;
        for (int i = 0; i < N; i++) if (AugmentKind.ShearX.argument(10, HP, g) < 0) negative++;
        assertEquals(0.5, (double) negative / N, 5 * 0.5 / Math.sqrt(N));
        assertEquals(0.3, AugmentKind.ShearX.argument(10, HP, false), 1e-12);
        assertEquals(-0.3, AugmentKind.ShearX.argument(10, HP, true), 1e-12);
        assertEquals(0.1, AugmentKind.ColorIncreasing.argument(10, HP, true), 1e-12); // max(0.1, 1 - 0.9)
        for (int i = 0; i < 100; i++) assertEquals(1.72, AugmentKind.Color.argument(9, HP, g), 1e-12); // unsigned
    }

    @Test
    void transformsKeepSizeAndRangeAndFollowTheSeed() {
        Image img = TestImages.filled(3, 12, 10, 0.4f);
        Transform ra = AutoAugmentSpec.create("rand-m9-n3-mstd0.5-inc1", HP.withMagnitudeStd(0));
        for (int s = 0; s < 50; s++) {
            Image out = ra.apply(img, new Generator(s));
            assertEquals(img.sizeString(), out.sizeString());
            for (float v : out.data()) assertTrue(v >= 0 && v <= 1 && Math.abs(Math.rint(v * 255) - v * 255) < 1e-3, "8-bit levels: " + v);
            assertEquals(out, ra.apply(img, new Generator(s)));
        }
        Image grey = TestImages.filled(1, 9, 9, 0.7f);
        assertEquals("1x9x9", AutoAugmentSpec.create("original-mstd0.5", HP).apply(grey, new Generator(3)).sizeString());
        assertNotEquals(ra.apply(img, new Generator(1)), ra.apply(img, new Generator(2)));
    }

    @Test
    void badSpecsNameTheSection() {
        assertEquals("--aa 'rand-m9-x3': bad section 'x3': RandAugment takes m, n, p, mstd, mmax and inc",
                assertThrows(IllegalArgumentException.class, () -> AutoAugmentSpec.create("rand-m9-x3", HP)).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AutoAugmentSpec.create("v9", HP)).getMessage()
                .contains("unknown policy 'v9'"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AutoAugmentSpec.create("rand-mfoo", HP)).getMessage()
                .contains("bad section 'mfoo'"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AutoAugmentSpec.create("original-m3", HP)).getMessage()
                .contains("AutoAugment takes only mstd"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AutoAugmentSpec.create("rand-p1.5", HP)).getMessage()
                .contains("p in [0, 1]"));
    }

    @Test
    void timmsFillAndTranslateConstantFollowTheImage() {
        AugmentParams hp = AugmentParams.forImage(224, Normalize.IMAGENET_MEAN, Interpolation.RANDOM);
        assertEquals(List.of(124, 116, 104), java.util.Arrays.stream(hp.fill()).boxed().toList()); // round(255 x mean)
        assertEquals(100, hp.translateConst()); // int(224 x 0.45)
        assertEquals(0.45, hp.translatePct());
    }
}
