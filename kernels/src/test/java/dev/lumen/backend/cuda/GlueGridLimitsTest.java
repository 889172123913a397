package dev.lumen.backend.cuda;

import static dev.lumen.backend.cuda.DeviceCheck.CUDA;
import static dev.lumen.backend.cuda.DeviceCheck.poisoned;
import static dev.lumen.backend.cuda.DeviceCheck.random;
import static dev.lumen.backend.cuda.DeviceCheck.relativeError;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.Backends;
import dev.lumen.backend.ReductionKernels.Reduce;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 11 item 5 for the glue kernels whose block count grows with N*C: the glue launchers put
 * such counts (a block per softmax line, layer-norm row, (sample, group) of group norm, output
 * of a row reduction) on grid x, whose limit is 2^31-1, and only bounded counts (at most 1,024
 * splits or row parts) on grid y. A per-channel sum over a 1x2 map with N*C = 65,536 (one past
 * grid y's and z's limit; tiny maps keep the emulator fast: every block is fibers) runs against
 * the CPU backend, so a launcher that moved N*C to grid y or z would fail the launch check.
 */
class GlueGridLimitsTest {
    private static final DType F32 = DType.F32;

    @BeforeAll
    static void cuda() { DeviceCheck.requireCuda(); }

    @Test
    void perChannelSumWithNTimesCOutputs() {
        try (Scope s = Scope.open()) {
            // [N=1024, C=64, 1, 2]: N*C = 65,536 outputs, one block each
            Tensor x = random(2, F32, 1024, 64, 1, 2), want = Tensor.empty(F32, Device.CPU, 1024, 64, 1, 1);
            Backends.cpu().reductions().reduce(Reduce.SUM, x, new int[] {2, 3}, want);
            Tensor got = poisoned(F32, 1024, 64, 1, 1);
            CudaBackend.get().reductions().reduce(Reduce.SUM, x.to(CUDA), new int[] {2, 3}, got);
            assertClose(got, want, "sum over H, W with N*C = 65,536");
        }
    }

    private static void assertClose(Tensor device, Tensor reference, String what) {
        double err = relativeError(device, reference);
        assertTrue(err <= DeviceCheck.tolerance(F32), what + ": relative error " + err);
    }
}
