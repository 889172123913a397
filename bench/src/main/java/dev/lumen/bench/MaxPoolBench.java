package dev.lumen.bench;

import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.ops.Pooling;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The CPU max pooling of resnet50's stem (3x3, stride 2, padding 1) on its training shape at
 * batch 8 (8x64x112x112 F32): forward alone, and forward plus the input gradient.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class MaxPoolBench {
    private static final int[] K = {3}, S = {2}, P = {1};

    private Tensor x, gout;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(1);
        x = Tensor.randn(g, DType.F32, 8, 64, 112, 112).requiresGrad(true);
        gout = Tensor.randn(g, DType.F32, 8, 64, 56, 56);
    }

    @Benchmark
    public long forward() {
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            return Pooling.maxPool2d(x, K, S, P, false).storage().byteSize();
        }
    }

    @Benchmark
    public long forwardBackward() {
        try (Scope s = Scope.open()) {
            Pooling.maxPool2d(x, K, S, P, false).backward(gout);
            long size = x.grad().storage().byteSize();
            x.setGrad(null);
            return size;
        }
    }
}
