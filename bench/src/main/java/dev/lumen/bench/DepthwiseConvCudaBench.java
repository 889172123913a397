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
 * The depth-wise convolution on the device as the models call it, conv2d with groups = C through
 * Backend.conv() (which routes F32 to dwconv.cu, and F16's forward and input gradient to dwconv_tc.cu's
 * tensor cores, its weight gradient to dwconv.cu): RepLKNet-31B stage 1, B64 C128 56x56 with a
 * 31x31 kernel, padding 15 (the README's kernel table problem); under the emulator B1 C4 19x19.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@OperationsPerInvocation(BenchDevice.REPS)
@Warmup(iterations = 2, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class DepthwiseConvCudaBench {
    static final int KERNEL = 31;

    @Param({"F32", "F16"})
    public DType dtype;

    private ConvKernels kernels;
    private Window window;
    private int channels;
    private Tensor x, weight, bias, out, gradOut, gradX, gradWeight;
    private Work forwardWork, inputWork, weightWork;

    @Setup(Level.Trial)
    public void setup() {
        kernels = BenchDevice.backend().conv();
        boolean tiny = BenchDevice.emulated();
        int b = tiny ? 1 : 64, hw = tiny ? 19 : 56;
        channels = tiny ? 4 : 128;
        window = new Window(KERNEL, KERNEL, 1, 1, KERNEL / 2, KERNEL / 2, 1, 1);
        Generator g = new Generator(14);
        x = BenchDevice.randn(g, dtype, 1, b, channels, hw, hw);
        weight = BenchDevice.randn(g, dtype, 1.0 / KERNEL, channels, 1, KERNEL, KERNEL);
        bias = BenchDevice.randn(g, dtype, 0.1, channels);
        gradOut = BenchDevice.randn(g, dtype, 1, b, channels, hw, hw);
        out = BenchDevice.empty(dtype, b, channels, hw, hw);
        gradX = BenchDevice.empty(dtype, b, channels, hw, hw);
        gradWeight = BenchDevice.empty(dtype, channels, 1, KERNEL, KERNEL);
        double macs = (double) x.numel() * KERNEL * KERNEL;
        forwardWork = Work.traffic(x, weight, bias, out).plusFlops(2 * macs);
        inputWork = Work.traffic(gradOut, weight, gradX).plusFlops(2 * macs);
        weightWork = Work.traffic(x, gradOut, gradWeight).plusFlops(2 * macs);
    }

    @Benchmark
    public void forward(DeviceTimer t) {
        t.time(forwardWork, () -> kernels.conv2d(x, weight, bias, window, channels, out));
    }

    @Benchmark
    public void backwardInput(DeviceTimer t) {
        t.time(inputWork, () -> kernels.conv2dBackwardInput(gradOut, weight, window, channels, gradX));
    }

    @Benchmark
    public void backwardWeight(DeviceTimer t) {
        t.time(weightWork, () -> kernels.conv2dBackwardWeight(gradOut, x, window, channels, gradWeight));
    }

    @TearDown(Level.Trial)
    public void tearDown() { BenchDevice.close(x, weight, bias, out, gradOut, gradX, gradWeight); }
}
