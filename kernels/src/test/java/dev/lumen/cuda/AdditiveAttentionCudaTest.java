package dev.lumen.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.reference.AdditiveAttentionReference;
import dev.lumen.reference.Compare;
import dev.lumen.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * additive_attention.cu against the double-precision reference: output, batch statistics and all 17
 * gradients; a backward that repeats bit for bit; the grid check; B*C = 65,536 planes (past grid
 * z's 65535) in the plain emulator.
 */
class AdditiveAttentionCudaTest {
    // f32 storage and math (double only for the batch sums): a few roundings of values ~1 per
    // step, __expf in the gates, and the BatchNorm backward subtracts batch means: ~1e-6.
    private static final double TOL_F32 = 2e-5;
    private static final double EPS = 1e-5;
    private static final DType F32 = DType.F32;
    private static final String[] GRADS = {"q", "k", "v", "q.dw", "q.dwBias", "q.bnWeight", "q.bnBias", "q.w1", "q.Wc",
        "k.dw", "k.dwBias", "k.bnWeight", "k.bnBias", "k.w1", "k.Wc", "dwc", "dwcBias"};

    @ParameterizedTest(name = "B{0} C{1} {2}x{3} training={4}")
    @CsvSource({
        "2, 5, 7, 7, true",
        "1, 6, 13, 13, true",
        "2, 8, 14, 14, true",
        "1, 4, 28, 28, true",
        "3, 3, 5, 9, true",
        "2, 4, 13, 13, false",
        "1, 3, 33, 17, false",
        "1, 2, 40, 130, true",   // past 128 columns and 2 bands of strips: 4 boxes per plane; 3x10 gate tiles
    })
    void matchesReference(int b, int c, int h, int w, boolean training) {
        CudaContext ctx = CudaTestSupport.context();
        var s = new AdditiveAttentionCuda.Shape(b, c, h, w);
        int n = b * c * h * w;
        Random r = new Random(13L * h + c + (training ? 1 : 0));
        float[] q = Compare.randomFloats(r, n), k = Compare.randomFloats(r, n), v = Compare.randomFloats(r, n), go = Compare.randomFloats(r, n);
        float[][] pq = gate(r, c), pk = gate(r, c);
        float[] dwc = scaled(Compare.randomFloats(r, c * 9), 0.4f), dwcB = scaled(Compare.randomFloats(r, c), 0.1f);
        var ref = AdditiveAttentionReference.run(new AdditiveAttentionReference.Shape(b, c, h, w), d(q), d(k), d(v),
                refGate(pq), refGate(pk), d(dwc), d(dwcB), training, EPS, d(go));
        List<DeviceBuffer> all = new ArrayList<>();
        try {
            java.util.function.Function<float[], DeviceBuffer> up = x -> {
                DeviceBuffer buf = ctx.allocate(x.length * 4L);
                buf.copyFrom(x);
                all.add(buf);
                return buf;
            };
            java.util.function.IntFunction<DeviceBuffer> poisoned = len -> {
                DeviceBuffer buf = ctx.allocate(len * 4L);
                buf.fillBytes(0xFF);   // NaN
                all.add(buf);
                return buf;
            };
            DeviceBuffer dq = up.apply(q), dk = up.apply(k), dv = up.apply(v), dgo = up.apply(go);
            String what = CudaTestSupport.mode(ctx) + " " + s + " training=" + training;
            AdditiveAttentionCuda.Gate[] gates = new AdditiveAttentionCuda.Gate[2];
            for (int side = 0; side < 2; side++) {
                float[][] p = side == 0 ? pq : pk;
                DeviceBuffer t = side == 0 ? dq : dk;
                DeviceBuffer dw = up.apply(p[0]), db = up.apply(p[1]), mean, inv;
                if (training) {
                    mean = poisoned.apply(c);
                    DeviceBuffer var = poisoned.apply(c);
                    AdditiveAttentionCuda.batchStats(ctx, F32, s, t.pointer(), dw.pointer(), db.pointer(), mean.pointer(), var.pointer());
                    assertClose(what + " batch mean " + side, mean.toFloats(), ref.batchMean()[side]);
                    float[] bv = var.toFloats();
                    assertClose(what + " batch var " + side, bv, ref.batchVar()[side]);
                    float[] iv = new float[c];
                    for (int i = 0; i < c; i++) iv[i] = (float) (1 / Math.sqrt(bv[i] + EPS));
                    inv = up.apply(iv);
                } else {
                    float[] iv = new float[c];
                    for (int i = 0; i < c; i++) iv[i] = (float) (1 / Math.sqrt(p[5][i] + EPS));
                    mean = up.apply(p[4]);
                    inv = up.apply(iv);
                }
                gates[side] = new AdditiveAttentionCuda.Gate(dw.pointer(), db.pointer(), up.apply(p[2]).pointer(), up.apply(p[3]).pointer(),
                        mean.pointer(), inv.pointer(), up.apply(p[6]).pointer(), up.apply(p[7]).pointer());
            }
            var sq = new AdditiveAttentionCuda.State(poisoned.apply(b * h * w).pointer(), poisoned.apply(b * c).pointer(), poisoned.apply(b * c).pointer());
            var sk = new AdditiveAttentionCuda.State(poisoned.apply(b * h * w).pointer(), poisoned.apply(b * c).pointer(), poisoned.apply(b * c).pointer());
            AdditiveAttentionCuda.gates(ctx, F32, s, dq.pointer(), gates[0], sq);
            AdditiveAttentionCuda.gates(ctx, F32, s, dk.pointer(), gates[1], sk);
            DeviceBuffer ddwc = up.apply(dwc), ddwcB = up.apply(dwcB), out = poisoned.apply(n);
            AdditiveAttentionCuda.forward(ctx, F32, s, dq.pointer(), dk.pointer(), dv.pointer(), sq, sk, ddwc.pointer(), ddwcB.pointer(), out.pointer());
            ctx.synchronize();
            double eo = Compare.relativeError(out.toFloats(), ref.out());
            assertTrue(eo <= TOL_F32, what + ": forward error " + eo);

            int[] sizes = {n, n, n, c * 9, c, c, c, c, c * c, c * 9, c, c, c, c, c * c, c * 9, c};
            DeviceBuffer[] g = new DeviceBuffer[17];
            for (int i = 0; i < g.length; i++) g[i] = poisoned.apply(sizes[i]);
            Runnable backward = () -> AdditiveAttentionCuda.backward(ctx, F32, s, dq.pointer(), dk.pointer(), dv.pointer(), gates[0], gates[1], sq, sk,
                    ddwc.pointer(), ddwcB.pointer(), training, dgo.pointer(), g[2].pointer(), g[15].pointer(), g[16].pointer(),
                    new AdditiveAttentionCuda.GateGrads(g[0].pointer(), g[3].pointer(), g[4].pointer(), g[5].pointer(), g[6].pointer(), g[7].pointer(), g[8].pointer()),
                    new AdditiveAttentionCuda.GateGrads(g[1].pointer(), g[9].pointer(), g[10].pointer(), g[11].pointer(), g[12].pointer(), g[13].pointer(), g[14].pointer()));
            backward.run();
            float[][] first = new float[g.length][];
            for (int i = 0; i < g.length; i++) first[i] = g[i].toFloats();
            // The backward again, over poison: every cross-block sum has a fixed order, so the same bits.
            for (DeviceBuffer buf : g) buf.fillBytes(0xFF);
            backward.run();
            for (int i = 0; i < g.length; i++) assertArrayEquals(first[i], g[i].toFloats(), what + ": gradient " + GRADS[i] + " differs between two runs");
            var rq = ref.gradQ();
            var rk = ref.gradK();
            double[][] expected = {rq.input(), rk.input(), ref.gradV(), rq.dwWeight(), rq.dwBias(), rq.bnWeight(), rq.bnBias(),
                rq.spatialWeight(), rq.channelWeight(), rk.dwWeight(), rk.dwBias(), rk.bnWeight(), rk.bnBias(),
                rk.spatialWeight(), rk.channelWeight(), ref.gradDwcWeight(), ref.gradDwcBias()};
            double[] errs = new double[18];
            errs[0] = eo;
            for (int i = 0; i < g.length; i++) {
                float[] got = g[i].toFloats();
                if (training && (i == 4 || i == 10)) {
                    // BatchNorm with batch statistics cancels the dw-conv bias: its gradient is rounding noise
                    // on both sides, bounded against the same gate's dw weight gradient.
                    double norm = 0, scale = 0;
                    for (float x : got) norm += x * x;
                    for (double x : expected[i - 1]) scale += x * x;
                    assertTrue(Math.sqrt(norm) <= TOL_F32 * Math.sqrt(scale), what + ": " + GRADS[i] + " should be ~0, norm " + Math.sqrt(norm));
                    continue;
                }
                errs[i + 1] = Compare.relativeError(got, expected[i]);
                assertTrue(errs[i + 1] <= TOL_F32, what + ": gradient " + GRADS[i] + " error " + errs[i + 1]);
            }
            KernelErrors.record("catm", "F32", errs);
        } finally {
            for (DeviceBuffer buf : all) buf.close();
        }
    }

    /**
     * RepLKNet-style limit case for CATM: B*C = 65,536 planes (one past grid z's 65,535, where the
     * old launchers put them) of 1x1 maps, forward and every gradient against the reference. Run in
     * the plain emulator only: the checking and ASan builds take minutes over 65,536 blocks per pass,
     * and the same kernels run there at the shapes above.
     */
    @Test
    void sixtyFiveThousandPlanesMatchTheReference() {
        String driver = System.getProperty("lumen.cuda.driver", "");
        org.junit.jupiter.api.Assumptions.assumeFalse("1".equals(System.getenv("LUMEN_EMU_CHECK")) || driver.endsWith("_asan.so"),
                "65,536 planes run in the plain emulator run only");
        matchesReference(1024, 64, 1, 1, true);
    }

    @Test
    void gridPastTwoToThe31IsRefusedInOneLine() {
        var e = assertThrows(IllegalArgumentException.class, () -> new AdditiveAttentionCuda.Shape(1 << 16, 1 << 14, 1, 1).planeGrid(1L << 32));
        assertTrue(e.getMessage().startsWith("catm: 4294967296 plane blocks of "), e.getMessage());
        assertTrue(e.getMessage().endsWith("exceed grid x's 2^31-1 blocks"), e.getMessage());
        assertArrayEquals(new int[] {Integer.MAX_VALUE}, AdditiveAttentionCuda.grid(Integer.MAX_VALUE, "channels"));
    }

    @Test
    void stripsAndGateTilesFitTheMaps() {
        // the report's model of the launcher (tools/kernelreport/models.py ca_strips) asserts the same numbers
        assertEquals(new AdditiveAttentionCuda.Strips(56, 4, 14, 1, 224), AdditiveAttentionCuda.Strips.of(56, 56));
        assertEquals(new AdditiveAttentionCuda.Strips(128, 2, 16, 4, 256), AdditiveAttentionCuda.Strips.of(40, 130));
        assertEquals(new AdditiveAttentionCuda.Strips(7, 2, 4, 1, 32), AdditiveAttentionCuda.Strips.of(7, 7));
        assertEquals(new AdditiveAttentionCuda.GateTile(14, 14, 16, 256, 4 * (48 * 16 * 16 + 196)),
                AdditiveAttentionCuda.GateTile.of(new AdditiveAttentionCuda.Shape(64, 48, 56, 56), 4));
        // 512 channels of 7x7 in double (rcvit_t's last stage): the tile shrinks until it fits 227 KiB
        assertEquals(new AdditiveAttentionCuda.GateTile(5, 6, 4, 64, 8 * (512 * 7 * 8 + 30)),
                AdditiveAttentionCuda.GateTile.of(new AdditiveAttentionCuda.Shape(2, 512, 7, 7), 8));
        var e = assertThrows(IllegalArgumentException.class,
                () -> AdditiveAttentionCuda.GateTile.of(new AdditiveAttentionCuda.Shape(1, 4000, 7, 7), 8));
        assertEquals("catm: 4000 channels need 288008 bytes of shared memory for the gates, over 232448", e.getMessage());
    }

    private static void assertClose(String what, float[] got, double[] expected) {
        double e = Compare.relativeError(got, expected);
        assertTrue(e <= TOL_F32, what + ": error " + e);
    }

    /** dw, dwBias, bnWeight, bnBias, runningMean, runningVar, w1, Wc. */
    private static float[][] gate(Random r, int c) {
        float[] gamma = scaled(Compare.randomFloats(r, c), 0.2f), var = new float[c];
        for (int i = 0; i < c; i++) {
            gamma[i] += 1;
            var[i] = 1 + r.nextFloat();
        }
        return new float[][] {scaled(Compare.randomFloats(r, c * 9), 0.4f), scaled(Compare.randomFloats(r, c), 0.1f), gamma,
            scaled(Compare.randomFloats(r, c), 0.2f), scaled(Compare.randomFloats(r, c), 0.1f), var,
            scaled(Compare.randomFloats(r, c), 0.5f), scaled(Compare.randomFloats(r, c * c), 0.5f)};
    }

    private static AdditiveAttentionReference.Gate refGate(float[][] p) {
        return new AdditiveAttentionReference.Gate(d(p[0]), d(p[1]), d(p[2]), d(p[3]), d(p[4]), d(p[5]), d(p[6]), d(p[7]));
    }

    private static float[] scaled(float[] x, float f) {
        for (int i = 0; i < x.length; i++) x[i] *= f;
        return x;
    }

    private static double[] d(float[] f) {
        double[] out = new double[f.length];
        for (int i = 0; i < f.length; i++) out[i] = f[i];
        return out;
    }
}
