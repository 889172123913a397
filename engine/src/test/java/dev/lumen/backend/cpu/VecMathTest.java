package dev.lumen.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.function.DoubleUnaryOperator;
import java.util.function.UnaryOperator;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * The arithmetic-only exp, log, log1p and tanh against Math in double, in ulps of the float
 * result, over the ranges the engine feeds them, plus the special values. Bound: 2 ulp (the
 * Cephes polynomials are good to about 1; range reduction and the final rounding add one).
 */
class VecMathTest {
    private static final int L = Vec.L;

    /** Largest error in ulps of the exact result, over n random inputs from lo to hi (log-uniform when logScale). */
    private static double maxUlp(UnaryOperator<FloatVector> f, DoubleUnaryOperator exact, double lo, double hi, boolean logScale, int n) {
        SplittableRandom r = new SplittableRandom(11);
        float[] x = new float[L], y = new float[L];
        double worst = 0;
        for (int it = 0; it < n; it += L) {
            for (int i = 0; i < L; i++) {
                double u = r.nextDouble();
                x[i] = (float) (logScale ? Math.exp(Math.log(lo) + u * (Math.log(hi) - Math.log(lo))) : lo + u * (hi - lo));
            }
            java.util.Arrays.fill(y, Float.NaN);
            f.apply(FloatVector.fromArray(Vec.S, x, 0)).intoArray(y, 0);
            for (int i = 0; i < L; i++) {
                double e = exact.applyAsDouble(x[i]);
                double ulp = Math.ulp((float) e);
                double err = Math.abs(y[i] - e) / ulp;
                assertTrue(err <= 2, "x=" + x[i] + " got " + y[i] + " want " + e + " (" + err + " ulp)");
                worst = Math.max(worst, err);
            }
        }
        return worst;
    }

    /** f on the inputs, one vector at a time, unused lanes fed 1 (shared with GeluMathTest). */
    static float[] apply(UnaryOperator<FloatVector> f, float... in) {
        float[] x = new float[L];
        float[] out = new float[in.length];
        for (int at = 0; at < in.length; at += L) {
            java.util.Arrays.fill(x, 1f);
            System.arraycopy(in, at, x, 0, Math.min(L, in.length - at));
            float[] y = f.apply(FloatVector.fromArray(Vec.S, x, 0)).toArray();
            System.arraycopy(y, 0, out, at, Math.min(L, in.length - at));
        }
        return out;
    }

    @Test
    void expWithinTwoUlpDownToSubnormals() {
        maxUlp(VecMath::exp, Math::exp, -87, 88.7, false, 200_000);
        maxUlp(VecMath::exp, Math::exp, -1e-3, 1e-3, false, 20_000);
        // Subnormal results: the error is absolute there, at most one subnormal step.
        float[] y = apply(VecMath::exp, -90f, -100f, -103.5f);
        float[] want = {(float) Math.exp(-90), (float) Math.exp(-100), (float) Math.exp(-103.5)};
        for (int i = 0; i < y.length; i++) assertEquals(want[i], y[i], Float.MIN_VALUE, "exp subnormal " + i);
    }

