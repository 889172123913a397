package dev.lumen.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.ops.Convolution;
import dev.lumen.ops.Elementwise;
import dev.lumen.ops.LinearAlgebra;
import dev.lumen.ops.Normalization;
import dev.lumen.ops.Reductions;
import dev.lumen.ops.Softmax;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.Golden;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/** torch.autocast's semantics on the CPU: which ops compute in 16 bits, which in F32, and where gradients land. */
class AutocastTest {

    /** x [5, 33], a Linear 33 -> 17 with bias, a LayerNorm over 17 with affine, as F32 leaves. */
    private record Graph(Tensor x, Tensor w, Tensor b, Tensor gamma, Tensor beta) {
        static Graph random(long seed) {
            Generator g = new Generator(seed);
            return new Graph(Tensor.randn(g, DType.F32, 5, 33).requiresGrad(true),
                    Tensor.randn(g, DType.F32, 17, 33).mul(0.2).detach().requiresGrad(true),
                    Tensor.randn(g, DType.F32, 17).detach().requiresGrad(true),
                    Tensor.randn(g, DType.F32, 17).add(1).detach().requiresGrad(true),
                    Tensor.randn(g, DType.F32, 17).detach().requiresGrad(true));
        }

        Tensor[] leaves() { return new Tensor[] {x, w, b, gamma, beta}; }

        /** softmax(layerNorm(linear(x))) and the linear's output. */
        Tensor[] forward() {
            Tensor h = LinearAlgebra.linear(x, w, b);
            return new Tensor[] {Softmax.softmax(Normalization.layerNorm(h, gamma, beta, 1e-5), -1), h};
        }
    }

