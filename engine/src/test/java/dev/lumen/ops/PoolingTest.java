package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.ChannelsLast;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.Bits;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import dev.lumen.testing.GradCheck;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class PoolingTest extends DeviceTest {
    private static final Golden G = Golden.load("pool");
    // Max pooling is exact; averages sum at most 12 values in double: ~1e-7 relative.
    private static final double TOL = 1e-6;

    private static int[] i(int... v) { return v; }

    private void check(String name, UnaryOperator<Tensor> op) {
        try (Scope s = Scope.open()) {
            Tensor x = G.input(name, 0, device);
            G.check("pool", name, op.apply(x), new Tensor[] {x}, TOL, TOL);
        }
    }

    @Test void max2x2() { check("max_2x2", x -> Pooling.maxPool2d(x, i(2), null, i(0), false)); }
    @Test void max3Stride2Pad1() { check("max_3s2p1", x -> Pooling.maxPool2d(x, i(3), i(2), i(1), false)); }
    @Test void maxCeilMode() { check("max_ceil", x -> Pooling.maxPool2d(x, i(3), i(2), i(0), true)); }
    @Test void maxCeilModeDropsWindowStartingInPadding() { check("max_ceil_pad", x -> Pooling.maxPool2d(x, i(2), i(2), i(1), true)); }
    @Test void maxAsymmetric() { check("max_asym", x -> Pooling.maxPool2d(x, i(3, 2), i(1, 2), i(1, 0), false)); }
    @Test void maxNonContiguous() { check("max_noncontig", x -> Pooling.maxPool2d(x.permute(0, 3, 1, 2), i(2), null, i(0), false)); }
    @Test void avg2x2() { check("avg_2x2", x -> Pooling.avgPool2d(x, i(2), null, i(0), false, true)); }
    @Test void avg3Stride2Pad1() { check("avg_3s2p1", x -> Pooling.avgPool2d(x, i(3), i(2), i(1), false, true)); }
    @Test void avgExcludingPad() { check("avg_3s2p1_nopad", x -> Pooling.avgPool2d(x, i(3), i(2), i(1), false, false)); }
    @Test void avgCeilMode() { check("avg_ceil", x -> Pooling.avgPool2d(x, i(3), i(2), i(1), true, true)); }
    @Test void avgCeilModeExcludingPad() { check("avg_ceil_nopad", x -> Pooling.avgPool2d(x, i(3), i(2), i(1), true, false)); }
    @Test void avgAsymmetric() { check("avg_asym", x -> Pooling.avgPool2d(x, i(2, 3), i(2, 1), i(1), false, true)); }
    // The same goldens with the input channels-last (as VOLO pools its [B, H, W, C] tokens).
    @Test void avgChannelsLast() { check("avg_3s2p1", x -> Pooling.avgPool2d(channelsLast(x), i(3), i(2), i(1), false, true)); }
    @Test void avgCeilModeExcludingPadChannelsLast() { check("avg_ceil_nopad", x -> Pooling.avgPool2d(channelsLast(x), i(3), i(2), i(1), true, false)); }
    @Test void avgAsymmetricChannelsLast() { check("avg_asym", x -> Pooling.avgPool2d(channelsLast(x), i(2, 3), i(2, 1), i(1), false, true)); }

    /** x as a channels-last tensor, through recorded ops (NHWC contiguous copy, permuted back), so gradients reach x. */
    private static Tensor channelsLast(Tensor x) {
        Tensor c = x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
        org.junit.jupiter.api.Assertions.assertTrue(ChannelsLast.is(c), "channels-last input");
        return c;
    }

    @Test
    void avgChannelsLastHasTheContiguousBitsAndKeepsItsLayout() {
        int[][] windows = {{2, 2, 0}, {3, 2, 1}, {2, 1, 0}};
        for (int[] win : windows) {
            for (boolean ceil : new boolean[] {false, true}) {
                for (boolean includePad : new boolean[] {false, true}) {
                    try (Scope s = Scope.open()) {
                        Tensor base = on(Tensor.randn(new Generator(win[0] * 7 + win[1]), DType.F32, 3, 5, 9, 7));
                        Tensor last = ChannelsLast.copyOf(base).requiresGrad(true), plain = base.copy().requiresGrad(true);
                        Tensor g = on(Tensor.randn(new Generator(99), DType.F32, Pooling.avgPool2d(base, i(win[0]), i(win[1]), i(win[2]), ceil, includePad).shape()));
                        Tensor yl = Pooling.avgPool2d(last, i(win[0]), i(win[1]), i(win[2]), ceil, includePad);
                        Tensor yp = Pooling.avgPool2d(plain, i(win[0]), i(win[1]), i(win[2]), ceil, includePad);
                        String what = "window " + java.util.Arrays.toString(win) + " ceil " + ceil + " includePad " + includePad;
                        Bits.assertSameBits(what + " forward", yp, yl);
                        yl.backward(g);
                        yp.backward(g);
                        Bits.assertSameBits(what + " input gradient", plain.grad(), last.grad());
                        if (last.backend().pool().avgPoolChannelsLast()) {
                            assertTrue(ChannelsLast.is(yl), what + ": the output stays channels-last");
                            // VOLO's pattern: NHWC tokens viewed as NCHW, pooled, viewed back, are contiguous again.
                            Tensor tokens = base.permute(0, 2, 3, 1).contiguous();
                            assertTrue(Pooling.avgPool2d(tokens.permute(0, 3, 1, 2), i(win[0]), i(win[1]), i(win[2]), ceil, includePad)
                                    .permute(0, 2, 3, 1).isContiguous(), what + ": pooled tokens");
                        }
                    }
                }
            }
        }
    }

    @Test void adaptiveDown() { check("adaptive_7x5", x -> Pooling.adaptiveAvgPool2d(x, 3, 4)); }
    @Test void adaptiveUp() { check("adaptive_up", x -> Pooling.adaptiveAvgPool2d(x, 5, 6)); }
    @Test void adaptiveIdentity() { check("adaptive_same", x -> Pooling.adaptiveAvgPool2d(x, 4, 4)); }
    @Test void globalAverage() { check("global", Pooling::globalAvgPool2d); }

    @Test
    void outputSizesFollowTorch() {
        // ceil_mode: 10 with k3 s2 -> 5 (not 4); with padding 1 and k2 s2 on 6 -> 4, the 5th window would start in the padding.
        assertEquals(5, Pooling.outputSize(10, 3, 0, 2, 1, true));
        assertEquals(4, Pooling.outputSize(10, 3, 0, 2, 1, false));
        assertEquals(4, Pooling.outputSize(6, 2, 1, 2, 1, true));
        assertArrayEquals(new int[] {1, 2, 5, 4}, Pooling.maxPool2d(on(Tensor.zeros(1, 2, 10, 9)), i(3), i(2), i(0), true).shape());
    }

    @Test
    void passFiniteDifferences() {
        Generator g = new Generator(12);
        // Distinct values keep the max away from ties, where the max is not differentiable.
        Tensor x = on(Tensor.randn(g, DType.F64, 2, 2, 7, 6));
        GradCheck.check(device, "max_pool2d", t -> Pooling.maxPool2d(t[0], i(3), i(2), i(1), true), x);
        GradCheck.check(device, "avg_pool2d", t -> Pooling.avgPool2d(t[0], i(3, 2), i(2), i(1), true, false), x);
        GradCheck.check(device, "avg_pool2d pad", t -> Pooling.avgPool2d(t[0], i(3), i(2), i(1), false, true), x);
        GradCheck.check(device, "avg_pool2d channels-last", t -> Pooling.avgPool2d(channelsLast(t[0]), i(3), i(2), i(1), true, false), x);
        GradCheck.check(device, "adaptive_avg_pool2d", t -> Pooling.adaptiveAvgPool2d(t[0], 3, 4), x);
        GradCheck.check(device, "global_avg_pool2d", t -> Pooling.globalAvgPool2d(t[0]), x);
    }

    @Test
    void badArgumentsAreExplained() {
        assertThrows(IllegalArgumentException.class, () -> Pooling.maxPool2d(on(Tensor.zeros(1, 1, 4, 4)), i(2), i(2), i(2), false));
        assertThrows(IllegalArgumentException.class, () -> Pooling.avgPool2d(on(Tensor.zeros(1, 4, 4)), i(2), i(2), i(0), false, true));
        assertThrows(IllegalArgumentException.class, () -> Pooling.maxPool2d(on(Tensor.zeros(1, 1, 2, 2)), i(3), i(1), i(0), false));
    }
}
