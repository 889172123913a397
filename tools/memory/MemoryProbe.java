import dev.lumen.autograd.GradMode;
import dev.lumen.memory.CachingAllocator;
import dev.lumen.memory.Scope;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelRegistry;
import dev.lumen.ops.Losses;
import dev.lumen.optim.AdamW;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Peak memory of a training step or an eval forward, split into the JVM's part and the tensors'.
 * java MemoryProbe.java MODEL train|eval BATCH STEPS (see tools/memory/probe.sh).
 */
public class MemoryProbe {
    public static void main(String[] a) throws Exception {
        String model = a[0];
        boolean train = a[1].equals("train");
        int batch = Integer.parseInt(a[2]), steps = Integer.parseInt(a[3]);
        Generator gen = new Generator(0);
        ImageClassifier net = ModelRegistry.create(model);
        net.train(train);
        AdamW opt = train ? new AdamW(net.parameters(), 1e-3, 0.05) : null;
        long[] labels = new long[batch];
        for (int i = 0; i < batch; i++) labels[i] = i % 1000;
        for (int s = 0; s < steps; s++) {
            long t0 = System.nanoTime();
            try (Scope step = Scope.open()) {
                Tensor x = Tensor.randn(gen, DType.F32, batch, 3, 224, 224);
                if (train) {
                    Tensor loss = Losses.crossEntropy(net.forward(x), Tensor.fromLongs(labels, batch));
                    opt.zeroGrad();
                    loss.backward();
                    opt.step();
                } else {
                    try (GradMode ng = GradMode.noGrad()) {
                        net.forward(x).toFloats();
                    }
                }
            }
            System.out.printf("step %d: %.2f s%n", s, (System.nanoTime() - t0) / 1e9);
        }
        CachingAllocator c = CachingAllocator.host();
        long heapUsed = 0, heapCommitted = 0, nonHeap = 0;
        StringBuilder pools = new StringBuilder();
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            long committed = p.getUsage().getCommitted();
            if (p.getType() == java.lang.management.MemoryType.HEAP) {
                heapUsed += p.getPeakUsage().getUsed();
                heapCommitted += committed;
            } else {
                nonHeap += committed;
            }
            pools.append(String.format(" %s=%.0f", p.getName().replace(' ', '_'), committed / 1048576.0));
        }
        String status = Files.readString(Path.of("/proc/self/status"));
        String hwm = status.lines().filter(l -> l.startsWith("VmHWM")).findFirst().orElse("?").replaceAll("\\s+", " ");
        System.out.printf("%s %s batch %d: %s | tensors peak live %.0f MiB, cached %.0f MiB | heap committed %.0f MiB (peak used %.0f) |"
                + " non-heap committed %.0f MiB |%s%n", model, train ? "train" : "eval", batch, hwm, c.peakLiveBytes() / 1048576.0,
                c.cachedBytes() / 1048576.0, heapCommitted / 1048576.0, heapUsed / 1048576.0, nonHeap / 1048576.0, pools);
    }
}
