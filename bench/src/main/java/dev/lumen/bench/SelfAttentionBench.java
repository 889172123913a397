package dev.lumen.bench;

import dev.lumen.backend.AttentionKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
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
 * Self-attention's core on packed qkv, the CPU backend's fused kernels (one task per image and
 * head, scores kept in cache) against the composed ones (batched matmuls, a scaling pass,
 * softmax and its backward over all heads' scores), at batch 8: vit_small_patch16_224 (197
 * tokens, 6 heads of 64) and volo_d1's transformer stages (196 tokens, 12 heads of 32).
 * Forward writes the probabilities as training does; backward reads them.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class SelfAttentionBench {
    /** tokens x heads x head width. */
    @Param({"197x6x64", "196x12x32"})
    public String shape;

    @Param({"fused", "composed"})
    public String kernels;

    private static final int BATCH = 8;
    private int heads;
    private double scale;
    private AttentionKernels impl;
    private Tensor qkv, probs, out, gradOut, gradQkv;

    @Setup(Level.Trial)
    public void setup() {
        String[] s = shape.split("x");
        int n = Integer.parseInt(s[0]), d = Integer.parseInt(s[2]);
        heads = Integer.parseInt(s[1]);
        int c = heads * d;
        scale = Math.pow(d, -0.5);
        impl = kernels.equals("fused") ? Tensor.zeros(1).backend().attention() : AttentionKernels.COMPOSED;
        Generator gen = new Generator(1);
        qkv = Tensor.randn(gen, DType.F32, BATCH, n, 3 * c);
        gradOut = Tensor.randn(gen, DType.F32, BATCH, n, c);
        probs = Tensor.empty(DType.F32, Device.CPU, BATCH, heads, n, impl.probsWidth(n));
        out = Tensor.empty(DType.F32, Device.CPU, BATCH, n, c);
        gradQkv = Tensor.empty(DType.F32, Device.CPU, BATCH, n, 3 * c);
        impl.selfAttention(qkv, heads, scale, probs, out);
    }

    @Benchmark
    public Tensor forward() {
        impl.selfAttention(qkv, heads, scale, probs, out);
        return out;
    }

    /** The forward without probabilities to keep, as under no_grad (eval): P stays in a per-thread buffer. */
    @Benchmark
    public Tensor inference() {
        impl.selfAttention(qkv, heads, scale, null, out);
        return out;
    }

    @Benchmark
    public Tensor backward() {
        impl.selfAttentionBackward(qkv, probs, gradOut, heads, scale, gradQkv);
        return gradQkv;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {qkv, probs, out, gradOut, gradQkv}) t.close();
    }
}
