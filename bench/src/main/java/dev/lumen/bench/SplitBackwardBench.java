package dev.lumen.bench;

import dev.lumen.memory.Scope;
import dev.lumen.ops.Shaping;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Backward through views of parts of one tensor, as training steps take them: vit_small's qkv
 * [3, 8, 6, 197, 64] cut into q, k and v (select along dim 0, 12 times a step), and
 * res2net50_26w_4s's first stage-1 conv output [8, 104, 56, 56] split into four 26-channel
 * parts (16 blocks a step). Each part is scaled by its own factor and summed, so the backward
 * is the views' gradients into their input plus the scaling.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class SplitBackwardBench {
    @Param({"vit_qkv", "res2net_split"})
    public String pattern;

    private Tensor x;

    @Setup(Level.Trial)
    public void setup() {
        int[] shape = pattern.equals("vit_qkv") ? new int[] {3, 8, 6, 197, 64} : new int[] {8, 104, 56, 56};
        x = Scope.detachFromScopes(Tensor.randn(new Generator(1), DType.F32, shape)).requiresGrad(true);
    }

    @Benchmark
    public Tensor forwardBackward() {
        try (Scope s = Scope.open()) {
            List<Tensor> parts = pattern.equals("vit_qkv") ? List.of(x.select(0, 0), x.select(0, 1), x.select(0, 2)) : Shaping.split(x, 26, 1);
            Tensor loss = null;
            for (int i = 0; i < parts.size(); i++) {
                Tensor term = parts.get(i).mul(i + 1.0).sum();
                loss = loss == null ? term : loss.add(term);
            }
            loss.backward();
        }
        Tensor g = x.grad();
        x.setGrad(null);
        g.close();
        return x;
    }
}
