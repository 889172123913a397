package dev.lumen.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.nn.Init.FanMode;
import dev.lumen.nn.Init.Nonlinearity;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Initializers: fans and gains exactly as torch.nn.init computes them, and the sampled
 * distributions checked statistically. With n = 2^18 draws the sample mean has standard
 * error std/512 and the sample std about std/724, so bounds of 1% of std are > 5 sigma.
 */
class InitTest extends DeviceTest {
    private static final int N = 1 << 18;

    private static double[] stats(Tensor t) {
        double[] v = t.toDoubles();
        double mean = Arrays.stream(v).average().orElseThrow();
        double var = Arrays.stream(v).map(x -> (x - mean) * (x - mean)).sum() / (v.length - 1);
        double min = Arrays.stream(v).min().orElseThrow(), max = Arrays.stream(v).max().orElseThrow();
        return new double[] {mean, Math.sqrt(var), min, max};
    }

    private static void assertMoments(Tensor t, double mean, double std) {
        double[] s = stats(t);
        assertEquals(mean, s[0], 0.01 * std, "mean");
        assertEquals(std, s[1], 0.01 * std, "std");
    }

    @Test
    void fansMatchTorch() {
        assertEquals(new Init.Fans(5, 7), Init.fans(new int[] {7, 5}));
        assertEquals(new Init.Fans(27, 72), Init.fans(new int[] {8, 3, 3, 3}));
        // Grouped conv: [out, in/groups, kh, kw].
        assertEquals(new Init.Fans(100, 400), Init.fans(new int[] {16, 4, 5, 5}));
        assertEquals(new Init.Fans(12, 6), Init.fans(new int[] {2, 4, 3}));
        assertThrows(IllegalArgumentException.class, () -> Init.fans(new int[] {5}));
    }

    @Test
    void gainsMatchTorch() {
        assertEquals(1.0, Init.gain(Nonlinearity.LINEAR, 0));
        assertEquals(1.0, Init.gain(Nonlinearity.SIGMOID, 0));
        assertEquals(5.0 / 3, Init.gain(Nonlinearity.TANH, 0));
        assertEquals(Math.sqrt(2), Init.gain(Nonlinearity.RELU, 0));
        assertEquals(Math.sqrt(2 / 1.0001), Init.gain(Nonlinearity.LEAKY_RELU, 0.01), 1e-15);
        assertEquals(Math.sqrt(1 / 3.0), Init.gain(Nonlinearity.LEAKY_RELU, Math.sqrt(5)), 1e-15);
        assertEquals(0.75, Init.gain(Nonlinearity.SELU, 0));
    }

    @Test
    void uniformAndNormal() {
        Tensor u = Init.uniform(Tensor.empty(N), -1, 3, new Generator(1));
        assertMoments(u, 1, 4 / Math.sqrt(12));
        double[] s = stats(u);
        assertTrue(s[2] >= -1 && s[3] < 3);
        assertMoments(Init.normal(Tensor.empty(N), 0.5, 2, new Generator(2)), 0.5, 2);
        assertArrayEquals(new double[] {7, 7}, Init.constant(Tensor.empty(2), 7).toDoubles());
        assertArrayEquals(new double[] {0, 0}, Init.zeros(Tensor.full(3, DType.F64, device, 2)).toDoubles());
        assertArrayEquals(new double[] {1, 1}, Init.ones(Tensor.empty(2)).toDoubles());
    }

    @Test
    void kaimingAndXavierScaleByFans() {
        // [out=512, in=256, 2, 1]: fan_in = 512, fan_out = 1024.
        Tensor w = Tensor.empty(512, 256, 2, 1);
        Init.kaimingUniform(w, 0, FanMode.FAN_IN, Nonlinearity.RELU, new Generator(3));
        double bound = Math.sqrt(6.0 / 512);
        double[] s = stats(w);
        assertTrue(s[2] >= -bound && s[3] <= bound && s[3] > 0.99 * bound, "uniform within +-" + bound);
        assertMoments(w, 0, bound / Math.sqrt(3));

        Init.kaimingNormal(w, 0, FanMode.FAN_OUT, Nonlinearity.RELU, new Generator(4));
        assertMoments(w, 0, Math.sqrt(2.0 / 1024));

        Init.kaimingUniform(w, Math.sqrt(5), FanMode.FAN_IN, Nonlinearity.LEAKY_RELU, new Generator(5));
        assertMoments(w, 0, 1 / Math.sqrt(512) / Math.sqrt(3));

        Init.xavierUniform(w, 2, new Generator(6));
        assertMoments(w, 0, 2 * Math.sqrt(2.0 / 1536));
        Init.xavierNormal(w, 1, new Generator(7));
        assertMoments(w, 0, Math.sqrt(2.0 / 1536));
    }

