package dev.lumen.bench;

import dev.lumen.backend.SelectiveScanKernels;
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
 * The fused 4-route selective 2-D scan on the device (Backend.selectiveScan()): VMamba-T stage 1,
 * B64 D96 56x56 (L 3136), N1 (the README's kernel table problem); under the emulator B1 D4 9x9
 * (two 64-step chunks). dtype is the storage of x, delta, B and C; A, D, the bias, the output
 * and every gradient are F32, as the interface fixes them.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@OperationsPerInvocation(BenchDevice.REPS)
@Warmup(iterations = 2, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class SelectiveScanCudaBench {
    static final int ROUTES = SelectiveScanKernels.ROUTES, N = 1;

    @Param({"F32", "F16"})
    public DType dtype;

    private SelectiveScanKernels kernels;
    private Tensor x, delta, a, b, c, dSkip, deltaBias, out, states, gradOut;
    private Tensor gradX, gradDelta, gradA, gradB, gradC, gradDSkip, gradDeltaBias;
    private Work forwardWork, backwardWork;

    @Setup(Level.Trial)
    public void setup() {
        kernels = BenchDevice.backend().selectiveScan();
        boolean tiny = BenchDevice.emulated();
        int batch = tiny ? 1 : 64, d = tiny ? 4 : 96, hw = tiny ? 9 : 56, l = hw * hw;
        Generator g = new Generator(12);
        x = BenchDevice.randn(g, dtype, 1, batch, d, hw, hw);
        delta = BenchDevice.randn(g, dtype, 0.5, batch, ROUTES, d, l);
        b = BenchDevice.randn(g, dtype, 1, batch, ROUTES, N, l);
        c = BenchDevice.randn(g, dtype, 1, batch, ROUTES, N, l);
        a = BenchDevice.uniform(g, DType.F32, -2, -0.5, ROUTES * d, N);
        dSkip = BenchDevice.randn(g, DType.F32, 1, ROUTES * d);
        deltaBias = BenchDevice.uniform(g, DType.F32, -3, -1, ROUTES * d);
        out = BenchDevice.empty(DType.F32, batch, d, hw, hw);
        states = BenchDevice.empty(DType.F32, batch, ROUTES, d, SelectiveScanKernels.chunks(l), N);
        gradOut = BenchDevice.randn(g, DType.F32, 1, batch, d, hw, hw);
        gradX = BenchDevice.empty(DType.F32, batch, d, hw, hw);
        gradDelta = BenchDevice.empty(DType.F32, batch, ROUTES, d, l);
        gradA = BenchDevice.empty(DType.F32, ROUTES * d, N);
        gradB = BenchDevice.empty(DType.F32, batch, ROUTES, N, l);
        gradC = BenchDevice.empty(DType.F32, batch, ROUTES, N, l);
        gradDSkip = BenchDevice.empty(DType.F32, ROUTES * d);
        gradDeltaBias = BenchDevice.empty(DType.F32, ROUTES * d);
        // Per route, channel, step and state: softplus and exp of dt*A, the state update and C.s.
        double steps = (double) batch * ROUTES * d * l * N;
        forwardWork = Work.traffic(x, delta, a, b, c, dSkip, deltaBias, out, states).plusFlops(8 * steps);
        backwardWork = Work.traffic(x, delta, a, b, c, dSkip, deltaBias, states, gradOut, gradX, gradDelta, gradA, gradB, gradC,
                gradDSkip, gradDeltaBias).plusFlops(24 * steps);
        kernels.selectiveScan2dForward(x, delta, a, b, c, dSkip, deltaBias, out, states);   // the states backward reads
    }

    @Benchmark
    public void forward(DeviceTimer t) {
        t.time(forwardWork, () -> kernels.selectiveScan2dForward(x, delta, a, b, c, dSkip, deltaBias, out, states));
    }

    @Benchmark
    public void backward(DeviceTimer t) {
        t.time(backwardWork, () -> kernels.selectiveScan2dBackward(x, delta, a, b, c, dSkip, deltaBias, states, gradOut, gradX, gradDelta,
                gradA, gradB, gradC, gradDSkip, gradDeltaBias));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        BenchDevice.close(x, delta, a, b, c, dSkip, deltaBias, out, states, gradOut, gradX, gradDelta, gradA, gradB, gradC, gradDSkip,
                gradDeltaBias);
    }
}
