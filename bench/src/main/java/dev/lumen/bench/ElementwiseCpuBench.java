package dev.lumen.bench;

import dev.lumen.backend.ElementwiseKernels;
import dev.lumen.backend.ElementwiseKernels.Binary;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The CPU binary element-wise kernels on rcvit_xs stage 1's activation [8, 48, 56, 56] (1.2M
 * floats, 4.8 MB), in the patterns training steps call: same-shape adds (residuals and summed
 * gradients: 47M elements of rcvit_xs's step), a per-channel [1, C, 1, 1] operand over NCHW, a
 * [C] operand over NLC rows, a scalar tensor, and the in-place accumulate. Outputs are
 * allocated once, so the figures are the kernels' alone.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class ElementwiseCpuBench {
    public static final int B = 8, C = 48, H = 56, W = 56;

    private Tensor x, y, out, channel, nlc, row, scalar, acc;
    private ElementwiseKernels k;

    @Setup(Level.Trial)
    public void setup() {
        Generator gen = new Generator(1);
        x = Tensor.randn(gen, DType.F32, B, C, H, W);
        y = Tensor.randn(gen, DType.F32, B, C, H, W);
        out = Tensor.randn(gen, DType.F32, B, C, H, W);
        acc = Tensor.randn(gen, DType.F32, B, C, H, W);
        channel = Tensor.randn(gen, DType.F32, 1, C, 1, 1);
        nlc = Tensor.randn(gen, DType.F32, B, H * W, C);
        row = Tensor.randn(gen, DType.F32, C);
        scalar = Tensor.randn(gen, DType.F32);
        k = x.backend().elementwise();
    }

    @Benchmark
    public Tensor addSameShape() {
        k.binary(Binary.ADD, x, y, out);
        return out;
    }

    @Benchmark
    public Tensor mulPerChannel() {
        k.binary(Binary.MUL, x, channel, out);
        return out;
    }

    @Benchmark
    public Tensor mulPerRowNlc() {
        k.binary(Binary.MUL, nlc, row, out.view(B, H * W, C));
        return out;
    }

    @Benchmark
    public Tensor mulScalarTensor() {
        k.binary(Binary.MUL, x, scalar, out);
        return out;
    }

    @Benchmark
    public Tensor addInPlace() {
        k.addInPlace(acc, x, 1);
        return acc;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, y, out, acc, channel, nlc, row, scalar}) t.close();
    }
}
