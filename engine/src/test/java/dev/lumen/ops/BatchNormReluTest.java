package dev.lumen.ops;

import static dev.lumen.testing.Bits.assertSameBits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.ElementwiseKernels.Unary;
import dev.lumen.backend.NormKernels;
import dev.lumen.backend.cpu.Parallel;
import dev.lumen.memory.Scope;
import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.ReLU;
import dev.lumen.nn.Sequential;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.GradCheck;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Batch norm fused with ReLU against batch norm followed by ReLU: the same bits, forward and
 * every gradient. On the CPU the fused kernels read the mask inside batch norm's passes; on cuda
 * the backend inherits the composite, so the same checks show the op works there too.
 */
class BatchNormReluTest extends DeviceTest {
    /**
     * [N, C, S] shapes: 7x7 rows (a one-element tail, a float flush mid-channel at 24 rows), rows
     * longer than a flush block, one-element rows (batch_norm on [N, C]) and rows of whole vectors.
     */
    private static final int[][] SHAPES = {{2, 3, 49}, {24, 2, 49}, {3, 2, 1155}, {5, 3, 1}, {4, 2, 16}, {6, 3, 196}};

    private Tensor poisoned(DType t, int... shape) { return Tensor.full(Double.NaN, t, device, shape); }

    /** Kernel level: every output poisoned with NaN first, fused against BN into a buffer then RELU over it. */
    @Test
    void kernelsMatchBatchNormThenReluBitForBit() {
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            for (int[] sh : SHAPES) {
                for (boolean batchStats : new boolean[] {true, false}) {
                    for (boolean affine : new boolean[] {true, false}) {
                        String what = t + " " + java.util.Arrays.toString(sh) + (batchStats ? " batch stats" : " running stats")
                                + (affine ? "" : " no affine");
                        try (Scope s = Scope.open()) {
                            kernelCase(t, sh, batchStats, affine, what);
                        }
                    }
                }
            }
        }
    }

    private void kernelCase(DType t, int[] sh, boolean batchStats, boolean affine, String what) {
        int c = sh[1];
        Generator g = new Generator(31 + sh[0] * 7L + sh[2]);
        Tensor x = on(Tensor.randn(g, t, sh).mul(2).add(0.3));
        Tensor w = affine ? on(Tensor.randn(g, t, c)) : null, b = affine ? on(Tensor.randn(g, t, c)) : null;
        Tensor gradOut = on(Tensor.randn(g, t, sh));
        Tensor rm = on(Tensor.randn(g, t, c)), rv = on(Tensor.rand(g, t, c).add(0.5));
        NormKernels k = x.backend().norms();

        Tensor mean1 = batchStats ? poisoned(t, c) : rm.copy(), var1 = batchStats ? poisoned(t, c) : rv.copy(), out1 = poisoned(t, sh);
        k.batchNormReluForward(x, w, b, 1e-5, batchStats, mean1, var1, out1);
        Tensor mean2 = batchStats ? poisoned(t, c) : rm.copy(), var2 = batchStats ? poisoned(t, c) : rv.copy(), out2 = poisoned(t, sh);
        k.batchNormForward(x, w, b, 1e-5, batchStats, mean2, var2, out2);
        x.backend().elementwise().unary(Unary.RELU, out2, 0, 0, out2);
        assertSameBits(what + " out", out2, out1);
        assertSameBits(what + " mean", mean2, mean1);
        assertSameBits(what + " var", var2, var1);

        Tensor gx1 = poisoned(t, sh), gw1 = affine ? poisoned(t, c) : null, gb1 = affine ? poisoned(t, c) : null;
        k.batchNormReluBackward(gradOut, out1, x, w, mean1, var1, 1e-5, batchStats, gx1, gw1, gb1);
        Tensor masked = poisoned(t, sh);
        x.backend().elementwise().unaryBackward(Unary.RELU, out2, 0, 0, gradOut, masked);
        Tensor gx2 = poisoned(t, sh), gw2 = affine ? poisoned(t, c) : null, gb2 = affine ? poisoned(t, c) : null;
        k.batchNormBackward(masked, x, w, mean2, var2, 1e-5, batchStats, gx2, gw2, gb2);
        assertSameBits(what + " grad x", gx2, gx1);
        if (affine) {
            assertSameBits(what + " grad weight", gw2, gw1);
            assertSameBits(what + " grad bias", gb2, gb1);
        }
        // Only the input gradient, then only the parameter gradients: each pass alone.
        Tensor gx3 = poisoned(t, sh);
        k.batchNormReluBackward(gradOut, out1, x, w, mean1, var1, 1e-5, batchStats, gx3, null, null);
        assertSameBits(what + " grad x alone", gx2, gx3);
        if (affine) {
            Tensor gw3 = poisoned(t, c), gb3 = poisoned(t, c);
            k.batchNormReluBackward(gradOut, out1, x, w, mean1, var1, 1e-5, batchStats, null, gw3, gb3);
            assertSameBits(what + " grad weight alone", gw2, gw3);
            assertSameBits(what + " grad bias alone", gb2, gb3);
        }
    }

    /** Op level through autograd, training and eval, F32 and F64: output, running stats and gradients. */
    @Test
    void opMatchesBatchNormThenRelu() {
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            for (boolean training : new boolean[] {true, false}) {
                try (Scope s = Scope.open()) {
                    String what = t + (training ? " training" : " eval");
                    Generator g = new Generator(training ? 41 : 42);
                    int[] sh = {6, 4, 7, 7};
                    Tensor x0 = on(Tensor.randn(g, t, sh)), w0 = on(Tensor.randn(g, t, 4)), b0 = on(Tensor.randn(g, t, 4));
                    Tensor rm0 = on(Tensor.randn(g, t, 4)), rv0 = on(Tensor.rand(g, t, 4).add(0.5)), go = on(Tensor.randn(g, t, sh));
                    Tensor[] fused = run(x0, w0, b0, rm0.copy(), rv0.copy(), go, training, true);
                    Tensor[] plain = run(x0, w0, b0, rm0.copy(), rv0.copy(), go, training, false);
                    String[] names = {"out", "grad x", "grad weight", "grad bias", "running mean", "running var"};
                    for (int i = 0; i < names.length; i++) assertSameBits(what + " " + names[i], plain[i], fused[i]);
                }
            }
        }
    }

    private static Tensor[] run(Tensor x0, Tensor w0, Tensor b0, Tensor rm, Tensor rv, Tensor go, boolean training, boolean fused) {
        Tensor x = x0.copy().requiresGrad(true), w = w0.copy().requiresGrad(true), b = b0.copy().requiresGrad(true);
        Tensor out = fused ? Normalization.batchNormRelu(x, rm, rv, w, b, training, 0.1, 1e-5)
                : Activations.relu(Normalization.batchNorm(x, rm, rv, w, b, training, 0.1, 1e-5));
        Tensor kept = out.detach().copy();
        out.backward(go);
        return new Tensor[] {kept, x.grad(), w.grad(), b.grad(), rm, rv};
    }

    /** The fused node saves batch norm's saved tensors plus the output ReLU's backward reads, nothing else. */
    @Test
    void savesWhatTheTwoNodesSave() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(43);
            Tensor x = on(Tensor.randn(g, DType.F32, 2, 3, 4, 4)).requiresGrad(true);
            Tensor w = on(Tensor.ones(3)).requiresGrad(true), b = on(Tensor.zeros(3)).requiresGrad(true);
            Tensor bn = Normalization.batchNorm(x, null, null, w, b, true, 0.1, 1e-5);
            Tensor relu = Activations.relu(bn);
            Tensor fused = Normalization.batchNormRelu(x, null, null, w, b, true, 0.1, 1e-5);
            List<Tensor> bnSaved = bn.gradFn().saved(), reluSaved = relu.gradFn().saved(), fusedSaved = fused.gradFn().saved();
            assertEquals("batch_norm_relu", fused.gradFn().op());
            assertEquals(List.of(relu), reluSaved);
            assertEquals(bnSaved.size() + 1, fusedSaved.size(), "fused saves " + fusedSaved.size() + ", batch norm " + bnSaved.size());
            assertTrue(fusedSaved.stream().anyMatch(v -> v == fused), "the fused node saves its output");
        }
    }

    @Test
    void passesFiniteDifferences() {
        Generator g = new Generator(44);
        Tensor x = on(Tensor.randn(g, DType.F64, 3, 4, 2, 3)), w = on(Tensor.randn(g, DType.F64, 4)), b = on(Tensor.randn(g, DType.F64, 4));
        Tensor rm = on(Tensor.randn(g, DType.F64, 4)), rv = on(Tensor.rand(g, DType.F64, 4)).add(0.5);
        GradCheck.check(device, "batch_norm_relu train", v -> Normalization.batchNormRelu(v[0], null, null, v[1], v[2], true, 0.1, 1e-5), x, w, b);
        GradCheck.check(device, "batch_norm_relu eval", v -> Normalization.batchNormRelu(v[0], rm, rv, v[1], v[2], false, 0.1, 1e-5), x, w, b);
    }

    /** BatchNorm2d.forwardRelu: relu(forward(x)), the batch counted once, statistics from TrainingStatistics when set. */
    @Test
    void layerForwardReluMatchesForwardThenRelu() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(45);
            Tensor x = on(Tensor.randn(g, DType.F32, 4, 3, 5, 5));
            BatchNorm2d a = new BatchNorm2d(3), b = new BatchNorm2d(3);
            a.to(device);
            b.to(device);
            for (boolean training : new boolean[] {true, false}) {
                a.train(training);
                b.train(training);
                assertSameBits("forwardRelu " + training, Activations.relu(b.forward(x)), a.forwardRelu(x));
                assertSameBits("running mean " + training, b.runningMean(), a.runningMean());
                assertSameBits("running var " + training, b.runningVar(), a.runningVar());
                assertEquals(b.stateDict().get("num_batches_tracked").item(), a.stateDict().get("num_batches_tracked").item());
            }
            a.train(true);
            Tensor[] seen = new Tensor[1];
            a.setTrainingStatistics((layer, in) -> {
                seen[0] = in;
                return in.mul(-1);
            });
            Tensor out = a.forwardRelu(x);
            assertSame(x, seen[0]);
            assertSameBits("through TrainingStatistics", Activations.relu(x.mul(-1)), out);
        }
    }

    /** Sequential(BatchNorm2d, ReLU) runs the fused op, with torch's state-dict names and the same bits. */
    @Test
    void sequentialFusesBatchNormThenRelu() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(48);
            Tensor x = on(Tensor.randn(g, DType.F32, 3, 2, 4, 4)).requiresGrad(true);
            BatchNorm2d bn = new BatchNorm2d(2);
            Sequential seq = new Sequential(bn, new ReLU(true), new ReLU());
            seq.to(device);
            assertEquals(java.util.Set.of("0.weight", "0.bias", "0.running_mean", "0.running_var", "0.num_batches_tracked"),
                    seq.stateDict().keySet());
            Tensor out = seq.forward(x);
            // The fused step, then the second ReLU on its own.
            assertEquals("relu", out.gradFn().op());
            assertEquals("batch_norm_relu", out.gradFn().inputs().get(0).gradFn().op());
            seq.eval();
            assertSameBits("eval", Activations.relu(Activations.relu(bn.forward(x))), seq.forward(x));
        }
    }

    /** Each channel is summed by one task in a fixed order: the thread count changes no bit. */
    @Test
    void cpuResultsDoNotDependOnTheThreadCount() {
        onlyOnCpu("Parallel's thread count is the CPU backend's");
        int before = Parallel.threads();
        try {
            Parallel.setThreads(1);
            Tensor[] one = threadsCase();
            Parallel.setThreads(3);
            Tensor[] three = threadsCase();
            for (int i = 0; i < one.length; i++) assertSameBits("result " + i, one[i], three[i]);
        } finally {
            Parallel.setThreads(before);
        }
    }

    private Tensor[] threadsCase() {
        Generator g = new Generator(46);
        int[] sh = {16, 7, 7, 7};
        Tensor x0 = Tensor.randn(g, DType.F32, sh), w0 = Tensor.randn(g, DType.F32, 7), b0 = Tensor.randn(g, DType.F32, 7);
        return run(x0, w0, b0, Tensor.zeros(7), Tensor.ones(7), Tensor.randn(g, DType.F32, sh), true, true);
    }

    @Test
    void shortRowsMatchDouble() {
        Generator g = new Generator(47);
        Tensor x = on(Tensor.randn(g, DType.F32, 64, 4, 7, 7).add(3)), w = on(Tensor.randn(g, DType.F32, 4)), b = on(Tensor.randn(g, DType.F32, 4));
        PrecisionCheck.f32MatchesF64(device, "batch_norm 7x7", v -> Normalization.batchNorm(v[0], null, null, v[1], v[2], true, 0.1, 1e-5), 1e-5, x, w, b);
    }
}
