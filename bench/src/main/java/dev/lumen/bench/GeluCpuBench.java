package dev.lumen.bench;

import dev.lumen.backend.ElementwiseKernels;
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
 * The CPU GELU kernels (exact and tanh form), forward and derivative, on rcvit_xs stage 1's
 * activation [8, 48, 56, 56] (1.2M floats, 4.8 MB): rcvit_xs calls each 20 times a step
 * (20M elements), vit_small 12 times. The output is allocated once, so the figures are the
 * kernels' alone.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class GeluCpuBench {
    public static final int B = 8, C = 48, H = 56, W = 56;

    @Param({"GELU", "GELU_TANH"})
    public String unary;

    private Tensor x, g, out;
    private ElementwiseKernels k;
    private Unary op;

    @Setup(Level.Trial)
    public void setup() {
        Generator gen = new Generator(1);
        x = Tensor.randn(gen, DType.F32, B, C, H, W);
        g = Tensor.randn(gen, DType.F32, B, C, H, W);
        out = Tensor.randn(gen, DType.F32, B, C, H, W);
        k = x.backend().elementwise();
        op = Unary.valueOf(unary);
    }

    @Benchmark
    public Tensor unaryForward() {
        k.unary(op, x, 0, 0, out);
        return out;
    }

    @Benchmark
    public Tensor unaryDerivative() {
        k.unaryBackward(op, x, 0, 0, g, out);
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, g, out}) t.close();
    }
}
