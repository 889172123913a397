package dev.lumen.bench;

import dev.lumen.backend.ConvKernels.Window;
import dev.lumen.backend.NormKernels;
import dev.lumen.backend.PoolKernels;
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
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Pooling, batch norm and dropout on the device, all memory-bound, F32 through the Backend, one
 * state per kernel family so a family that is missing fails only its own benchmarks: ResNet-50's
 * stem max pool 3x3 stride 2 padding 1 over [64, 64, 112, 112] with I64 indices, forward and
 * backward, and its head's adaptive average pool of [64, 2048, 7, 7] to 1x1 (pool.cu); batch
 * norm over ResNet-50's stage 1 [64, 256, 56, 56]: the backward with constant statistics
 * (batchnorm.cu's own kernel, as in eval-mode fine-tuning) and the training forward (cuDNN);
 * dropout p = 0.1 over ViT-B/16's tokens [64, 197, 768] writing its mask and output
 * (dropout.cu). Under the emulator all are tiny.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@OperationsPerInvocation(BenchDevice.REPS)
@Warmup(iterations = 2, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class PoolNormCudaBench {
    /** The stem's [64, 64, 112, 112] -> [64, 64, 56, 56] max pool with its I64 indices, and the gradients. */
    @State(Scope.Benchmark)
    public static class Stem {
        final Window window = new Window(3, 3, 2, 2, 1, 1, 1, 1);
        PoolKernels kernels;
        Tensor x, out, indices, gradOut, gradX;
        Work forward, backward;

        @Setup(Level.Trial)
        public void setup() {
            kernels = BenchDevice.backend().pool();
            boolean tiny = BenchDevice.emulated();
            int b = tiny ? 2 : 64, c = tiny ? 3 : 64, hw = tiny ? 9 : 112;
            int oh = window.outH(hw), ow = window.outW(hw);
            Generator g = new Generator(40);
            x = BenchDevice.randn(g, DType.F32, 1, b, c, hw, hw);
            gradOut = BenchDevice.randn(g, DType.F32, 1, b, c, oh, ow);
            out = BenchDevice.empty(DType.F32, b, c, oh, ow);
            indices = BenchDevice.empty(DType.I64, b, c, oh, ow);
            gradX = BenchDevice.empty(DType.F32, b, c, hw, hw);
            forward = Work.traffic(x, out, indices);
            backward = Work.traffic(gradOut, indices, gradX);
            kernels.maxPool2d(x, window, out, indices);   // the indices backward reads
        }

        @TearDown(Level.Trial)
        public void tearDown() { BenchDevice.close(x, out, indices, gradOut, gradX); }
    }

    /** The head's [64, 2048, 7, 7] features averaged to [64, 2048, 1, 1]. */
    @State(Scope.Benchmark)
    public static class Head {
        PoolKernels kernels;
        Tensor x, out;
        Work work;

        @Setup(Level.Trial)
        public void setup() {
            kernels = BenchDevice.backend().pool();
            boolean tiny = BenchDevice.emulated();
            int b = tiny ? 2 : 64, c = tiny ? 5 : 2048;
            x = BenchDevice.randn(new Generator(41), DType.F32, 1, b, c, 7, 7);
            out = BenchDevice.empty(DType.F32, b, c, 1, 1);
            work = Work.traffic(x, out);
        }

        @TearDown(Level.Trial)
        public void tearDown() { BenchDevice.close(x, out); }
    }

    /** Stage 1's [64, 256, 56, 56] as the norm kernels see it, [N, C, H*W], with per-channel parameters. */
    @State(Scope.Benchmark)
    public static class Activations {
        static final double EPS = 1e-5;

        NormKernels kernels;
        Tensor x, weight, bias, mean, var, out, gradOut, gradX, gradWeight, gradBias, batchMean, batchVar;
        Work backward, forward;

        @Setup(Level.Trial)
        public void setup() {
            kernels = BenchDevice.backend().norms();
            boolean tiny = BenchDevice.emulated();
            int n = tiny ? 2 : 64, c = tiny ? 5 : 256, s = tiny ? 21 : 56 * 56;
            Generator g = new Generator(42);
            x = BenchDevice.randn(g, DType.F32, 1, n, c, s);
            gradOut = BenchDevice.randn(g, DType.F32, 1, n, c, s);
            weight = BenchDevice.uniform(g, DType.F32, 0.5, 1.5, c);
            bias = BenchDevice.randn(g, DType.F32, 0.1, c);
            mean = BenchDevice.randn(g, DType.F32, 0.1, c);
            var = BenchDevice.uniform(g, DType.F32, 0.5, 1.5, c);
            out = BenchDevice.empty(DType.F32, n, c, s);
            gradX = BenchDevice.empty(DType.F32, n, c, s);
            gradWeight = BenchDevice.empty(DType.F32, c);
            gradBias = BenchDevice.empty(DType.F32, c);
            batchMean = BenchDevice.empty(DType.F32, c);
            batchVar = BenchDevice.empty(DType.F32, c);
            backward = Work.traffic(gradOut, x, weight, mean, var, gradX, gradWeight, gradBias);
            // x read twice: every output needs its channel's statistics over the whole batch,
            // which is far larger than L2, so x comes from HBM once for them and once to normalize.
            forward = Work.traffic(x, x, weight, bias, out, batchMean, batchVar);
        }

        @TearDown(Level.Trial)
        public void tearDown() { BenchDevice.close(x, weight, bias, mean, var, out, gradOut, gradX, gradWeight, gradBias, batchMean, batchVar); }
    }

    /** ViT-B/16 tokens [64, 197, 768] with dropout's mask and output. */
    @State(Scope.Benchmark)
    public static class Tokens {
        NormKernels kernels;
        final Generator generator = new Generator(43);
        Tensor x, mask, out;
        Work work;

        @Setup(Level.Trial)
        public void setup() {
            kernels = BenchDevice.backend().norms();
            int[] shape = BenchDevice.emulated() ? new int[] {3, 5, 7} : new int[] {64, 197, 768};
            x = BenchDevice.randn(new Generator(44), DType.F32, 1, shape);
            mask = BenchDevice.empty(DType.F32, shape);
            out = BenchDevice.empty(DType.F32, shape);
            work = Work.traffic(x, mask, out);
        }

        @TearDown(Level.Trial)
        public void tearDown() { BenchDevice.close(x, mask, out); }
    }

    @Benchmark
    public void maxPool(Stem s, DeviceTimer t) {
        t.time(s.forward, () -> s.kernels.maxPool2d(s.x, s.window, s.out, s.indices));
    }

    @Benchmark
    public void maxPoolBackward(Stem s, DeviceTimer t) {
        t.time(s.backward, () -> s.kernels.maxPool2dBackward(s.gradOut, s.indices, s.window, s.gradX));
    }

    @Benchmark
    public void adaptiveAvgPool(Head s, DeviceTimer t) {
        t.time(s.work, () -> s.kernels.adaptiveAvgPool2d(s.x, s.out));
    }

    @Benchmark
    public void batchNormBackwardConstStats(Activations s, DeviceTimer t) {
        t.time(s.backward, () -> s.kernels.batchNormBackward(s.gradOut, s.x, s.weight, s.mean, s.var, Activations.EPS, false,
                s.gradX, s.gradWeight, s.gradBias));
    }

    @Benchmark
    public void batchNormForwardTraining(Activations s, DeviceTimer t) {
        t.time(s.forward, () -> s.kernels.batchNormForward(s.x, s.weight, s.bias, Activations.EPS, true, s.batchMean, s.batchVar, s.out));
    }

    @Benchmark
    public void dropout(Tokens s, DeviceTimer t) {
        t.time(s.work, () -> s.kernels.dropoutForward(s.x, 0.1, s.generator, s.mask, s.out));
    }
}
