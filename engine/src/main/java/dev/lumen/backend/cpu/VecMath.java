package dev.lumen.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * exp, log, log1p and tanh on float vectors from adds, multiplies and fmas only.
 *
 * <p>Why not lanewise(EXP) and friends: C2 compiles those to the SVML routines while the
 * interpreter and C1 compute each lane with Math, and the two differ in the last bit now and
 * then. A training run's result would then depend on when the JIT compiled what, and a run
 * resumed in a fresh JVM would not end bit-identical to an unbroken one. IEEE add, multiply, fma
 * and divide round the same in every tier, so these do too. Accuracy: within 2 ulp of the exact
 * result (checked against Math in VecMathTest).
 */
final class VecMath {
    private VecMath() {}

    private static final FloatVector ONE = Vec.of(1f), HALF = Vec.of(0.5f), NEG_HALF = Vec.of(-0.5f), ZERO = Vec.of(0f), TWO = Vec.of(2f);
    private static final FloatVector INF = Vec.of(Float.POSITIVE_INFINITY), NEG_INF = Vec.of(Float.NEGATIVE_INFINITY);
    private static final FloatVector NAN = Vec.of(Float.NaN);

    // exp: x = n ln2 + r with |r| <= ln2/2; e^r = 1 + r + r^2 P(r) (Cephes expf's minimax P).
    /*
     * The clamp is the only special case: at 89, n = 128 and 2^n overflows to +inf by itself; at
     * -110, n = -159 and the product rounds to 0. Every input in between, +-inf clamped and NaN
     * (min and max keep NaN, and NaN flows through the arithmetic) come out right with no blend.
     */
    private static final FloatVector EXP_HI = Vec.of(89f), EXP_LO = Vec.of(-110f);
    private static final FloatVector LOG2E = Vec.of(1.44269504088896341f);
    /** 1.5 * 2^23: adding it rounds to an integer (to nearest even) and leaves that integer in the low mantissa bits. */
    private static final FloatVector ROUNDER = Vec.of(12582912f);
    private static final FloatVector LN2_HI = Vec.of(0.693359375f), LN2_LO = Vec.of(-2.12194440e-4f);
    private static final FloatVector NEG_LN2_HI = LN2_HI.neg(), NEG_LN2_LO = LN2_LO.neg();
    private static final FloatVector P0 = Vec.of(1.9875691500e-4f), P1 = Vec.of(1.3981999507e-3f), P2 = Vec.of(8.3334519073e-3f),
            P3 = Vec.of(4.1665795894e-2f), P4 = Vec.of(1.6666665459e-1f), P5 = Vec.of(5.0000001201e-1f);

    /** e^x; +inf above 88.72, 0 below -103.97, NaN stays NaN; subnormal results are kept. */
    static FloatVector exp(FloatVector x) {
        // Compare and blend rather than min and max: C2 spells Java's min and max (NaN and -0
        // rules) as several instructions each; the clamp needs neither rule (NaN compares false).
        FloatVector xc = x.blend(EXP_HI, x.compare(VectorOperators.GT, EXP_HI)).blend(EXP_LO, x.compare(VectorOperators.LT, EXP_LO));
        FloatVector shifted = xc.fma(LOG2E, ROUNDER);
        FloatVector er = expOfRemainder(xc, shifted.sub(ROUNDER));
        // 2^n as two normal factors, so that n from -159 (results round to 0) up to 128 (+inf) works.
        IntVector ni = shifted.reinterpretAsInts().sub(0x4B400000);
        IntVector n1 = ni.lanewise(VectorOperators.ASHR, 1), n2 = ni.sub(n1);
        FloatVector s1 = n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = n2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return er.mul(s1).mul(s2);
    }

