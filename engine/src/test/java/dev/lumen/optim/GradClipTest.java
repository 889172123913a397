package dev.lumen.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class GradClipTest extends DeviceTest {
    private static final Golden G = OptimGolden.G;
    // Norms are accumulated in double here and in float32 by torch: ~1e-7 relative apart.
    private static final double TOL = 1e-6;

    private List<Tensor> withGrads(String name) {
        List<Tensor> ps = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Tensor g = G.get(name + ".grad" + i + ".in");
            Tensor p = on(Tensor.zeros(g.shape())).requiresGrad(true);
            p.setGrad(g.to(device).copy());
            ps.add(p);
        }
        return ps;
    }

    private static void checkGrads(String name, List<Tensor> ps) {
        for (int i = 0; i < ps.size(); i++) Golden.assertClose("optim", name + ".grad" + i, ps.get(i).grad(), G.get(name + ".grad" + i + ".out"), TOL);
    }

    private void clipNorm(String name, double maxNorm, double normType) {
        List<Tensor> ps = withGrads(name);
        double total = GradClip.clipGradNorm(ps, maxNorm, normType);
        double expected = G.get(name + ".total").item();
        assertEquals(expected, total, TOL * expected, name + " total norm");
        checkGrads(name, ps);
    }

    @Test void twoNormClipsLikeTorch() { clipNorm("clip_norm2", 1.0, 2); }

    @Test void twoNormBelowTheLimitLeavesGradients() { clipNorm("clip_norm2_noop", 100.0, 2); }

    @Test void infinityNormClipsLikeTorch() { clipNorm("clip_norm_inf", 0.5, Double.POSITIVE_INFINITY); }

    @Test void oneNormClipsLikeTorch() { clipNorm("clip_norm1", 2.0, 1); }

    @Test void threeNormClipsLikeTorch() { clipNorm("clip_norm3", 1.5, 3); }

    @Test
    void valueClipsLikeTorch() {
        List<Tensor> ps = withGrads("clip_value");
        GradClip.clipGradValue(ps, 0.3);
        checkGrads("clip_value", ps);
        for (Tensor p : ps) for (float v : p.grad().toFloats()) assertTrue(Math.abs(v) <= 0.3f);
    }

    @Test
    void normOfALargeOddSizedGradientInF32AndF64() {
        int n = 100_003;
        double[] v = new double[n];
        double sq = 0;
        for (int i = 0; i < n; i++) {
            v[i] = Math.sin(i * 0.37) * (1 + i % 7);
            sq += v[i] * v[i];
        }
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            Tensor p = on(Tensor.zeros(t, device, n)).requiresGrad(true);
            p.setGrad(on(Tensor.fromDoubles(v, t, n)));
            double total = GradClip.clipGradNorm(List.of(p), 1.0);
            assertEquals(Math.sqrt(sq), total, 1e-6 * Math.sqrt(sq), t.toString());
            assertEquals(1.0, p.backend().optimizer().vectorNorm(p.grad(), 2), 1e-5, t + " clipped norm");
        }
    }

    @Test
    void parametersWithoutGradientsAreSkipped() {
        Tensor a = on(Tensor.zeros(2)).requiresGrad(true), b = on(Tensor.zeros(2)).requiresGrad(true);
        assertEquals(0.0, GradClip.clipGradNorm(List.of(a, b), 1.0));
        a.setGrad(on(Tensor.fromFloats(new float[] {3, 4}, 2)));
        assertEquals(5.0, GradClip.clipGradNorm(List.of(a, b), 1.0), 1e-12);
        assertArrayEquals(new float[] {0.6f, 0.8f}, a.grad().toFloats(), 1e-6f);
    }
}
