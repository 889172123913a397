package dev.lumen.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.autograd.Autocast;
import dev.lumen.autograd.GradMode;
import dev.lumen.backend.cpu.OneDnnConv;
import dev.lumen.memory.Scope;
import dev.lumen.ops.Activations;
import dev.lumen.ops.Reductions;
import dev.lumen.tensor.ChannelsLast;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.TestDevices;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Conv + BatchNorm (+ ReLU) folded into one convolution at inference, against the same layers
 * run one by one; and every case that must not fold running them unchanged, bit for bit.
 */
class ConvBnActTest extends DeviceTest {
    /**
     * Folding rounds w * s once per weight (2^-24 relative) before the sum where the layers
     * round the BN affine once after it; both sum the same F32 products over at most 147 taps
     * here, so outputs differ by some 1e-7 of their largest magnitude. 1e-5 leaves margin and
     * still fails on a wrong scale, mean, bias or ReLU (errors of order 1).
     */
    private static final double TOL = 1e-5;

    /** n, c, h, w, o, kernel, stride, padding, dilation, groups, conv bias, relu, affine BN. */
    private static final int[][] CASES = {
        {2, 6, 11, 9, 8, 3, 1, 1, 1, 1, 0, 1, 1},     // resnet's 3x3, odd map
        {3, 8, 13, 13, 12, 3, 2, 1, 1, 2, 1, 1, 1},   // stride 2, groups 2, conv bias
        {2, 4, 12, 10, 6, 3, 1, 2, 2, 1, 1, 0, 1},    // dilation 2, no ReLU
        {2, 16, 9, 9, 24, 1, 1, 0, 1, 1, 0, 1, 0},    // 1x1, BN without weight and bias
        {2, 8, 15, 15, 16, 1, 2, 0, 1, 1, 0, 0, 1},   // 1x1 stride 2: the downsample shortcut
        {1, 3, 23, 21, 8, 7, 2, 3, 1, 1, 0, 1, 1},    // 7x7 stem
        {2, 32, 8, 8, 32, 3, 1, 1, 1, 4, 1, 0, 1},    // 4 groups past one 16-channel block
    };

    /** A conv and a BN on this test's device, with random weights and running statistics (var in [0.5, 2.5)). */
    private record Unit(Conv2d conv, BatchNorm2d bn) {}

    private Unit unit(int[] c, long seed, boolean trackRunningStats) {
        Generator g = new Generator(seed);
        Conv2d conv = new Conv2d(c[1], c[4], new int[] {c[5], c[5]}, new int[] {c[6], c[6]}, new int[] {c[7], c[7]}, new int[] {c[8], c[8]},
                c[9], c[10] == 1, g);
        BatchNorm2d bn = new BatchNorm2d(c[4], 1e-5, 0.1, c[12] == 1, trackRunningStats);
        if (trackRunningStats) {
            set(bn.runningMean(), Tensor.randn(g, DType.F32, c[4]));
            set(bn.runningVar(), Tensor.rand(g, DType.F32, c[4]).mul(2).add(0.5));
        }
        if (bn.weight() != null) {
            set(bn.weight(), Tensor.randn(g, DType.F32, c[4]));
            set(bn.bias(), Tensor.randn(g, DType.F32, c[4]));
        }
        conv.to(device);
        bn.to(device);
        return new Unit(conv, bn);
    }

    private static void set(Tensor dst, Tensor src) { dst.backend().copy(src.to(dst.device()), dst); }

    private Tensor input(int[] c, long seed) { return on(Tensor.randn(new Generator(seed), DType.F32, c[0], c[1], c[2], c[3])); }

    /** The layers one by one, as the models ran them before folding. */
    private static Tensor layers(Unit u, boolean relu, Tensor x) {
        Tensor y = u.bn().forward(u.conv().forward(x));
        return relu ? Activations.relu(y) : y;
    }

    private static boolean oneDnnOnCpu(Device d) { return TestDevices.isCpu(d) && OneDnnConv.enabled(); }

