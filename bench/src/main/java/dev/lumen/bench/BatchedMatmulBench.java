package dev.lumen.bench;

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
 * Attention's batched matmuls on vit_small_patch16_224 at batch 8 (8 x 6 heads, 197 tokens, head
 * width 64): scores q k^T and the weighted sum p v, the two shapes its forward and backward run
 * 72 times a step. The inputs need no grad, so nothing is recorded; the product is allocated per
 * call, as the op does.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class BatchedMatmulBench {
    private Tensor q, kT, p, v;

    @Setup(Level.Trial)
    public void setup() {
        Generator gen = new Generator(1);
        q = Tensor.randn(gen, DType.F32, 8, 6, 197, 64);
        kT = Tensor.randn(gen, DType.F32, 8, 6, 197, 64).transpose(2, 3);
        p = Tensor.randn(gen, DType.F32, 8, 6, 197, 197);
        v = Tensor.randn(gen, DType.F32, 8, 6, 197, 64);
    }

    @Benchmark
    public float scores() {
        try (Tensor s = q.matmul(kT)) {
            return s.shape(3);
        }
    }

    @Benchmark
    public float weightedSum() {
        try (Tensor o = p.matmul(v)) {
            return o.shape(3);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {q, kT, p, v}) t.close();
    }
}
