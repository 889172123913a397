package dev.lumen.bench;

import dev.lumen.backend.ElementwiseKernels;
import dev.lumen.backend.NormKernels;
import dev.lumen.backend.OptimizerKernels;
import dev.lumen.backend.ReductionKernels;
import dev.lumen.models.ModelRegistry;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
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
 * Lumen's own glue kernels on the device, all memory-bound, one state per kernel family so a
 * family that is missing fails only its own benchmarks:
 * element-wise add and GELU on a ResNet-50 stage-1 activation [64, 256, 56, 56]; a per-channel
 * sum over (N, H, W) of it (BatchNorm's reduction); softmax over the last dim of ViT-B/16's
 * attention scores [64, 12, 197, 197]; layer norm forward and backward over ViT-B/16's tokens
 * [64*197, 768]; and one AdamW step over every parameter tensor of ResNet-50 (161 tensors, 25.6 M
 * values, one kernel launch each, as the optimizer calls it). Under the emulator all are tiny.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@OperationsPerInvocation(BenchDevice.REPS)
@Warmup(iterations = 2, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class GlueCudaBench {
    /** [64, 256, 56, 56]: x, y and out for the element-wise maps. */
    @State(Scope.Benchmark)
    public static class Activations {
        @Param({"F32", "BF16"})
        public DType dtype;

        ElementwiseKernels kernels;
        Tensor x, y, out;
        Work binary, unary;

        @Setup(Level.Trial)
        public void setup() {
            kernels = BenchDevice.backend().elementwise();
            int[] shape = BenchDevice.emulated() ? new int[] {2, 3, 5, 7} : new int[] {64, 256, 56, 56};
            Generator g = new Generator(17);
            x = BenchDevice.randn(g, dtype, 1, shape);
            y = BenchDevice.randn(g, dtype, 1, shape);
            out = BenchDevice.empty(dtype, shape);
            binary = Work.traffic(x, y, out).plusFlops(x.numel());
            unary = Work.traffic(x, out);
        }

        @TearDown(Level.Trial)
        public void tearDown() { BenchDevice.close(x, y, out); }
    }

    /** A per-channel sum over (N, H, W) of [64, 256, 56, 56]. */
    @State(Scope.Benchmark)
    public static class ChannelSums {
        @Param({"F32", "BF16"})
        public DType dtype;

        ReductionKernels kernels;
        Tensor x, sums;
        Work work;

        @Setup(Level.Trial)
        public void setup() {
            kernels = BenchDevice.backend().reductions();
            int[] shape = BenchDevice.emulated() ? new int[] {2, 3, 5, 7} : new int[] {64, 256, 56, 56};
            x = BenchDevice.randn(new Generator(18), dtype, 1, shape);
            sums = BenchDevice.empty(dtype, 1, shape[1], 1, 1);
            work = Work.traffic(x, sums).plusFlops(x.numel());
        }

        @TearDown(Level.Trial)
        public void tearDown() { BenchDevice.close(x, sums); }
    }

    /** Attention scores [64, 12, 197, 197], softmax over the last dim. */
    @State(Scope.Benchmark)
    public static class Scores {
        @Param({"F32", "BF16"})
        public DType dtype;

        ReductionKernels kernels;
        Tensor scores, probs;
        Work work;

        @Setup(Level.Trial)
        public void setup() {
            kernels = BenchDevice.backend().reductions();
            int[] shape = BenchDevice.emulated() ? new int[] {2, 3, 5, 7} : new int[] {64, 12, 197, 197};
            scores = BenchDevice.randn(new Generator(19), dtype, 2, shape);
            probs = BenchDevice.empty(dtype, shape);
            work = Work.traffic(scores, probs);
        }

        @TearDown(Level.Trial)
        public void tearDown() { BenchDevice.close(scores, probs); }
    }

    /** ViT-B/16 tokens [64*197, 768] as the norm kernels see them, [N, C, 1]. */
    @State(Scope.Benchmark)
    public static class Tokens {
        @Param({"F32", "BF16"})
        public DType dtype;

        NormKernels kernels;
        Tensor x, weight, bias, out, mean, rstd, gradOut, gradX, gradWeight, gradBias;
        Work forward, backward;

        @Setup(Level.Trial)
        public void setup() {
            kernels = BenchDevice.backend().norms();
            boolean tiny = BenchDevice.emulated();
            int n = tiny ? 15 : 64 * 197, c = tiny ? 33 : 768;
            Generator g = new Generator(20);
            x = BenchDevice.randn(g, dtype, 1, n, c, 1);
            weight = BenchDevice.uniform(g, dtype, 0.5, 1.5, c);
            bias = BenchDevice.randn(g, dtype, 0.1, c);
            gradOut = BenchDevice.randn(g, dtype, 1, n, c, 1);
            out = BenchDevice.empty(dtype, n, c, 1);
            mean = BenchDevice.empty(dtype, n, 1);
            rstd = BenchDevice.empty(dtype, n, 1);
            gradX = BenchDevice.empty(dtype, n, c, 1);
            gradWeight = BenchDevice.empty(dtype, c);
            gradBias = BenchDevice.empty(dtype, c);
            forward = Work.traffic(x, weight, bias, out, mean, rstd);
            backward = Work.traffic(gradOut, x, weight, mean, rstd, gradX, gradWeight, gradBias);
            kernels.layerNormForward(x, weight, bias, 1e-6, out, mean, rstd);   // the statistics backward reads
        }

        @TearDown(Level.Trial)
        public void tearDown() { BenchDevice.close(x, weight, bias, out, mean, rstd, gradOut, gradX, gradWeight, gradBias); }
    }

    /** ResNet-50's parameter tensors (F32) with gradients and AdamW's two moments. */
    @State(Scope.Benchmark)
    public static class Parameters {
        OptimizerKernels kernels;
        final List<Tensor[]> sets = new ArrayList<>();   // {param, grad, expAvg, expAvgSq}
        Work work;
        long step;

        @Setup(Level.Trial)
        public void setup() {
            kernels = BenchDevice.backend().optimizer();
            List<int[]> shapes = new ArrayList<>();
            if (BenchDevice.emulated()) {
                shapes.addAll(List.of(new int[] {3, 5, 7}, new int[] {33}, new int[] {4, 9}));
            } else {
                for (Tensor p : ModelRegistry.create("resnet50").parameters()) shapes.add(p.shape());
            }
            Generator g = new Generator(21);
            double bytes = 0;
            for (int[] s : shapes) {
                Tensor[] set = {BenchDevice.randn(g, DType.F32, 0.1, s), BenchDevice.randn(g, DType.F32, 0.01, s),
                        BenchDevice.randn(g, DType.F32, 0.01, s), BenchDevice.uniform(g, DType.F32, 0, 1e-4, s)};
                sets.add(set);
                bytes += 7.0 * set[0].numel() * 4;   // param, grad and both moments read; param and moments written
            }
            work = new Work(bytes, 0);
        }

        void adamwStep() {
            step++;
            for (Tensor[] s : sets) kernels.adam(s[0], s[1], s[2], s[3], null, 1e-3, 0.9, 0.999, 1e-8, 0.05, true, step);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            for (Tensor[] s : sets) BenchDevice.close(s);
            sets.clear();
        }
    }

    @Benchmark
    public void add(Activations s, DeviceTimer t) {
        t.time(s.binary, () -> s.kernels.binary(ElementwiseKernels.Binary.ADD, s.x, s.y, s.out));
    }

    @Benchmark
    public void gelu(Activations s, DeviceTimer t) {
        t.time(s.unary, () -> s.kernels.unary(ElementwiseKernels.Unary.GELU, s.x, 0, 0, s.out));
    }

    @Benchmark
    public void channelSum(ChannelSums s, DeviceTimer t) {
        t.time(s.work, () -> s.kernels.reduce(ReductionKernels.Reduce.SUM, s.x, new int[] {0, 2, 3}, s.sums));
    }

    @Benchmark
    public void softmax(Scores s, DeviceTimer t) {
        t.time(s.work, () -> s.kernels.softmax(s.scores, 3, false, s.probs));
    }

    @Benchmark
    public void layerNormForward(Tokens s, DeviceTimer t) {
        t.time(s.forward, () -> s.kernels.layerNormForward(s.x, s.weight, s.bias, 1e-6, s.out, s.mean, s.rstd));
    }

    @Benchmark
    public void layerNormBackward(Tokens s, DeviceTimer t) {
        t.time(s.backward, () -> s.kernels.layerNormBackward(s.gradOut, s.x, s.weight, s.mean, s.rstd, s.gradX, s.gradWeight, s.gradBias));
    }

    @Benchmark
    public void adamw(Parameters s, DeviceTimer t) { t.time(s.work, s::adamwStep); }
}
