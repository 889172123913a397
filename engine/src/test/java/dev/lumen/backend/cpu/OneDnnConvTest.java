package dev.lumen.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.ConvKernels;
import dev.lumen.backend.ConvKernels.Window;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.ChannelsLast;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** oneDNN's convolutions against the Java path (im2col + GEMM), the switch, and a missing library. */
class OneDnnConvTest {
    /**
     * Both paths sum the same F32 products in other orders (oneDNN in register blocks, the
     * Java path in GEMM panels): each sum of up to ~1,000 terms rounds a few times 2^-24 of
     * the largest partial sums, some 1e-6 of the output's largest magnitude; 1e-5 leaves margin
     * and still fails on any wrong tap, group or padding (errors of order 1).
     */
    private static final double TOL = 1e-5;

    /** n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, groups, bias. */
    private static final int[][] CASES = {
        {3, 5, 13, 11, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    // odd sizes, batch 3, padding
        {1, 6, 17, 15, 4, 3, 3, 2, 2, 1, 1, 1, 1, 2, 0},    // groups 2, stride 2
        {3, 4, 12, 14, 6, 3, 3, 1, 1, 2, 2, 2, 2, 1, 1},    // dilation 2
        {1, 16, 9, 9, 24, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1},    // 1x1
        {3, 8, 15, 15, 16, 1, 1, 2, 2, 0, 0, 1, 1, 1, 0},   // 1x1 stride 2 (resnet downsample), odd map
        {1, 3, 23, 21, 8, 7, 7, 2, 2, 3, 3, 1, 1, 1, 1},    // 7x7 stem
        {3, 6, 10, 7, 6, 3, 5, 2, 1, 0, 2, 1, 2, 3, 1},     // asymmetric window, 3 groups, no row padding
        {1, 8, 11, 11, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8, 1},    // depth-wise 3x3 (oneDNN directly)
        {3, 4, 16, 13, 4, 7, 7, 1, 1, 3, 3, 1, 1, 4, 0},    // depth-wise 7x7
        {2, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  // channels past one 16-lane block
        {4, 1, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0},     // one input channel (a grey stem), tiny map
        {2, 16, 4, 4, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0},    // down to 2x2
    };

    private boolean wasEnabled;

    @BeforeEach
    void requireOneDnn() {
        assertNotNull(OneDnn.instance(), "libdnnl2 is installed here (make deps) but did not load: " + OneDnn.failure());
        wasEnabled = OneDnnConv.active() != null;
    }

    @AfterEach
    void restore() { OneDnnConv.setEnabled(wasEnabled); }

    private static ConvKernels conv() { return Tensor.empty(1).backend().conv(); }

    private static Tensor poisoned(int... shape) { return Tensor.full(Float.NaN, DType.F32, Device.CPU, shape); }

    private static Tensor poisonedChannelsLast(int n, int c, int h, int w) {
        Tensor t = ChannelsLast.empty(DType.F32, Device.CPU, n, c, h, w);
        t.backend().fill(t, Float.NaN);
        return t;
    }

    private static MemorySegment at(Tensor t) { return t.storage().segment().asSlice(t.offset() * 4L); }

    private record Result(float[] out, float[] gradIn, float[] gradW) {}

    /** Forward and both backwards through oneDNN (via conv, or dnn directly when given) or the Java path. */
    private static Result run(int[] c, boolean oneDnn, OneDnnConv direct, long seed) {
        int n = c[0], ch = c[1], h = c[2], w = c[3], o = c[4], groups = c[13];
        Window win = new Window(c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12]);
        int oh = win.outH(h), ow = win.outW(w);
        try (Scope s = Scope.open()) {
            Generator g = new Generator(seed);
            Tensor x = Tensor.randn(g, DType.F32, n, ch, h, w), wt = Tensor.randn(g, DType.F32, o, ch / groups, c[5], c[6]);
            Tensor bias = c[14] == 1 ? Tensor.randn(g, DType.F32, o) : null, gy = Tensor.randn(g, DType.F32, n, o, oh, ow);
            Tensor y = poisoned(n, o, oh, ow), gx = poisoned(n, ch, h, w), gw = poisoned(o, ch / groups, c[5], c[6]);
            if (direct != null) {
                OneDnnConv.Shape sh = new OneDnnConv.Shape(n, ch, h, w, o, oh, ow, groups, win);
                direct.forward(sh, at(x), at(wt), bias == null ? null : at(bias), at(y));
                direct.backwardData(sh, at(gy), at(wt), at(gx));
                direct.backwardWeights(sh, at(gy), at(x), at(gw));
            } else {
                OneDnnConv.setEnabled(oneDnn);
                conv().conv2d(x, wt, bias, win, groups, y);
                conv().conv2dBackwardInput(gy, wt, win, groups, gx);
                conv().conv2dBackwardWeight(gy, x, win, groups, gw);
            }
            return new Result(y.toFloats(), gx.toFloats(), gw.toFloats());
        }
    }

    private static void assertClose(String what, float[] ref, float[] got) {
        assertEquals(ref.length, got.length, what);
        double max = 0, err = 0;
        for (float v : ref) max = Math.max(max, Math.abs(v));
        for (int i = 0; i < ref.length; i++) {
            if (!Float.isFinite(got[i])) throw new AssertionError(what + ": element " + i + " not written (" + got[i] + ")");
            err = Math.max(err, Math.abs(ref[i] - got[i]));
        }
        assertTrue(err <= TOL * Math.max(1, max), what + ": max error " + err + " against max |ref| " + max);
    }

    private static void compare(String what, Result ref, Result got) {
        assertClose(what + " forward", ref.out(), got.out());
        assertClose(what + " backward data", ref.gradIn(), got.gradIn());
        assertClose(what + " backward weights", ref.gradW(), got.gradW());
    }

    @Test
    void matchesTheJavaPathOnEveryCase() {
        OneDnnConv plain = new OneDnnConv(OneDnn.instance(), OneDnnConv.Layouts.PLAIN), blocked = new OneDnnConv(OneDnn.instance(), OneDnnConv.Layouts.BLOCKED);
        for (int[] c : CASES) {
            String what = Arrays.toString(c);
            Result ref = run(c, false, null, 7);
            boolean depthwise = c[13] == c[1] && c[4] == c[1];
            // Through CpuConv (depth-wise stays on DepthwiseConv there), and oneDNN in both layout modes directly.
            if (!depthwise) compare(what + " via CpuConv", ref, run(c, true, null, 7));
            compare(what + " blocked", ref, run(c, true, blocked, 7));
            compare(what + " nchw", ref, run(c, true, plain, 7));
        }
    }

    /**
     * The inference primitive (bias always, ReLU as a post-op or not) against the Java path's
     * conv2d with bias followed by max(y, 0) in Java, through CpuConv (not depth-wise: that
     * stays on DepthwiseConv) and directly in both layout modes; every output poisoned first.
     */
    @Test
    void inferenceForwardWithBiasAndReluMatchesTheJavaPath() {
        OneDnnConv plain = new OneDnnConv(OneDnn.instance(), OneDnnConv.Layouts.PLAIN), blocked = new OneDnnConv(OneDnn.instance(), OneDnnConv.Layouts.BLOCKED);
        for (int[] c : CASES) {
            for (boolean relu : new boolean[] {false, true}) {
                int n = c[0], ch = c[1], h = c[2], w = c[3], o = c[4], groups = c[13];
                Window win = new Window(c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12]);
                int oh = win.outH(h), ow = win.outW(w);
                String what = Arrays.toString(c) + (relu ? " relu" : "");
                try (Scope s = Scope.open()) {
                    Generator g = new Generator(11);
                    Tensor x = Tensor.randn(g, DType.F32, n, ch, h, w), wt = Tensor.randn(g, DType.F32, o, ch / groups, c[5], c[6]);
                    Tensor bias = Tensor.randn(g, DType.F32, o);
                    OneDnnConv.setEnabled(false);
                    Tensor ref = poisoned(n, o, oh, ow);
                    conv().conv2d(x, wt, bias, win, groups, ref);
                    float[] expect = ref.toFloats();
                    if (relu) for (int i = 0; i < expect.length; i++) expect[i] = Math.max(expect[i], 0f);
                    OneDnnConv.setEnabled(true);
                    boolean depthwise = groups == ch && o == ch;
                    assertEquals(!depthwise, conv().hasConv2dInference(x, wt, groups), what + ": fused inference offered");
                    if (!depthwise) {
                        // Input and output each contiguous or channels-last: the same values.
                        Tensor xLast = ChannelsLast.empty(DType.F32, Device.CPU, n, ch, h, w);
                        x.backend().copy(x, xLast);
                        assertTrue(conv().channelsLastInference());
                        for (Tensor in : List.of(x, xLast)) {
                            for (boolean outLast : new boolean[] {false, true}) {
                                Tensor y = outLast ? poisonedChannelsLast(n, o, oh, ow) : poisoned(n, o, oh, ow);
                                conv().conv2dInference(in, wt, bias, win, groups, relu, y);
                                assertClose(what + " via CpuConv, x " + (in == x ? "NCHW" : "NHWC") + ", out " + (outLast ? "NHWC" : "NCHW"),
                                        expect, y.toFloats());
                            }
                        }
                    }
                    OneDnnConv.Shape sh = new OneDnnConv.Shape(n, ch, h, w, o, oh, ow, groups, win);
                    for (OneDnnConv dnn : List.of(plain, blocked)) {
                        Tensor y = poisoned(n, o, oh, ow);
                        dnn.forwardInference(sh, at(x), false, at(wt), at(bias), relu, at(y), false);
                        assertClose(what + " direct", expect, y.toFloats());
                    }
                }
            }
        }
        // Without oneDNN nothing is offered, and asking anyway is one line saying why.
        OneDnnConv.setEnabled(false);
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.zeros(1, 2, 5, 5), wt = Tensor.zeros(2, 2, 3, 3), b = Tensor.zeros(2), y = Tensor.zeros(1, 2, 3, 3);
            assertFalse(conv().hasConv2dInference(x, wt, 1));
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> conv().conv2dInference(x, wt, b, new Window(3, 3, 1, 1, 0, 0, 1, 1), 1, true, y));
            assertTrue(e.getMessage().contains("oneDNN") && !e.getMessage().contains("\n"), e.getMessage());
        }
    }

    /**
     * ResNet's 3x3 layer at inference, NHWC in and out: oneDNN computes in NHWC, so only the
     * weights are reordered, against the input and output too on NCHW; the values agree.
     */
    @Test
    void channelsLastInferenceReordersOnlyTheWeights() {
        OneDnnConv dnn = new OneDnnConv(OneDnn.instance(), OneDnnConv.Layouts.BY_WINDOW);
        int n = 2, ch = 64, h = 14, w = 14;
        Window win = new Window(3, 3, 1, 1, 1, 1, 1, 1);
        OneDnnConv.Shape sh = new OneDnnConv.Shape(n, ch, h, w, ch, h, w, 1, win);
        try (Scope s = Scope.open()) {
            Generator g = new Generator(12);
            Tensor x = Tensor.randn(g, DType.F32, n, ch, h, w), wt = Tensor.randn(g, DType.F32, ch, ch, 3, 3), bias = Tensor.randn(g, DType.F32, ch);
            Tensor xLast = ChannelsLast.empty(DType.F32, Device.CPU, n, ch, h, w);
            x.backend().copy(x, xLast);
            Tensor y = poisoned(n, ch, h, w), yLast = poisonedChannelsLast(n, ch, h, w);
            long r0 = dnn.reordersRun();
            dnn.forwardInference(sh, at(x), false, at(wt), at(bias), true, at(y), false);
            long r1 = dnn.reordersRun();
            dnn.forwardInference(sh, at(xLast), true, at(wt), at(bias), true, at(yLast), true);
            long r2 = dnn.reordersRun();
            assertEquals(3, r1 - r0, "NCHW: input, weights and output reordered");
            assertEquals(1, r2 - r1, "NHWC: the weights alone");
            assertClose("NHWC against NCHW", y.toFloats(), yLast.toFloats());
        }
    }

    /**
     * The two backward passes in one call: bit for bit the separate calls (directly, blocked
     * layouts), gradOut reordered once for both on resnet-like channels, and through CpuConv
     * (poisoned outputs, either gradient alone too) close to the Java path on every case.
     */
    @Test
    void jointBackwardEqualsTheSeparatePassesAndReordersGradOutOnce() {
        OneDnnConv blocked = new OneDnnConv(OneDnn.instance(), OneDnnConv.Layouts.BLOCKED);
        for (int[] c : CASES) {
            int n = c[0], ch = c[1], h = c[2], w = c[3], o = c[4], groups = c[13];
            Window win = new Window(c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12]);
            int oh = win.outH(h), ow = win.outW(w);
            String what = Arrays.toString(c);
            try (Scope s = Scope.open()) {
                Generator g = new Generator(5);
                Tensor x = Tensor.randn(g, DType.F32, n, ch, h, w), wt = Tensor.randn(g, DType.F32, o, ch / groups, c[5], c[6]);
                Tensor gy = Tensor.randn(g, DType.F32, n, o, oh, ow);
                OneDnnConv.Shape sh = new OneDnnConv.Shape(n, ch, h, w, o, oh, ow, groups, win);
                Tensor gx1 = poisoned(n, ch, h, w), gw1 = poisoned(o, ch / groups, c[5], c[6]);
                Tensor gx2 = poisoned(n, ch, h, w), gw2 = poisoned(o, ch / groups, c[5], c[6]);
                long r0 = blocked.reordersRun();
                blocked.backwardData(sh, at(gy), at(wt), at(gx1));
                blocked.backwardWeights(sh, at(gy), at(x), at(gw1));
                long r1 = blocked.reordersRun();
                blocked.backward(sh, at(gy), at(wt), at(x), at(gx2), at(gw2));
                long r2 = blocked.reordersRun();
                assertArrayEquals(gx1.toFloats(), gx2.toFloats(), what + " backward data");
                assertArrayEquals(gw1.toFloats(), gw2.toFloats(), what + " backward weights");
                assertTrue(r2 - r1 <= r1 - r0, what + ": " + (r2 - r1) + " reorders joint, " + (r1 - r0) + " separate");
                if (c == CASES[9]) assertEquals(r1 - r0 - 1, r2 - r1, what + ": gradOut reordered once for both passes");

                OneDnnConv.setEnabled(false);
                Tensor rx = poisoned(n, ch, h, w), rw = poisoned(o, ch / groups, c[5], c[6]);
                conv().conv2dBackward(gy, x, wt, win, groups, rx, rw);
                OneDnnConv.setEnabled(true);
                Tensor jx = poisoned(n, ch, h, w), jw = poisoned(o, ch / groups, c[5], c[6]), only = poisoned(o, ch / groups, c[5], c[6]);
                // The backend's own kernels (CpuConv behind the 16-bit wrapper) take the joint path too.
                long q0 = OneDnnConv.active().reordersRun();
                conv().conv2dBackwardInput(gy, wt, win, groups, jx);
                conv().conv2dBackwardWeight(gy, x, win, groups, jw);
                long q1 = OneDnnConv.active().reordersRun();
                conv().conv2dBackward(gy, x, wt, win, groups, jx, jw);
                long q2 = OneDnnConv.active().reordersRun();
                if (c == CASES[9]) assertEquals(q1 - q0 - 1, q2 - q1, what + " via the backend: gradOut reordered once for both passes");
                conv().conv2dBackward(gy, x, wt, win, groups, null, only);
                assertClose(what + " via CpuConv, backward data", rx.toFloats(), jx.toFloats());
                assertClose(what + " via CpuConv, backward weights", rw.toFloats(), jw.toFloats());
                assertClose(what + " via CpuConv, backward weights alone", rw.toFloats(), only.toFloats());
            }
        }
    }

    @Test
    void freshPrimitivesRepeatBitForBit() {
        for (int[] c : new int[][] {CASES[9], CASES[3]}) {
            Result a = run(c, true, new OneDnnConv(OneDnn.instance(), OneDnnConv.Layouts.BY_WINDOW), 3);
            Result b = run(c, true, new OneDnnConv(OneDnn.instance(), OneDnnConv.Layouts.BY_WINDOW), 3);
            assertArrayEquals(a.out(), b.out());
            assertArrayEquals(a.gradIn(), b.gradIn());
            assertArrayEquals(a.gradW(), b.gradW());
        }
    }

    @Test
    void theSwitchPicksThePath() {
        int[] c = CASES[9];
        Result java = run(c, false, null, 5), again = run(c, false, null, 5), dnn = run(c, true, null, 5);
        assertArrayEquals(java.out(), again.out());
        // oneDNN rounds in another order: some bits differ, which shows the switch changed the path.
        assertFalse(Arrays.equals(java.out(), dnn.out()) && Arrays.equals(java.gradW(), dnn.gradW()), "switching on oneDNN changed nothing");
        OneDnnConv.setEnabled(false);
        assertNull(OneDnnConv.active());
        assertTrue(OneDnnConv.status().contains("switched off") && OneDnnConv.status().contains("LUMEN_ONEDNN=auto"), OneDnnConv.status());
        assertNull(OneDnnConv.choose("off"));
        assertNotNull(OneDnnConv.choose("auto"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OneDnnConv.choose("mkl"));
        assertTrue(e.getMessage().contains("lumen.onednn"), e.getMessage());
    }

    @Test
    void aMissingLibraryIsOneLineNamingWhatWasTried() throws Exception {
        String missing = Files.createTempDirectory("nodnnl").resolve("libdnnl.so.2").toString();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> OneDnn.load(List.of(missing)));
        assertTrue(e.getMessage().contains(missing) && e.getMessage().contains("libdnnl2"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        // auto then means the Java path; on is an error that carries the reason.
        assertNull(OneDnnConv.choose("auto", false, e.getMessage()));
        IllegalStateException on = assertThrows(IllegalStateException.class, () -> OneDnnConv.choose("on", false, e.getMessage()));
        assertTrue(on.getMessage().contains(missing) && !on.getMessage().contains("\n"), on.getMessage());
    }

    @Test
    void aBadShapeIsOneLineWithStatusAndShapes() {
        OneDnnConv dnn = new OneDnnConv(OneDnn.instance(), OneDnnConv.Layouts.BLOCKED);
        Window win = new Window(3, 3, 1, 1, 1, 1, 1, 1);
        // Output 5x5 where the window gives 6x6.
        OneDnnConv.Shape bad = new OneDnnConv.Shape(1, 2, 6, 6, 2, 5, 5, 1, win);
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.zeros(1, 2, 6, 6), w = Tensor.zeros(2, 2, 3, 3), y = Tensor.zeros(1, 2, 6, 6);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> dnn.forward(bad, at(x), at(w), null, at(y)));
            String m = e.getMessage();
            assertTrue(m.contains("dnnl_invalid_arguments") && m.contains("x[1,2,6,6]") && m.contains("out[1,2,5,5]"), m);
            assertFalse(m.contains("\n"), m);
        }
    }
}