    @Test
    void scalarExpHasTheVectorLanesBits() {
        SplittableRandom r = new SplittableRandom(5);
        float[] x = new float[L * 4096 + 12];
        for (int i = 0; i < x.length - 12; i++) x[i] = (float) (-115 + 210 * r.nextDouble());
        float[] special = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, 89f, -110f, 88.72f, -103.97f,
            Float.MIN_VALUE, -Float.MAX_VALUE, Float.MAX_VALUE};
        System.arraycopy(special, 0, x, x.length - 12, 12);
        float[] vec = apply(VecMath::exp, x);
        for (int i = 0; i < x.length; i++) {
            assertEquals(Float.floatToRawIntBits(vec[i]), Float.floatToRawIntBits(VecMath.exp(x[i])), "exp(" + x[i] + ")");
        }
    }

    /**
     * Softmax's scaled exponential: e^x 2^64 for x <= 0. Where e^x is a normal float it must be
     * exp(x) 2^64 to the bit (so softmax keeps its bits), below that within 2 ulps of the true
     * value (where exp's subnormals lose digits), 0 below -110, and its scalar port must give the
     * lanes' bits.
     */
    @Test
    void scaledExpForSoftmax() {
        SplittableRandom r = new SplittableRandom(9);
        float[] x = new float[L * 4096 + 9];
        for (int i = 0; i < x.length - 9; i++) x[i] = (float) (-115 * r.nextDouble());
        float[] special = {Float.NaN, Float.NEGATIVE_INFINITY, 0f, -0f, -110f, Math.nextDown(-110f), -103.97f, -87.3f, -Float.MAX_VALUE};
        System.arraycopy(special, 0, x, x.length - 9, 9);
        float[] vec = apply(VecMath::expTimes2To64, x), plain = apply(VecMath::exp, x);
        for (int i = 0; i < x.length; i++) {
            String at = "e^" + x[i] + " 2^64";
            assertEquals(Float.floatToRawIntBits(vec[i]), Float.floatToRawIntBits(VecMath.expTimes2To64(x[i])), at + ", scalar");
            if (Float.isNaN(x[i])) {
                assertTrue(Float.isNaN(vec[i]), at);
            } else if (x[i] < -110f) {
                assertEquals(0f, vec[i], at);
            } else if (plain[i] >= Float.MIN_NORMAL) {
                assertEquals(Float.floatToRawIntBits(plain[i] * 0x1p64f), Float.floatToRawIntBits(vec[i]), at + ", against exp");
            } else {
                double want = Math.exp(x[i]) * 0x1p64;
                assertEquals(want, vec[i], 2 * Math.ulp((float) want), at);
            }
        }
    }

    @Test
    void expAtTheClampEdges() {
        // The clamp to [-110, 89] is exp's only special case: every float from the subnormal range
        // down past the clamp, and around the overflow threshold, must still come out right.
        float[] lo = new float[4096], hi = new float[4096];
        for (int i = 0; i < lo.length; i++) {
            lo[i] = -112f + 25f * i / lo.length;
            hi[i] = 88.5f + 0.7f * i / hi.length;
        }
        float[] ylo = apply(VecMath::exp, lo), yhi = apply(VecMath::exp, hi);
        for (int i = 0; i < lo.length; i++) {
            float want = (float) Math.exp(lo[i]);
            assertEquals(want, ylo[i], Math.max(Float.MIN_VALUE, 2 * Math.ulp(want)), "exp(" + lo[i] + ")");
            double w = Math.exp(hi[i]);
            if (w > Float.MAX_VALUE) assertEquals(Float.POSITIVE_INFINITY, yhi[i], "exp(" + hi[i] + ")");
            else assertEquals(w, yhi[i], 2 * Math.ulp((float) w), "exp(" + hi[i] + ")");
        }
    }

    @Test
    void expSpecialValues() {
        float[] y = apply(VecMath::exp, 0f, 89f, 1000f, Float.POSITIVE_INFINITY, -104f, Float.NEGATIVE_INFINITY, Float.NaN);
        assertEquals(1f, y[0]);
        for (int i = 1; i <= 3; i++) assertEquals(Float.POSITIVE_INFINITY, y[i]);
        assertEquals(0f, y[4]);
        assertEquals(0f, y[5]);
        assertTrue(Float.isNaN(y[6]));
    }

    @Test
    void logWithinTwoUlpIncludingSubnormalInputs() {
        maxUlp(VecMath::log, Math::log, 1e-30, 1e30, true, 200_000);
        maxUlp(VecMath::log, Math::log, 0.5, 2, false, 100_000);
        maxUlp(VecMath::log, Math::log, 1e-44, 1e-39, true, 10_000);
        float[] y = apply(VecMath::log, 0f, -1f, Float.POSITIVE_INFINITY, Float.NaN, 1f);
        assertEquals(Float.NEGATIVE_INFINITY, y[0]);
        assertTrue(Float.isNaN(y[1]));
        assertEquals(Float.POSITIVE_INFINITY, y[2]);
        assertTrue(Float.isNaN(y[3]));
        assertEquals(0f, y[4]);
    }

    @Test
    void log1pWithinTwoUlpForTinyAndLargeArguments() {
        maxUlp(VecMath::log1p, Math::log1p, 1e-12, 1e20, true, 200_000);
        maxUlp(VecMath::log1p, Math::log1p, -0.9, 0.9, false, 100_000);
        float[] y = apply(VecMath::log1p, 1e-30f, -1f, Float.POSITIVE_INFINITY, -2f);
        assertEquals(1e-30f, y[0]);
        assertEquals(Float.NEGATIVE_INFINITY, y[1]);
        assertEquals(Float.POSITIVE_INFINITY, y[2]);
        assertTrue(Float.isNaN(y[3]));
    }

    @Test
    void tanhWithinTwoUlpOnBothSidesOfTheSwitch() {
        maxUlp(VecMath::tanh, Math::tanh, -12, 12, false, 200_000);
        maxUlp(VecMath::tanh, Math::tanh, -0.7, 0.7, false, 100_000);
        maxUlp(VecMath::tanh, Math::tanh, 1e-20, 1e-3, true, 20_000);
        float[] y = apply(VecMath::tanh, 100f, -100f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, -0f);
        assertEquals(1f, y[0]);
        assertEquals(-1f, y[1]);
        assertEquals(1f, y[2]);
        assertEquals(-1f, y[3]);
        assertTrue(Float.isNaN(y[4]));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(y[5]));
    }
}
