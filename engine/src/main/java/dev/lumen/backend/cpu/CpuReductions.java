package dev.lumen.backend.cpu;

import static dev.lumen.backend.cpu.Vec.L;
import static dev.lumen.backend.cpu.Vec.S;
import static dev.lumen.backend.cpu.Vec.ld;
import static dev.lumen.backend.cpu.Vec.st;

import dev.lumen.backend.ReductionKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.HostAccess;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * CPU implementation of {@link ReductionKernels}. Reductions run over a {@link ReducePlan}:
 * an innermost reduced block is reduced row by row with F32 vector lanes (partial sums in
 * float over blocks of at most 1024 elements, then in double), and an innermost kept block
 * is reduced by accumulating whole rows into a row of accumulators (never by strided
 * gathers). Multi-pass reductions (logsumexp, var) shift each element by a per-output value
 * computed by an earlier pass.
 */
final class CpuReductions implements ReductionKernels {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final long GRAIN = 1 << 15;
    /** Column chunk of a kept-inner reduction, and rows accumulated in float before a flush to double. */
    private static final int CHUNK = 512, FLUSH = 64;

    /** One pass: what each element contributes (x, exp(x - c) or (x - c)^2) and how they combine. */
    private enum Mode { SUM, MAX, MIN, EXP_SUM, SQ_SUM }

    // ------------------------------------------------------------------ reductions over dims

    @Override
    public void reduce(Reduce op, Tensor x, int[] dims, Tensor out) {
        Tensor xc = contiguous(x);
        try {
            ReducePlan p = ReducePlan.of(xc.shape(), dims);
            double[] r;
            long n = p.count();
            switch (op) {
                case SUM -> r = pass(Mode.SUM, xc, p, null);
                case MEAN -> {
                    r = pass(Mode.SUM, xc, p, null);
                    for (int i = 0; i < r.length; i++) r[i] /= n;
                }
                case AMAX -> r = pass(Mode.MAX, xc, p, null);
                case AMIN -> r = pass(Mode.MIN, xc, p, null);
                case LOGSUMEXP -> {
                    double[] m = pass(Mode.MAX, xc, p, null);
                    // As torch: an infinite max is not subtracted (it would give inf - inf).
                    for (int i = 0; i < m.length; i++) if (Double.isInfinite(m[i])) m[i] = 0;
                    r = pass(Mode.EXP_SUM, xc, p, m);
                    for (int i = 0; i < r.length; i++) r[i] = Math.log(r[i]) + m[i];
                }
                default -> throw new IllegalArgumentException("reduce: unknown op " + op);
            }
            write(r, out);
        } finally {
            if (xc != x) xc.close();
        }
    }

    @Override
    public void variance(Tensor x, int[] dims, double correction, Tensor out) {
        Tensor xc = contiguous(x);
        try {
            ReducePlan p = ReducePlan.of(xc.shape(), dims);
            long n = p.count();
            double[] mean = pass(Mode.SUM, xc, p, null);
            for (int i = 0; i < mean.length; i++) mean[i] /= n;
            double[] r = pass(Mode.SQ_SUM, xc, p, mean);
            double div = Math.max(n - correction, 0);
            for (int i = 0; i < r.length; i++) r[i] /= div;
            write(r, out);
        } finally {
            if (xc != x) xc.close();
        }
    }

