package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.SelectiveScanKernels;
import dev.lumen.memory.Scope;
import dev.lumen.reference.SelectiveScanReference;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import dev.lumen.testing.GradCheck;
import org.junit.jupiter.api.Test;

class SelectiveScanTest extends DeviceTest {
    private static final String FAMILY = "selective_scan";
    // F32 against the double reference: every step is a few roundings, and the decays are
    // below 1 so errors do not grow along the scan; the sums over up to L*B terms (A, D and
    // bias gradients) are accumulated per chunk in F32, then in double. Seen: ~1e-6.
    private static final double TOL_F32 = 1e-5;
    // F16/BF16 inputs hold exactly the values the reference is given, and the arithmetic is
    // F32, so the output keeps the F32 bound; the gradients of those inputs are rounded to
    // their dtype: half an ulp relative, 2^-11 for F16 and 2^-8 for BF16, plus the F32 error.
    private static final double TOL_F16_GRAD = 1e-3;
    private static final double TOL_BF16_GRAD = 6e-3;

    /** One problem: batch, channels, height, width, d_state. */
    private record Shape(int b, int d, int h, int w, int n) {
        int len() { return h * w; }

        @Override
        public String toString() { return b + "x" + d + "x" + h + "x" + w + " N=" + n; }
    }

    /** Fresh random inputs x, delta, A, B, C, D, bias in VMamba-like ranges. */
    private Tensor[] inputs(Shape s, long seed, DType t) {
        Generator g = new Generator(seed);
        int l = s.len();
        Tensor x = on(Tensor.randn(g, DType.F64, s.b, s.d, s.h, s.w));
        Tensor delta = on(Tensor.randn(g, DType.F64, s.b, 4, s.d, l)).mul(0.5);
        Tensor a = on(Tensor.randn(g, DType.F64, 4 * s.d, s.n)).mul(0.5);
        double[] av = a.toDoubles();
        for (int i = 0; i < av.length; i++) av[i] = -Math.exp(av[i]);
        Tensor bm = on(Tensor.randn(g, DType.F64, s.b, 4, s.n, l)), cm = on(Tensor.randn(g, DType.F64, s.b, 4, s.n, l));
        Tensor dskip = on(Tensor.randn(g, DType.F64, 4 * s.d));
        Tensor bias = on(Tensor.rand(g, DType.F64, 4 * s.d)).add(-2.0);
        Tensor[] all = {x, delta, on(Tensor.fromDoubles(av, DType.F64, 4 * s.d, s.n)), bm, cm, dskip, bias};
        for (int i = 0; i < all.length; i++) {
            boolean storage = i == 0 || i == 1 || i == 3 || i == 4; // x, delta, B, C may be 16-bit
            all[i] = all[i].to(storage ? t : (t == DType.F64 ? DType.F64 : DType.F32)).detach();
        }
        return all;
    }

    private Tensor nan(DType t, int... shape) { return Tensor.full(Double.NaN, t, device, shape); }

    /** Kernel-level: forward and backward into NaN-poisoned outputs, against the reference. */
    private void kernelMatchesReference(Shape s, long seed) {
        try (Scope sc = Scope.open()) {
            Tensor[] in = inputs(s, seed, DType.F32);
            SelectiveScanKernels k = in[0].backend().selectiveScan();
            Tensor out = nan(DType.F32, s.b, s.d, s.h, s.w);
            Tensor states = nan(DType.F32, s.b, 4, s.d, SelectiveScanKernels.chunks(s.len()), s.n);
            k.selectiveScan2dForward(in[0], in[1], in[2], in[3], in[4], in[5], in[6], out, states);
            Golden.assertClose(FAMILY, "cpu " + s + " out", out, SelectiveScanReference.forward(in[0], in[1], in[2], in[3], in[4], in[5], in[6]), TOL_F32);
            Tensor go = on(Tensor.randn(new Generator(seed + 1), DType.F32, s.b, s.d, s.h, s.w));
            Tensor[] grads = new Tensor[in.length];
            for (int i = 0; i < in.length; i++) grads[i] = nan(DType.F32, in[i].shape());
            k.selectiveScan2dBackward(in[0], in[1], in[2], in[3], in[4], in[5], in[6], states, go,
                    grads[0], grads[1], grads[2], grads[3], grads[4], grads[5], grads[6]);
            SelectiveScanReference.Grads ref = SelectiveScanReference.backward(in[0], in[1], in[2], in[3], in[4], in[5], in[6], go);
            Tensor[] want = {ref.x(), ref.delta(), ref.a(), ref.b(), ref.c(), ref.dSkip(), ref.deltaBias()};
            for (int i = 0; i < in.length; i++) Golden.assertClose(FAMILY, "cpu " + s + " grad " + NAMES[i], grads[i], want[i], TOL_F32);
        }
    }

    private static final String[] NAMES = {"x", "delta", "A", "B", "C", "D", "deltaBias"};

    @Test void kernelMatchesReference7x7N16() { kernelMatchesReference(new Shape(2, 5, 7, 7, 16), 11); }

    @Test void kernelMatchesReference14x14N1() { kernelMatchesReference(new Shape(1, 19, 14, 14, 1), 12); }

    @Test void kernelMatchesReference13x13N3() { kernelMatchesReference(new Shape(3, 2, 13, 13, 3), 13); }

