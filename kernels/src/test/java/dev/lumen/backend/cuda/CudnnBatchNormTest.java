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
import dev.lumen.backend.NormKernels;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * CudnnBatchNorm against the CPU backend's batch norm in F64 on the same rounded inputs:
 * training forward (output, batch mean and biased variance), eval forward, and the backward
 * pass through the batch statistics (cuDNN) and with constant statistics (batchnorm.cu), with
 * and without affine parameters, in every floating dtype. Outputs start as NaN.
 */
class CudnnBatchNormTest {
    private static final NormKernels CPU = Backends.cpu().norms();
    private static final double EPS = 1e-5;
    private final CudnnBatchNorm bn = new CudnnBatchNorm(dev.lumen.cuda.CudaContext.get());

    @BeforeAll
    static void cuda() { DeviceCheck.requireCuda(); }

    private static Tensor dev(Tensor t) { return t == null ? null : t.to(CUDA); }

    private static Tensor f64(Tensor t) { return t == null ? null : t.to(DType.F64); }

    private static Tensor empty64(int... shape) { return Tensor.empty(DType.F64, Device.CPU, shape); }

    @ParameterizedTest(name = "{0} N{1} C{2} S{3} affine={4}")
    @CsvSource({
        "F32, 4, 3, 25, true", "F32, 2, 5, 7, false", "F32, 3, 2, 1, true",   // S = 1: BatchNorm1d on [N, C]
        "F64, 4, 3, 25, true", "F64, 2, 5, 7, false",
        "F16, 4, 3, 25, true", "F16, 2, 4, 9, false",
        "BF16, 4, 3, 25, true", "BF16, 3, 2, 11, false",
    })
    void matchesTheCpu(DType t, int n, int c, int s, boolean affine) {
        String what = t + " [" + n + ", " + c + ", " + s + "] affine=" + affine;
        double tol = tolerance(t);
        try (Scope scope = Scope.open()) {
            // A shifted input: the variance is computed around a mean far from zero.
            Tensor x = random(11, DType.F64, n, c, s).mul(1.5).add(0.75).to(t);
            Tensor w = affine ? random(12, t, c) : null, b = affine ? random(13, t, c) : null;
            Tensor go = random(14, t, n, c, s);

            // Training forward: output and the batch statistics.
            Tensor y = poisoned(t, n, c, s), mean = poisoned(t, c), var = poisoned(t, c);
            bn.forward(dev(x), dev(w), dev(b), EPS, true, mean, var, y);
            Tensor ry = empty64(n, c, s), rm = empty64(c), rv = empty64(c);
            CPU.batchNormForward(f64(x), f64(w), f64(b), EPS, true, rm, rv, ry);
            check(what + " training output", relativeError(y, ry), tol);
            check(what + " batch mean", relativeError(mean, rm), tol);
            check(what + " batch variance (biased)", relativeError(var, rv), tol);

            // Eval forward from given statistics (those of the dtype, as a model would hold them).
            Tensor em = random(15, t, c), ev = Tensor.rand(new dev.lumen.tensor.Generator(16), DType.F64, c).add(0.5).to(t);
            Tensor ye = poisoned(t, n, c, s);
            bn.forward(dev(x), dev(w), dev(b), EPS, false, dev(em), dev(ev), ye);
            Tensor rye = empty64(n, c, s);
            CPU.batchNormForward(f64(x), f64(w), f64(b), EPS, false, f64(em), f64(ev), rye);
            check(what + " eval output", relativeError(ye, rye), tol);

            // Backward through the batch statistics (cuDNN), from the statistics the forward wrote.
            Tensor sm = mean.to(Device.CPU), sv = var.to(Device.CPU);
            backward(what + " training", t, go, x, w, sm, sv, true, n, c, s, tol);
            // Backward with constant statistics (batchnorm.cu).
            backward(what + " eval", t, go, x, w, em, ev, false, n, c, s, tol);
        }
    }

