package dev.lumen.models.replknet;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.lumen.memory.Scope;
import dev.lumen.models.ModelOptions;
import dev.lumen.models.ModelRegistry;
import dev.lumen.nn.Module;
import dev.lumen.optim.AdamW;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * CPU time of training steps, for the note; runs only with -Dlumen.timing=true
 * (mvn test -pl models -Dtest=RepLKNetTimingTest -Dlumen.test.flags=-Dlumen.timing=true).
 * The tiny step is the same as tools/golden/gen_model_replknet.py --bench times in PyTorch.
 */
class RepLKNetTimingTest {

    static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /**
     * Process CPU time per step (mean over steps: the clock ticks in 10 ms) and median and
     * minimum wall time, after warmup steps.
     */
    static void time(String what, Module m, Tensor x, Tensor labels, int warmup, int steps) {
        AdamW opt = new AdamW(m.trainableParameters(), 1e-3, 0.05);
        m.train();
        double[] wall = new double[steps];
        long cpuStart = 0;
        for (int i = 0; i < warmup + steps; i++) {
            if (i == warmup) cpuStart = cpuNanos();
            long w0 = System.nanoTime();
            try (Scope s = Scope.open()) {
                m.zeroGrad();
                Tensor loss = RepLKNetTest.crossEntropy(((dev.lumen.nn.Layer) m).forward(x), labels);
                loss.backward();
                opt.step();
                assertTrue(Double.isFinite(loss.item()));
            }
            if (i >= warmup) wall[i - warmup] = (System.nanoTime() - w0) / 1e6;
        }
        double cpu = (cpuNanos() - cpuStart) / 1e6 / steps;
        Arrays.sort(wall);
        System.out.printf("%s: CPU %.1f ms per step, wall median %.1f ms (min %.1f), %d steps%n", what, cpu, wall[steps / 2], wall[0], steps);
    }

    @Test
    void tinyTrainingStep() {
        assumeTrue(Boolean.getBoolean("lumen.timing"));
        Generator gen = new Generator(0);
        try (RepLKNet m = new RepLKNet(RepLKNetTest.tiny("tiny"), RepLKNetTest.TEN)) {
            Tensor x = Tensor.randn(gen, DType.F32, 2, 3, 48, 48);
            time("tiny replknet, batch 2, 48x48", m, x, Tensor.fromLongs(new long[] {3, 7}, 2), 10, 50);
        }
    }

    @Test
    void replknet31bAt224Batch8() {
        assumeTrue(Boolean.getBoolean("lumen.timing"));
        Generator gen = new Generator(0);
        try (Module m = ModelRegistry.create("replknet_31b", ModelOptions.defaults())) {
            Tensor x = Tensor.randn(gen, DType.F32, 8, 3, 224, 224);
            time("replknet_31b, batch 8, 224x224", m, x, Tensor.fromLongs(new long[] {1, 2, 3, 4, 5, 6, 7, 8}, 8),
                    Integer.getInteger("lumen.timing.warmup", 1), Integer.getInteger("lumen.timing.steps", 2));
        }
    }
}
