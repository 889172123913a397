package dev.lumen.backend.cpu;

import static dev.lumen.backend.cpu.NormRows.F;
import static dev.lumen.backend.cpu.NormRows.L;
import static dev.lumen.backend.cpu.NormRows.NO;
import static dev.lumen.backend.cpu.NormRows.S;
import static dev.lumen.backend.cpu.NormRows.load;

import dev.lumen.tensor.DType;
import dev.lumen.tensor.HostAccess;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Layer norm over contiguous rows (x [rows, d, 1]): one task per block of rows, each row
 * read twice for its statistics (mean, then the centred sum of squares, exact in float
 * since the row sits in cache) and once for the output.
 */
final class LayerNormRows {
    private LayerNormRows() {}

    private static MemorySegment seg(Tensor t) { return t == null ? null : t.storage().segment(); }

    private static long off(Tensor t) { return t == null ? 0 : t.offset(); }

    static void forward(Tensor x, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd) {
        int rows = x.shape(0), d = x.shape(1);
        DType t = x.dtype();
        MemorySegment xs = seg(x), os = seg(out), ms = seg(mean), rs = seg(rstd), ws = seg(weight), bs = seg(bias);
        long xo = x.offset(), oo = out.offset(), mo = mean.offset(), ro = rstd.offset(), wo = off(weight), bo = off(bias);
        Parallel.forRange(rows, Math.max(1, 16384 / Math.max(d, 1)), (lo, hi) -> {
            double[] acc = new double[2];
            for (long r = lo; r < hi; r++) {
                long base = r * d;
                acc[0] = acc[1] = 0;
                NormRows.stats(xs, t, xo + base, d, 0, acc);
                double m0 = acc[0] / d;
                acc[0] = acc[1] = 0;
                NormRows.stats(xs, t, xo + base, d, m0, acc);
                double dm = acc[0] / d, m = m0 + dm;
                double rs1 = 1 / Math.sqrt(Math.max(acc[1] / d - dm * dm, 0) + eps);
                HostAccess.set(ms, t, mo + r, m);
                HostAccess.set(rs, t, ro + r, rs1);
                row(xs, xo + base, ws, wo, bs, bo, os, oo + base, t, d, m, rs1);
            }
        });
    }

    /** out = (x - mean) * rstd * w + b over one row; w and b may be absent. */
    private static void row(MemorySegment x, long xo, MemorySegment w, long wo, MemorySegment b, long bo,
                            MemorySegment o, long oo, DType t, int n, double mean, double rstd) {
        if (w == null && b == null) {
            NormRows.affine(x, xo, o, oo, t, n, rstd, -mean * rstd);
            return;
        }
        if (t == DType.F32) {
            float fr = (float) rstd, fc = (float) (-mean * rstd);
            FloatVector vr = FloatVector.broadcast(S, fr), vc = FloatVector.broadcast(S, fc);
            FloatVector one = FloatVector.broadcast(S, 1f), zero = FloatVector.zero(S);
            int i = 0;
            for (; i <= n - L; i += L) {
                FloatVector xh = load(x, xo + i).fma(vr, vc);
                FloatVector vw = w == null ? one : load(w, wo + i), vb = b == null ? zero : load(b, bo + i);
                xh.fma(vw, vb).intoMemorySegment(o, (oo + i) * 4, NO);
            }
            for (; i < n; i++) {
                float xh = x.getAtIndex(F, xo + i) * fr + fc;
                float fw = w == null ? 1f : w.getAtIndex(F, wo + i), fb = b == null ? 0f : b.getAtIndex(F, bo + i);
                o.setAtIndex(F, oo + i, xh * fw + fb);
            }
        } else {
            for (int i = 0; i < n; i++) {
                double xh = (HostAccess.get(x, t, xo + i) - mean) * rstd;
                HostAccess.set(o, t, oo + i, xh * NormRows.at(w, t, wo, i, 1) + NormRows.at(b, t, bo, i, 0));
            }
        }
    }

    static void backward(Tensor gradOut, Tensor x, Tensor weight, Tensor mean, Tensor rstd,
                         Tensor gradX, Tensor gradWeight, Tensor gradBias, int maxChunks) {
        int rows = x.shape(0), d = x.shape(1);
        DType t = x.dtype();
        MemorySegment gs = seg(gradOut), xs = seg(x), ws = seg(weight), ms = seg(mean), rs = seg(rstd), gxs = seg(gradX);
        long go = gradOut.offset(), xo = x.offset(), wo = off(weight), mo = mean.offset(), ro = rstd.offset(), gxo = off(gradX);
        boolean partials = gradWeight != null || gradBias != null;
        int chunks = Math.max(1, Math.min(rows, maxChunks));
        double[][] pw = new double[partials ? chunks : 0][], pb = new double[partials ? chunks : 0][];
        Parallel.forRange(chunks, 1, (lo, hi) -> {
            for (int ch = (int) lo; ch < hi; ch++) {
                long r0 = (long) rows * ch / chunks, r1 = (long) rows * (ch + 1) / chunks;
                float[] fw = partials && t == DType.F32 ? new float[d] : null, fb = fw == null ? null : new float[d];
                double[] dw = partials ? new double[d] : null, dbs = partials ? new double[d] : null;
                for (long r = r0; r < r1; r++) {
                    long base = r * d;
                    double m = HostAccess.get(ms, t, mo + r), rr = HostAccess.get(rs, t, ro + r);
                    if (t == DType.F32) {
                        rowF32(gs, go + base, xs, xo + base, ws, wo, gxs, gxo + base, d, m, rr, fw, fb);
                    } else {
                        rowGeneric(gs, go + base, xs, xo + base, ws, wo, gxs, gxo + base, t, d, m, rr, dw, dbs);
                    }
                }
                if (fw != null) {
                    for (int i = 0; i < d; i++) {
                        dw[i] = fw[i];
                        dbs[i] = fb[i];
                    }
                }
                if (partials) {
                    pw[ch] = dw;
                    pb[ch] = dbs;
                }
            }
        });
        store(pw, d, gradWeight);
        store(pb, d, gradBias);
    }

