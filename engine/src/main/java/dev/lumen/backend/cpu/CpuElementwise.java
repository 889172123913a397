package dev.lumen.backend.cpu;

import static dev.lumen.backend.cpu.Vec.L;
import static dev.lumen.backend.cpu.Vec.S;
import static dev.lumen.backend.cpu.Vec.ld;
import static dev.lumen.backend.cpu.Vec.st;

import dev.lumen.backend.ElementwiseKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.HostAccess;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * CPU implementation of {@link ElementwiseKernels}. F32 rows with unit steps (or a broadcast
 * operand of step 0) run on Vector API lanes; other rows and other dtypes run a scalar loop
 * that computes in double.
 */
final class CpuElementwise implements ElementwiseKernels {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfLong J = ValueLayout.JAVA_LONG;

    // ------------------------------------------------------------------ binary

    @Override
    public void binary(Binary op, Tensor a, Tensor b, Tensor out) {
        DType t = out.dtype();
        requireSame("binary " + op, t, a, b);
        MemorySegment sa = a.storage().segment(), sb = b.storage().segment(), so = out.storage().segment();
        if (t == DType.F32) {
            ElementLoop.run(out.shape(), (base, n, step) -> binaryF32(op, sa, base[0], step[0], sb, base[1], step[1], so, base[2], step[2], n), a, b, out);
        } else {
            ElementLoop.run(out.shape(), (base, n, step) -> {
                long ia = base[0], ib = base[1], io = base[2];
                for (int i = 0; i < n; i++, ia += step[0], ib += step[1], io += step[2]) {
                    double x = HostAccess.get(sa, t, ia), y = HostAccess.get(sb, t, ib);
                    double r = op == Binary.DIV && !t.isFloating() ? Math.floorDiv((long) x, (long) y) : binary(op, x, y);
                    HostAccess.set(so, t, io, r);
                }
            }, a, b, out);
        }
    }

    private static void binaryF32(Binary op, MemorySegment a, long ia, int sa, MemorySegment b, long ib, int sb,
                                  MemorySegment o, long io, int so, int n) {
        int i = 0;
        BinaryRow row = BINARY[op.ordinal()];
        if (row != null && so == 1 && (sa == 1 || sa == 0) && (sb == 1 || sb == 0)) {
            i = S.loopBound(n);
            row.run(a, ia, sa, b, ib, sb, o, io, i);
        }
        for (; i < n; i++) {
            o.setAtIndex(F, io + (long) i * so, (float) binary(op, a.getAtIndex(F, ia + (long) i * sa), b.getAtIndex(F, ib + (long) i * sb)));
        }
    }

    /** A contiguous output row of vectors; each operand is contiguous (stride 1) or one broadcast value (stride 0). */
    private interface BinaryRow {
        void run(MemorySegment a, long ia, int sa, MemorySegment b, long ib, int sb, MemorySegment o, long io, int up);
    }

    private static FloatVector operand(MemorySegment s, long base, int stride, int i) {
        return stride == 1 ? ld(s, base + i) : Vec.of(s.getAtIndex(F, base));
    }

    /*
     * One loop per op, as FORWARD below: with the op switched inside a shared loop C2 did not
     * inline the switch, and every vector was boxed (most of the add's time, in a profile). POW
     * has no row: it goes lane by lane through Math.pow in binaryF32's scalar loop.
     */
    private static final BinaryRow[] BINARY = new BinaryRow[Binary.values().length];

    static {
        BINARY[Binary.ADD.ordinal()] = (a, ia, sa, b, ib, sb, o, io, up) -> { for (int i = 0; i < up; i += L) st(o, io + i, operand(a, ia, sa, i).add(operand(b, ib, sb, i))); };
        BINARY[Binary.SUB.ordinal()] = (a, ia, sa, b, ib, sb, o, io, up) -> { for (int i = 0; i < up; i += L) st(o, io + i, operand(a, ia, sa, i).sub(operand(b, ib, sb, i))); };
        BINARY[Binary.MUL.ordinal()] = (a, ia, sa, b, ib, sb, o, io, up) -> { for (int i = 0; i < up; i += L) st(o, io + i, operand(a, ia, sa, i).mul(operand(b, ib, sb, i))); };
        BINARY[Binary.DIV.ordinal()] = (a, ia, sa, b, ib, sb, o, io, up) -> { for (int i = 0; i < up; i += L) st(o, io + i, operand(a, ia, sa, i).div(operand(b, ib, sb, i))); };
        BINARY[Binary.MAXIMUM.ordinal()] = (a, ia, sa, b, ib, sb, o, io, up) -> { for (int i = 0; i < up; i += L) st(o, io + i, operand(a, ia, sa, i).max(operand(b, ib, sb, i))); };
        BINARY[Binary.MINIMUM.ordinal()] = (a, ia, sa, b, ib, sb, o, io, up) -> { for (int i = 0; i < up; i += L) st(o, io + i, operand(a, ia, sa, i).min(operand(b, ib, sb, i))); };
    }

