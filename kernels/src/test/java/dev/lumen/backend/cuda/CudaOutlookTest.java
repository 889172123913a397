package dev.lumen.backend.cuda;

import static dev.lumen.backend.cuda.DeviceOpCheck.assertClose;
import static dev.lumen.backend.cuda.DeviceOpCheck.hostPoisoned;
import static dev.lumen.backend.cuda.DeviceCheck.poisoned;
import static dev.lumen.backend.cuda.DeviceOpCheck.randn;
import static dev.lumen.backend.cuda.DeviceOpCheck.up;

import dev.lumen.backend.Backends;
import dev.lumen.backend.OutlookKernels;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The outlook attention device op (CudaOutlook) against the CPU backend: forward, dv and dlogits, every floating dtype. */
class CudaOutlookTest {
    @BeforeAll
    static void cuda() { DeviceCheck.requireCuda(); }

    /**
     * F32: __expf (2 ulp) and another summation order than the CPU's: ~1e-6. F64: both compute in
     * double, only the order differs. F16/BF16: the same rounded inputs, but the CPU computes in
     * double and rounds the probabilities to the storage type before the backward uses them, the
     * device in float: a few roundings of the storage type (2^-11, 2^-8). Measured
     * under the emulator: 1.3e-7, 2e-16, 3e-4, 2.8e-3.
     */
    static double tolerance(DType t) {
        return switch (t) {
            case F32 -> 2e-6;
            case F64 -> 1e-12;
            case F16 -> 2e-3;
            case BF16 -> 1.5e-2;
            default -> throw new IllegalArgumentException(t.toString());
        };
    }

    @ParameterizedTest(name = "{8} B{0} {1}x{2} C{3} heads{4} k{5} p{6} s{7}")
    @CsvSource({
        "2, 7, 9, 12, 3, 3, 1, 2, F32",
        "1, 5, 5, 40, 1, 3, 1, 2, F32",
        "1, 6, 7, 6, 2, 3, 1, 1, F32",
        "1, 9, 7, 6, 2, 5, 2, 3, F32",
        "2, 7, 9, 12, 3, 3, 1, 2, F64",
        "1, 6, 7, 6, 2, 3, 1, 1, F64",
        "1, 7, 5, 40, 1, 3, 1, 2, F64",
        "2, 7, 9, 12, 3, 3, 1, 2, F16",
        "1, 6, 7, 6, 2, 3, 1, 1, BF16",
    })
    void forwardAndBackwardMatchTheCpu(int b, int height, int width, int c, int heads, int k, int p, int s, DType t) {
        Generator gen = new Generator(31L * height + c + s);
        int h = (height + 2 * p - k) / s + 1, w = (width + 2 * p - k) / s + 1;
        double scale = 1 / Math.sqrt((double) c / heads);
        String what = "outlook " + t + " B" + b + " " + height + "x" + width + " C" + c + " heads" + heads + " k" + k + " s" + s;
        try (Scope sc = Scope.open()) {
            Tensor v = randn(gen, t, 1, 0, b, height, width, c), gout = randn(gen, t, 1, 0, b, height, width, c);
            Tensor logits = randn(gen, t, 3, 0, b, h, w, heads, k * k, k * k);
            OutlookKernels cpu = Backends.cpu().outlook(), dev = CudaBackend.get().outlook();

            Tensor want = hostPoisoned(t, v.shape()), wantV = hostPoisoned(t, v.shape()), wantL = hostPoisoned(t, logits.shape());
            cpu.outlookForward(v, logits, k, p, s, scale, want);
            cpu.outlookBackward(v, logits, gout, k, p, s, scale, wantV, wantL);

            Tensor dv = up(v), dl = up(logits), dg = up(gout);
            Tensor out = poisoned(t, v.shape()), gv = poisoned(t, v.shape()), gl = poisoned(t, logits.shape());
            dev.outlookForward(dv, dl, k, p, s, scale, out);
            dev.outlookBackward(dv, dl, dg, k, p, s, scale, gv, gl);
            assertClose(what + " out", out, want, tolerance(t));
            assertClose(what + " dv", gv, wantV, tolerance(t));
            assertClose(what + " dlogits", gl, wantL, tolerance(t));

            // Either gradient alone, as the interface allows.
            Tensor onlyV = poisoned(t, v.shape()), onlyL = poisoned(t, logits.shape());
            dev.outlookBackward(dv, dl, dg, k, p, s, scale, onlyV, null);
            dev.outlookBackward(dv, dl, dg, k, p, s, scale, null, onlyL);
            assertClose(what + " dv alone", onlyV, wantV, tolerance(t));
            assertClose(what + " dlogits alone", onlyL, wantL, tolerance(t));
        }
    }

    @Test
    void steadyStepAllocatesNothingAndNeverWaits() {
        Generator gen = new Generator(3);
        try (Scope sc = Scope.open()) {
            Tensor v = up(randn(gen, DType.F32, 1, 0, 2, 7, 7, 12)), logits = up(randn(gen, DType.F32, 1, 0, 2, 4, 4, 3, 9, 9));
            Tensor gout = up(randn(gen, DType.F32, 1, 0, 2, 7, 7, 12));
            OutlookKernels dev = CudaBackend.get().outlook();
            DeviceOpCheck.assertSteadyState("outlook", () -> {
                try (Scope step = Scope.open()) {
                    Tensor out = Tensor.empty(DType.F32, DeviceOpCheck.CUDA, v.shape());
                    Tensor gv = Tensor.empty(DType.F32, DeviceOpCheck.CUDA, v.shape());
                    Tensor gl = Tensor.empty(DType.F32, DeviceOpCheck.CUDA, logits.shape());
                    dev.outlookForward(v, logits, 3, 1, 2, 0.5, out);
                    dev.outlookBackward(v, logits, gout, 3, 1, 2, 0.5, gv, gl);
                }
            });
        }
    }
}