    private static void store(double[][] partial, int d, Tensor dst) {
        if (dst == null) return;
        MemorySegment ds = dst.storage().segment();
        for (int i = 0; i < d; i++) {
            double s = 0;
            for (double[] p : partial) s += p[i];
            HostAccess.set(ds, dst.dtype(), dst.offset() + i, s);
        }
    }

    /**
     * gx = rstd * (g*w - mean(g*w) - xhat * mean(g*w*xhat)), written as g*w*rstd + x*k2 + k3;
     * pw += g * xhat and pb += g when those are wanted (pw non-null).
     */
    private static void rowF32(MemorySegment g, long go, MemorySegment x, long xo, MemorySegment w, long wo,
                               MemorySegment gx, long gxo, int n, double mean, double rstd, float[] pw, float[] pb) {
        float fm = (float) mean, fr = (float) rstd;
        FloatVector vm = FloatVector.broadcast(S, fm), one = FloatVector.broadcast(S, 1f);
        FloatVector sa = FloatVector.zero(S), sb = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector gw = load(g, go + i).mul(w == null ? one : load(w, wo + i));
            sa = sa.add(gw);
            sb = gw.fma(load(x, xo + i).sub(vm), sb);
        }
        double a = Vec.sum(sa), b = Vec.sum(sb);
        for (int j = i; j < n; j++) {
            float gw = g.getAtIndex(F, go + j) * (w == null ? 1f : w.getAtIndex(F, wo + j));
            a += gw;
            b += gw * (x.getAtIndex(F, xo + j) - fm);
        }
        double k2d = -rstd * rstd * rstd * b / n;
        float k2 = (float) k2d, k3 = (float) (-rstd * a / n - mean * k2d);
        FloatVector v2 = FloatVector.broadcast(S, k2), v3 = FloatVector.broadcast(S, k3), vr = FloatVector.broadcast(S, fr);
        for (i = 0; i <= n - L; i += L) {
            FloatVector vg = load(g, go + i), vx = load(x, xo + i);
            if (gx != null) {
                FloatVector gw = w == null ? vg : vg.mul(load(w, wo + i));
                gw.fma(vr, vx.fma(v2, v3)).intoMemorySegment(gx, (gxo + i) * 4, NO);
            }
            if (pw != null) {
                vg.fma(vx.sub(vm).mul(vr), FloatVector.fromArray(S, pw, i)).intoArray(pw, i);
                vg.add(FloatVector.fromArray(S, pb, i)).intoArray(pb, i);
            }
        }
        for (; i < n; i++) {
            float vg = g.getAtIndex(F, go + i), vx = x.getAtIndex(F, xo + i);
            if (gx != null) {
                float gw = vg * (w == null ? 1f : w.getAtIndex(F, wo + i));
                gx.setAtIndex(F, gxo + i, gw * fr + (vx * k2 + k3));
            }
            if (pw != null) {
                pw[i] += vg * ((vx - fm) * fr);
                pb[i] += vg;
            }
        }
    }

    private static void rowGeneric(MemorySegment g, long go, MemorySegment x, long xo, MemorySegment w, long wo,
                                   MemorySegment gx, long gxo, DType t, int n, double mean, double rstd, double[] pw, double[] pb) {
        double a = 0, b = 0;
        for (int i = 0; i < n; i++) {
            double gw = HostAccess.get(g, t, go + i) * NormRows.at(w, t, wo, i, 1);
            a += gw;
            b += gw * (HostAccess.get(x, t, xo + i) - mean);
        }
        double k2 = -rstd * rstd * rstd * b / n, k3 = -rstd * a / n - mean * k2;
        for (int i = 0; i < n; i++) {
            double vg = HostAccess.get(g, t, go + i), vx = HostAccess.get(x, t, xo + i);
            if (gx != null) HostAccess.set(gx, t, gxo + i, vg * NormRows.at(w, t, wo, i, 1) * rstd + vx * k2 + k3);
            if (pw != null) {
                pw[i] += vg * (vx - mean) * rstd;
                pb[i] += vg;
            }
        }
    }
}
