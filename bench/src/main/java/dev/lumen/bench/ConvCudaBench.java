package dev.lumen.bench;

import dev.lumen.backend.ConvKernels;
import dev.lumen.backend.ConvKernels.Window;
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
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A dense convolution on cuDNN through Backend.conv(): ResNet-50's stage-1 3x3 conv, B64
 * C64 -> 64 at 56x56, padding 1, no bias; under the emulator (emulated cuDNN) B2 C4 9x9.
 * F32 runs FMA math (no TF32, as the backend configures it); BF16 runs on tensor cores.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@OperationsPerInvocation(BenchDevice.REPS)
@Warmup(iterations = 2, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class ConvCudaBench {
    @Param({"F32", "BF16"})
    public DType dtype;

    private ConvKernels kernels;
    private final Window window = new Window(3, 3, 1, 1, 1, 1, 1, 1);
    private Tensor x, weight, out, gradOut, gradX, gradWeight;
    private Work forwardWork, inputWork, weightWork;

    @Setup(Level.Trial)
    public void setup() {
        kernels = BenchDevice.backend().conv();
        boolean tiny = BenchDevice.emulated();
        int b = tiny ? 2 : 64, c = tiny ? 4 : 64, hw = tiny ? 9 : 56;
        Generator g = new Generator(15);
        x = BenchDevice.randn(g, dtype, 1, b, c, hw, hw);
        weight = BenchDevice.randn(g, dtype, 1.0 / Math.sqrt(9.0 * c), c, c, 3, 3);
        gradOut = BenchDevice.randn(g, dtype, 1, b, c, hw, hw);
        out = BenchDevice.empty(dtype, b, c, hw, hw);
        gradX = BenchDevice.empty(dtype, b, c, hw, hw);
        gradWeight = BenchDevice.empty(dtype, c, c, 3, 3);
        double flops = 2.0 * out.numel() * c * 9;
        forwardWork = Work.traffic(x, weight, out).plusFlops(flops);
        inputWork = Work.traffic(gradOut, weight, gradX).plusFlops(flops);
        weightWork = Work.traffic(x, gradOut, gradWeight).plusFlops(flops);
    }

    @Benchmark
    public void forward(DeviceTimer t) {
        t.time(forwardWork, () -> kernels.conv2d(x, weight, null, window, 1, out));
    }

    @Benchmark
    public void backwardInput(DeviceTimer t) {
        t.time(inputWork, () -> kernels.conv2dBackwardInput(gradOut, weight, window, 1, gradX));
    }

    @Benchmark
    public void backwardWeight(DeviceTimer t) {
        t.time(weightWork, () -> kernels.conv2dBackwardWeight(gradOut, x, window, 1, gradWeight));
    }

    @TearDown(Level.Trial)
    public void tearDown() { BenchDevice.close(x, weight, out, gradOut, gradX, gradWeight); }
}
