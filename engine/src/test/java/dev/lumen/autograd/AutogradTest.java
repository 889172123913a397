package dev.lumen.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import org.junit.jupiter.api.Test;

class AutogradTest extends DeviceTest {
    @Test
    void gradientsAccumulateAcrossBackwardCalls() {
        Tensor w = on(Tensor.fromFloats(new float[] {1, 2, 3}, 3)).requiresGrad(true);
        for (int i = 0; i < 2; i++) {
            try (Scope s = Scope.open()) {
                w.mul(w).sum().backward();
            }
        }
        assertArrayEquals(new float[] {4, 8, 12}, w.grad().toFloats());
        assertFalse(w.grad().isClosed(), "a leaf's grad outlives the step scope");
        w.setGrad(null);
        assertNull(w.grad());
    }

    @Test
    void sharedSubexpressionsSumTheirGradients() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.fromFloats(new float[] {2}, 1)).requiresGrad(true);
            Tensor y = x.mul(x);
            y.add(y).mul(x).sum().backward(); // d/dx (2 x^3) = 6 x^2
            assertArrayEquals(new float[] {24}, x.grad().toFloats());
        }
    }

    /** DDP's hook: each leaf once, with every contribution already summed, while later nodes still wait to run. */
    @Test
    void leafGradReadyFiresOncePerLeafWithItsFinalGradient() {
        try (Scope s = Scope.open()) {
            Tensor a = on(Tensor.fromFloats(new float[] {2}, 1)).requiresGrad(true);
            Tensor b = on(Tensor.fromFloats(new float[] {5}, 1)).requiresGrad(true);
            Tensor x = on(Tensor.fromFloats(new float[] {3}, 1)).requiresGrad(true);
            // loss = a * (x * x) + a * 4 + b * x: a is reached twice, x only through nodes that run after a's.
            Tensor loss = a.mul(x.mul(x)).add(a.mul(4.0)).add(b.mul(x)).sum();
            java.util.List<String> seen = new java.util.ArrayList<>();
            Autograd.backward(loss, on(Tensor.ones(new int[0])), leaf -> {
                String name = leaf == a ? "a" : leaf == b ? "b" : "x";
                seen.add(name + "=" + leaf.grad().toFloats()[0]);
            });
            assertEquals(3, seen.size(), seen.toString());
            assertTrue(seen.containsAll(java.util.List.of("a=13.0", "b=3.0", "x=17.0")), seen.toString());
        }
    }

    @Test
    void noGradRecordsNothing() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.ones(2)).requiresGrad(true);
            Tensor y;
            try (GradMode ng = GradMode.noGrad()) {
                y = x.mul(x);
            }
            assertFalse(y.requiresGrad());
            assertNull(y.gradFn());
            assertTrue(GradMode.isEnabled());
            assertTrue(x.mul(x).requiresGrad());
        }
    }

    @Test
    void detachCutsTheTape() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.fromFloats(new float[] {3}, 1)).requiresGrad(true);
            Tensor d = x.mul(x).detach();
            assertFalse(d.requiresGrad());
            x.mul(d).sum().backward();
            assertArrayEquals(new float[] {9}, x.grad().toFloats());
        }
    }

    @Test
    void savedTensorsAreReleasedAfterBackward() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.ones(3)).requiresGrad(true);
            Tensor loss = x.mul(x).sum();
            loss.backward();
            var e = assertThrows(IllegalStateException.class, loss::backward);
            assertTrue(e.getMessage().contains("second time"), e.getMessage());
        }
    }

    @Test
    void backwardWithAGivenGradientAndRetainGrad() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.fromFloats(new float[] {1, 2}, 2)).requiresGrad(true);
            Tensor y = x.mul(3.0).retainGrad();
            Tensor z = y.mul(y);
            z.backward(on(Tensor.fromFloats(new float[] {1, 10}, 2)));
            assertArrayEquals(new float[] {6, 120}, y.grad().toFloats());
            assertArrayEquals(new float[] {18, 360}, x.grad().toFloats());
            assertThrows(IllegalArgumentException.class, () -> x.mul(2.0).backward(on(Tensor.ones(3))));
            assertThrows(IllegalStateException.class, () -> on(Tensor.ones(2)).sum().backward());
        }
    }
}
