package dev.lumen.bench;

import dev.lumen.backend.LinalgKernels;
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
 * cuBLAS GEMMs through Backend.linalg() at ViT-B/16's sizes, batch 64 (197 tokens, width 768,
 * 12 heads of 64): mlpFc1 is [64*197, 768] x [768, 3072]; attentionScores is q k^T per head,
 * [768, 197, 64] x [768, 64, 197] with k^T a transposed view (no copy); attentionValues is
 * [768, 197, 197] x [768, 197, 64]. Under the emulator (emulated cuBLAS) the sizes shrink to
 * odd small ones. F32 is IEEE FP32 unless the backend allows TF32; BF16 runs on tensor cores.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@OperationsPerInvocation(BenchDevice.REPS)
@Warmup(iterations = 2, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class GemmCudaBench {
    @Param({"F32", "BF16"})
    public DType dtype;

    private LinalgKernels kernels;
    private Tensor tokens, fc1, hidden, q, k, scores, probs, v, context;
    private Tensor kT;
    private Work fc1Work, scoresWork, valuesWork;

    @Setup(Level.Trial)
    public void setup() {
        kernels = BenchDevice.backend().linalg();
        boolean tiny = BenchDevice.emulated();
        int rows = tiny ? 2 * 17 : 64 * 197, width = tiny ? 24 : 768, mlp = tiny ? 40 : 3072;
        int heads = tiny ? 2 * 3 : 64 * 12, n = tiny ? 17 : 197, dh = tiny ? 8 : 64;
        Generator g = new Generator(16);
        tokens = BenchDevice.randn(g, dtype, 1, rows, width);
        fc1 = BenchDevice.randn(g, dtype, 1 / Math.sqrt(width), width, mlp);
        hidden = BenchDevice.empty(dtype, rows, mlp);
        q = BenchDevice.randn(g, dtype, 1, heads, n, dh);
        k = BenchDevice.randn(g, dtype, 1, heads, n, dh);
        kT = k.transpose(1, 2);
        scores = BenchDevice.empty(dtype, heads, n, n);
        probs = BenchDevice.uniform(g, dtype, 0, 2.0 / n, heads, n, n);
        v = BenchDevice.randn(g, dtype, 1, heads, n, dh);
        context = BenchDevice.empty(dtype, heads, n, dh);
        fc1Work = Work.traffic(tokens, fc1, hidden).plusFlops(2.0 * rows * width * mlp);
        scoresWork = Work.traffic(q, k, scores).plusFlops(2.0 * heads * n * n * dh);
        valuesWork = Work.traffic(probs, v, context).plusFlops(2.0 * heads * n * n * dh);
    }

    @Benchmark
    public void mlpFc1(DeviceTimer t) { t.time(fc1Work, () -> kernels.matmul(tokens, fc1, hidden, false)); }

    @Benchmark
    public void attentionScores(DeviceTimer t) { t.time(scoresWork, () -> kernels.matmul(q, kT, scores, false)); }

    @Benchmark
    public void attentionValues(DeviceTimer t) { t.time(valuesWork, () -> kernels.matmul(probs, v, context, false)); }

    @TearDown(Level.Trial)
    public void tearDown() { BenchDevice.close(kT, tokens, fc1, hidden, q, k, scores, probs, v, context); }
}