    private static double[] pass(Mode m, Tensor x, ReducePlan p, double[] shift) {
        double[] res = new double[p.outputs()];
        MemorySegment s = x.storage().segment();
        DType t = x.dtype();
        long base = x.offset();
        long[] ko = p.keptOffsets(), ro = p.redOffsets();
        int inner = p.inner();
        if (p.innerReduced()) {
            long work = (long) ro.length * inner;
            if (ko.length >= 2L * Parallel.threads() || work * ko.length < GRAIN) {
                Parallel.forRange(ko.length, Math.max(1, GRAIN / work), (lo, hi) -> {
                    for (int o = (int) lo; o < hi; o++) res[o] = rangeReduce(m, s, t, base + ko[o], ro, inner, 0, work, shift == null ? 0 : shift[o]);
                });
            } else {
                // Few outputs, each with much work: split each one's rows across threads.
                int pieces = 2 * Parallel.threads();
                for (int o = 0; o < ko.length; o++) {
                    double[] part = new double[pieces];
                    long at = base + ko[o];
                    double c = shift == null ? 0 : shift[o];
                    Parallel.forRange(pieces, 1, (lo, hi) -> {
                        for (int q = (int) lo; q < hi; q++) part[q] = rangeReduce(m, s, t, at, ro, inner, work * q / pieces, work * (q + 1) / pieces, c);
                    });
                    double acc = identity(m);
                    for (double v : part) acc = combine(m, acc, v);
                    res[o] = acc;
                }
            }
        } else {
            int chunks = (inner + CHUNK - 1) / CHUNK;
            long work = (long) ro.length * Math.min(inner, CHUNK);
            Parallel.forRange((long) ko.length * chunks, Math.max(1, GRAIN / work), (lo, hi) -> {
                for (long q = lo; q < hi; q++) {
                    int g = (int) (q / chunks), c0 = (int) (q % chunks) * CHUNK;
                    accumulateRows(m, s, t, base + ko[g] + c0, ro, Math.min(CHUNK, inner - c0), shift, g * inner + c0, res);
                }
            });
        }
        return res;
    }

    /** Reduces elements [lo, hi) of the rows at + ro[r] (each of length len, flattened), shifted by c. */
    private static double rangeReduce(Mode m, MemorySegment s, DType t, long at, long[] ro, int len, long lo, long hi, double c) {
        double acc = identity(m);
        long f = lo;
        while (f < hi) {
            int r = (int) (f / len), col = (int) (f % len);
            int n = (int) Math.min(len - col, hi - f);
            long off = at + ro[r] + col;
            acc = combine(m, acc, t == DType.F32 ? rowF32(m, s, off, n, c) : rowScalar(m, s, t, off, n, c));
            f += n;
        }
        return acc;
    }

    private static double rowScalar(Mode m, MemorySegment s, DType t, long off, int n, double c) {
        double acc = identity(m);
        for (int i = 0; i < n; i++) acc = accumulate(m, acc, HostAccess.get(s, t, off + i), c);
        return acc;
    }

    private static double rowF32(Mode m, MemorySegment s, long off, int n, double c) {
        FloatVector cv = Vec.of((float) c);
        float fc = (float) c;
        if (m == Mode.MAX || m == Mode.MIN) {
            FloatVector acc = Vec.of((float) identity(m));
            int i = 0;
            for (int up = S.loopBound(n); i < up; i += L) acc = accumulate(m, acc, ld(s, off + i), cv);
            double r = acc.reduceLanes(m == Mode.MAX ? VectorOperators.MAX : VectorOperators.MIN);
            for (; i < n; i++) r = accumulate(m, r, s.getAtIndex(F, off + i), fc);
            return r;
        }
        double total = 0;
        for (int blk = 0; blk < n; blk += 1024) {
            int len = Math.min(1024, n - blk);
            long b = off + blk;
            FloatVector acc = FloatVector.zero(S);
            int i = 0;
            for (int up = S.loopBound(len); i < up; i += L) acc = accumulate(m, acc, ld(s, b + i), cv);
            float part = Vec.sum(acc);
            for (; i < len; i++) part += (float) accumulate(m, 0, s.getAtIndex(F, b + i), fc);
            total += part;
        }
        return total;
    }

