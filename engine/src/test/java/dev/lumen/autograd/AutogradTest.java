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

    /**
     * The parts of a split write into one gradient buffer of their input (Node.IntoRule): each
     * part's gradient lands in its rows, an unused part's rows stay zero, and the sum with a
     * gradient from another consumer of the input is right whichever reaches it first.
     */
    @Test
    void viewsOfPartsWriteIntoOneGradientOfTheirInput() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.fromFloats(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 4, 2)).requiresGrad(true);
            // parts 0..2 scaled by 1, 2, 3; part 3 unused; x also used whole, before or after the parts
            for (boolean wholeFirst : new boolean[] {true, false}) {
                Tensor parts = x.narrow(0, 0, 1).sum().add(x.narrow(0, 1, 1).mul(2.0).sum()).add(x.select(0, 2).mul(3.0).sum());
                Tensor whole = x.mul(10.0).sum();
                (wholeFirst ? whole.add(parts) : parts.add(whole)).backward();
                assertArrayEquals(new float[] {11, 11, 12, 12, 13, 13, 10, 10}, x.grad().toFloats(), "whole first: " + wholeFirst);
                x.setGrad(null);
            }
        }
    }

    /**
     * A pending gradient that another input shares (add hands the same tensor to both) is never
     * written in place by a view of one of them: y's gradient stays 1 while x's gets its view's
     * part added, in either order of the sum.
     */
    @Test
    void aViewDoesNotWriteIntoAGradientSharedWithAnotherInput() {
        try (Scope s = Scope.open()) {
            Tensor c = on(Tensor.fromFloats(new float[] {1, 2, 3, 4}, 4));
            for (boolean viewFirst : new boolean[] {true, false}) {
                for (boolean xFirst : new boolean[] {true, false}) {
                    Tensor x = on(Tensor.fromFloats(new float[] {1, 2, 3, 4}, 4)).requiresGrad(true);
                    Tensor y0 = on(Tensor.fromFloats(new float[] {5, 6, 7, 8}, 4)).requiresGrad(true);
                    Tensor y = y0.mul(1.0);
                    // add's rule hands its one gradient, c, to both x and y
                    // views of both x and y, so that the first of them to run finds the tensor they share pending
                    Tensor shared = (xFirst ? x.add(y) : y.add(x)).mul(c).sum();
                    Tensor view = x.narrow(0, 1, 2).mul(5.0).add(y.narrow(0, 1, 2).mul(7.0)).sum();
                    (viewFirst ? view.add(shared) : shared.add(view)).backward();
                    String what = "view first: " + viewFirst + ", x first: " + xFirst;
                    assertArrayEquals(new float[] {1, 7, 8, 4}, x.grad().toFloats(), what);
                    assertArrayEquals(new float[] {1, 9, 10, 4}, y0.grad().toFloats(), what);
                }
            }
        }
    }

    /** With retain_graph the views' rules run again on a second backward, into a fresh buffer. */
    @Test
    void viewsWriteIntoTheirInputsGradientAgainWithARetainedGraph() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.fromFloats(new float[] {1, 2, 3, 4}, 2, 2)).requiresGrad(true);
            Tensor out = x.select(0, 0).mul(3.0).sum().add(x.select(0, 1).sum());
            Autograd.backward(out, on(Tensor.ones()), null, true);
            Autograd.backward(out, on(Tensor.ones()), null, false);
            assertArrayEquals(new float[] {6, 6, 2, 2}, x.grad().toFloats());
        }
    }
}
