package dev.lumen.backend.cuda;

import static dev.lumen.backend.cuda.DeviceCheck.CUDA;
import static dev.lumen.backend.cuda.DeviceCheck.poisoned;
import static dev.lumen.backend.cuda.DeviceCheck.random;
import static dev.lumen.backend.cuda.DeviceCheck.relativeError;
import static dev.lumen.backend.cuda.DeviceCheck.tolerance;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.Backends;
import dev.lumen.backend.ConvKernels;
import dev.lumen.backend.ConvKernels.Window;
import dev.lumen.cuda.CallCounts;
import dev.lumen.cuda.CudaContext;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * CudaConv (cuDNN, dwconv.cu and im2col.cu) against the CPU backend in F64 on the same rounded
 * inputs: forward with bias, both gradients and the bias gradient, for dense, strided, dilated,
 * grouped and depth-wise convolutions in every floating dtype. Outputs start as NaN.
 */
class CudaConvTest {
    private static final ConvKernels CPU = Backends.cpu().conv();
    private final CudaConv conv = new CudaConv(dev.lumen.cuda.CudaContext.get());

    @BeforeAll
    static void cuda() { DeviceCheck.requireCuda(); }

    /**
     * The ways a depth-wise shape can go: dwconv_tc.cu (16-bit, stride 1), dwconv.cu (f32 and f16), or cuDNN's
     * grouped convolution; our kernels are one launch each, with the bias fused.
     */
    private static boolean dwconvRoute(DType t, int c, int o, int groups, int k, int stride, int pad, int dil) {
        boolean depthwise = groups == c && o == c && k % 2 == 1 && k <= 31 && pad == k / 2 && dil == 1;
        boolean tensorCores = (t == DType.F16 || t == DType.BF16) && stride == 1;
        boolean simt = (t == DType.F32 || t == DType.F16) && (stride == 1 || stride == 2);
        return depthwise && (tensorCores || simt);
    }

    @ParameterizedTest(name = "{0} N{1} C{2} {3}x{4} O{5} k{6}x{7} s{8} p{9} d{10} g{11}")
    @CsvSource({
        "F32, 2, 3, 9, 7, 5, 3, 3, 1, 1, 1, 1",      // dense, odd sizes
        "F32, 3, 4, 11, 10, 6, 3, 2, 2, 0, 1, 1",    // non-square kernel, stride 2, no padding
        "F32, 2, 3, 12, 9, 4, 3, 3, 1, 2, 2, 1",     // dilation 2
        "F32, 2, 4, 8, 8, 6, 3, 3, 1, 1, 1, 2",      // two groups
        "F32, 2, 6, 7, 9, 6, 1, 1, 1, 0, 1, 3",      // grouped 1x1
        "F32, 1, 5, 13, 11, 5, 1, 1, 1, 0, 1, 1",    // pointwise
        "F32, 2, 3, 14, 14, 3, 7, 7, 1, 3, 1, 3",    // depth-wise -> dwconv.cu
        "F32, 2, 4, 15, 13, 4, 3, 3, 2, 1, 1, 4",    // depth-wise stride 2 -> dwconv.cu
        "F32, 2, 4, 9, 9, 4, 3, 3, 1, 0, 1, 4",      // depth-wise without padding -> cuDNN
        "F32, 1, 3, 10, 10, 3, 3, 3, 1, 2, 2, 3",    // depth-wise dilated -> cuDNN
        "F64, 2, 3, 9, 7, 5, 3, 3, 1, 1, 1, 1",
        "F64, 2, 4, 10, 9, 6, 3, 3, 2, 1, 1, 2",
        "F64, 2, 3, 9, 9, 3, 5, 5, 1, 2, 1, 3",      // depth-wise F64 -> cuDNN
        "F16, 2, 3, 9, 7, 5, 3, 3, 1, 1, 1, 1",
        "F16, 2, 3, 11, 12, 3, 5, 5, 1, 2, 1, 3",    // depth-wise F16 -> dwconv_tc.cu (weight gradient: dwconv.cu)
        "F16, 2, 4, 13, 11, 4, 3, 3, 2, 1, 1, 4",    // depth-wise F16 stride 2 -> dwconv.cu
        "F16, 2, 4, 8, 8, 6, 3, 3, 2, 1, 1, 2",
        "BF16, 2, 3, 9, 7, 5, 3, 3, 1, 1, 1, 1",
        "BF16, 2, 4, 10, 8, 4, 3, 3, 1, 1, 1, 4",    // depth-wise BF16 -> dwconv_tc.cu (weight gradient: cuDNN)
        "BF16, 2, 4, 10, 9, 4, 3, 3, 2, 1, 1, 4",    // depth-wise BF16 stride 2 -> cuDNN
    })
    void matchesTheCpu(DType t, int n, int c, int h, int w, int o, int kh, int kw, int s, int p, int d, int groups) {
        Window win = new Window(kh, kw, s, s, p, p, d, d);
        int oh = win.outH(h), ow = win.outW(w);
        String what = t + " " + win + " groups " + groups;
        try (Scope scope = Scope.open()) {
            Tensor x = random(1, t, n, c, h, w), wt = random(2, t, o, c / groups, kh, kw), b = random(3, t, o);
            Tensor go = random(4, t, n, o, oh, ow);
            Tensor x64 = x.to(DType.F64), w64 = wt.to(DType.F64), b64 = b.to(DType.F64), go64 = go.to(DType.F64);

            Tensor dx = x.to(CUDA), dw = wt.to(CUDA), db = b.to(CUDA), dgo = go.to(CUDA);
            Tensor y = poisoned(t, n, o, oh, ow), gx = poisoned(t, n, c, h, w), gw = poisoned(t, o, c / groups, kh, kw), gb = poisoned(t, o);
            conv.conv2d(dx, dw, db, win, groups, poisoned(t, n, o, oh, ow));   // warms the plan cache and the allocator
            CallCounts before = counts();
            conv.conv2d(dx, dw, db, win, groups, y);
            CallCounts fwd = before == null ? null : counts().since(before);
            conv.conv2dBackwardInput(dgo, dw, win, groups, gx);
            conv.conv2dBackwardWeight(dgo, dx, win, groups, gw);
            conv.conv2dBackwardBias(dgo, gb);

            Tensor ry = Tensor.empty(DType.F64, Device.CPU, n, o, oh, ow), rx = Tensor.empty(DType.F64, Device.CPU, n, c, h, w);
            Tensor rw = Tensor.empty(DType.F64, Device.CPU, o, c / groups, kh, kw), rb = Tensor.empty(DType.F64, Device.CPU, o);
            CPU.conv2d(x64, w64, b64, win, groups, ry);
            CPU.conv2dBackwardInput(go64, w64, win, groups, rx);
            CPU.conv2dBackwardWeight(go64, x64, win, groups, rw);
            CPU.conv2dBackwardBias(go64, rb);

            double tol = tolerance(t);
            double ey = relativeError(y, ry), ex = relativeError(gx, rx), ew = relativeError(gw, rw), eb = relativeError(gb, rb);
            assertTrue(ey <= tol, what + ": forward error " + ey);
            assertTrue(ex <= tol, what + ": input-gradient error " + ex);
            assertTrue(ew <= tol, what + ": weight-gradient error " + ew);
            assertTrue(eb <= tol, what + ": bias-gradient error " + eb);
            if (fwd != null) {
                // dwconv.cu is one launch with the bias fused; cuDNN's forward and bias add are no kernel launches of ours.
                assertEquals(dwconvRoute(t, c, o, groups, kh == kw ? kh : -1, s, p, d) ? 1 : 0, fwd.launches(), what + ": forward route");
                assertEquals(0, fwd.allocations(), what + ": a repeated forward (its workspace) reached cuMemAlloc");
            }
        }
    }

