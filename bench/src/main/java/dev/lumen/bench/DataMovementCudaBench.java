package dev.lumen.bench;

import dev.lumen.backend.Backend;
import dev.lumen.backend.ConvKernels;
import dev.lumen.backend.ConvKernels.Window;
import dev.lumen.backend.IndexKernels;
import dev.lumen.backend.ResizeKernels;
import dev.lumen.backend.cuda.CudaBackend;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.Random;
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
 * Lumen's kernels that move values more than they compute, all memory-bound except the range
 * check, one state per kernel family so a family that is missing fails only its own benchmarks,
 * F32 through the Backend: the cast of ViT-B/16's tokens [64, 197, 768] to BF16 (copy.cu);
 * index_select of all 12608 rows of a [12608, 768] table in shuffled order with I64 indices
 * (indexing.cu, with its queued range check) and the range check alone of a batch of 64 labels
 * against 1000 classes (checks.cu, launch-bound); bilinear resize 56 -> 112 of [64, 96, 56, 56]
 * forward and backward (resize.cu); im2col and col2im of a 3x3 padding-1 window over ResNet-50's
 * stage-1 [64, 64, 56, 56] (im2col.cu). Under the emulator all are tiny.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@OperationsPerInvocation(BenchDevice.REPS)
@Warmup(iterations = 2, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class DataMovementCudaBench {
    /** ViT-B/16 tokens [64, 197, 768] in F32 and a BF16 tensor of the same shape. */
    @State(Scope.Benchmark)
    public static class Tokens {
        Backend backend;
        Tensor x, half;
        Work work;

        @Setup(Level.Trial)
        public void setup() {
            backend = BenchDevice.backend();
            int[] shape = BenchDevice.emulated() ? new int[] {3, 5, 7} : new int[] {64, 197, 768};
            x = BenchDevice.randn(new Generator(30), DType.F32, 1, shape);
            half = BenchDevice.empty(DType.BF16, shape);
            work = Work.traffic(x, half);
        }

        @TearDown(Level.Trial)
        public void tearDown() { BenchDevice.close(x, half); }
    }

    /** A [rows, 768] table, a shuffled I64 permutation of its rows (each row read once), and 64 labels of 1000 classes. */
    @State(Scope.Benchmark)
    public static class Rows {
        static final int CLASSES = 1000;

        Backend backend;
        IndexKernels kernels;
        Tensor table, index, out, labels;
        Work select, check;

        @Setup(Level.Trial)
        public void setup() {
            backend = BenchDevice.backend();
            kernels = backend.indexing();
            boolean tiny = BenchDevice.emulated();
            int rows = tiny ? 15 : 64 * 197, width = tiny ? 33 : 768, batch = tiny ? 7 : 64;
            Random shuffle = new Random(31);
            long[] order = new long[rows];
            for (int i = 0; i < rows; i++) order[i] = i;
            for (int i = rows - 1; i > 0; i--) {
                int j = shuffle.nextInt(i + 1);
                long o = order[i];
                order[i] = order[j];
                order[j] = o;
            }
            long[] classes = new long[batch];
            for (int i = 0; i < batch; i++) classes[i] = shuffle.nextInt(CLASSES);
            table = BenchDevice.randn(new Generator(32), DType.F32, 1, rows, width);
            index = BenchDevice.upload(Tensor.fromLongs(order, rows));
            labels = BenchDevice.upload(Tensor.fromLongs(classes, batch));
            out = BenchDevice.empty(DType.F32, rows, width);
            select = Work.traffic(table, index, out);
            check = Work.traffic(labels);
        }

        /**
         * The calls' range checks pass: throws if one failed. Each queued check stays listed on
         * the host until a host wait, so this also keeps that list from growing across the run.
         */
        void requireChecksPassed() { CudaBackend.get().synchronize(); }

        @TearDown(Level.Trial)
        public void tearDown() { BenchDevice.close(table, index, out, labels); }
    }

    /** [64, 96, 56, 56] and its bilinear 2x upsample [64, 96, 112, 112], with gradients. */
    @State(Scope.Benchmark)
    public static class Images {
        ResizeKernels kernels;
        Tensor x, out, gradOut, gradX;
        Work forward, backward;

        @Setup(Level.Trial)
        public void setup() {
            kernels = BenchDevice.backend().resize();
            boolean tiny = BenchDevice.emulated();
            int b = tiny ? 2 : 64, c = tiny ? 3 : 96, hw = tiny ? 5 : 56;
            Generator g = new Generator(33);
            x = BenchDevice.randn(g, DType.F32, 1, b, c, hw, hw);
            gradOut = BenchDevice.randn(g, DType.F32, 1, b, c, 2 * hw, 2 * hw);
            out = BenchDevice.empty(DType.F32, b, c, 2 * hw, 2 * hw);
            gradX = BenchDevice.empty(DType.F32, b, c, hw, hw);
            forward = Work.traffic(x, out);
            backward = Work.traffic(gradOut, gradX);
        }

        @TearDown(Level.Trial)
        public void tearDown() { BenchDevice.close(x, out, gradOut, gradX); }
    }

    /** ResNet-50 stage 1 [64, 64, 56, 56] and its 3x3 padding-1 columns [64, 576, 3136]. */
    @State(Scope.Benchmark)
    public static class Columns {
        final Window window = new Window(3, 3, 1, 1, 1, 1, 1, 1);
        ConvKernels kernels;
        Tensor x, cols, folded;
        Work unfold, fold;

        @Setup(Level.Trial)
        public void setup() {
            kernels = BenchDevice.backend().conv();
            boolean tiny = BenchDevice.emulated();
            int b = tiny ? 2 : 64, c = tiny ? 3 : 64, hw = tiny ? 7 : 56;
            Generator g = new Generator(34);
            x = BenchDevice.randn(g, DType.F32, 1, b, c, hw, hw);
            cols = BenchDevice.randn(g, DType.F32, 1, b, c * window.area(), window.outH(hw) * window.outW(hw));
            folded = BenchDevice.empty(DType.F32, b, c, hw, hw);
            unfold = Work.traffic(x, cols);
            fold = Work.traffic(cols, folded);
        }

        @TearDown(Level.Trial)
        public void tearDown() { BenchDevice.close(x, cols, folded); }
    }

    @Benchmark
    public void cast(Tokens s, DeviceTimer t) {
        t.time(s.work, () -> s.backend.copy(s.x, s.half));
    }

    @Benchmark
    public void indexSelect(Rows s, DeviceTimer t) {
        t.time(s.select, () -> s.kernels.indexSelect(s.table, 0, s.index, s.out));
        s.requireChecksPassed();
    }

    @Benchmark
    public void rangeCheck(Rows s, DeviceTimer t) {
        t.time(s.check, () -> s.backend.checkIndices(s.labels, Rows.CLASSES, v -> "rangeCheck: label " + v + " is not in [0, " + Rows.CLASSES + ")"));
        s.requireChecksPassed();
    }

    @Benchmark
    public void resizeForward(Images s, DeviceTimer t) {
        t.time(s.forward, () -> s.kernels.interpolateForward(s.x, ResizeKernels.Mode.BILINEAR, false, s.out));
    }

    @Benchmark
    public void resizeBackward(Images s, DeviceTimer t) {
        t.time(s.backward, () -> s.kernels.interpolateBackward(s.gradOut, ResizeKernels.Mode.BILINEAR, false, s.gradX));
    }

    @Benchmark
    public void im2col(Columns s, DeviceTimer t) {
        t.time(s.unfold, () -> s.kernels.im2col(s.x, s.window, s.cols));
    }

    @Benchmark
    public void col2im(Columns s, DeviceTimer t) {
        t.time(s.fold, () -> s.kernels.col2im(s.cols, s.window, s.folded));
    }
}
