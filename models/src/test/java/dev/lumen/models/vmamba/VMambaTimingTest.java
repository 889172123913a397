package dev.lumen.models.vmamba;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelOptions;
import dev.lumen.models.ModelRegistry;
import dev.lumen.optim.AdamW;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * CPU time of one training step (forward, cross-entropy, backward, AdamW), for the report:
 * the tiny golden configurations at batch 2, 36x36 (mean of 10 steps after 5 warm-ups) (tools/golden/gen_model_vmamba.py --bench
 * times PyTorch on the same), and vmamba_tiny at batch 8, 224x224. Process CPU time (all
 * threads), so that other load on the machine does not count. Runs only with
 * -Dlumen.timing=true.
 */
@EnabledIfSystemProperty(named = "lumen.timing", matches = "true")
class VMambaTimingTest {

    private static double cpuSeconds() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime() / 1e9;
    }

    /** {cpu, wall} seconds per training step: the mean of steps steps after warmup ones. */
    private static double[] step(ImageClassifier m, int batch, int size, int warmup, int steps) {
        Generator gen = new Generator(5);
        AdamW opt = new AdamW(m.trainableParameters(), 1e-3, 0.05);
        m.train();
        double c0 = 0;
        long w0 = 0;
        for (int i = 0; i < warmup + steps; i++) {
            if (i == warmup) {
                c0 = cpuSeconds();
                w0 = System.nanoTime();
            }
            try (Scope s = Scope.open()) {
                Tensor x = Tensor.randn(gen, DType.F32, batch, 3, size, size);
                long[] lab = new long[batch];
                for (int j = 0; j < batch; j++) lab[j] = j % m.numClasses();
                Tensor loss = VMambaTest.crossEntropy(m.forward(x), Tensor.fromLongs(lab, batch));
                m.zeroGrad();
                loss.backward();
                opt.step();
                assertTrue(Double.isFinite(loss.item()));
            }
        }
        return new double[] {(cpuSeconds() - c0) / steps, (System.nanoTime() - w0) / 1e9 / steps};
    }

    @Test
    void tinyConfigurations() {
        for (String c : new String[] {"s1", "s4", "v0"}) {
            try (VMamba m = new VMamba(VMambaTest.tiny(c), ModelOptions.defaults().withNumClasses(10))) {
                double[] t = step(m, 2, 36, 5, 10);
                System.out.printf("lumen tiny %s: train step cpu %.1f ms (wall %.1f ms), batch 2, 36x36%n", c, t[0] * 1e3, t[1] * 1e3);
            }
        }
    }

    @Test
    void vmambaTinyAt224() {
        try (ImageClassifier m = ModelRegistry.create("vmamba_tiny")) {
            double[] t = step(m, 8, 224, 1, Integer.getInteger("lumen.timing.steps", 1));
            System.out.printf("lumen vmamba_tiny: train step cpu %.2f s (wall %.2f s), batch 8, 224x224%n", t[0], t[1]);
        }
    }
}