    /**
     * Accumulates n consecutive outputs (res[outAt ...]) over the rows at + ro[r]: a row of
     * accumulators, float vectors flushed into double every FLUSH rows for F32.
     */
    private static void accumulateRows(Mode m, MemorySegment s, DType t, long at, long[] ro, int n, double[] shift, int outAt, double[] res) {
        double[] dacc = new double[n];
        Arrays.fill(dacc, identity(m));
        if (t == DType.F32) {
            float[] facc = new float[n], fshift = new float[n];
            float id = (float) identity(m);
            Arrays.fill(facc, id);
            if (shift != null) for (int j = 0; j < n; j++) fshift[j] = (float) shift[outAt + j];
            int up = S.loopBound(n);
            for (int r = 0; r < ro.length; r++) {
                long off = at + ro[r];
                int j = 0;
                for (; j < up; j += L) {
                    accumulate(m, FloatVector.fromArray(S, facc, j), ld(s, off + j), FloatVector.fromArray(S, fshift, j)).intoArray(facc, j);
                }
                for (; j < n; j++) facc[j] = (float) accumulate(m, facc[j], s.getAtIndex(F, off + j), fshift[j]);
                if ((r + 1) % FLUSH == 0 || r == ro.length - 1) {
                    for (int k = 0; k < n; k++) dacc[k] = combine(m, dacc[k], facc[k]);
                    Arrays.fill(facc, id);
                }
            }
        } else {
            for (long r : ro) {
                long off = at + r;
                for (int j = 0; j < n; j++) dacc[j] = accumulate(m, dacc[j], HostAccess.get(s, t, off + j), shift == null ? 0 : shift[outAt + j]);
            }
        }
        System.arraycopy(dacc, 0, res, outAt, n);
    }

    private static FloatVector accumulate(Mode m, FloatVector acc, FloatVector v, FloatVector c) {
        return switch (m) {
            case SUM -> acc.add(v);
            case MAX -> acc.max(v);
            case MIN -> acc.min(v);
            case EXP_SUM -> acc.add(VecMath.exp(v.sub(c)));
            case SQ_SUM -> {
                FloatVector d = v.sub(c);
                yield d.fma(d, acc);
            }
        };
    }

    private static double accumulate(Mode m, double acc, double v, double c) {
        return switch (m) {
            case SUM -> acc + v;
            case MAX -> Math.max(acc, v);
            case MIN -> Math.min(acc, v);
            case EXP_SUM -> acc + Math.exp(v - c);
            case SQ_SUM -> acc + (v - c) * (v - c);
        };
    }

    private static double combine(Mode m, double a, double b) {
        return switch (m) {
            case MAX -> Math.max(a, b);
            case MIN -> Math.min(a, b);
            default -> a + b;
        };
    }

    private static double identity(Mode m) {
        return switch (m) {
            case MAX -> Double.NEGATIVE_INFINITY;
            case MIN -> Double.POSITIVE_INFINITY;
            default -> 0;
        };
    }

    // ------------------------------------------------------------------ selections along one dim

    /** x as [outer, size, inner] around dim. */
    private record Lines(int outer, int size, int inner) {
        static Lines of(int[] shape, int dim) {
            int outer = 1, inner = 1;
            for (int i = 0; i < dim; i++) outer *= shape[i];
            for (int i = dim + 1; i < shape.length; i++) inner *= shape[i];
            return new Lines(outer, shape.length == 0 ? 1 : shape[dim], inner);
        }
    }