    /** Mean and std of Normal(mu, sigma) truncated to [a, b], from the closed form. */
    private static double[] truncatedMoments(double mu, double sigma, double a, double b) {
        double al = (a - mu) / sigma, be = (b - mu) / sigma;
        double z = normalCdf(be) - normalCdf(al);
        double pa = Math.exp(-al * al / 2) / Math.sqrt(2 * Math.PI), pb = Math.exp(-be * be / 2) / Math.sqrt(2 * Math.PI);
        double mean = mu + sigma * (pa - pb) / z;
        double var = sigma * sigma * (1 + (al * pa - be * pb) / z - Math.pow((pa - pb) / z, 2));
        return new double[] {mean, Math.sqrt(var)};
    }

    @Test
    void truncNormalRespectsBoundsAndMoments() {
        Tensor t = Init.truncNormal(Tensor.empty(N), 0, 1, -2, 2, new Generator(8));
        double[] s = stats(t);
        assertTrue(s[2] >= -2 && s[3] <= 2);
        double[] m = truncatedMoments(0, 1, -2, 2);
        assertEquals(0.8796, m[1], 1e-4, "closed form, as tabulated");
        assertMoments(t, m[0], m[1]);

        // Asymmetric bounds in absolute units (timm semantics, not multiples of std).
        Init.truncNormal(t, 0.5, 2, 0, 3, new Generator(9));
        s = stats(t);
        assertTrue(s[2] >= 0 && s[3] <= 3);
        m = truncatedMoments(0.5, 2, 0, 3);
        assertMoments(t, m[0], m[1]);

        // timm's ViT default std 0.02 with bounds +-2: effectively untruncated.
        Init.truncNormal(t, 0.02, new Generator(10));
        assertMoments(t, 0, 0.02);
        assertThrows(IllegalArgumentException.class, () -> Init.truncNormal(Tensor.empty(2), 0, 1, 1, -1, new Generator(1)));
    }

    @Test
    void sameGeneratorSeedGivesSameValues() {
        for (int kind = 0; kind < 3; kind++) {
            Tensor a = Tensor.empty(5, 7), b = Tensor.empty(5, 7), c = Tensor.empty(5, 7);
            fill(kind, a, new Generator(42));
            fill(kind, b, new Generator(42));
            fill(kind, c, new Generator(43));
            assertArrayEquals(a.toFloats(), b.toFloats());
            assertFalse(Arrays.equals(a.toFloats(), c.toFloats()));
        }
    }

    private static void fill(int kind, Tensor t, Generator g) {
        switch (kind) {
            case 0 -> Init.truncNormal(t, 0, 1, -2, 2, g);
            case 1 -> Init.kaimingNormal(t, 0, FanMode.FAN_IN, Nonlinearity.RELU, g);
            default -> Init.xavierUniform(t, 1, g);
        }
    }

    @Test
    void truncNormalFillsStridedAndHalfTensors() {
        Tensor base = on(Tensor.zeros(4, 6));
        Tensor view = base.transpose(0, 1).narrow(0, 1, 3);
        Init.truncNormal(view, 5, 1, 4.5, 5.5, new Generator(11));
        double[] v = base.toDoubles();
        for (int r = 0; r < 4; r++) {
            for (int c = 0; c < 6; c++) {
                double x = v[r * 6 + c];
                if (c >= 1 && c < 4) assertTrue(x >= 4.5 && x <= 5.5, "inside the view");
                else assertEquals(0, x, "outside the view");
            }
        }
        Tensor h = Init.truncNormal(Tensor.empty(DType.F16, dev.lumen.tensor.Device.CPU, 1000), 0, 1, -1, 1, new Generator(12));
        for (double x : h.toDoubles()) assertTrue(x >= -1 && x <= 1);
    }

    /** Standard normal CDF via erfc: Taylor series of erf near 0, continued fraction in the tail. */
    private static double normalCdf(double x) { return 0.5 * erfc(-x / Math.sqrt(2)); }

    private static double erfc(double x) {
        if (x < 0) return 2 - erfc(-x);
        if (x < 2.5) {
            double term = x, sum = x;
            for (int n = 1; n < 100; n++) {
                term *= -x * x / n;
                sum += term / (2 * n + 1);
            }
            return 1 - 2 / Math.sqrt(Math.PI) * sum;
        }
        double f = x;
        for (int k = 80; k >= 1; k--) f = x + (k / 2.0) / f;
        return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
    }

    @Test
    void normalCdfHelperIsAccurate() {
        assertEquals(0.4795001221869535, erfc(0.5), 1e-15);
        assertEquals(2.2090496998585438e-05, erfc(3), 1e-19);
        assertEquals(0.975, normalCdf(1.9599639845400536), 1e-15);
    }
}
