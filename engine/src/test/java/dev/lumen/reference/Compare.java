package dev.lumen.reference;

/** Error measures between an implementation's output and a reference, for kernel tests. */
public final class Compare {
    private Compare() {}

    /** ||a - ref|| / ||ref||; NaN anywhere in a (a poisoned value never written) gives +infinity. */
    public static double relativeError(float[] a, double[] ref) {
        if (a.length != ref.length) throw new IllegalArgumentException("lengths " + a.length + " vs " + ref.length);
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            if (Float.isNaN(a[i])) return Double.POSITIVE_INFINITY;
            double d = a[i] - ref[i];
            num += d * d;
            den += ref[i] * ref[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    /** max |a - ref| / (max |ref| + tiny). */
    public static double maxError(float[] a, double[] ref) {
        double m = 0, s = 1e-30;
        for (int i = 0; i < a.length; i++) {
            if (Float.isNaN(a[i])) return Double.POSITIVE_INFINITY;
            m = Math.max(m, Math.abs(a[i] - ref[i]));
            s = Math.max(s, Math.abs(ref[i]));
        }
        return m / s;
    }

    public static float[] randomFloats(java.util.Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }
}