    /** Relative error of one rounding to the type, with room for the few roundings a chain adds (LayerNorm divides by a small std). */
    private static double tolerance(DType t) { return t == DType.BF16 ? 2e-2 : 3e-3; }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void linearLayerNormSoftmaxMatchF32WithinTheTypesPrecisionAndKeepF32Gradients(DType half) {
        Graph ref = Graph.random(11), mixed = Graph.random(11);
        Tensor refOut = ref.forward()[0];
        Tensor gout = Tensor.randn(new Generator(12), DType.F32, refOut.shape());
        refOut.backward(gout);

        Tensor[] outs;
        try (Autocast ac = Autocast.enable(half)) {
            outs = mixed.forward();
        }
        assertEquals(half, outs[1].dtype(), "linear computes in the autocast type");
        assertEquals(DType.F32, outs[0].dtype(), "layer norm and softmax are on the F32 list");
        assertTrue(Golden.relativeError(outs[0], refOut) <= tolerance(half), "output error " + Golden.relativeError(outs[0], refOut));
        outs[0].backward(gout);
        String[] names = {"x", "weight", "bias", "gamma", "beta"};
        for (int i = 0; i < names.length; i++) {
            Tensor got = mixed.leaves()[i].grad(), want = ref.leaves()[i].grad();
            assertEquals(DType.F32, got.dtype(), names[i] + ".grad stays F32");
            double err = Golden.relativeError(got, want);
            assertTrue(err <= 2 * tolerance(half), names[i] + ".grad relative error " + err);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void linearRunsOnRoundedOperandsAndRoundsItsResult(DType half) {
        Graph g = Graph.random(21);
        Tensor got;
        try (Autocast ac = Autocast.enable(half)) {
            got = LinearAlgebra.linear(g.x(), g.w(), g.b());
        }
        // The same product in F32 from operands rounded to the type, then rounded once: what tensor cores compute.
        Tensor rounded = LinearAlgebra.linear(round(g.x(), half), round(g.w(), half), round(g.b(), half)).to(half);
        assertArrayEquals(rounded.toFloats(), got.toFloats());
        Tensor unrounded = LinearAlgebra.linear(g.x(), g.w(), g.b()).to(half);
        assertFalse(Arrays.equals(unrounded.toFloats(), got.toFloats()), "the operands were really rounded");
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void conv2dRunsOnRoundedOperandsAndItsGradientsReachF32Parameters(DType half) {
        Generator gen = new Generator(31);
        Tensor x = Tensor.randn(gen, DType.F32, 2, 3, 9, 7).requiresGrad(true);
        Tensor w = Tensor.randn(gen, DType.F32, 5, 3, 3, 3).mul(0.3).detach().requiresGrad(true);
        Tensor b = Tensor.randn(gen, DType.F32, 5).detach().requiresGrad(true);
        int[] s = {2, 1}, p = {1}, d = {1};
        Tensor got;
        try (Autocast ac = Autocast.enable(half)) {
            got = Convolution.conv2d(x, w, b, s, p, d, 1);
        }
        assertEquals(half, got.dtype());
        Tensor want = Convolution.conv2d(round(x, half), round(w, half), round(b, half), s, p, d, 1).to(half);
        assertArrayEquals(want.toFloats(), got.toFloats());

        Tensor gout = Tensor.randn(gen, DType.F32, got.shape());
        got.backward(gout.to(half));
        Tensor xr = x.detach().requiresGrad(true), wr = w.detach().requiresGrad(true), br = b.detach().requiresGrad(true);
        Convolution.conv2d(xr, wr, br, s, p, d, 1).backward(gout);
        Tensor[][] pairs = {{x.grad(), xr.grad()}, {w.grad(), wr.grad()}, {b.grad(), br.grad()}};
        for (Tensor[] pair : pairs) {
            assertEquals(DType.F32, pair[0].dtype());
            assertTrue(Golden.relativeError(pair[0], pair[1]) <= tolerance(half), "conv gradient error " + Golden.relativeError(pair[0], pair[1]));
        }
    }

    /** x rounded to the type and back to F32, off the tape. */
    private static Tensor round(Tensor x, DType t) { return x.detach().to(t).to(DType.F32); }

    @Test
    void opsOnTheF32ListUpcastAndOtherOpsKeepTheirType() {
        Tensor h = Tensor.randn(new Generator(41), DType.F32, 4, 6).to(DType.BF16);
        try (Autocast ac = Autocast.enable(DType.BF16)) {
            assertEquals(DType.F32, Reductions.sum(h).dtype());
            assertEquals(DType.F32, Elementwise.exp(h).dtype());
            assertEquals(DType.F32, Elementwise.log(h.relu().add(1)).dtype());
            assertEquals(DType.F32, Elementwise.pow(h, 2).dtype());
            assertEquals(DType.F32, Softmax.logSoftmax(h, 1).dtype());
            assertEquals(DType.F32, Normalization.groupNorm(h.view(2, 2, 6), 2, null, null, 1e-5).dtype());
            assertEquals(DType.BF16, h.relu().dtype());
            assertEquals(DType.BF16, Reductions.mean(h).dtype(), "mean is on neither of PyTorch's lists");
            assertEquals(DType.F64, LinearAlgebra.matmul(h.to(DType.F64), h.to(DType.F64).transpose(0, 1)).dtype(), "F64 is never cast");
        }
    }

    @Test
    void mixedTypesPromoteAsPyTorchAndEachGradientTakesItsTensorsType() {
        Tensor a = Tensor.randn(new Generator(51), DType.F32, 3, 4).to(DType.F16).requiresGrad(true);
        Tensor b = Tensor.randn(new Generator(52), DType.F32, 3, 4).requiresGrad(true);
        Tensor c = Tensor.randn(new Generator(53), DType.F32, 3, 4).to(DType.BF16);
        Tensor sum = a.add(b);
        assertEquals(DType.F32, sum.dtype(), "F16 + F32 computes in F32");
        assertEquals(DType.F32, a.mul(c).dtype(), "F16 * BF16 computes in F32");
        sum.mul(a.mul(3)).sum().backward();
        assertEquals(DType.F16, a.grad().dtype());
        assertEquals(DType.F32, b.grad().dtype());
        double[] av = a.detach().toDoubles(), bv = b.detach().toDoubles(), ga = a.grad().toDoubles();
        for (int i = 0; i < av.length; i++) {
            double want = 3 * (2 * av[i] + bv[i]);  // d/da (a + b) * 3a
            assertEquals(want, ga[i], Math.abs(want) * 2e-3 + 1e-3, "F16 gradient at " + i);
        }
    }

    @Test
    void offByDefaultWithoutChangingHowSixteenBitProductsCompute() {
        assertNull(Autocast.dtype());
        Tensor a = Tensor.randn(new Generator(61), DType.F32, 3, 5).to(DType.BF16);
        assertEquals(DType.F32, a.matmul(a.transpose(0, 1)).dtype(), "without autocast 16-bit products compute and return F32, as before");
    }

    @Test
    void scopesNestAndRestoreAndBackwardRunsWithAutocastOff() {
        Graph g = Graph.random(71), h = Graph.random(71);
        try (Autocast outer = Autocast.enable(DType.F16)) {
            try (Autocast inner = Autocast.enable(DType.BF16)) {
                assertEquals(DType.BF16, Autocast.dtype());
                try (Autocast off = Autocast.disable()) {
                    assertFalse(Autocast.isEnabled());
                }
                // Backward inside a scope computes as it would outside: each rule in its forward's types.
                g.forward()[0].sum().backward();
            }
            assertEquals(DType.F16, Autocast.dtype());
        }
        assertNull(Autocast.dtype());
        Tensor out;
        try (Autocast ac = Autocast.enable(DType.BF16)) {
            out = h.forward()[0].sum();
        }
        out.backward();
        for (int i = 0; i < 5; i++) assertArrayEquals(h.leaves()[i].grad().toFloats(), g.leaves()[i].grad().toFloats());
        assertThrows(IllegalArgumentException.class, () -> Autocast.enable(DType.F32));
    }
}
