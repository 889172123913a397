package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import dev.lumen.testing.GradCheck;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class ViewsTest extends DeviceTest {
    private static final Golden G = Golden.load("tensor");
    // Views move values without arithmetic; only reshape's case multiplies once.
    private static final double TOL = 1e-7;

    private void check(String name, UnaryOperator<Tensor> f) {
        try (Scope s = Scope.open()) {
            Tensor x = G.input(name, 0, device);
            G.check("views", name, f.apply(x), new Tensor[] {x}, TOL, TOL);
        }
    }

    @Test void reshapeMatchesTorch() {
        check("reshape", t -> t.reshape(6, 20).mul(on(Tensor.arange(0, 20, 1, DType.F32))).reshape(2, 3, 4, 5));
    }

    @Test void permuteMatchesTorch() { check("permute", t -> t.permute(2, 0, 3, 1).contiguous()); }

    @Test void transposeThenReshapeCopiesWhenNeeded() { check("transpose_reshape", t -> t.transpose(1, 3).reshape(2, 5, 12)); }

    @Test void narrowMatchesTorch() { check("narrow", t -> t.narrow(2, 1, 2)); }

    @Test void sliceWithStepMatchesTorch() { check("slice_step", t -> t.slice(2, 1, 4, 2).slice(3, 0, 5, 3)); }

    @Test void selectMatchesTorch() { check("select", t -> t.select(1, -1)); }

    @Test void expandMatchesTorch() { check("expand", t -> t.expand(3, 2, 4, 5).mul(1.5)); }

    @Test void squeezeUnsqueezeMatchTorch() { check("squeeze_unsqueeze", t -> t.unsqueeze(0).unsqueeze(-1).squeeze(2)); }

    @Test void flattenMatchesTorch() { check("flatten", t -> t.flatten(1, 2)); }

    @Test
    void viewsShareStorage() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.zeros(2, 3));
            Tensor v = x.transpose(0, 1).narrow(0, 1, 1);
            assertTrue(v.storage() == x.storage());
            v.backend().fill(v, 7);
            assertArrayEquals(new float[] {0, 7, 0, 0, 7, 0}, x.toFloats());
        }
    }

    @Test
    void viewOfNonContiguousTensorIsRefused() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.zeros(4, 6)).transpose(0, 1);
            var e = assertThrows(IllegalStateException.class, () -> x.view(24));
            assertTrue(e.getMessage().contains("reshape"), e.getMessage());
            assertEquals(24, x.reshape(24).numel());
            assertThrows(IllegalArgumentException.class, () -> x.reshape(5, -1));
        }
    }

    @Test
    void viewsPassFiniteDifferences() {
        Tensor x = on(Tensor.randn(new Generator(5), DType.F64, 2, 3, 4));
        GradCheck.check(device, "permute", t -> t[0].permute(2, 0, 1).mul(t[0].permute(2, 0, 1)), x);
        GradCheck.check(device, "slice", t -> t[0].slice(2, 1, 4, 2).mul(3.0), x);
        GradCheck.check(device, "expand", t -> t[0].narrow(1, 0, 1).expand(2, 5, 4).mul(t[0].narrow(1, 1, 1)), x);
        GradCheck.check(device, "reshape", t -> t[0].transpose(0, 2).reshape(4, 6).mul(t[0].reshape(4, 6)), x);
    }
}
