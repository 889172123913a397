package dev.lumen.ops;

import static dev.lumen.testing.Bits.assertSameBits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.autograd.GradMode;
import dev.lumen.backend.ElementwiseKernels;
import dev.lumen.backend.ElementwiseKernels.Binary;
import dev.lumen.backend.ElementwiseKernels.Unary;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.ChannelsLast;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.GradCheck;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * relu(a + b) in one pass against add then relu: the same bits forward and backward. On the
 * CPU the fused kernel runs; on cuda the backend inherits the composite, so the op-level checks
 * show the in-place and autograd logic works there too.
 */
class AddReluTest extends DeviceTest {
    /** Lengths off the vector width (tails), one past a thread's grain (split ranges), and a single element. */
    private static final int[][] SHAPES = {{3, 5, 7}, {2, 16, 8}, {1}, {5, 131, 53}};

    private Tensor poisoned(DType t, int... shape) { return Tensor.full(Double.NaN, t, device, shape); }

    /** Random values with the edge cases a ReLU join meets spliced in: NaN, both zeros, exact cancellation. */
    private Tensor[] operands(DType t, int[] shape, long seed) {
        Generator g = new Generator(seed);
        Tensor a = Tensor.randn(g, DType.F64, shape), b = Tensor.randn(g, DType.F64, shape);
        double[] av = a.toDoubles(), bv = b.toDoubles();
        double[][] special = {{Double.NaN, 1}, {-1, Double.NaN}, {-0.0, -0.0}, {0.0, -0.0}, {2.5, -2.5}, {-3, 3},
                {Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}, {Double.NEGATIVE_INFINITY, 1}};
        for (int i = 0; i < special.length && 3 * i < av.length; i++) {
            av[3 * i] = special[i][0];
            bv[3 * i] = special[i][1];
        }
        return new Tensor[] {on(Tensor.fromDoubles(av, t, shape)), on(Tensor.fromDoubles(bv, t, shape))};
    }

