package dev.lumen.app.data.transform;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.data.TestImages;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class ToTensorTest {
    @Test
    void stacksImagesIntoAnF32BatchThatOutlivesScopes() {
        Tensor t;
        try (Scope s = Scope.open()) {
            t = ToTensor.batch(List.of(TestImages.ramp(2, 2, 3), TestImages.filled(2, 2, 3, 7f)));
        }
        assertFalse(t.isClosed(), "the batch belongs to no scope");
        assertArrayEquals(new int[] {2, 2, 2, 3}, t.shape());
        assertTrue(t.dtype() == DType.F32);
        float[] v = t.toFloats();
        assertArrayEquals(new float[] {0, 1, 2, 3}, java.util.Arrays.copyOf(v, 4));
        assertTrue(v[12] == 7f && v[23] == 7f);
        t.close();
        assertArrayEquals(new int[] {1, 2, 3}, ToTensor.of(TestImages.ramp(1, 2, 3)).shape());
        var e = assertThrows(IllegalArgumentException.class,
                () -> ToTensor.batch(List.of(TestImages.ramp(1, 2, 3), TestImages.ramp(1, 3, 2))));
        assertTrue(e.getMessage().contains("1x2x3") && e.getMessage().contains("1x3x2"), e.getMessage());
    }
}
