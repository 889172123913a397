package dev.lumen.bench;

import dev.lumen.backend.AdditiveAttentionKernels;
import dev.lumen.backend.AdditiveAttentionKernels.Gate;
import dev.lumen.backend.AdditiveAttentionKernels.GateGrads;
import dev.lumen.backend.AdditiveAttentionKernels.GateState;
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
 * CAS-ViT's additive token mixer core (CATM) on the device (Backend.additiveAttention()):
 * rcvit_xs stage 1, B64 dim48 56x56 (the README's kernel table problem); under the emulator
 * B1 dim8 9x9. forward is the training forward as the op runs it: each gate's batch statistics
 * and the normalization made of them (running statistics updated on the device), then the
 * two-pass gates-and-mix kernel; backward computes every gradient with batch statistics.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@OperationsPerInvocation(BenchDevice.REPS)
@Warmup(iterations = 2, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class AdditiveAttentionCudaBench {
    @Param({"F32", "F16"})
    public DType dtype;

    private final List<Tensor> owned = new ArrayList<>();
    private AdditiveAttentionKernels kernels;
    private Tensor q, k, v, out, gradOut, gradV, dwcWeight, dwcBias, gradDwcWeight, gradDwcBias;
    private Tensor qMean, qVar, kMean, kVar, qRunningMean, qRunningVar, kRunningMean, kRunningVar;
    private double varianceCorrection;
    private Gate gq, gk;
    private GateState sq, sk;
    private GateGrads gradQ, gradK;
    private Work forwardWork, backwardWork;
    private Generator g;

    private Tensor randn(double std, int... shape) { return keep(BenchDevice.randn(g, dtype, std, shape)); }

    private Tensor empty(int... shape) { return keep(BenchDevice.empty(dtype, shape)); }

    private Tensor keep(Tensor t) {
        owned.add(t);
        return t;
    }

    private Gate gate(int c) {
        Tensor invStd = keep(BenchDevice.uniform(g, dtype, 0.5, 1.5, c));
        return new Gate(randn(0.3, c, 1, 3, 3), randn(0.1, c), randn(1, c), randn(0.1, c), randn(0.1, c), invStd,
                randn(0.3, 1, c, 1, 1), randn(0.3, c, c, 1, 1));
    }

    private GateGrads grads(int b, int c, int h, int w) {
        return new GateGrads(empty(b, c, h, w), empty(c, 1, 3, 3), empty(c), empty(c), empty(c), empty(1, c, 1, 1), empty(c, c, 1, 1));
    }

    @Setup(Level.Trial)
    public void setup() {
        kernels = BenchDevice.backend().additiveAttention();
        boolean tiny = BenchDevice.emulated();
        int b = tiny ? 1 : 64, c = tiny ? 8 : 48, hw = tiny ? 9 : 56;
        g = new Generator(13);
        q = randn(1, b, c, hw, hw);
        k = randn(1, b, c, hw, hw);
        v = randn(1, b, c, hw, hw);
        gradOut = randn(1, b, c, hw, hw);
        out = empty(b, c, hw, hw);
        gradV = empty(b, c, hw, hw);
        dwcWeight = randn(0.3, c, 1, 3, 3);
        dwcBias = randn(0.1, c);
        gradDwcWeight = empty(c, 1, 3, 3);
        gradDwcBias = empty(c);
        qMean = empty(c);
        qVar = empty(c);
        kMean = empty(c);
        kVar = empty(c);
        qRunningMean = randn(0.1, c);
        kRunningMean = randn(0.1, c);
        qRunningVar = keep(BenchDevice.uniform(g, dtype, 0.5, 1.5, c));
        kRunningVar = keep(BenchDevice.uniform(g, dtype, 0.5, 1.5, c));
        double n = (double) b * hw * hw;
        varianceCorrection = n > 1 ? n / (n - 1) : 1;
        gq = gate(c);
        gk = gate(c);
        sq = new GateState(empty(b, hw, hw), empty(b, c), empty(b, c));
        sk = new GateState(empty(b, hw, hw), empty(b, c), empty(b, c));
        gradQ = grads(b, c, hw, hw);
        gradK = grads(b, c, hw, hw);
        forwardWork = Work.traffic(q, k, v, out, sq.spatial(), sk.spatial());
        backwardWork = Work.traffic(q, k, v, gradOut, sq.spatial(), sk.spatial(), gradV, gradQ.input(), gradK.input());
        trainingForward();   // the gate states backward reads
    }

    private void trainingForward() {
        kernels.catmBatchStats(q, gq.dwWeight(), gq.dwBias(), qMean, qVar);
        kernels.catmNormalization(qMean, qVar, qRunningMean, qRunningVar, 0.1, varianceCorrection, 1e-5, gq.bnMean(), gq.bnInvStd());
        kernels.catmBatchStats(k, gk.dwWeight(), gk.dwBias(), kMean, kVar);
        kernels.catmNormalization(kMean, kVar, kRunningMean, kRunningVar, 0.1, varianceCorrection, 1e-5, gk.bnMean(), gk.bnInvStd());
        kernels.catmForward(q, k, v, gq, gk, sq, sk, dwcWeight, dwcBias, out);
    }

    @Benchmark
    public void forward(DeviceTimer t) { t.time(forwardWork, this::trainingForward); }

    @Benchmark
    public void backward(DeviceTimer t) {
        t.time(backwardWork, () -> kernels.catmBackward(q, k, v, gq, gk, sq, sk, dwcWeight, dwcBias, true, gradOut, gradV, gradDwcWeight,
                gradDwcBias, gradQ, gradK));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        BenchDevice.close(owned.toArray(Tensor[]::new));
        owned.clear();
    }
}
