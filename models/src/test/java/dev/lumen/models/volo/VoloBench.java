package dev.lumen.models.volo;

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

/**
 * CPU time of one training step (forward, backward, AdamW), for the report: "tiny" is the
 * golden's tiny configuration at 40x40, batch 2 (tools/golden/gen_model_volo.py --bench runs
 * the PyTorch peer); a variant name runs it at the given size and batch. Process CPU time
 * (all threads) and wall time are printed per step, after warm-up steps.
 * Usage: VoloBench tiny|volo_d1 [imgSize batch warmup steps]
 */
public final class VoloBench {
    private VoloBench() {}

    static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    public static void main(String[] args) {
        String what = args.length > 0 ? args[0] : "tiny";
        boolean tiny = what.equals("tiny");
        int img = args.length > 1 ? Integer.parseInt(args[1]) : tiny ? 40 : 224;
        int batch = args.length > 2 ? Integer.parseInt(args[2]) : tiny ? 2 : 8;
        int warmup = args.length > 3 ? Integer.parseInt(args[3]) : tiny ? 20 : 1;
        int steps = args.length > 4 ? Integer.parseInt(args[4]) : tiny ? 50 : 2;
        long c0 = cpuNanos(), w0 = System.nanoTime();
        ImageClassifier m = tiny ? new Volo(VoloTest.tiny(), VoloTest.tinyOptions(), new Generator(1))
                : ModelRegistry.create(what, ModelOptions.defaults().withImgSize(img));
        System.out.printf("%s built: %.2f s CPU, %.2f s wall, %d params%n", what, (cpuNanos() - c0) / 1e9, (System.nanoTime() - w0) / 1e9, m.numParameters());
        Generator gen = new Generator(3);
        AdamW opt = new AdamW(m.trainableParameters(), 1e-4, 0.05);
        m.train();
        int classes = m.numClasses();
        double cpu = 0, wall = 0;
        for (int i = 0; i < warmup + steps; i++) {
            try (Scope s = Scope.open()) {
                Tensor x = Tensor.randn(gen, DType.F32, batch, 3, img, img);
                long[] lab = new long[batch];
                for (int j = 0; j < batch; j++) lab[j] = (j * 7) % classes;
                Tensor labels = Tensor.fromLongs(lab, batch);
                long c = cpuNanos(), w = System.nanoTime();
                opt.zeroGrad();
                Tensor loss = Losses.crossEntropy(m.forward(x), labels);
                loss.backward();
                opt.step();
                double dc = (cpuNanos() - c) / 1e9, dw = (System.nanoTime() - w) / 1e9;
                if (i >= warmup) { cpu += dc; wall += dw; }
                if (!tiny) System.out.printf("step %d: loss %.4f, %.2f s CPU, %.2f s wall%n", i, loss.item(), dc, dw);
            }
        }
        System.out.printf("%s img %d batch %d: %.4f s CPU / step, %.4f s wall / step (mean of %d after %d warm-up)%n",
                what, img, batch, cpu / steps, wall / steps, steps, warmup);
        m.close();
    }
}