    /** e^r for x = n ln2 + r, given the integer n: Cephes' two-part reduction and its polynomial. */
    private static FloatVector expOfRemainder(FloatVector x, FloatVector n) {
        FloatVector r = n.fma(NEG_LN2_HI, x);
        r = n.fma(NEG_LN2_LO, r);
        FloatVector r2 = r.mul(r);
        FloatVector p = P0.fma(r, P1).fma(r, P2).fma(r, P3).fma(r, P4).fma(r, P5);
        return p.fma(r2, r).add(ONE);
    }

    /** The scalar ports' expOfRemainder, operation for operation. */
    private static float expOfRemainder(float x, float n) {
        float r = Math.fma(n, -0.693359375f, x);
        r = Math.fma(n, 2.12194440e-4f, r);
        float r2 = r * r;
        float p = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(1.9875691500e-4f, r, 1.3981999507e-3f), r, 8.3334519073e-3f), r,
                4.1665795894e-2f), r, 1.6666665459e-1f), r, 5.0000001201e-1f);
        return Math.fma(p, r2, r) + 1f;
    }

    /** ROUNDER plus 191 = 127 + 64: the rounded integer n lands in the low bits as n + 191, a biased exponent of 2^(n + 64). */
    private static final FloatVector ROUNDER_2_64 = Vec.of(12582912f + 191f);
    /** 2^-64, the scale that gaussianTimes2To64 leaves for its caller to multiply in. */
    static final float TWO_TO_MINUS_64 = 0x1p-64f;

    /**
     * e^{-a^2/2} 2^64 for a in [0, 16] (NaN kept), GELU's one exponential, cheaper than
     * exp(-a * a / 2) where the range is known:
     * <ul>
     *   <li>No clamp: n = round(-a^2/2 log2 e) lies in [-185, 0].</li>
     *   <li>One scale factor: 2^(n + 64) is a normal float over that range, where 2^n is not
     *       (past a = 13.2, n < -126 and it is subnormal). It is the rounder's bits shifted into the exponent
     *       field (the bias rides in the rounder), with no integer add and no second multiply. The
     *       caller folds 2^-64 into a constant of its own, so only its last product can round
     *       into the subnormals, once.</li>
     *   <li>No error from rounding a^2: r = -a^2/2 - n ln2_hi comes from one fma of the exact
     *       product (a * -1/2) * a and the exact n ln2_hi (n has 8 bits and ln2_hi 9), so it is
     *       rounded once, near 0. The rounded -a^2/2 only picks n. At a = 10 rounding a^2 alone
     *       would cost 1e-6 of relative error.</li>
     *   <li>e^r as one Horner chain of Cephes' coefficients, 1 + r + r^2 P(r) unfolded.</li>
     * </ul>
     */
    static FloatVector gaussianTimes2To64(FloatVector a) {
        FloatVector am = a.mul(NEG_HALF);
        FloatVector shifted = am.mul(a).fma(LOG2E, ROUNDER_2_64);
        FloatVector n = shifted.sub(ROUNDER_2_64);
        FloatVector r = am.fma(a, n.mul(NEG_LN2_HI));
        r = n.fma(NEG_LN2_LO, r);
        FloatVector er = P0.fma(r, P1).fma(r, P2).fma(r, P3).fma(r, P4).fma(r, P5).fma(r, ONE).fma(r, ONE);
        FloatVector scale = shifted.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return er.mul(scale);
    }

    /**
     * e^x 2^64 for x <= 0 (NaN kept; 0 below -110, as exp's clamp gives), softmax's exponential
     * of x - max: the range needs no upper clamp, and 2^(n + 64) is one normal factor from the
     * rounder's bits (see gaussianTimes2To64) where exp needs two. Softmax divides by the sum of
     * the same scaled values, so the scale cancels, with the same bits as exp's wherever exp's
     * result is normal (a product with a power of two is exact) and better ones below that.
     */
    static FloatVector expTimes2To64(FloatVector x) {
        FloatVector shifted = x.fma(LOG2E, ROUNDER_2_64);
        FloatVector er = expOfRemainder(x, shifted.sub(ROUNDER_2_64));
        FloatVector scale = shifted.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return er.mul(scale).blend(ZERO, x.compare(VectorOperators.LT, EXP_LO));
    }

    /** expTimes2To64 for one float, operation for operation (a row's scalar tail). */
    static float expTimes2To64(float x) {
        if (x < -110f) return 0f;
        float shifted = Math.fma(x, 1.44269504088896341f, 12582912f + 191f);
        float er = expOfRemainder(x, shifted - (12582912f + 191f));
        return er * Float.intBitsToFloat(Float.floatToRawIntBits(shifted) << 23);
    }

    /**
     * The same e^x for one float, operation for operation, so a row's scalar tail gets the bits
     * its vector lanes would: Math.exp on the tail cost as much as the 12 vectors before it in a
     * 197-wide softmax row.
     */
    static float exp(float x) {
        float xc = Math.max(Math.min(x, 89f), -110f);
        float shifted = Math.fma(xc, 1.44269504088896341f, 12582912f);
        float er = expOfRemainder(xc, shifted - 12582912f);
        int ni = Float.floatToRawIntBits(shifted) - 0x4B400000, n1 = ni >> 1, n2 = ni - n1;
        return er * Float.intBitsToFloat((n1 + 127) << 23) * Float.intBitsToFloat((n2 + 127) << 23);
    }

    // log: x = m 2^e with m in [sqrt(1/2), sqrt(2)); log(1 + f) = f - f^2/2 + f^3 Q(f) (Cephes logf's Q).
    private static final FloatVector SQRT_HALF = Vec.of(0.707106781186547524f), MIN_NORMAL = Vec.of(Float.MIN_NORMAL),
            TWO_23 = Vec.of(8388608f);
    private static final FloatVector Q0 = Vec.of(7.0376836292e-2f), Q1 = Vec.of(-1.1514610310e-1f), Q2 = Vec.of(1.1676998740e-1f),
            Q3 = Vec.of(-1.2420140846e-1f), Q4 = Vec.of(1.4249322787e-1f), Q5 = Vec.of(-1.6668057665e-1f),
            Q6 = Vec.of(2.0000714765e-1f), Q7 = Vec.of(-2.4999993993e-1f), Q8 = Vec.of(3.3333331174e-1f);

    /**
     * Natural log; -inf at 0, NaN below 0, +inf at +inf. Two parts, each under C2's inlining
     * size (325 bytes of bytecode; the whole was 363): a caller's loop that cannot inline a
     * callee passes and gets its vectors boxed.
     */
    static FloatVector log(FloatVector x) { return logSpecialCases(x, logOfPositive(x)); }

    /** log x for finite x > 0, subnormals included. */
    static FloatVector logOfPositive(FloatVector x) {
        VectorMask<Float> sub = x.compare(VectorOperators.LT, MIN_NORMAL);
        FloatVector xs = x.blend(x.mul(TWO_23), sub);
        IntVector bits = xs.reinterpretAsInts();
        IntVector e = bits.lanewise(VectorOperators.LSHR, 23).sub(126);
        e = e.blend(e.sub(23), sub.cast(e.species()));
        FloatVector m = bits.and(0x007FFFFF).or(0x3F000000).reinterpretAsFloats(); // [0.5, 1)
        VectorMask<Float> low = m.compare(VectorOperators.LT, SQRT_HALF);
        FloatVector ef = (FloatVector) e.convert(VectorOperators.I2F, 0);
        ef = ef.blend(ef.sub(ONE), low);
        FloatVector f = m.blend(m.add(m), low).sub(ONE);
        FloatVector z = f.mul(f);
        FloatVector q = Q0.fma(f, Q1).fma(f, Q2).fma(f, Q3).fma(f, Q4).fma(f, Q5).fma(f, Q6).fma(f, Q7).fma(f, Q8);
        FloatVector y = q.mul(f).mul(z);
        y = ef.fma(LN2_LO, y);
        y = z.fma(HALF.neg(), y);
        FloatVector out = f.add(y);
        return ef.fma(LN2_HI, out);
    }

    /** out where x is finite and positive; -inf at 0, +inf at +inf, NaN below 0 and at NaN. */
    static FloatVector logSpecialCases(FloatVector x, FloatVector out) {
        out = out.blend(NEG_INF, x.compare(VectorOperators.EQ, ZERO));
        out = out.blend(INF, x.compare(VectorOperators.EQ, INF));
        out = out.blend(NAN, x.compare(VectorOperators.LT, ZERO));
        return out.blend(x, x.test(VectorOperators.IS_NAN));
    }

    /** log(1 + u), accurate for small u: log(w) corrected by the rounding of w = 1 + u. */
    static FloatVector log1p(FloatVector u) { return log1pFromLog(u, log(u.add(ONE))); }

    /**
     * log(1 + u) given lw = log(w), w = 1 + u in float: the correction and special cases
     * (a stage apart from the log in row loops; see CpuElementwise).
     */
    static FloatVector log1pFromLog(FloatVector u, FloatVector lw) {
        FloatVector w = u.add(ONE);
        FloatVector d = w.sub(ONE);
        FloatVector corrected = lw.add(u.sub(d).div(w));
        // w == 1: u is below half an ulp of 1, where log1p(u) = u to float precision. The correction
        // is 0/0 or inf-inf at w = 0 and w = inf, where log(w) alone is the answer.
        corrected = corrected.blend(u, d.compare(VectorOperators.EQ, ZERO));
        return corrected.blend(NEG_INF, w.compare(VectorOperators.EQ, ZERO)).blend(INF, w.compare(VectorOperators.EQ, INF));
    }

    // tanh: odd polynomial below 0.625 (Cephes tanhf), 1 - 2 / (e^{2|x|} + 1) above.
    private static final FloatVector TANH_SMALL = Vec.of(0.625f);
    private static final FloatVector T0 = Vec.of(-5.70498872745e-3f), T1 = Vec.of(2.06390887954e-2f), T2 = Vec.of(-5.37397155531e-2f),
            T3 = Vec.of(1.33314422036e-1f), T4 = Vec.of(-3.33332819422e-1f);

    static FloatVector tanh(FloatVector x) { return tanhFromExp(x, tanhExp(x)); }

    /** e^{2|x|}, tanh's one exp (a stage of its own in row loops, as GELU's; see CpuElementwise). */
    static FloatVector tanhExp(FloatVector x) {
        FloatVector ax = x.abs();
        return exp(ax.add(ax));
    }

    /** tanh x given e = tanhExp(x). */
    static FloatVector tanhFromExp(FloatVector x, FloatVector e) {
        FloatVector ax = x.abs();
        FloatVector z = x.mul(x);
        FloatVector small = T0.fma(z, T1).fma(z, T2).fma(z, T3).fma(z, T4).mul(z).fma(x, x);
        FloatVector large = ONE.sub(TWO.div(e.add(ONE)));
        large = large.blend(large.neg(), x.compare(VectorOperators.LT, ZERO));
        // x itself at NaN and at zero, where the polynomial would turn -0 into +0.
        return large.blend(small, ax.compare(VectorOperators.LT, TANH_SMALL))
                .blend(x, x.test(VectorOperators.IS_NAN).or(x.compare(VectorOperators.EQ, ZERO)));
    }

    /** x^p lane by lane with Math.pow, which rounds the same in every tier (it has no vector intrinsic to disagree with). */
    static FloatVector pow(FloatVector x, FloatVector p) {
        float[] a = x.toArray(), b = p.toArray();
        for (int i = 0; i < a.length; i++) a[i] = (float) Math.pow(a[i], b[i]);
        return FloatVector.fromArray(x.species(), a, 0);
    }
}
