package dev.lumen.bench;

import dev.lumen.backend.cuda.CudaTensors;
import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.DepthwiseConvCuda;
import dev.lumen.cuda.DepthwiseConvTensorCoreCuda;
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
 * The tensor-core depth-wise convolution (dwconv_tc.cu) through its launcher, forward and input
 * gradient: RepLKNet-31B stage 1, B64 C128 56x56 with a 31x31 kernel, padding 15 (the problem of
 * {@link DepthwiseConvCudaBench}, so the two compare); under the emulator B1 C4 19x19.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@OperationsPerInvocation(BenchDevice.REPS)
@Warmup(iterations = 2, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class DepthwiseConvTensorCoreCudaBench {
    static final int KERNEL = 31;

    @Param({"F16", "BF16"})
    public DType dtype;

    private DepthwiseConvCuda.Shape shape;
    private DepthwiseConvTensorCoreCuda.Storage storage;
    private Tensor x, weight, bias, out, gradOut, gradX;
    private Work forwardWork, inputWork;

    @Setup(Level.Trial)
    public void setup() {
        BenchDevice.backend();
        boolean tiny = BenchDevice.emulated();
        int b = tiny ? 1 : 64, hw = tiny ? 19 : 56, channels = tiny ? 4 : 128;
        shape = new DepthwiseConvCuda.Shape(b, channels, hw, hw, KERNEL, 1, KERNEL / 2);
        storage = DepthwiseConvTensorCoreCuda.Storage.valueOf(dtype.name());
        Generator g = new Generator(14);
        x = BenchDevice.randn(g, dtype, 1, b, channels, hw, hw);
        weight = BenchDevice.randn(g, dtype, 1.0 / KERNEL, channels, 1, KERNEL, KERNEL);
        bias = BenchDevice.randn(g, dtype, 0.1, channels);
        gradOut = BenchDevice.randn(g, dtype, 1, b, channels, hw, hw);
        out = BenchDevice.empty(dtype, b, channels, hw, hw);
        gradX = BenchDevice.empty(dtype, b, channels, hw, hw);
        double macs = (double) x.numel() * KERNEL * KERNEL;
        forwardWork = Work.traffic(x, weight, bias, out).plusFlops(2 * macs);
        inputWork = Work.traffic(gradOut, weight, gradX).plusFlops(2 * macs);
    }

    @Benchmark
    public void forward(DeviceTimer t) {
        CudaContext ctx = CudaContext.get();
        long px = CudaTensors.ptr(x), pw = CudaTensors.ptr(weight), pb = CudaTensors.ptr(bias), py = CudaTensors.ptr(out);
        t.time(forwardWork, () -> DepthwiseConvTensorCoreCuda.forward(ctx, storage, shape, px, pw, pb, py));
    }

    @Benchmark
    public void backwardInput(DeviceTimer t) {
        CudaContext ctx = CudaContext.get();
        long pg = CudaTensors.ptr(gradOut), pw = CudaTensors.ptr(weight), pdx = CudaTensors.ptr(gradX);
        t.time(inputWork, () -> DepthwiseConvTensorCoreCuda.backwardInput(ctx, storage, shape, pg, pw, pdx));
    }

    @TearDown(Level.Trial)
    public void tearDown() { BenchDevice.close(x, weight, bias, out, gradOut, gradX); }
}
