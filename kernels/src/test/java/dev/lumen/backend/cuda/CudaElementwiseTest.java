package dev.lumen.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.lumen.backend.Backends;
import dev.lumen.backend.ElementwiseKernels;
import dev.lumen.backend.ElementwiseKernels.Binary;
import dev.lumen.backend.ElementwiseKernels.Compare;
import dev.lumen.backend.ElementwiseKernels.Unary;
import dev.lumen.cuda.CallCounts;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.util.Random;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * CudaElementwise against the CPU backend: every method, op and dtype on random inputs, through
 * contiguous, permuted-and-sliced and broadcast operands, into outputs that are strided views of a
 * NaN-poisoned buffer (the whole buffer is compared, so a write outside the view fails too), and
 * the special values (NaN, infinities, signed zeros) where Java's semantics differ from C's.
 */
class CudaElementwiseTest {
    static final Device CUDA = Device.cuda(0);
    static final DType[] FLOATS = {DType.F32, DType.F64, DType.F16, DType.BF16};
    static final DType[] INTEGERS = {DType.I32, DType.I64, DType.BOOL};
    static final ElementwiseKernels CPU = Backends.cpu().elementwise();

    @BeforeAll
    static void cuda() { DeviceCheck.requireCuda(); }

    static ElementwiseKernels gpu() { return CudaBackend.get().elementwise(); }

    // ------------------------------------------------------------------ operands on both devices

    /** One tensor with the same values and the same view on the host and on the device. */
    record Pair(Tensor host, Tensor dev) {
        static Pair of(Tensor host) { return new Pair(host, host.to(CUDA)); }

        Pair view(UnaryOperator<Tensor> f) { return new Pair(f.apply(host), f.apply(dev)); }
    }

    /** An output: a view into a poisoned buffer; the buffer is what gets compared. */
    record Out(Pair buffer, Pair view) {}

    /** Uniform values in [lo, hi); integers rounded, BOOL 0 or 1. */
    static Pair random(DType t, long seed, double lo, double hi, int... shape) {
        Random r = new Random(seed);
        double[] v = new double[(int) dev.lumen.tensor.Shapes.numel(shape)];
        for (int i = 0; i < v.length; i++) {
            double u = lo + (hi - lo) * r.nextDouble();
            v[i] = t == DType.BOOL ? (r.nextBoolean() ? 1 : 0) : t.isFloating() ? u : Math.rint(u);
        }
        return Pair.of(Tensor.fromDoubles(v, t, shape));
    }

    static Pair fromDoubles(DType t, double[] v, int... shape) { return Pair.of(Tensor.fromDoubles(v, t, shape)); }

    static double poison(DType t) { return t.isFloating() ? Double.NaN : t == DType.BOOL ? 1 : -7; }

    /** A [3, 5, 7] output: contiguous, or every other element of a [3, 5, 14] poisoned buffer. */
    static Out output(DType t, boolean strided) {
        if (!strided) {
            Pair b = Pair.of(Tensor.full(poison(t), t, Device.CPU, 3, 5, 7));
            return new Out(b, b);
        }
        Pair b = Pair.of(Tensor.full(poison(t), t, Device.CPU, 3, 5, 14));
        return new Out(b, b.view(x -> x.slice(2, 1, 14, 2)));
    }

    /** A [3, 5, 7] input: contiguous, or a permuted, sliced view of a [7, 3, 11] tensor. */
    static Pair input(DType t, long seed, double lo, double hi, boolean strided) {
        if (!strided) return random(t, seed, lo, hi, 3, 5, 7);
        return random(t, seed, lo, hi, 7, 3, 11).view(x -> x.permute(1, 2, 0).slice(1, 1, 11, 2));
    }

    // ------------------------------------------------------------------ comparison

    /**
     * |actual - expected| <= rel |expected| + ulps ulp_t(expected) + abs, where ulp_t is the
     * spacing of dtype t at expected. NaN must meet NaN, an infinity the same infinity, and two
     * zeros must agree in sign.
     */
    record Tol(double rel, double ulps, double abs) {
        static final Tol EXACT = new Tol(0, 0, 0);