    @Override
    public void extremeAlongDim(boolean largest, Tensor x, int dim, Tensor values, Tensor indices) {
        Tensor xc = contiguous(x);
        Tensor v = values == null ? null : dense(values), ix = dense(indices);
        try {
            Lines g = Lines.of(xc.shape(), dim);
            if (g.size() == 0) throw new IllegalArgumentException("max/min along dim " + dim + " of an empty dim, shape " + Arrays.toString(x.shape()));
            MemorySegment sx = xc.storage().segment(), si = ix.storage().segment();
            MemorySegment sv = v == null ? null : v.storage().segment();
            DType t = xc.dtype();
            long xo = xc.offset(), vo = v == null ? 0 : v.offset(), io = ix.offset();
            Parallel.forRange(g.outer(), Math.max(1, GRAIN / ((long) g.size() * g.inner())), (lo, hi) -> {
                double[] best = new double[g.inner()];
                long[] at = new long[g.inner()];
                for (long o = lo; o < hi; o++) {
                    long row = xo + o * g.size() * g.inner();
                    for (int j = 0; j < g.inner(); j++) best[j] = HostAccess.get(sx, t, row + j);
                    Arrays.fill(at, 0);
                    for (int d = 1; d < g.size(); d++) {
                        long r = row + (long) d * g.inner();
                        for (int j = 0; j < g.inner(); j++) {
                            double e = HostAccess.get(sx, t, r + j), b = best[j];
                            boolean take = Double.isNaN(e) ? !Double.isNaN(b) : largest ? e > b : e < b;
                            if (take) {
                                best[j] = e;
                                at[j] = d;
                            }
                        }
                    }
                    for (int j = 0; j < g.inner(); j++) {
                        long k = o * g.inner() + j;
                        if (sv != null) HostAccess.set(sv, t, vo + k, best[j]);
                        si.setAtIndex(ValueLayout.JAVA_LONG, io + k, at[j]);
                    }
                }
            });
        } finally {
            if (xc != x) xc.close();
            if (v != null) finish(v, values);
            finish(ix, indices);
        }
    }

    @Override
    public void topk(Tensor x, int k, int dim, boolean largest, Tensor values, Tensor indices) {
        Tensor xc = contiguous(x);
        Tensor v = dense(values), ix = dense(indices);
        try {
            Lines g = Lines.of(xc.shape(), dim);
            MemorySegment sx = xc.storage().segment(), sv = v.storage().segment(), si = ix.storage().segment();
            DType t = xc.dtype();
            long xo = xc.offset(), vo = v.offset(), io = ix.offset();
            long lines = (long) g.outer() * g.inner();
            Parallel.forRange(lines, Math.max(1, GRAIN / Math.max(1, g.size() * 8L)), (lo, hi) -> {
                double[] vals = new double[g.size()];
                Integer[] order = new Integer[g.size()];
                // NaN counts as the largest value, as in torch.topk; ties keep the lower index first.
                java.util.Comparator<Integer> byValue = (a, b) -> {
                    int c = Double.compare(vals[a] == 0 ? 0.0 : vals[a], vals[b] == 0 ? 0.0 : vals[b]);
                    return largest ? -c : c;
                };
                for (long line = lo; line < hi; line++) {
                    long o = line / g.inner(), j = line % g.inner();
                    long start = xo + o * g.size() * g.inner() + j;
                    for (int d = 0; d < g.size(); d++) {
                        vals[d] = HostAccess.get(sx, t, start + (long) d * g.inner());
                        order[d] = d;
                    }
                    Arrays.sort(order, byValue);
                    long outStart = o * (long) k * g.inner() + j;
                    for (int q = 0; q < k; q++) {
                        long at = outStart + (long) q * g.inner();
                        HostAccess.set(sv, t, vo + at, vals[order[q]]);
                        si.setAtIndex(ValueLayout.JAVA_LONG, io + at, order[q]);
                    }
                }
            });
        } finally {
            if (xc != x) xc.close();
            finish(v, values);
            finish(ix, indices);
        }
    }

    @Override
    public void selectionBackward(Tensor gradValues, Tensor indices, int dim, Tensor gradIn) {
        Tensor gv = contiguous(gradValues), ix = contiguous(indices), gi = dense(gradIn);
        try {
            gi.backend().fill(gi, 0);
            Lines sel = Lines.of(gv.shape(), dim), full = Lines.of(gi.shape(), dim);
            MemorySegment sg = gv.storage().segment(), sx = ix.storage().segment(), so = gi.storage().segment();
            DType t = gi.dtype();
            long go = gv.offset(), xo = ix.offset(), oo = gi.offset();
            int inner = sel.inner();
            Parallel.forRange(sel.outer(), Math.max(1, GRAIN / ((long) sel.size() * inner)), (lo, hi) -> {
                for (long o = lo; o < hi; o++) {
                    for (int q = 0; q < sel.size(); q++) {
                        for (int j = 0; j < inner; j++) {
                            long e = (o * sel.size() + q) * inner + j;
                            long d = sx.getAtIndex(ValueLayout.JAVA_LONG, xo + e);
                            long target = oo + (o * full.size() + d) * inner + j;
                            HostAccess.set(so, t, target, HostAccess.get(so, t, target) + HostAccess.get(sg, gv.dtype(), go + e));
                        }
                    }
                }
            });
        } finally {
            if (gv != gradValues) gv.close();
            if (ix != indices) ix.close();
            finish(gi, gradIn);
        }
    }

