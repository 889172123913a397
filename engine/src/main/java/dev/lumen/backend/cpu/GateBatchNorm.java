package dev.lumen.backend.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The BatchNorm + ReLU + 1x1 backward of CAS-ViT's spatial gate on one plane, branch-free with
 * the Vector API (the ReLU's mask is a lane blend, not a branch per pixel).
 */
final class GateBatchNorm {
    private GateBatchNorm() {}

    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;

    /**
     * From the dw conv output u of one plane and the gate logit's gradient dz (at dzAt): writes
     * uh = (u - mean)*inv and da = relu'(a) * dz * w1, a = gamma*uh + beta, at at; adds sum da,
     * sum da*uh and sum dz*relu(a) (the 1x1 weight's gradient) to sums[0..2].
     */
    static void forwardTerms(double[] u, double[] dz, int at, int n, double mean, double inv, double gamma, double beta,
                             double w1, double[] uh, double[] da, double[] sums) {
        DoubleVector zero = DoubleVector.zero(D);
        DoubleVector sDa = zero, sDau = DoubleVector.zero(D), sW1 = DoubleVector.zero(D);
        int i = 0;
        for (int bound = D.loopBound(n); i < bound; i += D.length()) {
            DoubleVector h = DoubleVector.fromArray(D, u, i).sub(mean).mul(inv);
            DoubleVector a = h.mul(gamma).add(beta);
            VectorMask<Double> on = a.compare(VectorOperators.GT, zero);
            DoubleVector z = DoubleVector.fromArray(D, dz, at + i);
            DoubleVector g = zero.blend(z.mul(w1), on);
            h.intoArray(uh, at + i);
            g.intoArray(da, at + i);
            sDa = sDa.add(g);
            sDau = h.fma(g, sDau);
            sW1 = z.fma(a.max(zero), sW1);
        }
        double tDa = Vec.sum(sDa), tDau = Vec.sum(sDau);
        double tW1 = Vec.sum(sW1);
        for (; i < n; i++) {
            double h = (u[i] - mean) * inv, a = gamma * h + beta, z = dz[at + i];
            double g = a > 0 ? z * w1 : 0;
            uh[at + i] = h;
            da[at + i] = g;
            tDa += g;
            tDau += g * h;
            tW1 += z * Math.max(a, 0);
        }
        sums[0] += tDa;
        sums[1] += tDau;
        sums[2] += tW1;
    }

    /** du = k * (da - meanDa - uh*meanDau) over n values from at; returns sum du (the dw conv's bias gradient). */
    static double inputGrad(double[] uh, double[] da, int at, int n, double k, double meanDa, double meanDau, double[] du) {
        DoubleVector sum = DoubleVector.zero(D);
        int i = 0;
        for (int bound = D.loopBound(n); i < bound; i += D.length()) {
            DoubleVector g = DoubleVector.fromArray(D, da, at + i).sub(meanDa)
                    .sub(DoubleVector.fromArray(D, uh, at + i).mul(meanDau)).mul(k);
            g.intoArray(du, i);
            sum = sum.add(g);
        }
        double t = Vec.sum(sum);
        for (; i < n; i++) {
            double g = k * (da[at + i] - meanDa - uh[at + i] * meanDau);
            du[i] = g;
            t += g;
        }
        return t;
    }
}
