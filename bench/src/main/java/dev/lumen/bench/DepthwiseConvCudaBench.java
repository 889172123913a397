package dev.lumen.bench;

import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.DepthwiseConvCuda;
import dev.lumen.cuda.DeviceBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * dwconv.cu through the driver binding. On a GPU the problem is RepLKNet-B stage 1
 * (B64 C128 56x56, 31x31); under the emulator (no GPU) a smaller one, since there it measures
 * the emulation, not a device. Each invocation synchronizes, so the time is the kernel's.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class DepthwiseConvCudaBench {
    @Param({"31", "13", "7"})
    public int k;

    @Param({"F32", "F16"})
    public DepthwiseConvCuda.Storage storage;

    private CudaContext ctx;
    private DepthwiseConvCuda.Shape shape;
    private DeviceBuffer x, w, b, y, go, dx, dw, db;

    @Setup(Level.Trial)
    public void setup(BenchmarkParams params) {
        ctx = CudaContext.get();
        shape = ctx.driver().isEmulated() ? new DepthwiseConvCuda.Shape(1, 8, 56, 56, k, 1, k / 2)
                : new DepthwiseConvCuda.Shape(64, 128, 56, 56, k, 1, k / 2);
        int es = storage == DepthwiseConvCuda.Storage.F32 ? 4 : 2;
        long planes = (long) shape.n() * shape.c();
        x = ctx.allocate(planes * shape.h() * shape.w() * es);
        y = ctx.allocate(planes * shape.oh() * shape.ow() * es);
        go = ctx.allocate(planes * shape.oh() * shape.ow() * es);
        dx = ctx.allocate(planes * shape.h() * shape.w() * es);
        w = ctx.allocate((long) shape.c() * k * k * es);
        dw = ctx.allocate((long) shape.c() * k * k * es);
        b = ctx.allocate((long) shape.c() * es);
        db = ctx.allocate((long) shape.c() * es);
        for (DeviceBuffer d : new DeviceBuffer[] {x, w, b, go}) d.fillBytes(0x3C);   // small finite values in both types
    }

    @Benchmark
    public void forward() {
        DepthwiseConvCuda.forward(ctx, storage, shape, x, w, b, y);
        ctx.synchronize();
    }

    @Benchmark
    public void backwardInput() {
        DepthwiseConvCuda.backwardInput(ctx, storage, shape, go, w, dx);
        ctx.synchronize();
    }

    @Benchmark
    public void backwardWeight() {
        DepthwiseConvCuda.backwardWeight(ctx, storage, shape, x, go, dw, db);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (DeviceBuffer d : new DeviceBuffer[] {x, w, b, y, go, dx, dw, db}) d.close();
    }
}