    // ------------------------------------------------------------------ softmax

    @Override
    public void softmax(Tensor x, int dim, boolean log, Tensor out) {
        Tensor xc = contiguous(x), o = dense(out);
        try {
            Lines g = Lines.of(xc.shape(), dim);
            MemorySegment sx = xc.storage().segment(), so = o.storage().segment();
            DType t = xc.dtype();
            long xo = xc.offset(), oo = o.offset();
            int n = g.size(), inner = g.inner();
            long lines = (long) g.outer() * inner;
            Parallel.forRange(lines, Math.max(1, GRAIN / Math.max(1, n)), (lo, hi) -> {
                for (long line = lo; line < hi; line++) {
                    long rel = (line / inner) * n * inner + line % inner;
                    if (t == DType.F32 && inner == 1) softmaxRowF32(sx, xo + rel, so, oo + rel, n, log);
                    else softmaxLine(sx, t, xo + rel, so, oo + rel, n, inner, log);
                }
            });
        } finally {
            if (xc != x) xc.close();
            finish(o, out);
        }
    }

    /**
     * One F32 row of softmax or log_softmax. The two are separate methods so that the fused
     * attention kernels (CpuAttention) call the softmax row directly; splitting them did not
     * measurably change the row's speed (what did was the rows' alignment and scalar tail).
     */
    static void softmaxRowF32(MemorySegment sx, long xi, MemorySegment so, long oi, int n, boolean log) {
        if (log) logSoftmaxRowF32(sx, xi, so, oi, n);
        else softmaxRowF32(sx, xi, so, oi, n);
    }

