package dev.lumen.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** SoftmaxRows.f32InPlace, the lanes-over-rows softmax of the outlook kernels, against a row-by-row softmax in double. */
class SoftmaxRowsTest {
    // An f32 exp (VecMath, ~1 ulp), a sum of kk terms and a division: a few ulp of f32 per probability.
    private static final double TOL = 2e-6;

    @Test
    void matchesRowByRowSoftmaxForEveryRowCountAndWidth() {
        Random r = new Random(12);
        // widths below, at and above a vector (outlook's k=3 -> 9, k=4 -> 16, k=5 -> 25); row counts
        // that leave a last group of every size, so spare lanes repeat the last row
        for (int kk : new int[] {1, 9, 16, 25}) {
            for (int rows = 1; rows <= 2 * Vec.L + 3; rows++) {
                int from = 5;
                float[] a = new float[from + rows * kk + 7];
                for (int i = 0; i < a.length; i++) a[i] = (float) (4 * r.nextGaussian());
                float[] before = a.clone();
                SoftmaxRows.f32InPlace(a, from, rows, kk, 0.37f);
                for (int q = 0; q < rows; q++) {
                    double[] want = softmax(before, from + q * kk, kk, 0.37f);
                    for (int j = 0; j < kk; j++) {
                        float got = a[from + q * kk + j];
                        assertEquals(want[j], got, TOL * Math.max(want[j], 1e-3), "kk " + kk + " rows " + rows + " row " + q + " j " + j);
                    }
                }
                // nothing outside the rows is touched
                for (int i = 0; i < from; i++) assertEquals(before[i], a[i]);
                for (int i = from + rows * kk; i < a.length; i++) assertEquals(before[i], a[i]);
            }
        }
    }

    @Test
    void largeLogitsStayFiniteAndSumToOne() {
        // scale * logit far past exp's range (88): the row max is subtracted first
        float[] a = {1000f, 999f, -1000f, 5000f, 5000f, 5000f, -3000f, -3001f, -3002f};
        SoftmaxRows.f32InPlace(a, 0, 3, 3, 1f);
        for (int q = 0; q < 3; q++) {
            double sum = 0;
            for (int j = 0; j < 3; j++) {
                assertTrue(Float.isFinite(a[q * 3 + j]), "row " + q);
                sum += a[q * 3 + j];
            }
            assertEquals(1, sum, 1e-6, "row " + q);
        }
        assertEquals(1 / (1 + Math.exp(-1)), a[0], 1e-6);
        assertArrayEquals(new float[] {1 / 3f, 1 / 3f, 1 / 3f}, new float[] {a[3], a[4], a[5]}, 1e-7f);
    }

    private static double[] softmax(float[] a, int at, int kk, float scale) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < kk; j++) max = Math.max(max, (double) scale * a[at + j]);
        double[] e = new double[kk];
        double sum = 0;
        for (int j = 0; j < kk; j++) sum += e[j] = Math.exp((double) scale * a[at + j] - max);
        for (int j = 0; j < kk; j++) e[j] /= sum;
        return e;
    }
}