    static double binary(Binary op, double a, double b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case POW -> Math.pow(a, b);
            case MAXIMUM -> Math.max(a, b);
            case MINIMUM -> Math.min(a, b);
        };
    }

    @Override
    public void binaryBackward(Binary op, Tensor a, Tensor b, Tensor gradOut, Tensor gradA, Tensor gradB) {
        DType t = gradOut.dtype();
        requireSame("binaryBackward " + op, t, a, b);
        MemorySegment sa = a.storage().segment(), sb = b.storage().segment(), sg = gradOut.storage().segment();
        // A missing gradient is replaced by gradOut as a placeholder operand that is never written.
        boolean wantA = gradA != null, wantB = gradB != null;
        Tensor ga = wantA ? gradA : gradOut, gb = wantB ? gradB : gradOut;
        MemorySegment sga = ga.storage().segment(), sgb = gb.storage().segment();
        ElementLoop.run(gradOut.shape(), (base, n, step) -> {
            long ia = base[0], ib = base[1], ig = base[2], ja = base[3], jb = base[4];
            for (int i = 0; i < n; i++, ia += step[0], ib += step[1], ig += step[2], ja += step[3], jb += step[4]) {
                double x = HostAccess.get(sa, t, ia), y = HostAccess.get(sb, t, ib), g = HostAccess.get(sg, t, ig);
                if (wantA) HostAccess.set(sga, t, ja, g * partialA(op, x, y));
                if (wantB) HostAccess.set(sgb, t, jb, g * partialB(op, x, y));
            }
        }, a, b, gradOut, ga, gb);
    }

    private static double partialA(Binary op, double a, double b) {
        return switch (op) {
            case ADD, SUB -> 1;
            case MUL -> b;
            case DIV -> 1 / b;
            case POW -> b == 0 ? 0 : b * Math.pow(a, b - 1);
            case MAXIMUM -> a > b ? 1 : a == b ? 0.5 : 0;
            case MINIMUM -> a < b ? 1 : a == b ? 0.5 : 0;
        };
    }

    private static double partialB(Binary op, double a, double b) {
        return switch (op) {
            case ADD -> 1;
            case SUB -> -1;
            case MUL -> a;
            case DIV -> -a / (b * b);
            case POW -> a == 0 && b >= 0 ? 0 : Math.pow(a, b) * Math.log(a);
            case MAXIMUM -> b > a ? 1 : a == b ? 0.5 : 0;
            case MINIMUM -> b < a ? 1 : a == b ? 0.5 : 0;
        };
    }

    /** One pass over F32 (read a and b, write out) in place of the default's three; other dtypes take the default. */
    @Override
    public void addRelu(Tensor a, Tensor b, Tensor out) {
        if (out.dtype() != DType.F32) {
            ElementwiseKernels.super.addRelu(a, b, out);
            return;
        }
        requireSame("addRelu", DType.F32, a, b);
        MemorySegment sa = a.storage().segment(), sb = b.storage().segment(), so = out.storage().segment();
        ElementLoop.run(out.shape(), (base, n, step) -> {
            long ia = base[0], ib = base[1], io = base[2];
            int i = 0;
            if (step[0] == 1 && step[1] == 1 && step[2] == 1) {
                for (int up = S.loopBound(n); i < up; i += L) st(so, io + i, UnaryMath.relu(ld(sa, ia + i).add(ld(sb, ib + i)), 0, 0));
            }
            for (; i < n; i++) {
                float s = sa.getAtIndex(F, ia + (long) i * step[0]) + sb.getAtIndex(F, ib + (long) i * step[1]);
                so.setAtIndex(F, io + (long) i * step[2], (float) UnaryMath.apply(Unary.RELU, s, 0, 0));
            }
        }, a, b, out);
    }

    // ------------------------------------------------------------------ unary

    @Override
    public void unary(Unary op, Tensor x, double p0, double p1, Tensor out) {
        DType t = out.dtype();
        requireSame("unary " + op, t, x, x);
        MemorySegment sx = x.storage().segment(), so = out.storage().segment();
        if (t == DType.F32) {
            float f0 = (float) p0, f1 = (float) p1;
            ElementLoop.run(out.shape(), (base, n, step) -> {
                long ix = base[0], io = base[1];
                int i = 0;
                if (step[0] == 1 && step[1] == 1) {
                    i = S.loopBound(n);
                    FORWARD[op.ordinal()].run(f0, f1, sx, ix, so, io, i);
                }
                for (; i < n; i++) {
                    so.setAtIndex(F, io + (long) i * step[1], (float) UnaryMath.apply(op, sx.getAtIndex(F, ix + (long) i * step[0]), f0, f1));
                }
            }, x, out);
        } else {
            ElementLoop.run(out.shape(), (base, n, step) -> {
                long ix = base[0], io = base[1];
                for (int i = 0; i < n; i++, ix += step[0], io += step[1]) HostAccess.set(so, t, io, UnaryMath.apply(op, HostAccess.get(sx, t, ix), p0, p1));
            }, x, out);
        }
    }

    @Override
    public void unaryBackward(Unary op, Tensor x, double p0, double p1, Tensor gradOut, Tensor gradIn) {
        DType t = gradIn.dtype();
        requireSame("unaryBackward " + op, t, x, gradOut);
        MemorySegment sx = x.storage().segment(), sg = gradOut.storage().segment(), si = gradIn.storage().segment();
        if (t == DType.F32) {
            float f0 = (float) p0, f1 = (float) p1;
            ElementLoop.run(gradIn.shape(), (base, n, step) -> {
                long ix = base[0], ig = base[1], ii = base[2];
                int i = 0;
                if (step[0] == 1 && step[1] == 1 && step[2] == 1) {
                    i = S.loopBound(n);
                    BACKWARD[op.ordinal()].run(f0, f1, sx, ix, sg, ig, si, ii, i);
                }
                for (; i < n; i++) {
                    double d = UnaryMath.derivative(op, sx.getAtIndex(F, ix + (long) i * step[0]), f0, f1);
                    si.setAtIndex(F, ii + (long) i * step[2], (float) (sg.getAtIndex(F, ig + (long) i * step[1]) * d));
                }
            }, x, gradOut, gradIn);
        } else {
            ElementLoop.run(gradIn.shape(), (base, n, step) -> {
                long ix = base[0], ig = base[1], ii = base[2];
                for (int i = 0; i < n; i++, ix += step[0], ig += step[1], ii += step[2]) {
                    HostAccess.set(si, t, ii, HostAccess.get(sg, t, ig) * UnaryMath.derivative(op, HostAccess.get(sx, t, ix), p0, p1));
                }
            }, x, gradOut, gradIn);
        }
    }

    /** A unit-stride F32 row loop over up elements (a multiple of the vector length). */
    @FunctionalInterface
    private interface ForwardRow {
        void run(float p0, float p1, MemorySegment x, long xi, MemorySegment o, long oi, int up);
    }

    @FunctionalInterface
    private interface BackwardRow {
        void run(float p0, float p1, MemorySegment x, long xi, MemorySegment g, long gi, MemorySegment o, long oi, int up);
    }

    /*
     * One loop per op, each in its own lambda: the call per row is megamorphic, but each loop
     * compiles on its own with its op's vector math inlined and unboxed. A switch around (or
     * inside) a shared loop puts every op's vector code into one compilation, past C2's
     * inlining budget, and vectors then get boxed (10x slower).
     */
    private static final ForwardRow[] FORWARD = new ForwardRow[Unary.values().length];
    private static final BackwardRow[] BACKWARD = new BackwardRow[Unary.values().length];

    static {
        FORWARD[Unary.NEG.ordinal()] = (p0, p1, x, xi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, UnaryMath.neg(ld(x, xi + i), p0, p1)); };
        FORWARD[Unary.EXP.ordinal()] = (p0, p1, x, xi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, UnaryMath.exp(ld(x, xi + i), p0, p1)); };
        FORWARD[Unary.LOG.ordinal()] = (p0, p1, x, xi, o, oi, up) -> logRow(x, xi, o, oi, up);
        FORWARD[Unary.SQRT.ordinal()] = (p0, p1, x, xi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, UnaryMath.sqrt(ld(x, xi + i), p0, p1)); };
        FORWARD[Unary.RSQRT.ordinal()] = (p0, p1, x, xi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, UnaryMath.rsqrt(ld(x, xi + i), p0, p1)); };
        FORWARD[Unary.ABS.ordinal()] = (p0, p1, x, xi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, UnaryMath.abs(ld(x, xi + i), p0, p1)); };
        FORWARD[Unary.SQUARE.ordinal()] = (p0, p1, x, xi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, UnaryMath.square(ld(x, xi + i), p0, p1)); };
        FORWARD[Unary.RECIPROCAL.ordinal()] = (p0, p1, x, xi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, UnaryMath.reciprocal(ld(x, xi + i), p0, p1)); };
        FORWARD[Unary.POW.ordinal()] = (p0, p1, x, xi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, UnaryMath.pow(ld(x, xi + i), p0, p1)); };
        FORWARD[Unary.CLAMP.ordinal()] = (p0, p1, x, xi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, UnaryMath.clamp(ld(x, xi + i), p0, p1)); };
        FORWARD[Unary.RELU.ordinal()] = (p0, p1, x, xi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, UnaryMath.relu(ld(x, xi + i), p0, p1)); };
        FORWARD[Unary.GELU.ordinal()] = (p0, p1, x, xi, o, oi, up) -> geluRow(x, xi, o, oi, up);
        FORWARD[Unary.GELU_TANH.ordinal()] = (p0, p1, x, xi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, UnaryMath.geluTanh(ld(x, xi + i), p0, p1)); };
        FORWARD[Unary.SILU.ordinal()] = (p0, p1, x, xi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, UnaryMath.silu(ld(x, xi + i), p0, p1)); };
        FORWARD[Unary.SIGMOID.ordinal()] = (p0, p1, x, xi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, UnaryMath.sigmoid(ld(x, xi + i), p0, p1)); };
        FORWARD[Unary.TANH.ordinal()] = (p0, p1, x, xi, o, oi, up) -> tanhRow(x, xi, o, oi, up);
        FORWARD[Unary.SOFTPLUS.ordinal()] = (p0, p1, x, xi, o, oi, up) -> softplusRow(p0, p1, x, xi, o, oi, up);
        FORWARD[Unary.LEAKY_RELU.ordinal()] = (p0, p1, x, xi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, UnaryMath.leakyRelu(ld(x, xi + i), p0, p1)); };
        FORWARD[Unary.HARD_SIGMOID.ordinal()] = (p0, p1, x, xi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, UnaryMath.hardSigmoid(ld(x, xi + i), p0, p1)); };
        FORWARD[Unary.HARD_SWISH.ordinal()] = (p0, p1, x, xi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, UnaryMath.hardSwish(ld(x, xi + i), p0, p1)); };
        BACKWARD[Unary.NEG.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, ld(g, gi + i).mul(UnaryMath.negGrad(ld(x, xi + i), p0, p1))); };
        BACKWARD[Unary.EXP.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, ld(g, gi + i).mul(UnaryMath.expGrad(ld(x, xi + i), p0, p1))); };
        BACKWARD[Unary.LOG.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, ld(g, gi + i).mul(UnaryMath.logGrad(ld(x, xi + i), p0, p1))); };
        BACKWARD[Unary.SQRT.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, ld(g, gi + i).mul(UnaryMath.sqrtGrad(ld(x, xi + i), p0, p1))); };
        BACKWARD[Unary.RSQRT.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, ld(g, gi + i).mul(UnaryMath.rsqrtGrad(ld(x, xi + i), p0, p1))); };
        BACKWARD[Unary.ABS.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, ld(g, gi + i).mul(UnaryMath.absGrad(ld(x, xi + i), p0, p1))); };
        BACKWARD[Unary.SQUARE.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, ld(g, gi + i).mul(UnaryMath.squareGrad(ld(x, xi + i), p0, p1))); };
        BACKWARD[Unary.RECIPROCAL.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, ld(g, gi + i).mul(UnaryMath.reciprocalGrad(ld(x, xi + i), p0, p1))); };
        BACKWARD[Unary.POW.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, ld(g, gi + i).mul(UnaryMath.powGrad(ld(x, xi + i), p0, p1))); };
        BACKWARD[Unary.CLAMP.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, ld(g, gi + i).mul(UnaryMath.clampGrad(ld(x, xi + i), p0, p1))); };
        BACKWARD[Unary.RELU.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, ld(g, gi + i).mul(UnaryMath.reluGrad(ld(x, xi + i), p0, p1))); };
        BACKWARD[Unary.GELU.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> geluGradRow(x, xi, g, gi, o, oi, up);
        BACKWARD[Unary.GELU_TANH.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> geluTanhGradRow(x, xi, g, gi, o, oi, up);
        BACKWARD[Unary.SILU.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, ld(g, gi + i).mul(UnaryMath.siluGrad(ld(x, xi + i), p0, p1))); };
        BACKWARD[Unary.SIGMOID.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, ld(g, gi + i).mul(UnaryMath.sigmoidGrad(ld(x, xi + i), p0, p1))); };
        BACKWARD[Unary.TANH.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> tanhGradRow(x, xi, g, gi, o, oi, up);
        BACKWARD[Unary.SOFTPLUS.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> softplusGradRow(p0, p1, x, xi, g, gi, o, oi, up);
        BACKWARD[Unary.LEAKY_RELU.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, ld(g, gi + i).mul(UnaryMath.leakyReluGrad(ld(x, xi + i), p0, p1))); };
        BACKWARD[Unary.HARD_SIGMOID.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, ld(g, gi + i).mul(UnaryMath.hardSigmoidGrad(ld(x, xi + i), p0, p1))); };
        BACKWARD[Unary.HARD_SWISH.ordinal()] = (p0, p1, x, xi, g, gi, o, oi, up) -> { for (int i = 0; i < up; i += L) st(o, oi + i, ld(g, gi + i).mul(UnaryMath.hardSwishGrad(ld(x, xi + i), p0, p1))); };
    }

    /*
     * Ops whose math is too big for one loop that C2 compiles with everything inlined (GELU, the
     * tanh form's derivative, tanh, softplus, log) run in two stages per block of a row: the op's
     * exp (log: its reduction and polynomial) into a small array, then the rest; softplus's
     * forward in four (its log1p's log two stages of their own). Each stage is a
     * static method of its own, so that C2 compiles it apart when a caller's budget is spent;
     * only segments, offsets and arrays cross those calls, never vectors (which C2 would box:
     * 7-29 MB of garbage per [8, 48, 56, 56] call before). Each op has its own row method
     * calling its stages directly: one row method taking the stages as lambdas left GELU's
     * forward boxed in 1 run of 3 (its stages' inlining then depended on compile order).
     */

    /** Elements per block: a block's first stage stays in L1 for its second. */
    private static final int BLOCK = 512;

    private static void geluRow(MemorySegment x, long xi, MemorySegment o, long oi, int up) {
        float[] e = new float[Math.min(up, BLOCK)];
        for (int blk = 0; blk < up; blk += BLOCK) {
            int n = Math.min(BLOCK, up - blk);
            geluGaussians(x, xi + blk, e, n);
            geluFromGaussians(x, xi + blk, e, o, oi + blk, n);
        }
    }

    private static void geluGradRow(MemorySegment x, long xi, MemorySegment g, long gi, MemorySegment o, long oi, int up) {
        float[] e = new float[Math.min(up, BLOCK)];
        for (int blk = 0; blk < up; blk += BLOCK) {
            int n = Math.min(BLOCK, up - blk);
            geluGaussians(x, xi + blk, e, n);
            geluGradFromGaussians(x, xi + blk, e, g, gi + blk, o, oi + blk, n);
        }
    }

    private static void geluTanhGradRow(MemorySegment x, long xi, MemorySegment g, long gi, MemorySegment o, long oi, int up) {
        float[] e = new float[Math.min(up, BLOCK)];
        for (int blk = 0; blk < up; blk += BLOCK) {
            int n = Math.min(BLOCK, up - blk);
            geluTanhGradExps(x, xi + blk, e, n);
            geluTanhGradFromExps(x, xi + blk, e, g, gi + blk, o, oi + blk, n);
        }
    }

    private static void tanhRow(MemorySegment x, long xi, MemorySegment o, long oi, int up) {
        float[] e = new float[Math.min(up, BLOCK)];
        for (int blk = 0; blk < up; blk += BLOCK) {
            int n = Math.min(BLOCK, up - blk);
            tanhExps(x, xi + blk, e, n);
            tanhFromExps(x, xi + blk, e, o, oi + blk, n);
        }
    }

    private static void tanhGradRow(MemorySegment x, long xi, MemorySegment g, long gi, MemorySegment o, long oi, int up) {
        float[] e = new float[Math.min(up, BLOCK)];
        for (int blk = 0; blk < up; blk += BLOCK) {
            int n = Math.min(BLOCK, up - blk);
            tanhExps(x, xi + blk, e, n);
            tanhGradFromExps(x, xi + blk, e, g, gi + blk, o, oi + blk, n);
        }
    }

    /**
     * Four stages, each calling one helper: the exp, the log of 1 + exp (its reduction and
     * polynomial, then its special cases), then log1p's correction and the threshold. With the
     * last three in one stage, C2 left a helper out of line in 2 runs of 3 and boxed every vector.
     */
    private static void softplusRow(float beta, float threshold, MemorySegment x, long xi, MemorySegment o, long oi, int up) {
        float[] e = new float[Math.min(up, BLOCK)], lw = new float[e.length];
        for (int blk = 0; blk < up; blk += BLOCK) {
            int n = Math.min(BLOCK, up - blk);
            softplusExps(x, xi + blk, e, n, beta);
            softplusLogsOfPositive(e, lw, n);
            softplusLogSpecialCases(e, lw, n);
            softplusFromLogs(x, xi + blk, e, lw, o, oi + blk, n, beta, threshold);
        }
    }

    private static void softplusGradRow(float beta, float threshold, MemorySegment x, long xi, MemorySegment g, long gi, MemorySegment o, long oi,
                                        int up) {
        float[] e = new float[Math.min(up, BLOCK)];
        for (int blk = 0; blk < up; blk += BLOCK) {
            int n = Math.min(BLOCK, up - blk);
            softplusExps(x, xi + blk, e, n, beta);
            softplusGradFromExps(x, xi + blk, e, g, gi + blk, o, oi + blk, n, beta, threshold);
        }
    }

    private static void logRow(MemorySegment x, long xi, MemorySegment o, long oi, int up) {
        float[] e = new float[Math.min(up, BLOCK)];
        for (int blk = 0; blk < up; blk += BLOCK) {
            int n = Math.min(BLOCK, up - blk);
            logsOfPositive(x, xi + blk, e, n);
            logSpecialCases(x, xi + blk, e, o, oi + blk, n);
        }
    }

    private static void geluGaussians(MemorySegment x, long xi, float[] e, int n) {
        for (int i = 0; i < n; i += L) UnaryMath.geluGaussian(ld(x, xi + i)).intoArray(e, i);
    }

    private static void geluFromGaussians(MemorySegment x, long xi, float[] e, MemorySegment o, long oi, int n) {
        for (int i = 0; i < n; i += L) st(o, oi + i, UnaryMath.geluFromGaussian(ld(x, xi + i), FloatVector.fromArray(S, e, i)));
    }

    private static void geluGradFromGaussians(MemorySegment x, long xi, float[] e, MemorySegment g, long gi, MemorySegment o, long oi, int n) {
        for (int i = 0; i < n; i += L) {
            st(o, oi + i, ld(g, gi + i).mul(UnaryMath.geluGradFromGaussian(ld(x, xi + i), FloatVector.fromArray(S, e, i))));
        }
    }

    private static void geluTanhGradExps(MemorySegment x, long xi, float[] e, int n) {
        for (int i = 0; i < n; i += L) UnaryMath.geluTanhGradExp(ld(x, xi + i)).intoArray(e, i);
    }

    private static void geluTanhGradFromExps(MemorySegment x, long xi, float[] e, MemorySegment g, long gi, MemorySegment o, long oi, int n) {
        for (int i = 0; i < n; i += L) {
            st(o, oi + i, ld(g, gi + i).mul(UnaryMath.geluTanhGradFromExp(ld(x, xi + i), FloatVector.fromArray(S, e, i))));
        }
    }

    private static void tanhExps(MemorySegment x, long xi, float[] e, int n) {
        for (int i = 0; i < n; i += L) VecMath.tanhExp(ld(x, xi + i)).intoArray(e, i);
    }

    private static void tanhFromExps(MemorySegment x, long xi, float[] e, MemorySegment o, long oi, int n) {
        for (int i = 0; i < n; i += L) st(o, oi + i, VecMath.tanhFromExp(ld(x, xi + i), FloatVector.fromArray(S, e, i)));
    }

    private static void tanhGradFromExps(MemorySegment x, long xi, float[] e, MemorySegment g, long gi, MemorySegment o, long oi, int n) {
        for (int i = 0; i < n; i += L) st(o, oi + i, ld(g, gi + i).mul(UnaryMath.tanhGradFromExp(ld(x, xi + i), FloatVector.fromArray(S, e, i))));
    }

    private static void softplusExps(MemorySegment x, long xi, float[] e, int n, float beta) {
        for (int i = 0; i < n; i += L) UnaryMath.softplusExp(ld(x, xi + i), beta).intoArray(e, i);
    }

    private static void softplusLogsOfPositive(float[] e, float[] lw, int n) {
        for (int i = 0; i < n; i += L) VecMath.logOfPositive(FloatVector.fromArray(S, e, i).add(1f)).intoArray(lw, i);
    }

    private static void softplusLogSpecialCases(float[] e, float[] lw, int n) {
        for (int i = 0; i < n; i += L) VecMath.logSpecialCases(FloatVector.fromArray(S, e, i).add(1f), FloatVector.fromArray(S, lw, i)).intoArray(lw, i);
    }

    private static void softplusFromLogs(MemorySegment x, long xi, float[] e, float[] lw, MemorySegment o, long oi, int n, float beta,
                                         float threshold) {
        for (int i = 0; i < n; i += L) {
            st(o, oi + i, UnaryMath.softplusFromLog(ld(x, xi + i), FloatVector.fromArray(S, e, i), FloatVector.fromArray(S, lw, i), beta, threshold));
        }
    }

    private static void softplusGradFromExps(MemorySegment x, long xi, float[] e, MemorySegment g, long gi, MemorySegment o, long oi, int n,
                                             float beta, float threshold) {
        for (int i = 0; i < n; i += L) {
            st(o, oi + i, ld(g, gi + i).mul(UnaryMath.softplusGradFromExp(ld(x, xi + i), FloatVector.fromArray(S, e, i), beta, threshold)));
        }
    }

    private static void logsOfPositive(MemorySegment x, long xi, float[] e, int n) {
        for (int i = 0; i < n; i += L) VecMath.logOfPositive(ld(x, xi + i)).intoArray(e, i);
    }

    private static void logSpecialCases(MemorySegment x, long xi, float[] e, MemorySegment o, long oi, int n) {
        for (int i = 0; i < n; i += L) st(o, oi + i, VecMath.logSpecialCases(ld(x, xi + i), FloatVector.fromArray(S, e, i)));
    }

    // ------------------------------------------------------------------ comparison and selection

    @Override
    public void compare(Compare op, Tensor a, Tensor b, Tensor out) {
        DType t = a.dtype();
        requireSame("compare " + op, t, b, b);
        requireBool("compare", out);
        MemorySegment sa = a.storage().segment(), sb = b.storage().segment(), so = out.storage().segment();
        ElementLoop.run(out.shape(), (base, n, step) -> {
            long ia = base[0], ib = base[1], io = base[2];
            for (int i = 0; i < n; i++, ia += step[0], ib += step[1], io += step[2]) {
                boolean r = switch (t) {
                    case F32 -> compare(op, sa.getAtIndex(F, ia), sb.getAtIndex(F, ib));
                    case I64 -> compareLong(op, sa.getAtIndex(J, ia), sb.getAtIndex(J, ib));
                    default -> compare(op, HostAccess.get(sa, t, ia), HostAccess.get(sb, t, ib));
                };
                so.set(ValueLayout.JAVA_BYTE, io, (byte) (r ? 1 : 0));
            }
        }, a, b, out);
    }

    @Override
    public void compareScalar(Compare op, Tensor a, double s, Tensor out) {
        DType t = a.dtype();
        requireBool("compareScalar", out);
        MemorySegment sa = a.storage().segment(), so = out.storage().segment();
        ElementLoop.run(out.shape(), (base, n, step) -> {
            long ia = base[0], io = base[1];
            for (int i = 0; i < n; i++, ia += step[0], io += step[1]) {
                double x = t == DType.F32 ? sa.getAtIndex(F, ia) : HostAccess.get(sa, t, ia);
                so.set(ValueLayout.JAVA_BYTE, io, (byte) (compare(op, x, s) ? 1 : 0));
            }
        }, a, out);
    }

    private static boolean compare(Compare op, double a, double b) {
        return switch (op) {
            case EQ -> a == b;
            case NE -> a != b;
            case LT -> a < b;
            case LE -> a <= b;
            case GT -> a > b;
            case GE -> a >= b;
        };
    }

    private static boolean compareLong(Compare op, long a, long b) {
        return switch (op) {
            case EQ -> a == b;
            case NE -> a != b;
            case LT -> a < b;
            case LE -> a <= b;
            case GT -> a > b;
            case GE -> a >= b;
        };
    }

    @Override
    public void where(Tensor cond, Tensor a, Tensor b, Tensor out) {
        requireBool("where", cond);
        requireSame("where", out.dtype(), a, b);
        MemorySegment sc = cond.storage().segment(), sa = a.storage().segment(), sb = b.storage().segment(), so = out.storage().segment();
        int size = out.dtype().byteSize();
        ElementLoop.run(out.shape(), (base, n, step) -> {
            long ic = base[0], ia = base[1], ib = base[2], io = base[3];
            for (int i = 0; i < n; i++, ic += step[0], ia += step[1], ib += step[2], io += step[3]) {
                boolean c = sc.get(ValueLayout.JAVA_BYTE, ic) != 0;
                MemorySegment.copy(c ? sa : sb, (c ? ia : ib) * size, so, io * size, size);
            }
        }, cond, a, b, out);
    }

    // ------------------------------------------------------------------ affine and in-place updates

    @Override
    public void affine(Tensor x, double alpha, double beta, Tensor out) {
        DType t = out.dtype();
        requireSame("affine", t, x, x);
        MemorySegment sx = x.storage().segment(), so = out.storage().segment();
        ElementLoop.run(out.shape(), (base, n, step) -> {
            long ix = base[0], io = base[1];
            if (t == DType.F32) {
                float a = (float) alpha, b = (float) beta;
                int i = 0;
                if (step[0] == 1 && step[1] == 1) {
                    for (int up = S.loopBound(n); i < up; i += L) st(so, io + i, ld(sx, ix + i).mul(a).add(b));
                }
                for (; i < n; i++) so.setAtIndex(F, io + (long) i * step[1], a * sx.getAtIndex(F, ix + (long) i * step[0]) + b);
            } else {
                for (int i = 0; i < n; i++, ix += step[0], io += step[1]) HostAccess.set(so, t, io, alpha * HostAccess.get(sx, t, ix) + beta);
            }
        }, x, out);
    }

    @Override
    public void addInPlace(Tensor dst, Tensor src, double alpha) {
        DType t = dst.dtype();
        requireSame("addInPlace", t, src, src);
        MemorySegment ss = src.storage().segment(), sd = dst.storage().segment();
        ElementLoop.run(dst.shape(), (base, n, step) -> {
            long is = base[0], id = base[1];
            if (t == DType.F32) {
                float a = (float) alpha;
                int i = 0;
                if (step[0] == 1 && step[1] == 1) {
                    for (int up = S.loopBound(n); i < up; i += L) st(sd, id + i, ld(ss, is + i).fma(Vec.of(a), ld(sd, id + i)));
                }
                for (; i < n; i++) {
                    long d = id + (long) i * step[1];
                    sd.setAtIndex(F, d, sd.getAtIndex(F, d) + a * ss.getAtIndex(F, is + (long) i * step[0]));
                }
            } else {
                for (int i = 0; i < n; i++, is += step[0], id += step[1]) HostAccess.set(sd, t, id, HostAccess.get(sd, t, id) + alpha * HostAccess.get(ss, t, is));
            }
        }, src, dst);
    }

    @Override
    public void mulInPlace(Tensor dst, double s) { affine(dst, s, 0, dst); }

    private static void requireSame(String op, DType t, Tensor a, Tensor b) {
        if (a.dtype() != t || b.dtype() != t) {
            throw new IllegalArgumentException(op + ": kernel needs one dtype; got " + a.dtype() + ", " + b.dtype() + " -> " + t);
        }
    }

    private static void requireBool(String op, Tensor t) {
        if (t.dtype() != DType.BOOL) throw new IllegalArgumentException(op + ": mask must be BOOL, got " + t.dtype());
    }
}