        Tol plusAbs(double a) { return new Tol(rel, ulps, abs + a); }
    }

    /** F32: a few ulps (CUDA's libm against Java's, each within 2 ulps); F64: 1e-12 relative; half types: 1 ulp of the type (CPU rounds double to them, CUDA float); integers exact. */
    static Tol tol(DType t) {
        return switch (t) {
            case F32 -> new Tol(0, 4, 0);
            case F64 -> new Tol(1e-12, 0, 0);
            case F16, BF16 -> new Tol(0, 1, 0);
            default -> Tol.EXACT;
        };
    }

    static double ulp(DType t, double v) {
        double a = Math.abs(v);
        return switch (t) {
            case F32 -> Math.ulp((float) a);
            case F64 -> Math.ulp(a);
            case F16 -> a < 0x1p-14 ? 0x1p-24 : Math.scalb(1.0, Math.getExponent((float) a) - 10);
            case BF16 -> a < 0x1p-126 ? 0x1p-133 : Math.scalb(1.0, Math.getExponent((float) a) - 7);
            default -> 0;
        };
    }

    static void assertClose(double[] expected, double[] actual, DType t, Tol tol, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i];
            boolean ok;
            if (Double.isNaN(e) || Double.isInfinite(e) || Double.isNaN(a)) ok = Double.compare(e, a) == 0 || (Double.isNaN(e) && Double.isNaN(a));
            else if (e == 0 && a == 0) ok = Double.compare(e, a) == 0;
            else ok = Math.abs(a - e) <= tol.rel * Math.abs(e) + tol.ulps * ulp(t, e) + tol.abs;
            if (!ok) {
                fail(what + " (" + t + "): element " + i + " is " + a + ", CPU has " + e + " (" + Math.abs(a - e) / ulp(t, e) + " ulps off; "
                        + tol + ")");
            }
        }
    }

    static void assertSameAsCpu(Pair host, Pair dev, DType t, Tol tol, String what) {
        if (t == DType.I64) assertArrayEquals(host.host().toLongs(), dev.dev().toLongs(), what);
        else assertClose(host.host().toDoubles(), dev.dev().toDoubles(), t, tol, what);
    }

    static void assertSameAsCpu(Out out, DType t, Tol tol, String what) { assertSameAsCpu(out.buffer(), out.buffer(), t, tol, what); }

    // ------------------------------------------------------------------ binary

    /** Operands that keep each op in its domain: DIV away from integer 0, POW's base positive for floats. */
    static Pair[] binaryOperands(Binary op, DType t, long seed, Layout layout) {
        double alo = -4, ahi = 4, blo = -4, bhi = 4;
        if (op == Binary.POW) {
            alo = t.isFloating() ? 0.1 : -5;
            ahi = t.isFloating() ? 3 : 5;
            blo = -2.5;
            bhi = 3.4;
        }
        Pair a = layout.a(t, seed, alo, ahi);
        Pair b = layout.b(t, seed + 1, blo, bhi);
        if (op == Binary.DIV && !t.isFloating()) {
            // The CPU's Math.floorDiv throws on 0: divisors are 1..4 with a random sign (BOOL: 1).
            Random r = new Random(seed);
            int[] shape = b.host().shape();
            double[] v = new double[(int) b.host().numel()];
            for (int i = 0; i < v.length; i++) v[i] = t == DType.BOOL ? 1 : (1 + r.nextInt(4)) * (r.nextBoolean() ? 1 : -1);
            b = fromDoubles(t, v, shape);
        }
        return new Pair[] {a, b};
    }

    /** How a binary op's operands reach the [3, 5, 7] output. */
    enum Layout {
        CONTIGUOUS, STRIDED_AND_ROW_BROADCAST, BOTH_BROADCAST;

        Pair a(DType t, long seed, double lo, double hi) {
            return switch (this) {
                case CONTIGUOUS -> input(t, seed, lo, hi, false);
                case STRIDED_AND_ROW_BROADCAST -> input(t, seed, lo, hi, true);
                case BOTH_BROADCAST -> random(t, seed, lo, hi, 3, 1, 7);
            };
        }

        Pair b(DType t, long seed, double lo, double hi) {
            return switch (this) {
                case CONTIGUOUS -> input(t, seed, lo, hi, false);
                case STRIDED_AND_ROW_BROADCAST -> random(t, seed, lo, hi, 5, 1);
                case BOTH_BROADCAST -> random(t, seed, lo, hi, 9, 5).view(x -> x.slice(0, 2, 3, 1).permute(1, 0).unsqueeze(0));
            };
        }

        boolean stridedOut() { return this != CONTIGUOUS; }
    }

    @Test
    void binaryMatchesCpuForEveryOpDtypeAndLayout() {
        for (DType t : allDtypes()) {
            for (Binary op : Binary.values()) {
                for (Layout layout : Layout.values()) {
                    try (Scope s = Scope.open()) {
                        Pair[] ab = binaryOperands(op, t, 11 + op.ordinal(), layout);
                        Out out = output(t, layout.stridedOut());
                        CPU.binary(op, ab[0].host(), ab[1].host(), out.view().host());
                        gpu().binary(op, ab[0].dev(), ab[1].dev(), out.view().dev());
                        assertSameAsCpu(out, t, tol(t), "binary " + op + " " + layout);
                    }
                }
            }
        }
    }

    static final double[] SPECIALS = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, -0.0, 1, -1, 2, -2, 0.5, -0.5, 3, -3};

    /** Every pair of special values, as a column against a row. */
    @Test
    void binaryFollowsJavaOnSpecialValues() {
        for (DType t : FLOATS) {
            for (Binary op : Binary.values()) {
                try (Scope s = Scope.open()) {
                    int n = SPECIALS.length;
                    Pair a = fromDoubles(t, SPECIALS, n, 1), b = fromDoubles(t, SPECIALS, 1, n);
                    Pair out = Pair.of(Tensor.full(Double.NaN, t, Device.CPU, n, n));
                    CPU.binary(op, a.host(), b.host(), out.host());
                    gpu().binary(op, a.dev(), b.dev(), out.dev());
                    assertSameAsCpu(out, out, t, tol(t), "binary " + op + " on special values");
                }
            }
        }
    }

    @Test
    void integerBinaryCastsAsJavaAndDividesToTheFloor() {
        try (Scope s = Scope.open()) {
            Pair a = fromDoubles(DType.I32, new double[] {2e9, -2e9, 7, -7, 7, -7, -2147483648.0}, 7);
            Pair b = fromDoubles(DType.I32, new double[] {2e9, 2e9, 2, 2, -2, -2, -1}, 7);
            for (Binary op : new Binary[] {Binary.ADD, Binary.SUB, Binary.MUL, Binary.DIV}) {
                Pair out = Pair.of(Tensor.full(-7, DType.I32, Device.CPU, 7));
                CPU.binary(op, a.host(), b.host(), out.host());
                gpu().binary(op, a.dev(), b.dev(), out.dev());
                assertSameAsCpu(out, out, DType.I32, Tol.EXACT, "I32 " + op);
            }
            Pair out = Pair.of(Tensor.full(-7, DType.I32, Device.CPU, 7));
            gpu().binary(Binary.DIV, a.dev(), b.dev(), out.dev());
            assertArrayEquals(new long[] {1, -1, 3, -4, -4, 3, Integer.MAX_VALUE}, out.dev().toLongs(), "floor division; MIN / -1 is 2^31 in long, saturated by (int)");
        }
    }

    @Test
    void integerDivisionByZeroWritesZero() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.fromLongs(new long[] {5, -5, 0}, 3).to(CUDA), b = Tensor.fromLongs(new long[] {0, 0, 0}, 3).to(CUDA);
            Tensor out = Tensor.full(-7, DType.I64, CUDA, 3);
            gpu().binary(Binary.DIV, a, b, out);
            assertArrayEquals(new long[] {0, 0, 0}, out.toLongs(), "the CPU throws here; a kernel cannot, and writes 0");
        }
    }

    @Test
    void binaryBackwardMatchesCpuWithEitherGradientSkipped() {
        for (DType t : allDtypes()) {
            for (Binary op : Binary.values()) {
                for (Layout layout : Layout.values()) {
                    for (int which = 0; which < 3; which++) {   // both, gradA only, gradB only
                        try (Scope s = Scope.open()) {
                            Pair[] ab = binaryOperands(op, t, 21 + op.ordinal(), layout);
                            if (op == Binary.MAXIMUM || op == Binary.MINIMUM) ab[1] = tiesWith(ab[0], ab[1], t, layout);
                            Pair g = input(t, 5, -2, 2, layout.stridedOut());
                            Out ga = which == 2 ? null : output(t, layout.stridedOut()), gb = which == 1 ? null : output(t, !layout.stridedOut());
                            CPU.binaryBackward(op, ab[0].host(), ab[1].host(), g.host(), ga == null ? null : ga.view().host(), gb == null ? null : gb.view().host());
                            gpu().binaryBackward(op, ab[0].dev(), ab[1].dev(), g.dev(), ga == null ? null : ga.view().dev(), gb == null ? null : gb.view().dev());
                            String what = "binaryBackward " + op + " " + layout + " ";
                            if (ga != null) assertSameAsCpu(ga, t, gradTol(op, t), what + "gradA");
                            if (gb != null) assertSameAsCpu(gb, t, gradTol(op, t), what + "gradB");
                        }
                    }
                }
            }
        }
    }

    /** b with some elements equal to a's (broadcast), so MAXIMUM's and MINIMUM's tie split is exercised. */
    static Pair tiesWith(Pair a, Pair b, DType t, Layout layout) {
        if (layout != Layout.CONTIGUOUS) return fromDoubles(t, new double[] {0, 1, -1, 2, -2}, 5, 1).view(x -> layout == Layout.BOTH_BROADCAST ? x.unsqueeze(0) : x);
        double[] av = a.host().toDoubles(), bv = b.host().toDoubles();
        for (int i = 0; i < bv.length; i += 3) bv[i] = av[i];
        return fromDoubles(t, bv, b.host().shape());
    }

    /**
     * The CPU computes gradients in double for every dtype, CUDA's F32 in float: DIV's gradB
     * -a/(b*b) and POW's b*pow(a, b-1) and pow(a,b)*log(a) round two or three times more.
     */
    static Tol gradTol(Binary op, DType t) {
        if (t == DType.F32 && (op == Binary.DIV || op == Binary.POW)) return new Tol(0, 8, 0);
        return tol(t);
    }

    // ------------------------------------------------------------------ unary

    /** Parameter pairs per op: POW's exponents, CLAMP's bounds (NaN = none), SOFTPLUS's beta and threshold, LEAKY_RELU's slope. */
    static double[][] params(Unary op) {
        return switch (op) {
            case POW -> new double[][] {{2, 0}, {3, 0}, {0.5, 0}, {-1.5, 0}, {0, 0}};
            case CLAMP -> new double[][] {{-1, 2}, {Double.NaN, 1}, {-0.5, Double.NaN}};
            case SOFTPLUS -> new double[][] {{1, 20}, {1.5, 2}};
            case LEAKY_RELU -> new double[][] {{0.1, 0}};
            default -> new double[][] {{0, 0}};
        };
    }

    /** Mostly in the op's domain, with some negatives where the op turns them into NaN. */
    static double[] range(Unary op) {
        return switch (op) {
            case LOG, SQRT, RSQRT, POW -> new double[] {-0.5, 4};
            default -> new double[] {-4, 4};
        };
    }

    /**
     * Where a result is 1 +- f(x) with f near -+1 (GELU's erf, GELU_TANH's tanh, the sigmoid and
     * tanh derivatives s(1-s) and 1-t^2) or x/3 + 1/2 near x = -3/2 (HARD_SWISH's derivative), the
     * last-bit error of f or x/3 (6e-8 at 1 in float; the CPU's polynomials and CUDA's libm differ
     * there) becomes an absolute error in a small result: up to 1.5e-7 seen, 3.7e-7 for GELU_TANH's
     * derivative, whose (1 - t^2) is multiplied by x(1 + 3 kappa x^2) sqrt(2/pi)/2, up to 5 at |x| = 4.
     * SOFTPLUS in float rounds beta x before exp, up to 5 ulps of the result apart from the CPU's
     * double (its strided path). F64: the same cancellation, up to 1.1e-15 seen.
     */
    static Tol unaryTol(Unary op, DType t, boolean derivative) {
        boolean cancels = switch (op) {
            case GELU, GELU_TANH -> true;
            case SIGMOID, TANH, SILU, HARD_SWISH -> derivative;
            default -> false;
        };
        if (op == Unary.SOFTPLUS && t == DType.F32) return new Tol(0, 8, 0);
        if (!cancels) return tol(t);
        return switch (t) {
            case F32, F16, BF16 -> tol(t).plusAbs(op == Unary.GELU_TANH && derivative ? 8e-7 : 3e-7);
            case F64 -> tol(t).plusAbs(2e-15);
            default -> tol(t);
        };
    }

    /** One unary case: an op with one parameter pair on a [3, 5, 7] input, contiguous or strided. */
    interface UnaryCase {
        void check(DType t, Unary op, double p0, double p1, boolean strided, String what);
    }

    static void forEveryUnaryCase(UnaryCase c) {
        for (DType t : allDtypes()) {
            for (Unary op : Unary.values()) {
                for (double[] p : params(op)) {
                    for (boolean strided : new boolean[] {false, true}) {
                        try (Scope s = Scope.open()) {
                            c.check(t, op, p[0], p[1], strided, op + " " + p[0] + ", " + p[1] + (strided ? " strided" : ""));
                        }
                    }
                }
            }
        }
    }

    @Test
    void unaryMatchesCpuForEveryOpAndDtype() {
        forEveryUnaryCase((t, op, p0, p1, strided, what) -> {
            double[] r = range(op);
            Pair x = input(t, 31 + op.ordinal(), r[0], r[1], strided);
            Out out = output(t, strided);
            CPU.unary(op, x.host(), p0, p1, out.view().host());
            gpu().unary(op, x.dev(), p0, p1, out.view().dev());
            assertSameAsCpu(out, t, unaryTol(op, t, false), "unary " + what);
        });
    }

    @Test
    void unaryBackwardMatchesCpuForEveryOpAndDtype() {
        forEveryUnaryCase((t, op, p0, p1, strided, what) -> {
            double[] r = range(op);
            Pair x = input(t, 41 + op.ordinal(), r[0], r[1], strided);
            Pair g = input(t, 3, -2, 2, !strided);
            Out out = output(t, strided);
            CPU.unaryBackward(op, x.host(), p0, p1, g.host(), out.view().host());
            gpu().unaryBackward(op, x.dev(), p0, p1, g.dev(), out.view().dev());
            assertSameAsCpu(out, t, unaryTol(op, t, true), "unaryBackward " + what);
        });
    }

    /**
     * The special values through every op and derivative, against the CPU's double formulas (its
     * F32 vector path differs from them there, e.g. sign(NaN) = 0 for ABS's derivative): CUDA's
     * F32 must land on the same NaNs, infinities and signed zeros.
     */
    @Test
    void unaryFollowsTheCpuFormulasOnSpecialValues() {
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            for (Unary op : Unary.values()) {
                for (double[] p : params(op)) {
                    try (Scope s = Scope.open()) {
                        int n = SPECIALS.length;
                        Tensor x64 = Tensor.fromDoubles(SPECIALS, DType.F64, n), g64 = Tensor.full(1.5, DType.F64, Device.CPU, n);
                        Tensor fwd = Tensor.empty(DType.F64, Device.CPU, n), bwd = Tensor.empty(DType.F64, Device.CPU, n);
                        CPU.unary(op, x64, p[0], p[1], fwd);
                        CPU.unaryBackward(op, x64, p[0], p[1], g64, bwd);
                        Tensor x = x64.to(t).to(CUDA), g = g64.to(t).to(CUDA);
                        Tensor devFwd = Tensor.full(Double.NaN, t, CUDA, n), devBwd = Tensor.full(Double.NaN, t, CUDA, n);
                        gpu().unary(op, x, p[0], p[1], devFwd);
                        gpu().unaryBackward(op, x, p[0], p[1], g, devBwd);
                        String what = op + " " + p[0] + ", " + p[1] + " on " + java.util.Arrays.toString(SPECIALS);
                        assertClose(fwd.to(t).toDoubles(), devFwd.toDoubles(), t, unaryTol(op, t, false), "unary " + what);
                        assertClose(bwd.to(t).toDoubles(), devBwd.toDoubles(), t, unaryTol(op, t, true), "unaryBackward " + what);
                    }
                }
            }
        }
    }

    @Test
    void unaryRunsInPlace() {
        try (Scope s = Scope.open()) {
            Pair x = input(DType.F32, 9, 0, 4, true);
            CPU.unary(Unary.SQRT, x.host(), 0, 0, x.host());
            gpu().unary(Unary.SQRT, x.dev(), 0, 0, x.dev());
            assertSameAsCpu(x, x, DType.F32, Tol.EXACT, "sqrt in place on a strided view (both correctly rounded)");
        }
    }

    // ------------------------------------------------------------------ comparison and selection

    /** Values on a grid of halves, so ties are common; floats get a NaN every 13th element. */
    static Pair gridValues(DType t, long seed, int... shape) {
        Random r = new Random(seed);
        double[] v = new double[(int) dev.lumen.tensor.Shapes.numel(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = t == DType.BOOL ? r.nextInt(2) : t.isFloating() ? (r.nextInt(9) - 4) * 0.5 : r.nextInt(5) - 2;
            if (t.isFloating() && i % 13 == 5) v[i] = Double.NaN;
        }
        return fromDoubles(t, v, shape);
    }

    @Test
    void compareMatchesCpuForEveryOpAndDtype() {
        for (DType t : allDtypes()) {
            for (Compare op : Compare.values()) {
                try (Scope s = Scope.open()) {
                    Pair a = gridValues(t, 51, 7, 3, 11).view(x -> x.permute(1, 2, 0).slice(1, 1, 11, 2));
                    Pair b = gridValues(t, 52, 5, 1);
                    Out out = output(DType.BOOL, true);
                    CPU.compare(op, a.host(), b.host(), out.view().host());
                    gpu().compare(op, a.dev(), b.dev(), out.view().dev());
                    assertSameAsCpu(out, DType.BOOL, Tol.EXACT, "compare " + op + " " + t);
                }
            }
        }
    }

    @Test
    void compareOfI64IsExactBeyondDoublePrecision() {
        try (Scope s = Scope.open()) {
            long big = (1L << 53) + 1;
            Tensor a = Tensor.fromLongs(new long[] {big, big}, 2).to(CUDA), b = Tensor.fromLongs(new long[] {big - 1, big}, 2).to(CUDA);
            Tensor out = Tensor.empty(DType.BOOL, CUDA, 2);
            gpu().compare(Compare.EQ, a, b, out);
            assertArrayEquals(new double[] {0, 1}, out.toDoubles(), "2^53 + 1 vs 2^53 (equal once in double)");
        }
    }

    @Test
    void compareScalarMatchesCpuForEveryOpAndDtype() {
        for (DType t : allDtypes()) {
            for (Compare op : Compare.values()) {
                for (double scalar : new double[] {0.5, 0.1, -1, Double.NaN}) {
                    try (Scope s = Scope.open()) {
                        Pair a = gridValues(t, 61, 7, 3, 11).view(x -> x.permute(1, 2, 0).slice(1, 1, 11, 2));
                        if (scalar == 0.1) a = fromDoubles(t, new double[] {0.1, 0.2, -0.1}, 3);   // 0.1f != 0.1: compared in double, as the CPU
                        Pair out = Pair.of(Tensor.full(1, DType.BOOL, Device.CPU, a.host().shape()));
                        CPU.compareScalar(op, a.host(), scalar, out.host());
                        gpu().compareScalar(op, a.dev(), scalar, out.dev());
                        assertSameAsCpu(out, out, DType.BOOL, Tol.EXACT, "compareScalar " + op + " " + scalar + " " + t);
                    }
                }
            }
        }
    }

    @Test
    void whereSelectsWithBroadcastConditionForEveryDtype() {
        for (DType t : allDtypes()) {
            try (Scope s = Scope.open()) {
                Pair cond = random(DType.BOOL, 71, 0, 1, 5, 1);
                Pair a = input(t, 72, -4, 4, true), b = random(t, 73, -4, 4, 7);
                Out out = output(t, true);
                CPU.where(cond.host(), a.host(), b.host(), out.view().host());
                gpu().where(cond.dev(), a.dev(), b.dev(), out.view().dev());
                assertSameAsCpu(out, t, Tol.EXACT, "where " + t);
            }
        }
    }

    // ------------------------------------------------------------------ affine and in-place updates

    /** F32 and F64 are bit-exact (both unfused); half types compute in float on CUDA, in double on the CPU. */
    static Tol affineTol(DType t) { return t == DType.F32 || t == DType.F64 ? Tol.EXACT : tol(t); }

    @Test
    void affineMatchesCpuForEveryDtypeAndInPlaceOnAView() {
        for (DType t : allDtypes()) {
            try (Scope s = Scope.open()) {
                Pair x = input(t, 81, -4, 4, true);
                Out out = output(t, true);
                CPU.affine(x.host(), 0.3, -1.25, out.view().host());
                gpu().affine(x.dev(), 0.3, -1.25, out.view().dev());
                assertSameAsCpu(out, t, affineTol(t), "affine " + t);
                CPU.affine(x.host(), -1.7, 0.1, x.host());
                gpu().affine(x.dev(), -1.7, 0.1, x.dev());
                assertSameAsCpu(x, x, t, affineTol(t), "affine in place " + t);
            }
        }
    }

    /**
     * F32 is computed with one fma, as the CPU's contiguous vector loop does; its strided scalar
     * loop rounds alpha * src (|.| < 2.8 here) first, up to half an ulp of 2.8 (1.2e-7) apart,
     * which is many ulps of a sum that cancels. F64 is unfused on both: exact.
     */
    static Tol accumulateTol(DType t) {
        return switch (t) {
            case F32 -> new Tol(0, 1, 1.5e-7);
            case F64 -> Tol.EXACT;
            default -> tol(t);
        };
    }

    @Test
    void addInPlaceBroadcastsSrcIntoAStridedDst() {
        for (DType t : allDtypes()) {
            for (boolean broadcast : new boolean[] {false, true}) {
                try (Scope s = Scope.open()) {
                    Out dst = output(t, true);
                    Pair init = input(t, 91, -4, 4, false);
                    Backends.cpu().copy(init.host(), dst.view().host());
                    CudaBackend.get().copy(init.dev(), dst.view().dev());
                    Pair src = broadcast ? random(t, 92, -4, 4, 5, 1) : input(t, 93, -4, 4, true);
                    CPU.addInPlace(dst.view().host(), src.host(), 0.7);
                    gpu().addInPlace(dst.view().dev(), src.dev(), 0.7);
                    assertSameAsCpu(dst, t, accumulateTol(t), "addInPlace " + t + (broadcast ? " broadcast" : ""));
                }
            }
        }
    }

    @Test
    void mulInPlaceScalesOnlyTheView() {
        for (DType t : allDtypes()) {
            try (Scope s = Scope.open()) {
                Pair buf = random(t, 95, -4, 4, 6, 9);
                Pair view = buf.view(x -> x.slice(0, 1, 6, 2).transpose(0, 1));
                CPU.mulInPlace(view.host(), -0.6);
                gpu().mulInPlace(view.dev(), -0.6);
                assertSameAsCpu(buf, buf, t, affineTol(t), "mulInPlace " + t);
            }
        }
    }

    // ------------------------------------------------------------------ errors and launches

    @Test
    void rejectsMixedDtypesNonBoolMasksAndRepeatingOutputs() {
        try (Scope s = Scope.open()) {
            Tensor f32 = Tensor.zeros(DType.F32, CUDA, 3, 5), f64 = Tensor.zeros(DType.F64, CUDA, 3, 5);
            assertThrows(IllegalArgumentException.class, () -> gpu().binary(Binary.ADD, f32, f64, f32));
            assertThrows(IllegalArgumentException.class, () -> gpu().unary(Unary.EXP, f64, 0, 0, f32));
            assertThrows(IllegalArgumentException.class, () -> gpu().compare(Compare.EQ, f32, f32, f32));
            assertThrows(IllegalArgumentException.class, () -> gpu().where(f32, f32, f32, f32));
            assertThrows(IllegalArgumentException.class, () -> gpu().binaryBackward(Binary.MUL, f32, f32, f32, f64, null));
            Tensor expanded = Tensor.zeros(DType.F32, CUDA, 1, 5).expand(3, 5);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> gpu().addInPlace(expanded, f32, 1));
            assertTrue(e.getMessage().contains("repeat"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> gpu().binary(Binary.ADD, f32, Tensor.zeros(DType.F32, CUDA, 4), f32));
            assertThrows(IllegalArgumentException.class, () -> gpu().affine(Tensor.zeros(DType.F32, Device.CPU, 3, 5), 1, 0, f32));
        }
    }

    @Test
    void emptyTensorsLaunchNothing() {
        CudaBackend b = CudaBackend.get();
        Assumptions.assumeTrue(b.driver().isEmulated(), "call counts come from the emulated driver");
        try (Scope s = Scope.open()) {
            for (int[] shape : new int[][] {{0, 5}, {3, 0}}) {
                Tensor x = Tensor.zeros(DType.F32, CUDA, shape), out = Tensor.zeros(DType.F32, CUDA, shape);
                CallCounts before = b.driver().callCounts();
                gpu().binary(Binary.ADD, x, x, out);
                gpu().unary(Unary.EXP, x, 0, 0, out);
                gpu().addInPlace(out, x, 1);
                assertEquals(0, b.driver().callCounts().since(before).launches(), java.util.Arrays.toString(shape));
            }
        }
    }

    @Test
    void eachOpIsOneLaunchWithoutSyncOrAllocation() {
        CudaBackend b = CudaBackend.get();
        Assumptions.assumeTrue(b.driver().isEmulated(), "call counts come from the emulated driver");
        try (Scope s = Scope.open()) {
            Tensor x = input(DType.F32, 1, -1, 1, true).dev(), y = random(DType.F32, 2, -1, 1, 5, 1).dev();
            Tensor out = Tensor.empty(DType.F32, CUDA, 3, 5, 7), mask = Tensor.empty(DType.BOOL, CUDA, 3, 5, 7);
            b.synchronize();
            CallCounts before = b.driver().callCounts();
            gpu().binary(Binary.MUL, x, y, out);
            gpu().unary(Unary.GELU, out, 0, 0, out);
            gpu().binaryBackward(Binary.MAXIMUM, x, y, out, out, null);
            gpu().compare(Compare.GT, x, y, mask);
            gpu().where(mask, x, y, out);
            gpu().addInPlace(out, y, 2);
            CallCounts d = b.driver().callCounts().since(before);
            assertEquals(6, d.launches(), "one launch per op: " + d);
            assertEquals(0, d.allocations(), d.toString());
            assertEquals(0, d.hostWaits(), d.toString());
        }
    }

    static DType[] allDtypes() {
        DType[] all = new DType[FLOATS.length + INTEGERS.length];
        System.arraycopy(FLOATS, 0, all, 0, FLOATS.length);
        System.arraycopy(INTEGERS, 0, all, FLOATS.length, INTEGERS.length);
        return all;
    }
}
