package dev.lumen.backend.cpu;

import dev.lumen.tensor.DType;
import dev.lumen.tensor.HostAccess;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Row primitives shared by the normalization kernels: contiguous runs of n elements at an
 * element offset. F32 runs use the Vector API and flush their float lane sums into double
 * every {@link #BLOCK} elements, so long sums keep double accuracy; other dtypes take a
 * scalar path in double.
 */
final class NormRows {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    static final ByteOrder NO = ByteOrder.nativeOrder();
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    /** Elements summed in float lanes before the partial sum moves to double. */
    private static final int BLOCK = 1024;

    private NormRows() {}

    static FloatVector load(MemorySegment s, long i) { return FloatVector.fromMemorySegment(S, s, i * 4, NO); }

    /** acc[0] += sum(x - shift), acc[1] += sum((x - shift)^2). */
    static void stats(MemorySegment x, DType t, long off, int n, double shift, double[] acc) {
        if (t == DType.F32) {
            float sh = (float) shift;
            FloatVector vs = FloatVector.broadcast(S, sh);
            for (int b = 0; b < n; b += BLOCK) {
                int end = Math.min(n, b + BLOCK);
                FloatVector s1 = FloatVector.zero(S), s2 = FloatVector.zero(S);
                int i = b;
                for (; i <= end - L; i += L) {
                    FloatVector d = load(x, off + i).sub(vs);
                    s1 = s1.add(d);
                    s2 = d.fma(d, s2);
                }
                double a1 = Vec.sum(s1), a2 = Vec.sum(s2);
                for (; i < end; i++) {
                    float d = x.getAtIndex(F, off + i) - sh;
                    a1 += d;
                    a2 += d * d;
                }
                acc[0] += a1;
                acc[1] += a2;
            }
        } else {
            double a1 = 0, a2 = 0;
            for (int i = 0; i < n; i++) {
                double d = HostAccess.get(x, t, off + i) - shift;
                a1 += d;
                a2 += d * d;
            }
            acc[0] += a1;
            acc[1] += a2;
        }
    }

    /**
     * {@link #stats} over the rows of one channel: rows runs of n elements, row r at off + r * stride.
     * The float lanes carry across rows and flush into double every {@link #BLOCK} elements (at the
     * first row end past it), not per row, so short rows (7x7) do not pay a horizontal sum each; the
     * row tails are masked vector steps. The order depends only on (rows, n): deterministic.
     */
    static void channelStats(MemorySegment x, DType t, long off, int rows, long stride, int n, double shift, double[] acc) {
        if (t != DType.F32) {
            for (int r = 0; r < rows; r++) stats(x, t, off + r * stride, n, shift, acc);
            return;
        }
        FloatVector vs = FloatVector.broadcast(S, (float) shift);
        FloatVector s1 = FloatVector.zero(S), s2 = FloatVector.zero(S);
        int body = S.loopBound(n), pending = 0;
        VectorMask<Float> tail = S.indexInRange(body, n);
        for (int r = 0; r < rows; r++) {
            long base = off + r * stride;
            for (int b = 0; b < body; b += BLOCK) {
                int end = Math.min(body, b + BLOCK);
                for (int i = b; i < end; i += L) {
                    FloatVector d = load(x, base + i).sub(vs);
                    s1 = s1.add(d);
                    s2 = d.fma(d, s2);
                }
                pending += end - b;
                if (pending >= BLOCK) {
                    acc[0] += Vec.sum(s1);
                    acc[1] += Vec.sum(s2);
                    s1 = s2 = FloatVector.zero(S);
                    pending = 0;
                }
            }
            if (body < n) {
                // Inactive lanes load 0 and the masked subtraction keeps them 0.
                FloatVector d = loadMasked(x, base + body, tail).lanewise(VectorOperators.SUB, vs, tail);
                s1 = s1.add(d);
                s2 = d.fma(d, s2);
                pending += n - body;
            }
        }
        acc[0] += Vec.sum(s1);
        acc[1] += Vec.sum(s2);
    }

    /**
     * {@link #gradStats} over the rows of one channel, laid out as in {@link #channelStats}, with
     * g, x and y at their own offsets and one stride. With y (a ReLU's output) non-null, g is taken
     * as g * (y > 0 ? 1 : 0), bit for bit ReLU's backward, without writing that gradient anywhere.
     */
    static void channelGradStats(MemorySegment g, long go, MemorySegment y, long yo, MemorySegment x, long xo, DType t,
                                 int rows, long stride, int n, double shift, double[] acc) {
        if (t != DType.F32) {
            double a1 = 0, a2 = 0;
            for (int r = 0; r < rows; r++) {
                long at = r * stride;
                for (int i = 0; i < n; i++) {
                    double vg = HostAccess.get(g, t, go + at + i);
                    if (y != null) vg *= reluMask(HostAccess.get(y, t, yo + at + i));
                    a1 += vg;
                    a2 += vg * (HostAccess.get(x, t, xo + at + i) - shift);
                }
            }
            acc[0] += a1;
            acc[1] += a2;
            return;
        }
        FloatVector vs = FloatVector.broadcast(S, (float) shift);
        FloatVector s1 = FloatVector.zero(S), s2 = FloatVector.zero(S);
        int body = S.loopBound(n), pending = 0;
        VectorMask<Float> tail = S.indexInRange(body, n);
        for (int r = 0; r < rows; r++) {
            long at = r * stride;
            for (int b = 0; b < body; b += BLOCK) {
                int end = Math.min(body, b + BLOCK);
                for (int i = b; i < end; i += L) {
                    FloatVector vg = load(g, go + at + i);
                    if (y != null) vg = vg.mul(reluMask(load(y, yo + at + i)));
                    s1 = s1.add(vg);
                    s2 = vg.fma(load(x, xo + at + i).sub(vs), s2);
                }
                pending += end - b;
                if (pending >= BLOCK) {
                    acc[0] += Vec.sum(s1);
                    acc[1] += Vec.sum(s2);
                    s1 = s2 = FloatVector.zero(S);
                    pending = 0;
                }
            }
            if (body < n) {
                // Inactive lanes load g = 0, so they add 0 to both sums.
                FloatVector vg = loadMasked(g, go + at + body, tail);
                if (y != null) vg = vg.mul(reluMask(loadMasked(y, yo + at + body, tail)));
                s1 = s1.add(vg);
                s2 = vg.fma(loadMasked(x, xo + at + body, tail).sub(vs), s2);
                pending += n - body;
            }
        }
        acc[0] += Vec.sum(s1);
        acc[1] += Vec.sum(s2);
    }

    static FloatVector loadMasked(MemorySegment s, long i, VectorMask<Float> m) {
        return FloatVector.fromMemorySegment(S, s, i * 4, NO, m);
    }

    /** ReLU's derivative at its output y, as its backward multiplies it in: 1 where y > 0, else 0. */
    static FloatVector reluMask(FloatVector y) { return ZERO.blend(1f, y.compare(VectorOperators.GT, 0f)); }

    static double reluMask(double y) { return y > 0 ? 1 : 0; }

    private static final FloatVector ZERO = FloatVector.zero(S);

    /** out = max(x * a + b, 0) (NaN kept), bit for bit {@link #affine} then ReLU. */
    static void affineRelu(MemorySegment x, long xo, MemorySegment out, long oo, DType t, int n, double a, double b) {
        if (t == DType.F32) {
            float fa = (float) a, fb = (float) b;
            FloatVector va = FloatVector.broadcast(S, fa), vb = FloatVector.broadcast(S, fb);
            int i = 0;
            for (; i <= n - L; i += L) {
                FloatVector v = load(x, xo + i).fma(va, vb);
                v.blend(0f, v.compare(VectorOperators.LE, 0f)).intoMemorySegment(out, (oo + i) * 4, NO);
            }
            if (i < n) {
                // Masked rather than scalar: a scalar ReLU branches on random signs; rounded as affine's tail.
                VectorMask<Float> m = S.indexInRange(i, n);
                FloatVector v = loadMasked(x, xo + i, m).mul(va).add(vb);
                v.blend(0f, v.compare(VectorOperators.LE, 0f)).intoMemorySegment(out, (oo + i) * 4, NO, m);
            }
        } else {
            for (int i = 0; i < n; i++) {
                double v = HostAccess.get(x, t, xo + i) * a + b;
                HostAccess.set(out, t, oo + i, v > 0 || Double.isNaN(v) ? v : 0);
            }
        }
    }

    /** out = x * a + b. */
    static void affine(MemorySegment x, long xo, MemorySegment out, long oo, DType t, int n, double a, double b) {
        if (t == DType.F32) {
            float fa = (float) a, fb = (float) b;
            FloatVector va = FloatVector.broadcast(S, fa), vb = FloatVector.broadcast(S, fb);
            int i = 0;
            for (; i <= n - L; i += L) load(x, xo + i).fma(va, vb).intoMemorySegment(out, (oo + i) * 4, NO);
            if (i < n) {
                // The tail as one masked step, rounded as the scalar x * a + b (no fma).
                VectorMask<Float> m = S.indexInRange(i, n);
                loadMasked(x, xo + i, m).mul(va).add(vb).intoMemorySegment(out, (oo + i) * 4, NO, m);
            }
        } else {
            for (int i = 0; i < n; i++) HostAccess.set(out, t, oo + i, HostAccess.get(x, t, xo + i) * a + b);
        }
    }

    /** acc[0] += sum(g), acc[1] += sum(g * (x - shift)). */
    static void gradStats(MemorySegment g, long go, MemorySegment x, long xo, DType t, int n, double shift, double[] acc) {
        if (t == DType.F32) {
            FloatVector vs = FloatVector.broadcast(S, (float) shift);
            for (int b = 0; b < n; b += BLOCK) {
                int end = Math.min(n, b + BLOCK);
                FloatVector s1 = FloatVector.zero(S), s2 = FloatVector.zero(S);
                int i = b;
                for (; i <= end - L; i += L) {
                    FloatVector vg = load(g, go + i);
                    s1 = s1.add(vg);
                    s2 = vg.fma(load(x, xo + i).sub(vs), s2);
                }
                double a1 = Vec.sum(s1), a2 = Vec.sum(s2);
                for (; i < end; i++) {
                    float vg = g.getAtIndex(F, go + i);
                    a1 += vg;
                    a2 += vg * (x.getAtIndex(F, xo + i) - (float) shift);
                }
                acc[0] += a1;
                acc[1] += a2;
            }
        } else {
            double a1 = 0, a2 = 0;
            for (int i = 0; i < n; i++) {
                double vg = HostAccess.get(g, t, go + i);
                a1 += vg;
                a2 += vg * (HostAccess.get(x, t, xo + i) - shift);
            }
            acc[0] += a1;
            acc[1] += a2;
        }
    }

    /** d = g * k1 + x * k2 + k3: the input gradient of every normalization, per run. */
    static void backward(MemorySegment g, long go, MemorySegment x, long xo, MemorySegment d, long dOff, DType t, int n,
                         double k1, double k2, double k3) {
        if (t == DType.F32) {
            float f1 = (float) k1, f2 = (float) k2, f3 = (float) k3;
            FloatVector v1 = FloatVector.broadcast(S, f1), v2 = FloatVector.broadcast(S, f2), v3 = FloatVector.broadcast(S, f3);
            int i = 0;
            for (; i <= n - L; i += L) {
                load(g, go + i).fma(v1, load(x, xo + i).fma(v2, v3)).intoMemorySegment(d, (dOff + i) * 4, NO);
            }
            if (i < n) {
                // The tail as one masked step, rounded as the scalar g * k1 + (x * k2 + k3) (no fma).
                VectorMask<Float> m = S.indexInRange(i, n);
                loadMasked(g, go + i, m).mul(v1).add(loadMasked(x, xo + i, m).mul(v2).add(v3)).intoMemorySegment(d, (dOff + i) * 4, NO, m);
            }
        } else {
            for (int i = 0; i < n; i++) {
                HostAccess.set(d, t, dOff + i, HostAccess.get(g, t, go + i) * k1 + HostAccess.get(x, t, xo + i) * k2 + k3);
            }
        }
    }

    /** {@link #backward} of g * (y > 0 ? 1 : 0): the input gradient of batch norm followed by ReLU, y the ReLU output. */
    static void backwardRelu(MemorySegment g, long go, MemorySegment y, long yo, MemorySegment x, long xo, MemorySegment d, long dOff,
                             DType t, int n, double k1, double k2, double k3) {
        if (t == DType.F32) {
            float f1 = (float) k1, f2 = (float) k2, f3 = (float) k3;
            FloatVector v1 = FloatVector.broadcast(S, f1), v2 = FloatVector.broadcast(S, f2), v3 = FloatVector.broadcast(S, f3);
            int i = 0;
            for (; i <= n - L; i += L) {
                load(g, go + i).mul(reluMask(load(y, yo + i))).fma(v1, load(x, xo + i).fma(v2, v3))
                        .intoMemorySegment(d, (dOff + i) * 4, NO);
            }
            if (i < n) {
                // Masked, rounded as backward's scalar tail (no fma).
                VectorMask<Float> m = S.indexInRange(i, n);
                FloatVector vg = loadMasked(g, go + i, m).mul(reluMask(loadMasked(y, yo + i, m)));
                vg.mul(v1).add(loadMasked(x, xo + i, m).mul(v2).add(v3)).intoMemorySegment(d, (dOff + i) * 4, NO, m);
            }
        } else {
            for (int i = 0; i < n; i++) {
                double vg = HostAccess.get(g, t, go + i) * reluMask(HostAccess.get(y, t, yo + i));
                HostAccess.set(d, t, dOff + i, vg * k1 + HostAccess.get(x, t, xo + i) * k2 + k3);
            }
        }
    }

    /** Reads element i of an optional per-channel vector (weight, bias), or dflt when it is absent. */
    static double at(MemorySegment v, DType t, long off, long i, double dflt) {
        return v == null ? dflt : HostAccess.get(v, t, off + i);
    }
}