    /** The emulated driver's counters, or null on a real GPU (where a profile shows the same). */
    private static CallCounts counts() {
        CudaContext ctx = CudaContext.get();
        if (!ctx.driver().isEmulated()) return null;
        ctx.synchronize();
        return ctx.driver().callCounts();
    }

    @Test
    void gradientsRepeatBitForBit() {
        // Only deterministic algorithms are chosen: the same step twice gives identical bits.
        Window win = new Window(3, 3, 1, 1, 1, 1, 1, 1);
        try (Scope scope = Scope.open()) {
            Tensor x = random(5, DType.F32, 4, 6, 10, 10).to(CUDA), wt = random(6, DType.F32, 8, 3, 3, 3).to(CUDA);
            Tensor go = random(7, DType.F32, 4, 8, 10, 10).to(CUDA);
            double[][] runs = new double[2][];
            double[][] inputs = new double[2][];
            for (int r = 0; r < 2; r++) {
                Tensor gw = poisoned(DType.F32, 8, 3, 3, 3), gx = poisoned(DType.F32, 4, 6, 10, 10);
                conv.conv2dBackwardWeight(go, x, win, 2, gw);
                conv.conv2dBackwardInput(go, wt, win, 2, gx);
                runs[r] = gw.to(Device.CPU).toDoubles();
                inputs[r] = gx.to(Device.CPU).toDoubles();
            }
            assertArrayEquals(runs[0], runs[1], 0.0, "weight gradient");
            assertArrayEquals(inputs[0], inputs[1], 0.0, "input gradient");
        }
    }

    @ParameterizedTest(name = "{0} k{1} s{2} p{3} d{4}")
    @CsvSource({"F32, 3, 1, 1, 1", "F32, 3, 2, 0, 2", "F64, 2, 2, 1, 1", "F16, 3, 1, 1, 1", "BF16, 3, 2, 1, 1"})
    void im2colAndCol2imMatchTheCpu(DType t, int k, int s, int p, int d) {
        Window win = new Window(k, k + 1, s, s, p, p, d, d);
        int n = 2, c = 3, h = 9, w = 11, oh = win.outH(h), ow = win.outW(w);
        int rows = c * k * (k + 1), l = oh * ow;
        try (Scope scope = Scope.open()) {
            Tensor x = random(8, t, n, c, h, w), cols = random(9, t, n, rows, l);
            Tensor dc = poisoned(t, n, rows, l), dx = poisoned(t, n, c, h, w);
            conv.im2col(x.to(CUDA), win, dc);
            conv.col2im(cols.to(CUDA), win, dx);
            Tensor rc = Tensor.empty(DType.F64, Device.CPU, n, rows, l), rx = Tensor.empty(DType.F64, Device.CPU, n, c, h, w);
            CPU.im2col(x.to(DType.F64), win, rc);
            CPU.col2im(cols.to(DType.F64), win, rx);
            // im2col copies values: exact. col2im sums up to k*(k+1) values per pixel, rounded once.
            assertEquals(0.0, relativeError(dc, rc), t + " im2col");
            double e = relativeError(dx, rx);
            assertTrue(e <= tolerance(t), t + " col2im error " + e);
        }
    }
}