    @Test
    void foldedInferenceMatchesTheLayersOneByOne() {
        for (int[] c : CASES) {
            String what = Arrays.toString(c);
            boolean relu = c[11] == 1;
            try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
                Unit u = unit(c, 5, true);
                u.conv().eval();
                u.bn().eval();
                Tensor x = input(c, 6);
                boolean depthwise = c[9] == c[1] && c[4] == c[1];
                assertEquals(oneDnnOnCpu(device) && !depthwise, ConvBnAct.folds(u.conv(), u.bn(), x), what + ": folds");
                float[] ref = layers(u, relu, x).toFloats();
                assertFoldedClose(what, relu, ref, ConvBnAct.apply(u.conv(), u.bn(), relu, x));
                // Channels-last out (where the kernel computes in it), and channels-last in: the same values.
                Tensor last = ConvBnAct.apply(u.conv(), u.bn(), relu, x, true);
                assertEquals(oneDnnOnCpu(device) && !depthwise, ChannelsLast.is(last), what + ": channels-last output");
                assertFoldedClose(what + " channels-last out", relu, ref, last);
                Tensor xLast = ChannelsLast.empty(x.dtype(), x.device(), c[0], c[1], c[2], c[3]);
                x.backend().copy(x, xLast);
                assertFoldedClose(what + " channels-last in", relu, ref, ConvBnAct.apply(u.conv(), u.bn(), relu, xLast));
                assertFoldedClose(what + " channels-last in and out", relu, ref, ConvBnAct.apply(u.conv(), u.bn(), relu, xLast, true));
            }
        }
    }

    private static void assertFoldedClose(String what, boolean relu, float[] ref, Tensor out) {
        float[] got = out.toFloats();
        assertEquals(ref.length, got.length, what);
        double max = 0, err = 0;
        for (float v : ref) max = Math.max(max, Math.abs(v));
        for (int i = 0; i < ref.length; i++) {
            assertTrue(Float.isFinite(got[i]), what + ": element " + i + " is " + got[i]);
            if (relu) assertTrue(got[i] >= 0, what + ": ReLU output " + got[i] + " at " + i);
            err = Math.max(err, Math.abs(ref[i] - got[i]));
        }
        assertTrue(err <= TOL * Math.max(1, max), what + ": max error " + err + " against max |ref| " + max);
    }

    /** Training, or eval with grad on: the layers themselves, the same bits out and back, running statistics included. */
    @Test
    void trainingAndGradOnRunTheLayersBitForBit() {
        for (int[] c : new int[][] {CASES[1], CASES[3], CASES[5]}) {
            for (boolean training : new boolean[] {true, false}) {
                String what = Arrays.toString(c) + (training ? " training" : " eval with grad");
                boolean relu = c[11] == 1;
                try (Scope s = Scope.open()) {
                    Unit a = unit(c, 9, true), b = unit(c, 9, true);
                    for (Unit u : new Unit[] {a, b}) {
                        u.conv().train(training);
                        u.bn().train(training);
                    }
                    Tensor xa = input(c, 10).requiresGrad(true), xb = input(c, 10).requiresGrad(true);
                    assertFalse(ConvBnAct.folds(a.conv(), a.bn(), xa), what);
                    Tensor ya = ConvBnAct.apply(a.conv(), a.bn(), relu, xa), yb = layers(b, relu, xb);
                    assertArrayEquals(yb.toFloats(), ya.toFloats(), what + ": output");
                    Reductions.sum(ya.mul(ya)).backward();
                    Reductions.sum(yb.mul(yb)).backward();
                    assertArrayEquals(xb.grad().toFloats(), xa.grad().toFloats(), what + ": input gradient");
                    assertArrayEquals(b.conv().weight().grad().toFloats(), a.conv().weight().grad().toFloats(), what + ": conv weight gradient");
                    if (c[12] == 1) assertArrayEquals(b.bn().weight().grad().toFloats(), a.bn().weight().grad().toFloats(), what + ": BN weight gradient");
                    assertArrayEquals(b.bn().runningMean().toFloats(), a.bn().runningMean().toFloats(), what + ": running mean");
                    assertArrayEquals(b.bn().runningVar().toFloats(), a.bn().runningVar().toFloats(), what + ": running var");
                }
            }
        }
    }

    /** A BN without running statistics normalizes with the batch's even in eval mode: nothing to fold. */
    @Test
    void aBatchNormWithoutRunningStatisticsIsNotFolded() {
        int[] c = CASES[0];
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            Unit u = unit(c, 12, false);
            u.conv().eval();
            u.bn().eval();
            Tensor x = input(c, 13);
            assertFalse(ConvBnAct.folds(u.conv(), u.bn(), x));
            assertArrayEquals(layers(u, true, x).toFloats(), ConvBnAct.apply(u.conv(), u.bn(), true, x).toFloats());
        }
    }

    /** F64, autocast, oneDNN switched off, a depth-wise conv and a mis-sized BN take the layers; the fold needs all of its conditions. */
    @Test
    void onlyF32OnOneDnnWithoutAutocastFolds() {
        onlyOnCpu("the other devices never fold (foldedInferenceMatchesTheLayersOneByOne checks that they do not)");
        int[] c = CASES[0];
        boolean was = OneDnnConv.enabled();
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            OneDnnConv.use("auto");
            Unit u = unit(c, 14, true);
            u.bn().eval();
            Tensor x = input(c, 15);
            assertTrue(ConvBnAct.folds(u.conv(), u.bn(), x));
            try (Autocast ac = Autocast.enable(DType.BF16)) {
                assertFalse(ConvBnAct.folds(u.conv(), u.bn(), x), "autocast");
            }
            BatchNorm2d other = new BatchNorm2d(c[4] + 1);
            other.eval();
            assertFalse(ConvBnAct.folds(u.conv(), other, x), "BN of another width");
            Conv2d dw = new Conv2d(c[1], c[1], 3, 1, 1, 1, c[1], false);
            BatchNorm2d dwBn = new BatchNorm2d(c[1]);
            dwBn.eval();
            assertFalse(ConvBnAct.folds(dw, dwBn, x), "depth-wise");
            u.conv().to(DType.F64);
            u.bn().to(DType.F64);
            Tensor x64 = x.to(DType.F64);
            assertFalse(ConvBnAct.folds(u.conv(), u.bn(), x64), "F64");
            assertArrayEquals(layers(u, true, x64).toDoubles(), ConvBnAct.apply(u.conv(), u.bn(), true, x64).toDoubles());
            u.conv().to(DType.F32);
            u.bn().to(DType.F32);
            OneDnnConv.use("off");
            assertFalse(ConvBnAct.folds(u.conv(), u.bn(), x), "oneDNN off");
            assertArrayEquals(layers(u, true, x).toFloats(), ConvBnAct.apply(u.conv(), u.bn(), true, x).toFloats());
        } finally {
            OneDnnConv.use(was ? "auto" : "off");
        }
        try (GradMode g = GradMode.enableGrad(); Scope s = Scope.open()) {
            Unit u = unit(c, 14, true);
            u.bn().eval();
            assertFalse(ConvBnAct.folds(u.conv(), u.bn(), input(c, 15)), "grad on");
        }
    }
}
