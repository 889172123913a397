package dev.lumen.bench;

import dev.lumen.memory.Scope;
import dev.lumen.ops.AdditiveAttention;
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
 * The CPU additive token mixer core on CAS-ViT-XS stage 1 (C48, 56x56) with a CPU-sized batch
 * of 4, in training mode (batch statistics); the same problem as
 * bench/peers/additive_attention_peer.py. Forward, and forward plus every gradient.
 *
 * <p>Ten warm-up seconds: the kernels' Vector API code runs some hundred times slower until C2
 * has compiled it, and on this 2-core machine that took about five seconds (forward+backward
 * measured 2228, 1313, 656, 150, 31, then 12 to 17 ms/op per warm-up second), so with three
 * warm-up seconds the measurement still timed the JIT.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 10, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class AdditiveAttentionBench {
    public static final int B = 4, C = 48, H = 56, W = 56;

    private Tensor q, k, v, gout, dwc, dwcBias;
    private AdditiveAttention.Gate gq, gk;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(1);
        q = Tensor.randn(g, DType.F32, B, C, H, W).requiresGrad(true);
        k = Tensor.randn(g, DType.F32, B, C, H, W).requiresGrad(true);
        v = Tensor.randn(g, DType.F32, B, C, H, W).requiresGrad(true);
        gout = Tensor.randn(g, DType.F32, B, C, H, W);
        gq = gate(g);
        gk = gate(g);
        dwc = Tensor.randn(g, DType.F32, C, 1, 3, 3).mul(0.3).requiresGrad(true);
        dwcBias = Tensor.zeros(C).requiresGrad(true);
    }

    private static AdditiveAttention.Gate gate(Generator g) {
        return new AdditiveAttention.Gate(Tensor.randn(g, DType.F32, C, 1, 3, 3).mul(0.3).requiresGrad(true),
                Tensor.zeros(C).requiresGrad(true), Tensor.ones(C).requiresGrad(true), Tensor.zeros(C).requiresGrad(true),
                Tensor.zeros(C), Tensor.ones(C), Tensor.randn(g, DType.F32, 1, C, 1, 1).mul(0.2).requiresGrad(true),
                Tensor.randn(g, DType.F32, C, C, 1, 1).mul(0.2).requiresGrad(true));
    }

    private Tensor run() { return AdditiveAttention.additiveAttention(q, k, v, gq, gk, dwc, dwcBias, true, 0.1, 1e-5); }

    @Benchmark
    public double forward() {
        try (Scope s = Scope.open(); var ng = dev.lumen.autograd.GradMode.noGrad()) {
            return run().storage().byteSize();
        }
    }

    @Benchmark
    public double forwardBackward() {
        try (Scope s = Scope.open()) {
            run().backward(gout);
            double r = q.grad().storage().byteSize();
            for (Tensor t : new Tensor[] {q, k, v, dwc, dwcBias, gq.dwWeight(), gq.dwBias(), gq.bnWeight(), gq.bnBias(),
                gq.spatialWeight(), gq.channelWeight(), gk.dwWeight(), gk.dwBias(), gk.bnWeight(), gk.bnBias(),
                gk.spatialWeight(), gk.channelWeight()}) t.setGrad(null);
            return r;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {q, k, v, gout, dwc, dwcBias}) t.close();
    }
}
