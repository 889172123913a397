package dev.lumen.bench;

import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.ops.SelectiveScan;
import dev.lumen.backend.SelectiveScanKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
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
 * The CPU selective 2-D scan op (dev.lumen.ops.SelectiveScan), forward and forward+backward,
 * at VMamba-T stage 1 (56x56 tokens, D = 96, 4 routes) scaled to this 2-core machine: batch 1
 * instead of 64. N = 1 is VMamba-T's d_state; N = 16 is Mamba's default. The same cases as
 * bench/peers/selective_scan_peer.py.
 *
 * <p>Mode is throughput, so the score is ops/s (time per op = 1/score) and the {@code bytes}
 * counter reads as bytes/s: the compulsory traffic of one op (each input read once, each output
 * written once, the saved chunk states included), so it is the achieved bandwidth in GB/s * 1e9.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class SelectiveScanBench {
    @Param({"1", "16"})
    public int n;

    private static final int B = 1, D = 96, H = 56, W = 56;

    private Tensor x, delta, a, bs, cs, ds, bias;
    private long fwdBytes, bwdBytes;

    /** Bytes moved per invocation, reported as a rate. */
    @State(org.openjdk.jmh.annotations.Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Traffic {
        public long bytes;
    }

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(1);
        int l = H * W;
        try (GradMode ng = GradMode.noGrad()) {
            x = Tensor.randn(g, DType.F32, B, D, H, W);
            delta = Tensor.randn(g, DType.F32, B, 4, D, l).mul(0.5);
            a = Tensor.rand(g, DType.F32, 4 * D, n).add(0.5).neg();
            bs = Tensor.randn(g, DType.F32, B, 4, n, l);
            cs = Tensor.randn(g, DType.F32, B, 4, n, l);
            ds = Tensor.randn(g, DType.F32, 4 * D);
            bias = Tensor.rand(g, DType.F32, 4 * D).add(-2);
        }
        long xb = 4L * B * D * l, db = 4L * B * 4 * D * l, bcb = 2 * 4L * B * 4 * n * l, params = 4L * 4 * D * (n + 2);
        long states = 4L * B * 4 * D * SelectiveScanKernels.chunks(l) * n;
        fwdBytes = xb + db + bcb + params + xb + states;
        // backward: reads x, delta, B, C, params, states, dL/dy; writes every gradient
        bwdBytes = fwdBytes + (xb + db + bcb + params + states + xb) + (xb + db + bcb + params);
    }

    @Benchmark
    public Tensor forward(Traffic t) {
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            Tensor y = SelectiveScan.selectiveScan2d(x, delta, a, bs, cs, ds, bias);
            t.bytes += fwdBytes - 4L * B * 4 * D * SelectiveScanKernels.chunks(H * W) * n; // no states without grad
            return y;
        }
    }

    @Benchmark
    public Tensor forwardBackward(Traffic t) {
        try (Scope s = Scope.open()) {
            Tensor[] in = {x.detach().requiresGrad(true), delta.detach().requiresGrad(true), a.detach().requiresGrad(true),
                bs.detach().requiresGrad(true), cs.detach().requiresGrad(true), ds.detach().requiresGrad(true),
                bias.detach().requiresGrad(true)};
            Tensor y = SelectiveScan.selectiveScan2d(in[0], in[1], in[2], in[3], in[4], in[5], in[6]);
            y.backward(Tensor.ones(B, D, H, W));
            t.bytes += bwdBytes;
            return in[0].grad();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, delta, a, bs, cs, ds, bias}) t.close();
    }
}
