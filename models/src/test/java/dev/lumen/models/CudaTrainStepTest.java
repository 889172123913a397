package dev.lumen.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.CachingAllocator;
import dev.lumen.memory.Scope;
import dev.lumen.ops.Losses;
import dev.lumen.optim.AdamW;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.TestDevices;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * One training step of each family's smallest published variant on cuda against the same step
 * on the CPU: the model is built twice from the same seed, one copy moved to the device, and
 * both take one forward (train mode), cross-entropy, backward and AdamW step on the same batch
 * of two small images. The loss, every gradient and every parameter after the step must agree.
 */
class CudaTrainStepTest {
    private static final Device CUDA = Device.cuda(0);
    private static final long SEED = 20240611L;
    private static final double LR = 1e-3;
    private static final double WEIGHT_DECAY = 0.05;

    /**
     * Loss: float32 forward through tens of layers, where cuBLAS-like GEMMs, convolutions and
     * the device reductions sum in another order than the CPU backend; that moves the loss by
     * a few 1e-7 relative, while a wrong kernel anywhere in the forward moves it by far more.
     */
    private static final double LOSS_RTOL = 1e-4;

    /**
     * Gradients, per tensor: ||g_cuda - g_cpu|| over ||g_cpu||, the backward's round-off
     * compounding the forward's. A wrong backward kernel gives an error of order one in the
     * tensors it touches. A tensor whose gradient is pure round-off (a bias that a training-mode
     * norm cancels) has no meaningful relative error: its norm is measured against a floor of
     * ROUND_OFF times the model's largest per-tensor gradient norm.
     */
    private static final double GRAD_RTOL = 1e-3;
    private static final double ROUND_OFF = 1e-4;

    /**
     * Parameters after the step, per tensor: the update (p_after - p_before) against the CPU's.
     * AdamW's first step is lr * g / (|g| + eps), about lr * sign(g) per coordinate: a gradient
     * coordinate that is itself at round-off level can flip sign between devices, and moves by
     * 2 lr instead of agreeing to rounding. So the update is compared only where the CPU's
     * gradient stands clear of round-off (|g| above FLIP_GUARD times the tensor's largest
     * |g|), tightly there: a wrong AdamW kernel (moments, bias correction, decay, lr) changes
     * every coordinate's update by a large fraction. The coordinates left out are counted.
     */
    private static final double UPDATE_RTOL = 1e-4;
    private static final double FLIP_GUARD = 1e-3;

    @BeforeAll
    static void cudaAvailable() {
        Assumptions.assumeTrue(TestDevices.devices().anyMatch(d -> d.kind() == Device.Kind.CUDA),
                "lumen.test.devices names no cuda device");
        TestDevices.assumeAvailable(CUDA);
    }

    @AfterEach
    void releaseCachedMemory() { CachingAllocator.host().releaseCached(); }

    /** What one step leaves: the loss, and per parameter its value before, gradient and value after. */
    record Step(double loss, Map<String, double[]> before, Map<String, double[]> grads, Map<String, double[]> after) {}

    static Step oneStep(String name, ModelOptions options, int input, DType dtype, Device device) {
        Generator.global().manualSeed(SEED);
        try (Scope s = Scope.open(); ImageClassifier m = ModelRegistry.create(name, options)) {
            m.to(dtype);
            Map<String, double[]> before = new LinkedHashMap<>();
            m.namedParameters().forEach((k, p) -> before.put(k, p.toDoubles()));
            m.to(device);
            Tensor x = Tensor.randn(new Generator(3), dtype, 2, 3, input, input).to(device);
            Tensor labels = Tensor.fromLongs(new long[] {1, 999}, 2).to(device);
            AdamW opt = new AdamW(m.trainableParameters(), LR, WEIGHT_DECAY);
            m.train();
            Tensor logits = m.forward(x);
            assertArrayEquals(new int[] {2, 1000}, logits.shape());
            assertEquals(device, logits.device());
            Tensor loss = Losses.crossEntropy(logits, labels);
            double l = loss.item();
            try (Scope b = Scope.open()) {
                loss.backward();
            }
            Map<String, double[]> grads = new LinkedHashMap<>();
            for (var e : m.namedParameters().entrySet()) {
                assertNotNull(e.getValue().grad(), name + " on " + device + ": " + e.getKey() + " has no gradient");
                grads.put(e.getKey(), e.getValue().grad().toDoubles());
            }
            opt.step();
            Map<String, double[]> after = new LinkedHashMap<>();
            m.namedParameters().forEach((k, p) -> after.put(k, p.toDoubles()));
            return new Step(l, before, grads, after);
        }
    }

