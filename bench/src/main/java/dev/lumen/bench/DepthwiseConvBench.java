package dev.lumen.bench;

import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.ops.Convolution;
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
 * The CPU depth-wise convolution as the models call it (conv2d with groups = C, F32, stride 1,
 * "same" padding, bias) on RepLKNet-31B stage 1 (C128, 56x56) with the 31x31 large kernel and
 * a 7x7 one, at batch 1 (scaled to a 2-core machine); the same problem as
 * bench/peers/depthwise_conv_peer.py. Forward, and forward plus the input, weight and bias
 * gradients.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class DepthwiseConvBench {
    public static final int B = 1, C = 128, H = 56, W = 56;

    @Param({"31", "7"})
    public int kernel;

    private Tensor x, weight, bias, gout;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(1);
        x = Tensor.randn(g, DType.F32, B, C, H, W).requiresGrad(true);
        weight = Tensor.randn(g, DType.F32, C, 1, kernel, kernel).mul(1.0 / kernel).requiresGrad(true);
        bias = Tensor.randn(g, DType.F32, C).mul(0.1).requiresGrad(true);
        gout = Tensor.randn(g, DType.F32, B, C, H, W);
    }

    private Tensor run() {
        return Convolution.conv2d(x, weight, bias, new int[] {1}, new int[] {kernel / 2}, new int[] {1}, C);
    }

    @Benchmark
    public double forward() {
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            return run().storage().byteSize();
        }
    }

    @Benchmark
    public double forwardBackward() {
        try (Scope s = Scope.open()) {
            run().backward(gout);
            double r = x.grad().storage().byteSize();
            x.setGrad(null);
            weight.setGrad(null);
            bias.setGrad(null);
            return r;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, weight, bias, gout}) t.close();
    }
}
