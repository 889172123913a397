package dev.lumen.backend.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Sums over double arrays in vector lanes: a single scalar sum is a chain of dependent adds the JIT must keep in order. */
final class DoubleSums {
    private DoubleSums() {}

    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;

    /** sum a[at .. at+n). */
    static double sum(double[] a, int at, int n) {
        DoubleVector acc = DoubleVector.zero(D);
        int i = 0;
        for (int bound = D.loopBound(n); i < bound; i += D.length()) acc = acc.add(DoubleVector.fromArray(D, a, at + i));
        double t = Vec.sum(acc);
        for (; i < n; i++) t += a[at + i];
        return t;
    }

    /** sum (a[i] - m)^2 over a[0 .. n). */
    static double sumSquaredDeviation(double[] a, int n, double m) {
        DoubleVector acc = DoubleVector.zero(D);
        int i = 0;
        for (int bound = D.loopBound(n); i < bound; i += D.length()) {
            DoubleVector x = DoubleVector.fromArray(D, a, i).sub(m);
            acc = x.fma(x, acc);
        }
        double t = Vec.sum(acc);
        for (; i < n; i++) t += (a[i] - m) * (a[i] - m);
        return t;
    }

    /** sum a[ao+i] * b[bo+i] for i < n. */
    static double dot(double[] a, int ao, double[] b, int bo, int n) {
        DoubleVector acc = DoubleVector.zero(D);
        int i = 0;
        for (int bound = D.loopBound(n); i < bound; i += D.length()) {
            acc = DoubleVector.fromArray(D, a, ao + i).fma(DoubleVector.fromArray(D, b, bo + i), acc);
        }
        double t = Vec.sum(acc);
        for (; i < n; i++) t += a[ao + i] * b[bo + i];
        return t;
    }

    /** sum a[ao+i] * b[bo+i] * c[co+i] for i < n. */
    static double dot3(double[] a, int ao, double[] b, int bo, double[] c, int co, int n) {
        DoubleVector acc = DoubleVector.zero(D);
        int i = 0;
        for (int bound = D.loopBound(n); i < bound; i += D.length()) {
            acc = DoubleVector.fromArray(D, a, ao + i).mul(DoubleVector.fromArray(D, b, bo + i))
                    .fma(DoubleVector.fromArray(D, c, co + i), acc);
        }
        double t = Vec.sum(acc);
        for (; i < n; i++) t += a[ao + i] * b[bo + i] * c[co + i];
        return t;
    }
}
