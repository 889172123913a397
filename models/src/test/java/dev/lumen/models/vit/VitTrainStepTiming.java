package dev.lumen.models.vit;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.management.OperatingSystemMXBean;
import dev.lumen.memory.Scope;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelOptions;
import dev.lumen.models.ModelRegistry;
import dev.lumen.ops.Losses;
import dev.lumen.optim.AdamW;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * CPU time of one ViT training step (forward, cross-entropy, backward, AdamW, zero grad), the
 * counterpart of bench/peers/vit_step_peer.py: the tiny golden configuration at batch 8 and
 * vit_tiny_patch16_224 at batch 8, 224x224. Opt-in, as it measures rather than checks:
 * {@code mvn test -pl models -Dtest=VitTrainStepTiming -Dlumen.timing=true}.
 */
@EnabledIfSystemProperty(named = "lumen.timing", matches = "true")
class VitTrainStepTiming {

    static long cpuNanos() { return ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime(); }

    /** Mean [cpu ms, wall ms] per step over reps steps after warmup steps (the process CPU clock ticks in 10 ms). */
    static double[] stepTimes(ImageClassifier m, int batch, int img, int classes, int warmup, int reps) {
        Generator gen = new Generator(0);
        Tensor x = Tensor.randn(gen, DType.F32, batch, 3, img, img);
        long[] y = new long[batch];
        for (int i = 0; i < batch; i++) y[i] = gen.nextInt(classes);
        Tensor labels = Tensor.fromLongs(y, batch);
        AdamW opt = new AdamW(m.trainableParameters(), 1e-3, 0.05);
        m.train();
        long c0 = 0, w0 = 0;
        for (int i = 0; i < warmup + reps; i++) {
            if (i == warmup) {
                c0 = cpuNanos();
                w0 = System.nanoTime();
            }
            try (Scope s = Scope.open()) {
                Tensor loss = Losses.crossEntropy(m.forward(x), labels);
                loss.backward();
                assertTrue(Double.isFinite(loss.item()));
                opt.step();
                opt.zeroGrad();
            }
        }
        double[] t = {(cpuNanos() - c0) / 1e6 / reps, (System.nanoTime() - w0) / 1e6 / reps};
        opt.stateDict().tensors().values().forEach(Tensor::close);
        return t;
    }

    @Test
    void tinyConfigAndVitTinyAt224() {
        try (VisionTransformer tiny = VisionTransformerTest.tiny("vit")) {
            double[] t = stepTimes(tiny, 8, 16, 10, 10, 100);
            System.out.printf("tiny vit (img 16, patch 4, dim 32, depth 2), batch 8: cpu %.2f ms, wall %.2f ms per step%n", t[0], t[1]);
        }
        try (ImageClassifier m = ModelRegistry.create("vit_tiny_patch16_224", ModelOptions.defaults())) {
            double[] t = stepTimes(m, 8, 224, 1000, 2, 5);
            System.out.printf("vit_tiny_patch16_224, batch 8, 224x224: cpu %.1f ms, wall %.1f ms per step%n", t[0], t[1]);
        }
    }
}