    /**
     * Family, smallest published variant, build size, input side, dtype. ViT-Ti/16 at 32:
     * a 2x2 token grid. VOLO-D1 is built at its 224 and run at 32: outlook attention on a 4x4
     * grid, the 14x14 pos_embed resized to 2x2, class attention on 4 tokens. RCViT-XS at 64:
     * stages 16, 8, 4, 2. VMamba-T at 64 with its published stride-4 stem: stages 16, 8, 4, 2
     * (at 32 the last stage would be 1x1, where the scan takes one step from a zero state).
     * res2net50_14w_8s (25.06M) is the smaller of it and resnet50 (25.56M). RepLKNet-31B at 64.
     * <p>
     * 64, not 32, for the batch-norm networks: at 32 their last stage is 1x1, and a training
     * batch norm over two values outputs +-1 whatever they are, so its output is a sign of
     * their difference (round-off flips it: the losses differed by 4-6%) and every gradient
     * below it is round-off. At 64 the BN nets are well defined but their F32 backward is ill
     * conditioned (ResNet-50 and Res2Net: gradient norm 6e3 at conv1 for a loss of 7, every
     * tensor's F32 gradient 4-7% apart between the devices, RepLKNet 2.5%), while in F64 the
     * two devices agree to 1e-12: the differences are the conditioning, not a kernel. Those two
     * therefore run in F64, where a wrong kernel still shows at full size; the others in F32.
     * <p>
     * Measured on the 2-core build machine (cpu + emulated cuda, per family): ViT 2+1.5 s,
     * VOLO 4+3.5 s, RCViT 2.5+10 s, VMamba 4.5+12 s, Res2Net (F64) 10+17 s, RepLKNet-31B (F64,
     * 79M parameters) 26+65 s under load: the slowest, and still within the CI budget.
     */
    @ParameterizedTest(name = "{0} at {2}x{2}, {3}")
    @CsvSource(delimiter = '|', textBlock = """
            vit_tiny_patch16_224 |  32 | 32 | F32
            volo_d1              | 224 | 32 | F32
            rcvit_xs             |  64 | 64 | F32
            vmamba_tiny          |  64 | 64 | F32
            res2net50_14w_8s     |  64 | 64 | F64
            replknet_31b         |  64 | 64 | F64
            """)
    void oneAdamWStepOnCudaMatchesTheCpu(String name, int buildSize, int input, DType dtype) {
        ModelOptions o = ModelOptions.defaults().withImgSize(buildSize);
        long t0 = System.nanoTime();
        Step cpu = oneStep(name, o, input, dtype, Device.CPU);
        long t1 = System.nanoTime();
        Step cuda = oneStep(name, o, input, dtype, CUDA);
        long t2 = System.nanoTime();
        System.out.printf("%s: cpu %.1f s, cuda %.1f s; loss cpu %.8f cuda %.8f%n", name, (t1 - t0) / 1e9, (t2 - t1) / 1e9,
                cpu.loss(), cuda.loss());

        assertEquals(cpu.before().keySet(), cuda.before().keySet());
        for (String k : cpu.before().keySet()) {
            assertArrayEquals(cpu.before().get(k), cuda.before().get(k), 0.0, name + ": " + k + " differs at build: not the same seed");
        }
        assertTrue(Double.isFinite(cpu.loss()), name + ": cpu loss " + cpu.loss());
        double lossErr = Math.abs(cuda.loss() - cpu.loss()) / Math.abs(cpu.loss());
        java.util.List<String> bad = new java.util.ArrayList<>();
        if (lossErr > LOSS_RTOL) bad.add("loss cuda " + cuda.loss() + " vs cpu " + cpu.loss() + ", relative " + lossErr);

        double largest = 0;
        for (double[] g : cpu.grads().values()) largest = Math.max(largest, norm(g));
        double floor = ROUND_OFF * largest;
        double worstGrad = 0, worstUpdate = 0;
        String worstGradKey = "", worstUpdateKey = "";
        long unstable = 0, total = 0;
        for (String k : cpu.grads().keySet()) {
            double[] gc = cpu.grads().get(k), gd = cuda.grads().get(k);
            double gradErr = diffNorm(gd, gc) / Math.max(norm(gc), floor);
            if (gradErr > worstGrad) { worstGrad = gradErr; worstGradKey = k; }
            if (gradErr > GRAD_RTOL) bad.add("gradient of " + k + ", relative error " + gradErr
                    + " (cpu norm " + norm(gc) + ", model's largest " + largest + ")");

            double[] p0 = cpu.before().get(k), pc = cpu.after().get(k), pd = cuda.after().get(k);
            double gmax = 0;
            for (double v : gc) gmax = Math.max(gmax, Math.abs(v));
            if (norm(gc) <= floor) continue; // round-off gradient: its update is lr times a random sign on either side
            double num = 0, den = 0;
            int left = 0;
            for (int i = 0; i < p0.length; i++) {
                if (Math.abs(gc[i]) <= FLIP_GUARD * gmax) { left++; continue; }
                double uc = (double) pc[i] - p0[i], ud = (double) pd[i] - p0[i];
                num += (ud - uc) * (ud - uc);
                den += uc * uc;
            }
            unstable += left;
            total += p0.length;
            double updateErr = Math.sqrt(num / den);
            if (updateErr > worstUpdate) { worstUpdate = updateErr; worstUpdateKey = k; }
            if (updateErr > UPDATE_RTOL) bad.add("AdamW update of " + k + ", relative error " + updateErr);
        }
        System.out.printf("%s: loss rel %.2e; worst gradient rel %.2e (%s); worst update rel %.2e (%s); %d of %d coordinates left out%n",
                name, lossErr, worstGrad, worstGradKey, worstUpdate, worstUpdateKey, unstable, total);
        assertTrue(bad.isEmpty(), name + " on cuda differs from the cpu in " + bad.size() + " checks:\n  " + String.join("\n  ", bad));
    }

    static double norm(double[] a) {
        double s = 0;
        for (double v : a) s += (double) v * v;
        return Math.sqrt(s);
    }

    static double diffNorm(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - b[i];
            s += d * d;
        }
        return Math.sqrt(s);
    }
}
