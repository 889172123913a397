package dev.lumen.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lumen.backend.Backends;
import dev.lumen.cuda.CallCounts;
import dev.lumen.memory.Scope;
import dev.lumen.ops.Losses;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.function.LongFunction;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Backend.checkIndices on the device: queued without a host wait, and a bad value raises the
 * CPU's exception at the next host read (a copy down or a synchronize) with the message of the
 * first check that failed; and Losses.crossEntropy on the device, which checks its targets that
 * way.
 */
class DeferredChecksTest {
    static final Device CUDA = Device.cuda(0);
    static final LongFunction<String> MESSAGE = v -> "op: value " + v + " is out of range";

    @BeforeAll
    static void cuda() { DeviceCheck.requireCuda(); }

    static void assumeCounted() {
        Assumptions.assumeTrue(CudaBackend.get().driver().isEmulated(), "call counts exist only under the emulated driver");
    }

    /** crossEntropy runs element-wise ops, which come with the element-wise family. */
    static void assumeElementwiseOnCuda() {
        boolean ok = true;
        try {
            CudaBackend.get().elementwise();
        } catch (UnsupportedOperationException e) {
            ok = false;
        }
        Assumptions.assumeTrue(ok, "the element-wise kernels do not run on CUDA in this build");
    }

    /** The CPU's exception message for values checked against size. */
    static String cpuMessage(Tensor values, long size) {
        return assertThrows(IllegalArgumentException.class, () -> Backends.cpu().checkIndices(values, size, MESSAGE)).getMessage();
    }

    @Test
    void everyIndexDTypeRaisesTheCpusMessageAtTheNextCopyDown() {
        for (DType t : new DType[] {DType.I32, DType.I64, DType.BOOL}) {
            try (Scope s = Scope.open()) {
                Tensor values = Tensor.fromLongs(new long[] {0, 1, 1, 0, 1, 0, 0}, 7).to(t);
                long size = 1;  // the first 1 is out of range
                Tensor dev = values.to(CUDA);
                CudaBackend.get().checkIndices(dev, size, MESSAGE);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> dev.to(Device.CPU));
                assertEquals(cpuMessage(values, size), e.getMessage(), t.toString());
                CudaBackend.get().checkIndices(dev, 2, MESSAGE);
                dev.to(Device.CPU);  // in range: no error, and the previous one is not raised again
            }
        }
    }

    @Test
    void aLargeNegativeValueIsReportedExactly() {
        try (Scope s = Scope.open()) {
            Tensor values = Tensor.fromLongs(new long[] {3, 2, Long.MIN_VALUE + 5, 1L << 40}, 4);
            CudaBackend.get().checkIndices(values.to(CUDA), 4, MESSAGE);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CudaBackend.get().synchronize());
            assertEquals(cpuMessage(values, 4), e.getMessage());
        }
    }

    @Test
    void checksInRangeDoNoHostWaitAndTheNextReadWaitsOnce() {
        assumeCounted();
        CudaBackend b = CudaBackend.get();
        try (Scope s = Scope.open()) {
            Tensor values = Tensor.fromLongs(new long[] {4, 0, 3, 2, 1}, 5).to(CUDA);
            Tensor data = Tensor.fromLongs(new long[] {9}, 1).to(CUDA);
            b.synchronize();
            CallCounts before = b.driver().callCounts();
            for (int i = 0; i < 5; i++) b.checkIndices(values, 5, MESSAGE);
            CallCounts queued = b.driver().callCounts().since(before);
            assertEquals(0, queued.hostWaits(), "checks are queued: " + queued);
            assertEquals(0, queued.copiesDtoH(), "nothing is read back: " + queued);
            assertEquals(5, queued.launches(), "one launch per check: " + queued);
            assertEquals(9.0, data.item());
            CallCounts read = b.driver().callCounts().since(before);
            assertEquals(1, read.hostWaits(), "the read and the error word share one wait: " + read);
        }
    }

    @Test
    void crossEntropyOnCudaDoesNotWaitForTheHost() {
        assumeCounted();
        assumeElementwiseOnCuda();
        CudaBackend b = CudaBackend.get();
        try (Scope s = Scope.open()) {
            Tensor logits = Tensor.randn(new Generator(1), DType.F32, 7, 5), targets = Tensor.fromLongs(new long[] {0, 4, 2, 2, 1, 3, 0}, 7);
            double expect = Losses.crossEntropy(logits, targets, 0.1).item();
            Tensor ld = logits.to(CUDA), td = targets.to(CUDA);
            Losses.crossEntropy(ld, td, 0.1);  // warms the class indices and the error word
            b.synchronize();
            CallCounts before = b.driver().callCounts();
            Tensor loss = Losses.crossEntropy(ld, td, 0.1);
            CallCounts d = b.driver().callCounts().since(before);
            assertEquals(0, d.hostWaits(), "the loss queues its target check: " + d);
            assertEquals(0, d.copiesHtoD() + d.copiesDtoH(), "no copies either way: " + d);
            assertEquals(expect, loss.item(), 1e-6);
        }
    }

    @Test
    void crossEntropyWithATargetOutOfRangeRaisesTheCpusMessageAtItem() {
        assumeElementwiseOnCuda();
        try (Scope s = Scope.open()) {
            Tensor logits = Tensor.randn(new Generator(2), DType.F32, 3, 4), targets = Tensor.fromLongs(new long[] {1, 4, 0}, 3);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Losses.crossEntropy(logits, targets));
            assertEquals("crossEntropy: target 4 is out of range for 4 classes", e.getMessage());
            Tensor loss = Losses.crossEntropy(logits.to(CUDA), targets.to(CUDA));
            IllegalArgumentException g = assertThrows(IllegalArgumentException.class, loss::item);
            assertEquals(e.getMessage(), g.getMessage());
        }
    }
}