    /** L = 97 is prime, and H = 1 makes the column-major routes visit the row in order. */
    @Test void kernelMatchesReferencePrimeLength() { kernelMatchesReference(new Shape(1, 3, 1, 97, 16), 14); }

    @Test void kernelMatchesReference7x11N1() { kernelMatchesReference(new Shape(2, 33, 7, 11, 1), 15); }

    @Test void kernelMatchesReference56x56() { kernelMatchesReference(new Shape(1, 2, 56, 56, 16), 16); }

    /** Op-level: autograd wiring and 16-bit storage, against the reference on the same (rounded) values. */
    private void opMatchesReference(Shape s, DType t, double tolGrad) {
        try (Scope sc = Scope.open()) {
            Tensor[] in = inputs(s, 40 + t.ordinal(), t);
            for (Tensor x : in) x.requiresGrad(true);
            Tensor out = SelectiveScan.selectiveScan2d(in[0], in[1], in[2], in[3], in[4], in[5], in[6]);
            assertEquals(t == DType.F64 ? DType.F64 : DType.F32, out.dtype());
            Golden.assertClose(FAMILY, "op " + t + " " + s + " out", out,
                    SelectiveScanReference.forward(in[0], in[1], in[2], in[3], in[4], in[5], in[6]), TOL_F32);
            Tensor go = on(Tensor.randn(new Generator(5), out.dtype(), out.shape()));
            out.backward(go);
            SelectiveScanReference.Grads ref = SelectiveScanReference.backward(in[0], in[1], in[2], in[3], in[4], in[5], in[6], go);
            Tensor[] want = {ref.x(), ref.delta(), ref.a(), ref.b(), ref.c(), ref.dSkip(), ref.deltaBias()};
            for (int i = 0; i < in.length; i++) {
                assertEquals(in[i].dtype(), in[i].grad().dtype(), "gradient dtype of " + NAMES[i]);
                boolean rounded = in[i].dtype() != DType.F32 && in[i].dtype() != DType.F64;
                Golden.assertClose(FAMILY, "op " + t + " " + s + " grad " + NAMES[i], in[i].grad(), want[i], rounded ? tolGrad : TOL_F32);
            }
        }
    }

    @Test void opMatchesReferenceF32() { opMatchesReference(new Shape(2, 18, 5, 9, 4), DType.F32, TOL_F32); }

    @Test void opMatchesReferenceF16Inputs() { opMatchesReference(new Shape(2, 18, 5, 9, 4), DType.F16, TOL_F16_GRAD); }

    @Test void opMatchesReferenceBF16Inputs() { opMatchesReference(new Shape(1, 7, 8, 8, 16), DType.BF16, TOL_BF16_GRAD); }

    // The F64 path against the double reference: both are double throughout.
    @Test void opMatchesReferenceF64() { opMatchesReference(new Shape(2, 3, 3, 5, 2), DType.F64, 1e-12); }

    @Test
    void opMatchesTorchGolden() {
        Golden g = Golden.load(FAMILY);
        for (String c : new String[] {"s2x3x3x4n2", "s1x2x5x5n1", "s1x17x4x7n16"}) {
            try (Scope sc = Scope.open()) {
                Tensor[] in = new Tensor[7];
                for (int i = 0; i < 7; i++) in[i] = g.input(c, i, device);
                Tensor out = SelectiveScan.selectiveScan2d(in[0], in[1], in[2], in[3], in[4], in[5], in[6]);
                // Torch's F32 loop and ours round differently (its exp and softplus, its sum order).
                g.check(FAMILY, c, out, in, TOL_F32, TOL_F32);
            }
        }
    }

    @Test
    void passesFiniteDifferences() {
        Tensor[] in = inputs(new Shape(1, 2, 2, 3, 2), 7, DType.F64);
        GradCheck.check(device, FAMILY, x -> SelectiveScan.selectiveScan2d(x[0], x[1], x[2], x[3], x[4], x[5], x[6]), in);
    }

    @Test
    void f32BackwardWithoutGradNeedsNoStates() {
        try (Scope sc = Scope.open()) {
            Tensor[] in = inputs(new Shape(1, 3, 4, 4, 2), 9, DType.F32);
            Tensor out = SelectiveScan.selectiveScan2d(in[0], in[1], in[2], in[3], in[4], in[5], in[6]);
            assertTrue(out.gradFn() == null, "no input requires grad, so nothing is recorded");
        }
    }

    @Test
    void rejectsBadShapes() {
        Tensor[] in = inputs(new Shape(1, 3, 4, 5, 2), 1, DType.F32);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SelectiveScan.selectiveScan2d(in[0], in[1].narrow(3, 0, 19), in[2], in[3], in[4], in[5], in[6]));
        assertTrue(e.getMessage().contains("selective_scan_2d: delta must be [1, 4, 3, 20]"), e.getMessage());
        Tensor bigN = on(Tensor.zeros(1, 4, 17, 20));
        e = assertThrows(IllegalArgumentException.class,
                () -> SelectiveScan.selectiveScan2d(in[0], in[1], in[2], bigN, bigN, in[5], in[6]));
        assertTrue(e.getMessage().contains("must be 1..16"), e.getMessage());
    }
}
