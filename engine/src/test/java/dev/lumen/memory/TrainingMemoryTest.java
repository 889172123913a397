package dev.lumen.memory;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.ops.Activations;
import dev.lumen.ops.Convolution;
import dev.lumen.ops.LinearAlgebra;
import dev.lumen.ops.Normalization;
import dev.lumen.optim.SGD;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Hundreds of training steps of a small convolutional network must not leak native memory:
 * each step runs in a scope, and only parameters, optimizer state and BN statistics persist.
 */
class TrainingMemoryTest {
    private static Tensor param(Generator g, double scale, int... shape) {
        return Tensor.randn(g, DType.F32, shape).mul(scale).requiresGrad(true);
    }

    /**
     * Lets the GC free what earlier tests in this JVM dropped without closing, so that only this
     * test's tensors move the allocator's count during the measured steps.
     */
    private static void settleGarbage() throws InterruptedException {
        long last = -1;
        for (int i = 0; i < 50; i++) {
            System.gc();
            Thread.sleep(20);
            long now = CachingAllocator.host().liveBytes();
            if (now == last) return;
            last = now;
        }
    }

    @Test
    void liveNativeBytesStayFlatOver300Steps() throws InterruptedException {
        settleGarbage();
        Generator g = new Generator(11);
        Tensor w1, b1, w2, bnW, bnB, rm, rv, fc, fcb;
        try (Scope init = Scope.open()) {
            w1 = init.keep(param(g, 0.2, 8, 3, 3, 3));
            b1 = init.keep(param(g, 0.1, 8));
            w2 = init.keep(param(g, 0.1, 16, 8, 3, 3));
            bnW = init.keep(Tensor.ones(16).requiresGrad(true));
            bnB = init.keep(Tensor.zeros(16).requiresGrad(true));
            rm = init.keep(Tensor.zeros(16));
            rv = init.keep(Tensor.ones(16));
            fc = init.keep(param(g, 0.1, 10, 16));
            fcb = init.keep(param(g, 0.1, 10));
        }
        List<Tensor> params = List.of(w1, b1, w2, bnW, bnB, fc, fcb);
        SGD opt = new SGD(params, 0.05, 0.9, 1e-4, true);
        CachingAllocator alloc = CachingAllocator.host();
        long reference = -1;
        double firstLoss = 0, lastLoss = 0;
        for (int step = 1; step <= 300; step++) {
            try (Scope s = Scope.open()) {
                Tensor x = Tensor.randn(g, DType.F32, 4, 3, 16, 16);
                Tensor target = Tensor.zeros(DType.F32, Device.CPU, 4, 10);
                target.backend().fill(target.narrow(1, 0, 1), 1.0);
                Tensor h = Activations.relu(Convolution.conv2d(x, w1, b1, new int[] {1, 1}, new int[] {1, 1}, new int[] {1, 1}, 1));
                h = Convolution.conv2d(h, w2, null, new int[] {2, 2}, new int[] {1, 1}, new int[] {1, 1}, 1);
                h = Activations.relu(Normalization.batchNorm(h, rm, rv, bnW, bnB, true, 0.1, 1e-5));
                Tensor pooled = h.sum(2, 3).mul(1.0 / 64);
                Tensor diff = LinearAlgebra.linear(pooled, fc, fcb).sub(target);
                Tensor loss = diff.mul(diff).sum().mul(1.0 / 40);
                opt.zeroGrad();
                loss.backward();
                opt.step();
                if (step == 1) firstLoss = loss.item();
                lastLoss = loss.item();
            }
            long live = alloc.liveBytes();
            if (step == 10) reference = live;
            if (step > 10) {
                assertTrue(Math.abs(live - reference) <= 0.01 * reference,
                        "step " + step + ": " + live + " live bytes vs " + reference + " after step 10 (" + alloc.stats() + ")");
            }
        }
        assertTrue(lastLoss < firstLoss, "the network trained: loss " + firstLoss + " -> " + lastLoss);
    }
}