    @Test
    void kernelMatchesAddThenReluBitForBit() {
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            for (int[] sh : SHAPES) {
                try (Scope s = Scope.open()) {
                    String what = t + " " + java.util.Arrays.toString(sh);
                    Tensor[] ab = operands(t, sh, 11 + sh.length * 3L + sh[0]);
                    Tensor a = ab[0], b = ab[1];
                    ElementwiseKernels k = a.backend().elementwise();
                    Tensor expected = poisoned(t, sh);
                    k.binary(Binary.ADD, a, b, expected);
                    k.unary(Unary.RELU, expected, 0, 0, expected);

                    Tensor out = poisoned(t, sh);
                    k.addRelu(a, b, out);
                    assertSameBits(what, expected, out);
                    // Written over either operand (the kernel allows both; the op writes over a only).
                    Tensor overA = a.copy(), overB = b.copy();
                    k.addRelu(overA, b, overA);
                    assertSameBits(what + " over a", expected, overA);
                    k.addRelu(a, overB, overB);
                    assertSameBits(what + " over b", expected, overB);
                }
            }
        }
    }

    /** Operands read through their strides (a transposed view, an offset slice): the strided loops. */
    @Test
    void kernelReadsStridedOperands() {
        try (Scope s = Scope.open()) {
            Tensor[] ab = operands(DType.F32, new int[] {9, 37}, 17);
            Tensor a = ab[0].transpose(0, 1), b = ab[1].transpose(0, 1).copy();
            Tensor wide = on(Tensor.randn(new Generator(18), DType.F32, 37, 10)).narrow(1, 1, 9);
            ElementwiseKernels k = a.backend().elementwise();
            for (Tensor other : new Tensor[] {b, wide}) {
                Tensor expected = poisoned(DType.F32, 37, 9), out = poisoned(DType.F32, 37, 9);
                k.binary(Binary.ADD, a, other, expected);
                k.unary(Unary.RELU, expected, 0, 0, expected);
                k.addRelu(a, other, out);
                assertSameBits("strided", expected, out);
            }
        }
    }

    /** Through autograd: output and both gradients, each operand requiring grad or not. */
    @Test
    void opMatchesAddThenRelu() {
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            for (int wants = 1; wants <= 3; wants++) {
                try (Scope s = Scope.open()) {
                    String what = t + " grads " + wants;
                    int[] sh = {4, 6, 5, 5};
                    Tensor[] ab = operands(t, sh, 20 + wants);
                    Tensor go = on(Tensor.randn(new Generator(23), t, sh));
                    Tensor[] fused = run(ab[0], ab[1], go, wants, true);
                    Tensor[] plain = run(ab[0], ab[1], go, wants, false);
                    assertSameBits(what + " out", plain[0], fused[0]);
                    if ((wants & 1) != 0) assertSameBits(what + " grad a", plain[1], fused[1]);
                    if ((wants & 2) != 0) assertSameBits(what + " grad b", plain[2], fused[2]);
                }
            }
        }
    }

    /** Leaves a0, b0 (bit 1: a requires grad, bit 2: b), each passed through a mul so the op sees intermediates it may overwrite. */
    private static Tensor[] run(Tensor a0, Tensor b0, Tensor go, int wants, boolean fused) {
        Tensor a = a0.copy().requiresGrad((wants & 1) != 0), b = b0.copy().requiresGrad((wants & 2) != 0);
        Tensor ia = a.mul(1.0), ib = b.mul(1.0);
        Tensor out = fused ? Activations.addRelu(ia, ib) : Activations.reluInplace(ia.add(ib));
        Tensor kept = out.detach().copy();
        out.backward(go);
        return new Tensor[] {kept, a.grad(), b.grad()};
    }

    /** The node saves only its output (ReLU's mask); the result takes a's memory where nothing else needs it, else new memory. */
    @Test
    void overwritesWhatNothingElseNeeds() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(30);
            Tensor leaf = on(Tensor.randn(g, DType.F32, 3, 8)).requiresGrad(true);
            Tensor a = leaf.mul(2.0), b = leaf.mul(3.0);
            Tensor out = Activations.addRelu(a, b);
            assertEquals("add_relu", out.gradFn().op());
            assertEquals(List.of(out), out.gradFn().saved());
            assertTrue(a.isReleased(), "a was saved by nobody: its memory holds the result");
            assertFalse(b.isReleased());

            // a is saved by gelu's node, so the result is new memory; b, the shortcut, is never written.
            Tensor c = leaf.mul(2.0), d = leaf.mul(3.0);
            float[] cBefore = c.toFloats(), dBefore = d.toFloats();
            Tensor gelu = Activations.gelu(c);
            Tensor out2 = Activations.addRelu(c, d);
            assertFalse(c.isReleased(), "gelu saved c");
            assertFalse(d.isReleased(), "the shortcut is the caller's");
            assertEquals(java.util.Arrays.toString(cBefore), java.util.Arrays.toString(c.toFloats()));
            assertEquals(java.util.Arrays.toString(dBefore), java.util.Arrays.toString(d.toFloats()));

            // Leaves that require grad are never written; the result is new memory.
            Tensor other = on(Tensor.randn(g, DType.F32, 3, 8)).requiresGrad(true);
            float[] leafBefore = leaf.toFloats();
            Tensor out3 = Activations.addRelu(leaf, other);
            assertFalse(leaf.isReleased());
            assertFalse(other.isReleased());
            assertEquals(java.util.Arrays.toString(leafBefore), java.util.Arrays.toString(leaf.toFloats()));

            out.sum().add(out2.sum()).add(out3.sum()).add(gelu.sum()).backward();
            Tensor expected = Activations.relu(leaf.detach().mul(5.0));
            assertTrue(leaf.grad() != null && other.grad() != null);
            // d out/d leaf sums the three joins' masks (2 + 3 each) and gelu's derivative.
            try (GradMode ng = GradMode.noGrad()) {
                Tensor mask = Elementwise.unaryBackward(Unary.RELU, expected, 0, 0, Tensor.full(5, DType.F32, device, 3, 8));
                Tensor mask3 = Elementwise.unaryBackward(Unary.RELU, out3, 0, 0, Tensor.full(1, DType.F32, device, 3, 8));
                Tensor geluGrad = Elementwise.unaryBackward(Unary.GELU, leaf.detach().mul(2.0), 0, 0, Tensor.full(2, DType.F32, device, 3, 8));
                Tensor want = mask.mul(2.0).add(mask3).add(geluGrad);
                float[] w = want.toFloats(), got = leaf.grad().toFloats();
                for (int i = 0; i < w.length; i++) assertEquals(w[i], got[i], 1e-5, "leaf grad " + i);
                assertSameBits("other grad", mask3, other.grad());
            }
        }
    }

    /**
     * Channels-last operands (the folded ResNet chain at inference): the result keeps the layout
     * (written over a, or new), one flat pass when both are channels-last, the strided loops when
     * the layouts differ; the values are those on NCHW, bit for bit.
     */
    @Test
    void channelsLastOperandsKeepTheirLayout() {
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            int[] sh = {2, 24, 7, 9};
            Tensor[] ab = operands(DType.F32, sh, 60);
            Tensor expected = Activations.relu(ab[0].add(ab[1]));
            Tensor aLast = channelsLast(ab[0]), bLast = channelsLast(ab[1]);
            Tensor kept = channelsLast(ab[0]);
            Tensor view = kept.detach();
            Tensor fresh = Activations.addRelu(kept, bLast);
            assertFalse(kept.isReleased(), "another view shares kept's storage");
            assertTrue(ChannelsLast.is(fresh), "new memory, channels-last as a");
            assertSameBits("new", expected, fresh);
            Tensor over = Activations.addRelu(aLast, bLast);
            assertTrue(aLast.isReleased(), "written over a");
            assertTrue(ChannelsLast.is(over));
            assertSameBits("over a", expected, over);
            assertSameBits("mixed layouts", expected, Activations.addRelu(channelsLast(ab[0]), ab[1]));
            assertSameBits("mixed layouts, a NCHW", expected, Activations.addRelu(ab[0].copy(), channelsLast(ab[1])));
            Tensor relu = Activations.relu(channelsLast(ab[0]));
            assertTrue(ChannelsLast.is(relu));
            assertSameBits("relu", Activations.relu(ab[0]), relu);
            assertSameBits("relu_", Activations.relu(ab[0]), Activations.reluInplace(channelsLast(ab[0])));
            view.release();
        }
    }

    private static Tensor channelsLast(Tensor x) {
        Tensor t = ChannelsLast.empty(x.dtype(), x.device(), x.shape(0), x.shape(1), x.shape(2), x.shape(3));
        x.backend().copy(x, t);
        return t;
    }

    /** Broadcast operands and mixed dtypes run add then relu_, with add's broadcasting and promotion. */
    @Test
    void broadcastAndMixedDtypesFallBackToAddThenRelu() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(40);
            Tensor a = on(Tensor.randn(g, DType.F32, 2, 3, 4)), row = on(Tensor.randn(g, DType.F32, 4));
            assertSameBits("broadcast", Activations.relu(a.add(row)), Activations.addRelu(a, row));
            Tensor d = on(Tensor.randn(g, DType.F64, 2, 3, 4));
            Tensor mixed = Activations.addRelu(a, d);
            assertEquals(DType.F64, mixed.dtype());
            assertSameBits("mixed", Activations.relu(a.add(d)), mixed);
        }
    }

    @Test
    void passesFiniteDifferences() {
        Generator g = new Generator(50);
        // Operands away from the kink, where the derivative exists.
        Tensor a = on(Tensor.randn(g, DType.F64, 3, 4, 5)), b = on(Tensor.randn(g, DType.F64, 3, 4, 5));
        double[] av = a.toDoubles(), bv = b.toDoubles();
        for (int i = 0; i < av.length; i++) if (Math.abs(av[i] + bv[i]) < 0.05) av[i] += 0.2;
        a = on(Tensor.fromDoubles(av, DType.F64, 3, 4, 5));
        GradCheck.check(device, "add_relu", v -> Activations.addRelu(v[0], v[1]), a, b);
    }
}
