package dev.lumen.bench;

import dev.lumen.backend.ElementwiseKernels;
import dev.lumen.backend.ElementwiseKernels.Binary;
import dev.lumen.backend.ElementwiseKernels.Unary;
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
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * ResNet's residual join relu(y + shortcut) on the block outputs of resnet50's four stages at
 * batch 8 (25.7 to 3.2 MB per tensor, past the caches): the fused kernel (one pass, read two and
 * write one) against ADD into the output then RELU over it in place, which training ran before.
 * The output is allocated once, so the figures are the kernels' alone.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class AddReluBench {
    /** Channels x side of a stage's block output; batch 8. */
    @Param({"256x56", "512x28", "1024x14", "2048x7"})
    public String stage;

    private Tensor y, shortcut, out;
    private ElementwiseKernels k;

    @Setup(Level.Trial)
    public void setup() {
        String[] cs = stage.split("x");
        int c = Integer.parseInt(cs[0]), side = Integer.parseInt(cs[1]);
        Generator gen = new Generator(1);
        y = Tensor.randn(gen, DType.F32, 8, c, side, side);
        shortcut = Tensor.randn(gen, DType.F32, 8, c, side, side);
        out = Tensor.empty(DType.F32, y.device(), 8, c, side, side);
        k = y.backend().elementwise();
    }

    @Benchmark
    public Tensor fused() {
        k.addRelu(y, shortcut, out);
        return out;
    }

    @Benchmark
    public Tensor addThenRelu() {
        k.binary(Binary.ADD, y, shortcut, out);
        k.unary(Unary.RELU, out, 0, 0, out);
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {y, shortcut, out}) t.close();
    }
}
