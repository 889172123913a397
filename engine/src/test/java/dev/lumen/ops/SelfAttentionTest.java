package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.AttentionKernels;
import dev.lumen.memory.Scope;
import dev.lumen.nn.Attention;
import dev.lumen.reference.Compare;
import dev.lumen.reference.SelfAttentionReference;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.GradCheck;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The packed self-attention op and its kernels: the device backend's kernels and the composed
 * ones against the loop reference (outputs poisoned first), the op against the unfused
 * {@link Attention#attend} it replaces, and finite differences. timm's goldens run through it
 * in AttentionTest.
 */
class SelfAttentionTest extends DeviceTest {

    @ParameterizedTest(name = "B{0} N{1} C{2} heads{3}")
    @CsvSource({"2, 7, 12, 3", "1, 197, 128, 2", "3, 1, 8, 2", "2, 17, 96, 3"})
    void kernelsMatchTheReference(int b, int n, int c, int heads) {
        // The composed kernels with padded probabilities too: the CPU kernels fall back to them so
        // where the GEMM cannot run on several threads at once.
        AttentionKernels padded = new AttentionKernels() {
            @Override
            public int probsWidth(int tokens) { return tokens + 3; }
        };
        for (AttentionKernels k : new AttentionKernels[] {on(Tensor.zeros(1)).backend().attention(), AttentionKernels.COMPOSED, padded}) {
            for (DType t : new DType[] {DType.F32, DType.F64}) check(k, t, b, n, c, heads);
        }
    }

    private void check(AttentionKernels kernels, DType t, int b, int n, int c, int heads) {
        Random r = new Random(31L * n + c);
        float[] qkvF = Compare.randomFloats(r, b * n * 3 * c), goF = Compare.randomFloats(r, b * n * c);
        double[] qkvD = toDoubles(qkvF), goD = toDoubles(goF);
        double scale = Math.pow(c / heads, -0.5);
        SelfAttentionReference.Result ref = SelfAttentionReference.run(b, n, c, heads, qkvD, scale, goD);
        try (Scope s = Scope.open()) {
            Tensor qkv = on(Tensor.fromDoubles(qkvD, t, b, n, 3 * c)), go = on(Tensor.fromDoubles(goD, t, b, n, c));
            Tensor out = poisoned(t, b, n, c), probs = poisoned(t, b, heads, n, kernels.probsWidth(n)), gi = poisoned(t, b, n, 3 * c);
            kernels.selfAttention(qkv, heads, scale, probs, out);
            kernels.selfAttentionBackward(qkv, probs, go, heads, scale, gi);
            double tol = t == DType.F64 ? 1e-12 : 2e-6;
            String what = kernels.getClass().getSimpleName() + " " + t;
            assertClose(what + " out", ref.out(), out, tol);
            assertClose(what + " probs", ref.probs(), probs.narrow(3, 0, n), tol);
            assertClose(what + " gradQkv", ref.gradQkv(), gi, tol);
            // Without probs (no gradient) the forward keeps P to itself. The CPU kernels' F32 path
            // then divides the output rows by the softmax sums instead of normalizing P, which
            // rounds differently: the reference's tolerance rather than out's bits.
            Tensor out2 = poisoned(t, b, n, c);
            kernels.selfAttention(qkv, heads, scale, null, out2);
            assertClose(what + " out without probs", ref.out(), out2, tol);
        }
    }

    @Test
    void opMatchesTheUnfusedAttention() {
        try (Scope s = Scope.open()) {
            int b = 2, n = 5, heads = 3, d = 4, c = heads * d;
            Tensor qkv = on(Tensor.randn(new Generator(7), DType.F64, b, n, 3 * c)).requiresGrad(true);
            Tensor w = on(Tensor.randn(new Generator(8), DType.F64, b, n, c));
            Tensor fused = SelfAttention.packed(qkv, heads, 0.3);
            fused.mul(w).sum().backward();
            Tensor twin = qkv.detach().copy().requiresGrad(true);
            Tensor h = twin.reshape(b, n, 3, heads, d).permute(2, 0, 3, 1, 4);
            Tensor plain = Attention.attend(h.select(0, 0), h.select(0, 1), h.select(0, 2), 0.3, null).transpose(1, 2).reshape(b, n, c);
            plain.mul(w).sum().backward();
            assertArrayEquals(plain.toDoubles(), fused.toDoubles(), 1e-13, "output");
            assertArrayEquals(twin.grad().toDoubles(), qkv.grad().toDoubles(), 1e-12, "qkv gradient");
        }
    }

    @Test
    void gradientPassesFiniteDifferences() {
        Tensor qkv = on(Tensor.randn(new Generator(9), DType.F64, 2, 3, 12));
        GradCheck.check(device, "self_attention", xs -> SelfAttention.packed(xs[0], 2, 0.7), qkv);
    }

    @Test
    void stridedQkvIsReadThroughACopy() {
        try (Scope s = Scope.open()) {
            Tensor base = on(Tensor.randn(new Generator(10), DType.F32, 2, 18, 6));
            Tensor qkv = base.transpose(1, 2);
            assertTrue(!qkv.isContiguous());
            assertArrayEquals(SelfAttention.packed(qkv.contiguous(), 3, 0.5).toFloats(), SelfAttention.packed(qkv, 3, 0.5).toFloats(), 0f);
        }
    }

    @Test
    void savesQkvAndTheProbabilitiesOnly() {
        try (Scope s = Scope.open()) {
            Tensor qkv = on(Tensor.randn(new Generator(11), DType.F32, 2, 5, 12)).requiresGrad(true);
            Tensor out = SelfAttention.packed(qkv, 2, 0.5);
            var saved = out.gradFn().saved();
            assertEquals(2, saved.size(), "saved: " + saved);
            assertTrue(saved.stream().anyMatch(x -> x == qkv), "qkv itself is saved, not a copy");
            int width = qkv.backend().attention().probsWidth(5);
            assertTrue(width >= 5, "padded rows hold the 5 probabilities");
            assertTrue(saved.stream().anyMatch(x -> java.util.Arrays.equals(x.shape(), new int[] {2, 2, 5, width})), "the probabilities");
        }
    }

    @Test
    void badInputsNameTheShapeOrDtype() {
        Tensor two = on(Tensor.zeros(4, 12));
        var e = assertThrows(IllegalArgumentException.class, () -> SelfAttention.packed(two, 2, 1));
        assertTrue(e.getMessage().contains("self_attention") && e.getMessage().contains("[4, 12]"), e.getMessage());
        Tensor odd = on(Tensor.zeros(1, 4, 12));
        e = assertThrows(IllegalArgumentException.class, () -> SelfAttention.packed(odd, 5, 1));
        assertTrue(e.getMessage().contains("5 heads") && e.getMessage().contains("[1, 4, 12]"), e.getMessage());
        Tensor ints = on(Tensor.zeros(DType.I64, dev.lumen.tensor.Device.CPU, 1, 4, 12));
        e = assertThrows(IllegalArgumentException.class, () -> SelfAttention.packed(ints, 2, 1));
        assertTrue(e.getMessage().contains("I64"), e.getMessage());
    }

    @Test
    void kernelsRejectAMisshapedArgumentBeforeWriting() {
        try (Scope s = Scope.open()) {
            AttentionKernels k = on(Tensor.zeros(1)).backend().attention();
            Tensor qkv = on(Tensor.randn(new Generator(12), DType.F32, 2, 7, 12)), out = poisoned(DType.F32, 2, 7, 4);
            int w = k.probsWidth(7);
            Tensor narrow = poisoned(DType.F32, 2, 2, 7, w - 1);
            var e = assertThrows(IllegalArgumentException.class, () -> k.selfAttention(qkv, 2, 0.5, narrow, out));
            assertTrue(e.getMessage().contains("probs") && e.getMessage().contains("[2, 2, 7, " + w + "]"), e.getMessage());
            Tensor probs = poisoned(DType.F32, 2, 2, 7, w), shortGrad = poisoned(DType.F32, 2, 7, 11);
            k.selfAttention(qkv, 2, 0.5, probs, out);
            e = assertThrows(IllegalArgumentException.class, () -> k.selfAttentionBackward(qkv, probs, out, 2, 0.5, shortGrad));
            assertTrue(e.getMessage().contains("gradQkv"), e.getMessage());
        }
    }

    private Tensor poisoned(DType t, int... shape) { return on(Tensor.full(Double.NaN, t, dev.lumen.tensor.Device.CPU, shape)); }

    private static void assertClose(String what, double[] ref, Tensor actual, double tol) {
        double[] a = actual.toDoubles();
        double err = 0, scale = 1e-30;
        for (int i = 0; i < a.length; i++) {
            if (Double.isNaN(a[i])) throw new AssertionError(what + ": element " + i + " never written (NaN)");
            err = Math.max(err, Math.abs(a[i] - ref[i]));
            scale = Math.max(scale, Math.abs(ref[i]));
        }
        assertTrue(err / scale <= tol, what + ": max error " + err / scale + " relative to max |ref|, tolerance " + tol);
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }
}
