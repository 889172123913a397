package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.cpu.Gemm;
import dev.lumen.backend.cpu.OneDnnConv;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import dev.lumen.testing.GradCheck;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class Conv2dTest extends DeviceTest {
    private static final Golden G = Golden.load("conv");
    private static final Golden DW = Golden.load("conv_depthwise");
    // GEMM and tap sums in another order than torch's: K <= 147 terms here, ~1e-7 relative.
    private static final double TOL = 1e-5;

    private static int[] i(int... v) { return v; }

    /** On the CPU: the Java path (oneDNN off), then oneDNN where it loaded; elsewhere the one path there is. */
    private List<Boolean> oneDnnPaths() {
        return device.kind() == Device.Kind.CPU && OneDnnConv.status().startsWith("oneDNN") ? List.of(false, true) : List.of(OneDnnConv.enabled());
    }

    /** Runs body on each convolution path (the CPU's Java path with both GEMMs, and oneDNN), restoring the selection after. */
    private void onEachPath(java.util.function.Consumer<Boolean> body) {
        Gemm saved = Gemm.active();
        boolean was = OneDnnConv.enabled();
        try {
            for (boolean oneDnn : oneDnnPaths()) {
                if (device.kind() == Device.Kind.CPU) OneDnnConv.use(oneDnn ? "on" : "off");
                for (Gemm g : oneDnn ? List.of(saved) : GemmTest.gemmsOn(device)) {
                    Gemm.setActive(g);
                    body.accept(oneDnn);
                }
            }
        } finally {
            Gemm.setActive(saved);
            if (device.kind() == Device.Kind.CPU) OneDnnConv.use(was ? "on" : "off");
        }
    }

    /** Runs a case on every path. */
    private void check(Golden golden, String name, int inputs, Function<Tensor[], Tensor> op) {
        onEachPath(oneDnn -> {
            try (Scope s = Scope.open()) {
                Tensor[] in = new Tensor[inputs];
                for (int k = 0; k < inputs; k++) in[k] = golden.input(name, k, device);
                golden.check("conv", name, op.apply(in), in, TOL, TOL);
            }
        });
    }

    @Test void basic() { check(G, "conv_basic", 3, x -> Convolution.conv2d(x[0], x[1], x[2], i(1), i(1), i(1), 1)); }
    @Test void stride2() { check(G, "conv_stride2", 3, x -> Convolution.conv2d(x[0], x[1], x[2], i(2), i(1), i(1), 1)); }
    @Test void dilation2() { check(G, "conv_dilation2", 2, x -> Convolution.conv2d(x[0], x[1], null, i(1), i(2), i(2), 1)); }
    @Test void groups2() { check(G, "conv_groups2", 3, x -> Convolution.conv2d(x[0], x[1], x[2], i(1), i(1), i(1), 2)); }
    @Test void pointwise() { check(G, "conv_1x1", 3, x -> Convolution.conv2d(x[0], x[1], x[2])); }
    @Test void pointwiseGroups() { check(G, "conv_1x1_groups", 2, x -> Convolution.conv2d(x[0], x[1], null, i(1), i(0), i(1), 3)); }
    @Test void pointwiseStride2() { check(G, "conv_1x1_stride2", 2, x -> Convolution.conv2d(x[0], x[1], null, i(2), i(0), i(1), 1)); }
    @Test void asymmetric() { check(G, "conv_asym", 2, x -> Convolution.conv2d(x[0], x[1], null, i(2, 1), i(0, 2), i(1, 2), 1)); }
    @Test void stem7x7Stride2() { check(G, "conv_7x7_s2", 3, x -> Convolution.conv2d(x[0], x[1], x[2], i(2), i(3), i(1), 1)); }
    @Test void nonContiguousInput() { check(G, "conv_noncontig", 3, x -> Convolution.conv2d(x[0].permute(0, 3, 1, 2), x[1], x[2], i(1), i(1), i(1), 1)); }

    @Test void depthwise7x7On14() { check(DW, "dw7_14", 3, x -> Convolution.conv2d(x[0], x[1], x[2], i(1), i(3), i(1), 4)); }
    @Test void depthwise13x13On14() { check(DW, "dw13_14", 2, x -> Convolution.conv2d(x[0], x[1], null, i(1), i(6), i(1), 3)); }
    @Test void depthwise31x31On14() { check(DW, "dw31_14", 3, x -> Convolution.conv2d(x[0], x[1], x[2], i(1), i(15), i(1), 2)); }
    @Test void depthwise7x7On57() { check(DW, "dw7_57", 3, x -> Convolution.conv2d(x[0], x[1], x[2], i(1), i(3), i(1), 1)); }
    @Test void depthwise31x31On53() { check(DW, "dw31_53", 3, x -> Convolution.conv2d(x[0], x[1], x[2], i(1), i(15), i(1), 2)); }
    @Test void depthwiseStride2() { check(DW, "dw5_stride2", 3, x -> Convolution.conv2d(x[0], x[1], x[2], i(2), i(2), i(1), 3)); }
    @Test void depthwiseDilation2() { check(DW, "dw3_dilation2", 2, x -> Convolution.conv2d(x[0], x[1], null, i(1), i(2), i(2), 3)); }
    @Test void depthwiseValid() { check(DW, "dw3_valid", 2, x -> Convolution.conv2d(x[0], x[1], null, i(1), i(0), i(1), 5)); }
    @Test void depthwisePaddingBeyondKernel() { check(DW, "dw3_bigpad", 2, x -> Convolution.conv2d(x[0], x[1], null, i(1, 2), i(4), i(1), 2)); }

    @Test
    void convolutionsPassFiniteDifferences() {
        Generator g = new Generator(21);
        Function<int[], Tensor> r = s -> on(Tensor.randn(g, DType.F64, s));
        GradCheck.check(device, "conv2d", x -> Convolution.conv2d(x[0], x[1], x[2], i(2, 1), i(1, 0), i(1, 2), 1),
                r.apply(i(2, 2, 5, 6)), r.apply(i(3, 2, 2, 3)), r.apply(i(3)));
        GradCheck.check(device, "conv2d groups", x -> Convolution.conv2d(x[0], x[1], null, i(1), i(1), i(1), 2),
                r.apply(i(1, 4, 4, 4)), r.apply(i(2, 2, 3, 3)));
        GradCheck.check(device, "conv2d 1x1", x -> Convolution.conv2d(x[0], x[1], x[2]), r.apply(i(2, 3, 3, 2)), r.apply(i(2, 3, 1, 1)), r.apply(i(2)));
        GradCheck.check(device, "conv2d depthwise", x -> Convolution.conv2d(x[0], x[1], x[2], i(2), i(2), i(1), 2),
                r.apply(i(1, 2, 6, 5)), r.apply(i(2, 1, 5, 5)), r.apply(i(2)));
    }

    @Test
    void depthwiseDirectKernelMatchesGeneralPathInF64() {
        // The direct F32 kernel against the im2col path (which F64 takes), on random shapes.
        Generator g = new Generator(8);
        int[][] cases = {{2, 3, 19, 23, 7, 1, 3, 1}, {1, 4, 12, 9, 31, 1, 15, 1}, {2, 2, 17, 16, 5, 2, 2, 1}, {1, 3, 20, 21, 3, 1, 2, 3}, {1, 2, 9, 33, 9, 3, 0, 1}};
        for (int[] c : cases) {
            try (Scope s = Scope.open()) {
                Tensor x = on(Tensor.randn(g, DType.F32, c[0], c[1], c[2], c[3])).requiresGrad(true);
                Tensor w = on(Tensor.randn(g, DType.F32, c[1], 1, c[4], c[4])).requiresGrad(true);
                Tensor b = on(Tensor.randn(g, DType.F32, c[1])).requiresGrad(true);
                Tensor x64 = x.detach().to(DType.F64).requiresGrad(true), w64 = w.detach().to(DType.F64).requiresGrad(true), b64 = b.detach().to(DType.F64).requiresGrad(true);
                Tensor y = Convolution.conv2d(x, w, b, i(c[5]), i(c[6]), i(c[7]), c[1]);
                Tensor y64 = Convolution.conv2d(x64, w64, b64, i(c[5]), i(c[6]), i(c[7]), c[1]);
                assertTrue(Golden.relativeError(y.to(DType.F64), y64) < 1e-6, "forward " + java.util.Arrays.toString(c));
                Tensor gout = on(Tensor.randn(g, DType.F32, y.shape()));
                y.backward(gout);
                y64.backward(gout.to(DType.F64));
                assertTrue(Golden.relativeError(x.grad().to(DType.F64), x64.grad()) < 1e-6, "grad input " + java.util.Arrays.toString(c));
                assertTrue(Golden.relativeError(w.grad().to(DType.F64), w64.grad()) < 1e-6, "grad weight " + java.util.Arrays.toString(c));
                assertTrue(Golden.relativeError(b.grad().to(DType.F64), b64.grad()) < 1e-6, "grad bias " + java.util.Arrays.toString(c));
            }
        }
    }

    @Test
    void bandedColumnsMatchOneShot() {
        // 16*9*180*180 column elements exceed CpuConv.COLUMN_BUDGET (4M): im2col runs in two bands.
        Generator g = new Generator(4);
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.randn(g, DType.F32, 1, 16, 180, 180)), w = on(Tensor.randn(g, DType.F32, 2, 16, 3, 3));
            Tensor x64 = x.to(DType.F64).requiresGrad(true), w64 = w.to(DType.F64).requiresGrad(true);
            Tensor y64 = Convolution.conv2d(x64, w64, null, i(1), i(1), i(1), 1);
            Tensor gout = on(Tensor.randn(g, DType.F32, y64.shape()));
            y64.backward(gout.to(DType.F64));
            onEachPath(oneDnn -> {
                try (Scope p = Scope.open()) {
                    Tensor xg = x.detach().requiresGrad(true), wg = w.detach().requiresGrad(true);
                    Tensor y = Convolution.conv2d(xg, wg, null, i(1), i(1), i(1), 1);
                    assertTrue(Golden.relativeError(y.to(DType.F64), y64.detach()) < 1e-6);
                    y.backward(gout);
                    assertTrue(Golden.relativeError(xg.grad().to(DType.F64), x64.grad()) < 1e-6);
                    // Each weight's gradient sums 32,400 products. oneDNN (as PyTorch's CPU convolutions)
                    // adds them in one F32 chain per output lane, measured 2.5e-6; the GEMM path's blocked
                    // sums stay under 4e-7.
                    double err = Golden.relativeError(wg.grad().to(DType.F64), w64.grad());
                    assertTrue(err < (oneDnn ? 1e-5 : 1e-6), "weight gradient error " + err + (oneDnn ? " on oneDNN" : " on the Java path"));
                }
            });
        }
    }

    @Test
    void largeMapsGoOneImageAtATime() {
        // OH*OW >= CpuConv.TARGET_N / 2: one image per GEMM, pointwise and im2col, with groups.
        onEachPath(oneDnn -> largeMaps());
    }

    private void largeMaps() {
        Generator g = new Generator(6);
        int[][] cases = {{2, 6, 40, 40, 4, 1, 2}, {2, 4, 33, 35, 6, 3, 2}};
        for (int[] c : cases) {
            try (Scope s = Scope.open()) {
                Tensor x = on(Tensor.randn(g, DType.F32, c[0], c[1], c[2], c[3])).requiresGrad(true);
                Tensor w = on(Tensor.randn(g, DType.F32, c[4], c[1] / c[6], c[5], c[5])).requiresGrad(true);
                Tensor b = on(Tensor.randn(g, DType.F32, c[4])).requiresGrad(true);
                Tensor x64 = x.detach().to(DType.F64).requiresGrad(true), w64 = w.detach().to(DType.F64).requiresGrad(true), b64 = b.detach().to(DType.F64).requiresGrad(true);
                int pad = c[5] / 2;
                Tensor y = Convolution.conv2d(x, w, b, i(1), i(pad), i(1), c[6]);
                Tensor y64 = Convolution.conv2d(x64, w64, b64, i(1), i(pad), i(1), c[6]);
                assertTrue(Golden.relativeError(y.to(DType.F64), y64) < 1e-6, "forward " + java.util.Arrays.toString(c));
                Tensor gout = on(Tensor.randn(g, DType.F32, y.shape()));
                y.backward(gout);
                y64.backward(gout.to(DType.F64));
                assertTrue(Golden.relativeError(x.grad().to(DType.F64), x64.grad()) < 1e-6, "grad input " + java.util.Arrays.toString(c));
                assertTrue(Golden.relativeError(w.grad().to(DType.F64), w64.grad()) < 1e-6, "grad weight " + java.util.Arrays.toString(c));
                assertTrue(Golden.relativeError(b.grad().to(DType.F64), b64.grad()) < 1e-6, "grad bias " + java.util.Arrays.toString(c));
            }
        }
    }

    @Test
    void badArgumentsAreExplained() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Convolution.conv2d(on(Tensor.zeros(1, 4, 5, 5)), on(Tensor.zeros(8, 3, 3, 3)), null));
        assertTrue(e.getMessage().contains("conv2d") && e.getMessage().contains("[8, 3, 3, 3]") && e.getMessage().contains("4"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Convolution.conv2d(on(Tensor.zeros(1, 3, 2, 2)), on(Tensor.zeros(8, 3, 3, 3)), null));
        assertThrows(IllegalArgumentException.class, () -> Convolution.conv2d(on(Tensor.zeros(1, 4, 5, 5)), on(Tensor.zeros(6, 2, 3, 3)), null, i(1), i(0), i(1), 3));
    }
}
