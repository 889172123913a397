package dev.lumen.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Conv2d;
import dev.lumen.nn.Flatten;
import dev.lumen.nn.Linear;
import dev.lumen.nn.ReLU;
import dev.lumen.nn.Sequential;
import dev.lumen.ops.Shaping;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * SyncBatchNorm and DistributedDataParallel on each test device (the CUDA backend included:
 * kernels' engine-tests-on-cuda runs this class), over a world of 2 mirrored ranks
 * ({@link MirrorCommunicator}): the device paths (statistics slices, gathers, bucket views,
 * fills, copies back) against plain layers on the batch repeated twice.
 */
class DataParallelOnDeviceTest extends DeviceTest {
    // fp32 with another summation order of the statistics and the input-gradient correction.
    private static final double TOL = 1e-5;
    private static final int C = 3;

    @Test
    void syncBatchNormEqualsBatchNormOnTheRepeatedBatch() {
        Generator gen = new Generator(21);
        Tensor x = Tensor.randn(gen, DType.F32, 3, C, 4, 5).add(2), r = Tensor.randn(gen, DType.F32, 3, C, 4, 5);
        try (Scope s = Scope.open()) {
            BatchNorm2d reference = new BatchNorm2d(C), synced = new BatchNorm2d(C);
            reference.to(device);
            synced.to(device);
            MirrorCommunicator comm = new MirrorCommunicator(2, device);
            assertEquals(1, SyncBatchNorm.convert(new Sequential(synced), comm));
            Tensor xx = on(Shaping.cat(List.of(x, x), 0)).requiresGrad(true), rr = on(Shaping.cat(List.of(r, r), 0));
            Tensor ref = reference.forward(xx);
            ref.mul(rr).sum().backward();
            Tensor xs = on(x).requiresGrad(true);
            Tensor out = synced.forward(xs);
            out.mul(on(r)).sum().backward();
            assertEquals(2, comm.collectives, "one gather forward, one reduce backward");
            close("output", ref.narrow(0, 0, 3), out);
            close("input gradient", xx.grad().narrow(0, 0, 3), xs.grad());
            close("running mean", reference.runningMean(), synced.runningMean());
            close("running var", reference.runningVar(), synced.runningVar());
            // The local weight gradient is one rank's share: half the repeated batch's.
            close("weight gradient", reference.weight().grad().mul(0.5), synced.weight().grad());
        }
    }

    @Test
    void ddpGradientsEqualTheLocalOnes() {
        Generator gen = new Generator(22);
        Tensor x = Tensor.randn(gen, DType.F32, 4, 2, 5, 5);
        try (Scope s = Scope.open()) {
            Sequential local = new Sequential(new Conv2d(2, 3, 3), new ReLU(), new Flatten(), new Linear(27, 4));
            Sequential synced = new Sequential(new Conv2d(2, 3, 3), new ReLU(), new Flatten(), new Linear(27, 4));
            synced.loadStateDict(local.stateDict(), true);
            local.to(device);
            synced.to(device);
            MirrorCommunicator comm = new MirrorCommunicator(2, device);
            try (DistributedDataParallel ddp = new DistributedDataParallel(synced, comm, 64)) {
                local.forward(on(x)).sum().backward();
                ddp.backward(synced.forward(on(x)).sum());
                assertEquals(ddp.buckets().size(), ddp.lastOverlap().issuedDuringBackward());
                assertEquals(2, ddp.buckets().size(), "two buckets: " + ddp.buckets());
                for (var e : local.namedParameters().entrySet()) {
                    close(e.getKey(), e.getValue().grad(), synced.namedParameters().get(e.getKey()).grad());
                }
            }
        }
    }

    private static void close(String what, Tensor expected, Tensor actual) {
        float[] e = expected.toFloats(), a = actual.toFloats();
        assertEquals(e.length, a.length, what);
        double num = 0, den = 0;
        for (int i = 0; i < e.length; i++) {
            num += (a[i] - e[i]) * (double) (a[i] - e[i]);
            den += (double) e[i] * e[i];
        }
        double err = Math.sqrt(num / Math.max(den, 1e-30));
        assertTrue(err <= TOL, what + ": relative error " + err + " > " + TOL);
    }
}
