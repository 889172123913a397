package dev.lumen.bench;

import dev.lumen.memory.Scope;
import dev.lumen.ops.OutlookAttention;
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
 * The CPU outlook attention core on VOLO-D1's stage 1 (28x28, C192, 6 heads, k3 p1 s2) with a
 * CPU-sized batch of 4; the same problem as bench/peers/outlook_peer.py. Reports the time of
 * the forward, and of forward plus backward (dv and dlogits).
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class OutlookBench {
    public static final int B = 4, H = 28, W = 28, C = 192, HEADS = 6, K = 3, P = 1;

    @Param({"2", "1"})
    public int stride;

    private Tensor v, logits, gout;
    private double scale;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(1);
        int h = (H + 2 * P - K) / stride + 1, w = (W + 2 * P - K) / stride + 1;
        v = Tensor.randn(g, DType.F32, B, H, W, C).requiresGrad(true);
        logits = Tensor.randn(g, DType.F32, B, h, w, HEADS, K * K, K * K).requiresGrad(true);
        gout = Tensor.randn(g, DType.F32, B, H, W, C);
        scale = 1 / Math.sqrt(C / HEADS);
    }

    @Benchmark
    public double forward() {
        try (Scope s = Scope.open(); var ng = dev.lumen.autograd.GradMode.noGrad()) {
            return OutlookAttention.outlookAttention(v, logits, K, P, stride, scale).storage().byteSize();
        }
    }

    @Benchmark
    public double forwardBackward() {
        try (Scope s = Scope.open()) {
            OutlookAttention.outlookAttention(v, logits, K, P, stride, scale).backward(gout);
            double r = v.grad().storage().byteSize();
            v.setGrad(null);
            logits.setGrad(null);
            return r;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        v.close();
        logits.close();
        gout.close();
    }
}
