package dev.lumen.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import org.junit.jupiter.api.Test;

/** Inside a shape-only region CPU tensors are META: shapes flow through ops, no bytes are used, values are absent. */
class ShapeOnlyTest {
    @Test
    void opsPropagateShapesWithoutValues() {
        Tensor outside;
        try (Scope s = Scope.open()) {
            try (ShapeOnly so = ShapeOnly.enter()) {
                Tensor a = Tensor.randn(3, 4), b = Tensor.fromFloats(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 4, 2);
                assertEquals(Device.META, a.device());
                assertEquals(Device.META, b.device());
                Tensor c = a.matmul(b).softmax(1);
                assertEquals(Device.META, c.device());
                assertArrayEquals(new int[] {3, 2}, c.shape());
                assertArrayEquals(new float[6], c.toFloats(), "a META tensor reads as zeros inside the region");
                assertEquals(Device.META, c.to(Device.CPU).device(), "the CPU is META inside the region");
                outside = c;
            }
            assertEquals(Device.CPU, Tensor.zeros(2).device(), "the region ended");
            IllegalStateException e = assertThrows(IllegalStateException.class, outside::toFloats);
            assertTrue(e.getMessage().contains("holds no values"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> outside.to(Device.CPU));
        }
    }

    @Test
    void kernelFamiliesAnswerTheirLayoutQueriesAndFusedOpsRun() {
        try (Scope s = Scope.open(); ShapeOnly so = ShapeOnly.enter()) {
            // VOLO's token pooling asks the pool kernels whether they take channels-last tensors.
            Tensor tokens = Tensor.randn(2, 6, 6, 8).requiresGrad(true);
            Tensor pooled = dev.lumen.ops.Pooling.avgPool2d(tokens.permute(0, 3, 1, 2), new int[] {2}, new int[] {2}, new int[] {0}, true, true);
            assertArrayEquals(new int[] {2, 8, 3, 3}, pooled.shape());
            // The packed self-attention runs its composed kernels on META.
            Tensor out = dev.lumen.ops.SelfAttention.packed(Tensor.randn(2, 5, 24).requiresGrad(true), 2, 0.5);
            assertArrayEquals(new int[] {2, 5, 8}, out.shape());
            out.sum().add(pooled.sum()).backward();
            assertArrayEquals(new int[] {2, 6, 6, 8}, tokens.grad().shape());
        }
    }
}
