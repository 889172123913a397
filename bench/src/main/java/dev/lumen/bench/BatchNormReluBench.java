package dev.lumen.bench;

import dev.lumen.backend.ElementwiseKernels.Unary;
import dev.lumen.backend.NormKernels;
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
 * The CPU training batch norm followed by ReLU on ResNet-50's four stage shapes at batch 8
 * (C x HxW: 64x56x56, 128x28x28, 256x14x14, 512x7x7), F32, through the backend's kernels:
 * fused (one affine pass writing the ReLU; the backward reading the mask from the output) against
 * composed (batch norm, then the RELU map over its output; RELU's backward into a temporary, then
 * batch norm's), forward and backward each. The 7x7 rows also show the channel sums' cost.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class BatchNormReluBench {
    public static final int N = 8;

    /** channels x height (= width). */
    @Param({"64x56", "128x28", "256x14", "512x7"})
    public String shape;

    private NormKernels norms;
    private Tensor x, weight, bias, mean, var, out, gradOut, masked, gradX, gradWeight, gradBias;

    @Setup(Level.Trial)
    public void setup() {
        String[] p = shape.split("x");
        int c = Integer.parseInt(p[0]), hw = Integer.parseInt(p[1]);
        int[] sh = {N, c, hw * hw};
        Generator g = new Generator(1);
        x = Tensor.randn(g, DType.F32, sh);
        gradOut = Tensor.randn(g, DType.F32, sh);
        weight = Tensor.randn(g, DType.F32, c);
        bias = Tensor.randn(g, DType.F32, c);
        mean = Tensor.empty(DType.F32, x.device(), c);
        var = Tensor.empty(DType.F32, x.device(), c);
        out = Tensor.empty(DType.F32, x.device(), sh);
        masked = Tensor.empty(DType.F32, x.device(), sh);
        gradX = Tensor.empty(DType.F32, x.device(), sh);
        gradWeight = Tensor.empty(DType.F32, x.device(), c);
        gradBias = Tensor.empty(DType.F32, x.device(), c);
        norms = x.backend().norms();
        norms.batchNormReluForward(x, weight, bias, 1e-5, true, mean, var, out);
    }

    @Benchmark
    public Tensor fusedForward() {
        norms.batchNormReluForward(x, weight, bias, 1e-5, true, mean, var, out);
        return out;
    }

    @Benchmark
    public Tensor composedForward() {
        norms.batchNormForward(x, weight, bias, 1e-5, true, mean, var, out);
        x.backend().elementwise().unary(Unary.RELU, out, 0, 0, out);
        return out;
    }

    @Benchmark
    public Tensor fusedBackward() {
        norms.batchNormReluBackward(gradOut, out, x, weight, mean, var, 1e-5, true, gradX, gradWeight, gradBias);
        return gradX;
    }

    @Benchmark
    public Tensor composedBackward() {
        x.backend().elementwise().unaryBackward(Unary.RELU, out, 0, 0, gradOut, masked);
        norms.batchNormBackward(masked, x, weight, mean, var, 1e-5, true, gradX, gradWeight, gradBias);
        return gradX;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, weight, bias, mean, var, out, gradOut, masked, gradX, gradWeight, gradBias}) t.close();
    }
}
