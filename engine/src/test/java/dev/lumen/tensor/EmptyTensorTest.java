package dev.lumen.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lumen.memory.Scope;
import dev.lumen.ops.Activations;
import org.junit.jupiter.api.Test;

/** Tensors with a zero-length dimension (an empty parameter group, a batch filtered to nothing) go through every element-wise path without touching memory. */
class EmptyTensorTest {
    @Test
    void creationCopiesAndElementwiseOpsOnEmptyShapes() {
        try (Scope s = Scope.open()) {
            for (int[] shape : new int[][] {{3, 0}, {0, 3}, {2, 0, 4}, {0}}) {
                Tensor z = Tensor.zeros(shape), o = Tensor.ones(shape);
                assertEquals(0, z.numel());
                Tensor sum = z.add(o).mul(2.0);
                assertArrayEquals(shape, sum.shape());
                assertEquals(0, sum.toFloats().length);
                Tensor copy = Tensor.empty(DType.F32, Device.CPU, shape);
                z.backend().copy(o, copy);
                assertArrayEquals(shape, Activations.relu(copy).shape());
                assertArrayEquals(shape, z.to(DType.F64).shape());
            }
            Tensor t = Tensor.zeros(3, 0).transpose(0, 1).contiguous();
            assertArrayEquals(new int[] {0, 3}, t.shape());
        }
    }
}