    /**
     * The row's max, 0 when it is infinite (a row of -inf gives NaN below, as in PyTorch; +inf
     * likewise). NaNs are passed over: a NaN's own e^(x - max) makes the sum, and so the whole
     * row, NaN anyway. That lets the lanes compare and blend, two instructions, where Java's
     * vector max (NaN and -0 rules) compiles to several, in two chains of half the length.
     */
    private static float rowMax(MemorySegment sx, long xi, int n) {
        int up = S.loopBound(n), i = 0;
        FloatVector m0 = Vec.of(Float.NEGATIVE_INFINITY), m1 = m0;
        for (; i + L < up; i += 2 * L) {
            FloatVector a = ld(sx, xi + i), b = ld(sx, xi + i + L);
            m0 = m0.blend(a, a.compare(VectorOperators.GT, m0));
            m1 = m1.blend(b, b.compare(VectorOperators.GT, m1));
        }
        if (i < up) {
            FloatVector a = ld(sx, xi + i);
            m0 = m0.blend(a, a.compare(VectorOperators.GT, m0));
            i += L;
        }
        m0 = m0.blend(m1, m1.compare(VectorOperators.GT, m0));
        float m = m0.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            float x = sx.getAtIndex(F, xi + i);
            if (x > m) m = x;
        }
        return Float.isInfinite(m) ? (m > 0 ? m : 0) : m;
    }

    /**
     * so = e^(sx - max(sx)) 2^64 over n elements, softmax before its normalization; returns their
     * sum (times 2^64 too, so the scale cancels in the quotient: VecMath.expTimes2To64). so may be
     * sx. The fused attention's inference path divides its output rows by the sum instead.
     */
    static double expRowF32(MemorySegment sx, long xi, MemorySegment so, long oi, int n) {
        float m = rowMax(sx, xi, n);
        int up = S.loopBound(n), i = 0;
        FloatVector mb = Vec.of(m), sum = FloatVector.zero(S);
        for (; i < up; i += L) {
            FloatVector e = VecMath.expTimes2To64(ld(sx, xi + i).sub(mb));
            st(so, oi + i, e);
            sum = sum.add(e);
        }
        double s = Vec.sum(sum);
        for (; i < n; i++) {
            float e = VecMath.expTimes2To64(sx.getAtIndex(F, xi + i) - m);
            so.setAtIndex(F, oi + i, e);
            s += e;
        }
        return s;
    }

    /** so = softmax(sx) over n elements; so may be sx. */
    static void softmaxRowF32(MemorySegment sx, long xi, MemorySegment so, long oi, int n) {
        double s = expRowF32(sx, xi, so, oi, n);
        int up = S.loopBound(n), i;
        float inv = (float) (1 / s);
        FloatVector iv = Vec.of(inv);
        for (i = 0; i < up; i += L) st(so, oi + i, ld(so, oi + i).mul(iv));
        for (; i < n; i++) so.setAtIndex(F, oi + i, so.getAtIndex(F, oi + i) * inv);
    }

    /** so = log_softmax(sx) over n elements; so may be sx. */
    private static void logSoftmaxRowF32(MemorySegment sx, long xi, MemorySegment so, long oi, int n) {
        float m = rowMax(sx, xi, n);
        int up = S.loopBound(n), i = 0;
        FloatVector mb = Vec.of(m), sum = FloatVector.zero(S);
        for (; i < up; i += L) sum = sum.add(VecMath.exp(ld(sx, xi + i).sub(mb)));
        double s = Vec.sum(sum);
        for (; i < n; i++) s += VecMath.exp(sx.getAtIndex(F, xi + i) - m);
        float shift = (float) (m + Math.log(s));
        FloatVector sh = Vec.of(shift);
        for (i = 0; i < up; i += L) st(so, oi + i, ld(sx, xi + i).sub(sh));
        for (; i < n; i++) so.setAtIndex(F, oi + i, sx.getAtIndex(F, xi + i) - shift);
    }

    /** One softmax line of n elements, inner apart, in double. */
    static void softmaxLine(MemorySegment sx, DType t, long xi, MemorySegment so, long oi, int n, int inner, boolean log) {
        double m = Double.NEGATIVE_INFINITY;
        for (int d = 0; d < n; d++) m = Math.max(m, HostAccess.get(sx, t, xi + (long) d * inner));
        if (Double.isInfinite(m)) m = m > 0 ? m : 0;
        double s = 0;
        for (int d = 0; d < n; d++) s += Math.exp(HostAccess.get(sx, t, xi + (long) d * inner) - m);
        double shift = m + Math.log(s);
        for (int d = 0; d < n; d++) {
            double z = HostAccess.get(sx, t, xi + (long) d * inner) - shift;
            HostAccess.set(so, t, oi + (long) d * inner, log ? z : Math.exp(z));
        }
    }

    @Override
    public void softmaxBackward(Tensor out, Tensor gradOut, int dim, boolean log, Tensor gradIn) {
        Tensor y = contiguous(out), g = contiguous(gradOut), gi = dense(gradIn);
        try {
            Lines geo = Lines.of(y.shape(), dim);
            MemorySegment sy = y.storage().segment(), sg = g.storage().segment(), si = gi.storage().segment();
            DType t = y.dtype();
            long yo = y.offset(), go = g.offset(), io = gi.offset();
            int n = geo.size(), inner = geo.inner();
            long lines = (long) geo.outer() * inner;
            Parallel.forRange(lines, Math.max(1, GRAIN / Math.max(1, n)), (lo, hi) -> {
                for (long line = lo; line < hi; line++) {
                    long rel = (line / inner) * n * inner + line % inner;
                    if (t == DType.F32 && inner == 1) softmaxBackwardRowF32(sy, yo + rel, sg, go + rel, si, io + rel, n, log);
                    else softmaxBackwardLine(sy, sg, si, t, yo + rel, go + rel, io + rel, n, inner, log);
                }
            });
        } finally {
            if (y != out) y.close();
            if (g != gradOut) g.close();
            finish(gi, gradIn);
        }
    }

    /** softmax: gi = y (g - sum(g y)); log_softmax: gi = g - exp(y) sum(g). */
    static void softmaxBackwardRowF32(MemorySegment sy, long yi, MemorySegment sg, long gi, MemorySegment so, long oi, int n, boolean log) {
        int up = S.loopBound(n), i = 0;
        FloatVector acc = FloatVector.zero(S);
        if (log) for (; i < up; i += L) acc = acc.add(ld(sg, gi + i));
        else for (; i < up; i += L) acc = ld(sg, gi + i).fma(ld(sy, yi + i), acc);
        double s = Vec.sum(acc);
        for (; i < n; i++) s += log ? sg.getAtIndex(F, gi + i) : (double) sg.getAtIndex(F, gi + i) * sy.getAtIndex(F, yi + i);
        float fs = (float) s;
        FloatVector sv = Vec.of(fs);
        i = 0;
        if (log) {
            for (; i < up; i += L) st(so, oi + i, ld(sg, gi + i).sub(VecMath.exp(ld(sy, yi + i)).mul(sv)));
            for (; i < n; i++) so.setAtIndex(F, oi + i, (float) (sg.getAtIndex(F, gi + i) - Math.exp(sy.getAtIndex(F, yi + i)) * fs));
        } else {
            for (; i < up; i += L) st(so, oi + i, ld(sy, yi + i).mul(ld(sg, gi + i).sub(sv)));
            for (; i < n; i++) so.setAtIndex(F, oi + i, sy.getAtIndex(F, yi + i) * (sg.getAtIndex(F, gi + i) - fs));
        }
    }

    static void softmaxBackwardLine(MemorySegment sy, MemorySegment sg, MemorySegment so, DType t, long yi, long gi, long oi, int n, int inner, boolean log) {
        double s = 0;
        for (int d = 0; d < n; d++) {
            long e = (long) d * inner;
            double gv = HostAccess.get(sg, t, gi + e);
            s += log ? gv : gv * HostAccess.get(sy, t, yi + e);
        }
        for (int d = 0; d < n; d++) {
            long e = (long) d * inner;
            double y = HostAccess.get(sy, t, yi + e), gv = HostAccess.get(sg, t, gi + e);
            HostAccess.set(so, t, oi + e, log ? gv - Math.exp(y) * s : y * (gv - s));
        }
    }

    // ------------------------------------------------------------------ layout helpers

    /** x itself when contiguous, else a contiguous copy the caller closes. */
    private static Tensor contiguous(Tensor x) {
        if (x.isContiguous()) return x;
        Tensor c = Tensor.empty(x.dtype(), x.device(), x.shape());
        x.backend().copy(x, c);
        return c;
    }

    /** out itself when contiguous, else a contiguous scratch tensor that {@link #finish} copies back. */
    private static Tensor dense(Tensor out) { return out.isContiguous() ? out : Tensor.empty(out.dtype(), out.device(), out.shape()); }

    private static void finish(Tensor scratch, Tensor out) {
        if (scratch == out) return;
        out.backend().copy(scratch, out);
        scratch.close();
    }

    /** Writes per-output results (in output order) into out. */
    private static void write(double[] r, Tensor out) {
        Tensor o = dense(out);
        MemorySegment so = o.storage().segment();
        DType t = o.dtype();
        long off = o.offset();
        if (t == DType.F32) for (int i = 0; i < r.length; i++) so.setAtIndex(F, off + i, (float) r[i]);
        else for (int i = 0; i < r.length; i++) HostAccess.set(so, t, off + i, r[i]);
        finish(o, out);
    }
}
