package dev.lumen.bench;

import dev.lumen.backend.OutlookKernels;
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
 * The outlook attention core on the device (Backend.outlook()): VOLO-D1 stage 1, B64 28x28
 * C192, 6 heads, k3 p1 s2 (the README's kernel table problem); under the emulator B1 7x7 C12.
 * backward computes both gradients, as training does.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@OperationsPerInvocation(BenchDevice.REPS)
@Warmup(iterations = 2, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class OutlookCudaBench {
    static final int K = 3, P = 1, S = 2;

    @Param({"F32", "F16"})
    public DType dtype;

    private OutlookKernels kernels;
    private Tensor v, logits, out, gradOut, gradV, gradLogits;
    private double scale;
    private Work forwardWork, backwardWork;

    @Setup(Level.Trial)
    public void setup() {
        kernels = BenchDevice.backend().outlook();
        boolean tiny = BenchDevice.emulated();
        int b = tiny ? 1 : 64, hw = tiny ? 7 : 28, c = tiny ? 12 : 192, heads = tiny ? 2 : 6;
        int oh = (hw + 2 * P - K) / S + 1;
        Generator g = new Generator(11);
        v = BenchDevice.randn(g, dtype, 1, b, hw, hw, c);
        logits = BenchDevice.randn(g, dtype, 1, b, oh, oh, heads, K * K, K * K);
        gradOut = BenchDevice.randn(g, dtype, 1, b, hw, hw, c);
        out = BenchDevice.empty(dtype, b, hw, hw, c);
        gradV = BenchDevice.empty(dtype, b, hw, hw, c);
        gradLogits = BenchDevice.empty(dtype, b, oh, oh, heads, K * K, K * K);
        scale = 1 / Math.sqrt(c / heads);
        // Per window and head: softmax over k*k (a few flops each) and a k*k by k*k times k*k by C/heads product.
        double windows = (double) b * oh * oh * heads;
        double products = 2.0 * windows * K * K * K * K * (c / heads);
        forwardWork = Work.traffic(v, logits, out).plusFlops(products);
        backwardWork = Work.traffic(v, logits, gradOut, gradV, gradLogits).plusFlops(2 * products);
    }

    @Benchmark
    public void forward(DeviceTimer t) {
        t.time(forwardWork, () -> kernels.outlookForward(v, logits, K, P, S, scale, out));
    }

    @Benchmark
    public void backward(DeviceTimer t) {
        t.time(backwardWork, () -> kernels.outlookBackward(v, logits, gradOut, K, P, S, scale, gradV, gradLogits));
    }

    @TearDown(Level.Trial)
    public void tearDown() { BenchDevice.close(v, logits, out, gradOut, gradV, gradLogits); }
}