    private void backward(String what, DType t, Tensor go, Tensor x, Tensor w, Tensor mean, Tensor var, boolean used,
                          int n, int c, int s, double tol) {
        Tensor gx = poisoned(t, n, c, s), gw = poisoned(t, c), gb = poisoned(t, c);
        bn.backward(dev(go), dev(x), dev(w), dev(mean), dev(var), EPS, used, gx, gw, gb);
        Tensor rx = empty64(n, c, s), rw = empty64(c), rb = empty64(c);
        CPU.batchNormBackward(f64(go), f64(x), f64(w), f64(mean), f64(var), EPS, used, rx, rw, rb);
        check(what + " input gradient", relativeError(gx, rx), tol);
        check(what + " weight gradient", relativeError(gw, rw), tol);
        check(what + " bias gradient", relativeError(gb, rb), tol);

        // Only the input gradient wanted: cuDNN's parameter gradients go to scratch.
        Tensor gx2 = poisoned(t, n, c, s);
        bn.backward(dev(go), dev(x), dev(w), dev(mean), dev(var), EPS, used, gx2, null, null);
        check(what + " input gradient alone", relativeError(gx2, rx), tol);
        // Only the parameter gradients: cuDNN's input gradient goes to scratch.
        Tensor gw2 = poisoned(t, c);
        bn.backward(dev(go), dev(x), dev(w), dev(mean), dev(var), EPS, used, null, gw2, null);
        check(what + " weight gradient alone", relativeError(gw2, rw), tol);
    }

    @Test
    void constantStatisticsSplitEachChannelByShapeAlone() {
        // Two waves of blocks on an H100 for few channels, no run under 8 elements per thread.
        assertEquals(9, CudnnBatchNorm.constSplits(256, 64L * 56 * 56));   // the README table's [64,256,56,56]
        assertEquals(3, CudnnBatchNorm.constSplits(2, 4500));
        assertEquals(1, CudnnBatchNorm.constSplits(3, 100));
        assertEquals(1, CudnnBatchNorm.constSplits(5000, 1L << 30));       // many channels fill the GPU alone
    }

    @ParameterizedTest(name = "{0} N{1} C{2} S{3}")
    @CsvSource({
        "F32, 3, 2, 1500",    // 3 runs per channel, each spanning a plane boundary
        "F32, 40, 2, 60",     // a plane shorter than a block's stride: the carry crosses several planes per step
        "BF16, 5, 1, 700",
    })
    void constantStatisticsBackwardWithSeveralRunsPerChannelMatchesTheCpuAndRepeats(DType t, int n, int c, int s) {
        String what = t + " [" + n + ", " + c + ", " + s + "] eval, " + CudnnBatchNorm.constSplits(c, (long) n * s) + " runs";
        try (Scope scope = Scope.open()) {
            Tensor x = random(21, DType.F64, n, c, s).mul(1.5).add(0.75).to(t), w = random(22, t, c), go = random(23, t, n, c, s);
            Tensor mean = random(24, t, c), var = Tensor.rand(new dev.lumen.tensor.Generator(25), DType.F64, c).add(0.5).to(t);
            backward(what, t, go, x, w, mean, var, false, n, c, s, tolerance(t));
            Tensor[] first = null;
            for (int run = 0; run < 2; run++) {
                Tensor gx = poisoned(t, n, c, s), gw = poisoned(t, c), gb = poisoned(t, c);
                bn.backward(dev(go), dev(x), dev(w), dev(mean), dev(var), EPS, false, gx, gw, gb);
                Tensor[] got = {gx.to(Device.CPU), gw.to(Device.CPU), gb.to(Device.CPU)};
                if (first == null) first = got;
                else for (int k = 0; k < 3; k++) assertArrayEquals(first[k].toDoubles(), got[k].toDoubles(), 0.0, what + " repeat " + k);
            }
        }
    }

    private static void check(String what, double err, double tol) {
        assertTrue(err <= tol, what + ": relative error " + err + " > " + tol);
    }
}
