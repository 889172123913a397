package dev.lumen.bench;

import dev.lumen.backend.ElementwiseKernels;
import dev.lumen.backend.ElementwiseKernels.Unary;
import dev.lumen.ops.Elementwise;
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
 * The CPU unary kernels whose math runs in two stages per block (tanh, softplus, log: the
 * exp or the log's reduction into a small array, then the rest; GELU has its own
 * GeluCpuBench), and two one-loop ones beside them (SiLU, sigmoid), forward and derivative,
 * on rcvit_xs stage 1's activation [8, 48, 56, 56]. Before the stages, tanh, softplus and log
 * boxed their vectors (7-22 MB of garbage per call): {@code -prof gc} shows the allocation
 * per call. log runs on |x| + 0.1. The output is allocated once.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class UnaryCpuBench {
    public static final int B = 8, C = 48, H = 56, W = 56;

    @Param({"TANH", "SOFTPLUS", "LOG", "SILU", "SIGMOID"})
    public String unary;

    private Tensor x, g, out;
    private ElementwiseKernels k;
    private Unary op;
    /** softplus's beta and threshold (torch's defaults); unused by the others. */
    private double p0, p1;

    @Setup(Level.Trial)
    public void setup() {
        Generator gen = new Generator(1);
        op = Unary.valueOf(unary);
        x = Tensor.randn(gen, DType.F32, B, C, H, W);
        if (op == Unary.LOG) {
            Tensor magnitude = Elementwise.abs(x), positive = magnitude.add(0.1);
            magnitude.close();
            x.close();
            x = positive;
        }
        g = Tensor.randn(gen, DType.F32, B, C, H, W);
        out = Tensor.randn(gen, DType.F32, B, C, H, W);
        k = x.backend().elementwise();
        p0 = op == Unary.SOFTPLUS ? 1 : 0;
        p1 = op == Unary.SOFTPLUS ? 20 : 0;
    }

    @Benchmark
    public Tensor unaryForward() {
        k.unary(op, x, p0, p1, out);
        return out;
    }

    @Benchmark
    public Tensor unaryDerivative() {
        k.unaryBackward(op, x, p0, p1, g, out);
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, g, out}) t.close();
    }
}
