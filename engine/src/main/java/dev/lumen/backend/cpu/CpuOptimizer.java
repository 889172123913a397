package dev.lumen.backend.cpu;

import dev.lumen.backend.AdamBiasCorrection;
import dev.lumen.backend.NAdamStep;
import dev.lumen.backend.OptimizerKernels;
import dev.lumen.backend.RAdamStep;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * CPU implementation of {@link OptimizerKernels}. F32 runs one vectorized pass per update
 * (unmasked vectors, a masked one for each chunk's tail); F64 runs the same formulas in scalar loops.
 * Operands that are not contiguous go through contiguous temporaries, so the kernels only
 * see flat arrays. Work splits over {@link Parallel}'s threads in fixed element ranges; a
 * multi-tensor update runs every tensor of the call in one region.
 */
final class CpuOptimizer implements OptimizerKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder NO = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE;
    private static final long GRAIN = 1 << 15;
    /** Norms sum fixed blocks, then the blocks in order, so the result does not depend on the thread count. */
    private static final int NORM_BLOCK = 1 << 14;
    /** Which of momentOperands' operands an update writes: all but the gradient. */
    private static final boolean[] MOMENTS_WRITTEN = {true, false, true, true};

    /** The F32 vector loop of an element-wise update over [lo, hi) of its operands, every vector full. */
    @FunctionalInterface
    private interface VectorLoop {
        void run(Flat[] f, long lo, long hi);
    }

    /**
     * Runs loop over the full vectors of [lo, hi), then over the last, partial vector through
     * scratch copies of the operands padded to a full vector, copying back what it changed.
     * The loops' loads and stores are never masked: one that may or may not be (a mask or null)
     * merges two vectors, which C2 cannot keep in registers, and it boxed every vector (1.1 GB
     * per AdamW step over 16M parameters, 4x the step's time).
     */
    private static void vectorized(Flat[] f, long lo, long hi, VectorLoop loop) {
        int len = S.length();
        long full = lo + (hi - lo) / len * len;
        if (full > lo) loop.run(f, lo, full);
        if (full == hi) return;
        long n = hi - full;
        // Heap scratch: native scratch kept the loads monomorphic, but then C2's profile
        // predicates failed on the one-vector call and it recompiled the AdamW loop at every
        // step (64 times in 30 resnet50 steps, 1.1-1.3 s per step against 0.85-0.9).
        Flat[] scratch = new Flat[f.length];
        for (int k = 0; k < f.length; k++) {
            scratch[k] = new Flat(MemorySegment.ofArray(new float[len]), 0, true);
            MemorySegment.copy(f[k].seg(), (f[k].off() + full) * 4, scratch[k].seg(), 0, n * 4);
        }
        loop.run(scratch, 0, len);
        for (int k = 0; k < f.length; k++) {
            long at = (f[k].off() + full) * 4;
            if (MemorySegment.mismatch(scratch[k].seg(), 0, n * 4, f[k].seg(), at, at + n * 4) >= 0) {
                MemorySegment.copy(scratch[k].seg(), 0, f[k].seg(), at, n * 4);
            }
        }
    }

    /** An update's scalar F32 loop over [from, to), repeating its vector loop's arithmetic lane for lane. */
    @FunctionalInterface
    private interface ScalarLoop {
        void run(long from, long to);
    }

    /**
     * As {@link #vectorized(Flat[], long, long, VectorLoop)}, with the last partial vector done by
     * tail in scalars: where the padded heap copies reached the vector loop beside the native
     * operands, its loads saw both kinds of segment and C2 boxed every vector (NAdam and RAdam,
     * 153 MB per resnet50 step). Each float operation rounds the same in a lane and in a scalar,
     * so the bits do not change.
     */
    private static void vectorized(Flat[] f, long lo, long hi, VectorLoop loop, ScalarLoop tail) {
        long full = lo + (hi - lo) / S.length() * S.length();
        if (full > lo) loop.run(f, lo, full);
        if (full < hi) tail.run(full, hi);
    }

    /** A flat view of one operand: its segment, the element offset of its first element, and whether it holds F32 (else F64). */
    private record Flat(MemorySegment seg, long off, boolean f32) {
        float f(long i) { return seg.getAtIndex(F, off + i); }

        void f(long i, float v) { seg.setAtIndex(F, off + i, v); }

        double d(long i) { return seg.getAtIndex(D, off + i); }

        void d(long i, double v) { seg.setAtIndex(D, off + i, v); }

        FloatVector load(long i) { return FloatVector.fromMemorySegment(S, seg, (off + i) * 4, NO); }

        void store(FloatVector v, long i) { v.intoMemorySegment(seg, (off + i) * 4, NO); }
    }

    /**
     * One tensor's operands as flat arrays: contiguous stand-ins for strided ones, copied back
     * on close where written[k] marks an operand the kernel updates. Null operands stay null.
     */
    private static final class Operands implements AutoCloseable {
        final Flat[] flat;
        final long numel;
        private final Tensor[] given, used;
        private final boolean[] written;

        Operands(String op, Tensor[] ts, boolean[] written) {
            Tensor ref = ts[0];
            DType t = ref.dtype();
            if (t != DType.F32 && t != DType.F64) throw new IllegalArgumentException(op + ": needs F32 or F64 tensors, got " + t);
            given = ts;
            used = new Tensor[ts.length];
            flat = new Flat[ts.length];
            this.written = written;
            numel = ref.numel();
            try {
                for (int k = 0; k < ts.length; k++) {
                    Tensor x = ts[k];
                    if (x == null) continue;
                    if (!Arrays.equals(x.shape(), ref.shape()) || x.dtype() != t) {
                        throw new IllegalArgumentException(op + ": operand " + k + " is " + x.dtype() + Arrays.toString(x.shape())
                                + ", expected " + t + Arrays.toString(ref.shape()));
                    }
                    if (x.isContiguous()) {
                        used[k] = x;
                    } else {
                        used[k] = Tensor.empty(t, x.device(), x.shape());
                        x.backend().copy(x, used[k]);
                    }
                    flat[k] = new Flat(used[k].storage().segment(), used[k].offset(), t == DType.F32);
                }
            } catch (RuntimeException e) {
                release(false);
                throw e;
            }
        }

        @Override
        public void close() { release(true); }

        private void release(boolean copyBack) {
            for (int k = 0; k < given.length; k++) {
                if (used[k] == null || used[k] == given[k]) continue;
                if (copyBack && written[k]) used[k].backend().copy(used[k], given[k]);
                used[k].close();
            }
        }
    }

    /** Body over elements [lo, hi) of tensor k of a multi-tensor call. */
    @FunctionalInterface
    private interface Piece {
        void run(int k, long lo, long hi);
    }

    /**
     * Runs body over every element of several tensors (sizes[k] elements each) in one parallel
     * region, split evenly by elements as if the tensors were laid end to end: a model's many
     * small biases and norms share the threads instead of each running alone on the caller, and
     * the region starts once per step instead of once per tensor. The kernels are element-wise,
     * so every element gets the same bits however the tensors are cut.
     */
    private static void forEachElement(long[] sizes, Piece body) {
        long[] start = new long[sizes.length + 1];
        for (int k = 0; k < sizes.length; k++) start[k + 1] = start[k] + sizes[k];
        Parallel.forRange(start[sizes.length], GRAIN, (lo, hi) -> {
            int k = Arrays.binarySearch(start, lo);
            k = k >= 0 ? k : -k - 2;
            for (long at = lo; at < hi; k++) {
                long end = Math.min(hi, start[k + 1]);
                if (end > at) body.run(k, at - start[k], end - start[k]);
                at = Math.max(at, end);
            }
        });
    }

    /** Flattens the operands of every tensor of a multi-tensor call, runs body, and writes stand-ins back. */
    private static void flatMulti(String op, List<Tensor[]> operands, boolean[] written, Consumer<Operands[]> body) {
        Operands[] os = new Operands[operands.size()];
        try {
            for (int k = 0; k < os.length; k++) os[k] = new Operands(op, operands.get(k), written);
            body.accept(os);
        } finally {
            for (Operands o : os) {
                if (o != null) o.close();
            }
        }
    }

    /** The sizes of a multi-tensor call's tensors, for {@link #forEachElement}. */
    private static long[] sizes(Operands[] os) {
        long[] n = new long[os.length];
        for (int k = 0; k < os.length; k++) n[k] = os[k].numel;
        return n;
    }

    @Override
    public void sgd(Tensor param, Tensor grad, Tensor momentumBuffer, double lr, double momentum, double dampening,
                    double weightDecay, boolean nesterov, boolean initBuffer) {
        sgdMulti(List.of(param), List.of(grad), momentumBuffer == null ? null : List.of(momentumBuffer), lr, momentum, dampening,
                weightDecay, nesterov, new boolean[] {initBuffer});
    }

    @Override
    public void sgdMulti(List<Tensor> params, List<Tensor> grads, List<Tensor> momentumBuffers, double lr, double momentum,
                         double dampening, double weightDecay, boolean nesterov, boolean[] initBuffers) {
        List<Tensor[]> operands = momentumOperands("sgd", params, grads, momentumBuffers, momentum, initBuffers);
        if (operands.isEmpty()) return;
        flatMulti("sgd", operands, momentumWritten(momentum), os -> forEachElement(sizes(os), (k, lo, hi) ->
                sgdRange(os[k].flat, lo, hi, lr, momentum, dampening, weightDecay, nesterov, initBuffers[k])));
    }

    /**
     * SGD's and LARS's operands per parameter (param, grad and, with momentum, its buffer),
     * after checking the lists; empty when there are no parameters.
     */
    private static List<Tensor[]> momentumOperands(String op, List<Tensor> params, List<Tensor> grads, List<Tensor> momentumBuffers,
                                                   double momentum, boolean[] initBuffers) {
        int count = params.size();
        OptimizerKernels.requireLengths(op, count, grads.size(), momentumBuffers == null ? count : momentumBuffers.size(), initBuffers.length);
        if (momentum != 0 && momentumBuffers == null) throw new IllegalArgumentException(op + ": momentum " + momentum + " needs momentum buffers");
        List<Tensor[]> operands = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            Tensor p = params.get(i), g = grads.get(i);
            operands.add(momentum != 0 ? new Tensor[] {p, g, momentumBuffers.get(i)} : new Tensor[] {p, g});
        }
        return operands;
    }

    /** Which of momentumOperands' operands the update writes: the parameter and the buffer. */
    private static boolean[] momentumWritten(double momentum) {
        return momentum != 0 ? new boolean[] {true, false, true} : new boolean[] {true, false};
    }

    /** The SGD update of elements [lo, hi) of one parameter (f: param, grad and, with momentum, its buffer). */
    private static void sgdRange(Flat[] f, long lo, long hi, double lr, double momentum, double dampening, double weightDecay,
                                 boolean nesterov, boolean initBuffer) {
        Flat p = f[0], g = f[1], b = f.length > 2 ? f[2] : null;
        boolean hasBuf = b != null;
        if (p.f32()) {
            float nlr = (float) -lr, mom = (float) momentum, keep = (float) (1 - dampening), wd = (float) weightDecay;
            // Blends of both ways, not vectors merged from branches (which C2 boxed: 400 MB per
            // resnet50 step), and one loop per operand count.
            boolean decay = weightDecay != 0;
            if (hasBuf) {
                vectorized(f, lo, hi, (t, from, to) -> {
                    VectorMask<Float> decayed = S.maskAll(decay), init = S.maskAll(initBuffer), ahead = S.maskAll(nesterov);
                    for (long i = from; i < to; i += S.length()) {
                        FloatVector pv = t[0].load(i), d = t[1].load(i);
                        d = d.blend(d.add(pv.mul(wd)), decayed);
                        FloatVector buf = t[2].load(i).mul(mom).add(d.mul(keep)).blend(d, init);
                        t[2].store(buf, i);
                        d = buf.blend(d.add(buf.mul(mom)), ahead);
                        t[0].store(pv.add(d.mul(nlr)), i);
                    }
                });
            } else {
                vectorized(f, lo, hi, (t, from, to) -> {
                    VectorMask<Float> decayed = S.maskAll(decay);
                    for (long i = from; i < to; i += S.length()) {
                        FloatVector pv = t[0].load(i), d = t[1].load(i);
                        d = d.blend(d.add(pv.mul(wd)), decayed);
                        t[0].store(pv.add(d.mul(nlr)), i);
                    }
                });
            }
        } else {
            for (long i = lo; i < hi; i++) {
                double pv = p.d(i);
                double d = g.d(i);
                if (weightDecay != 0) d = d + weightDecay * pv;
                if (hasBuf) {
                    double buf = initBuffer ? d : b.d(i) * momentum + (1 - dampening) * d;
                    b.d(i, buf);
                    d = nesterov ? d + momentum * buf : buf;
                }
                p.d(i, pv - lr * d);
            }
        }
    }

    @Override
    public void adam(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, Tensor maxExpAvgSq, double lr, double beta1,
                     double beta2, double eps, double weightDecay, boolean decoupled, long step) {
        adamMulti(List.of(param), List.of(grad), List.of(expAvg), List.of(expAvgSq), maxExpAvgSq == null ? null : List.of(maxExpAvgSq),
                lr, beta1, beta2, eps, weightDecay, decoupled, new long[] {step});
    }

    @Override
    public void adamMulti(List<Tensor> params, List<Tensor> grads, List<Tensor> expAvgs, List<Tensor> expAvgSqs,
                          List<Tensor> maxExpAvgSqs, double lr, double beta1, double beta2, double eps, double weightDecay,
                          boolean decoupled, long[] steps) {
        String op = decoupled ? "adamw" : "adam";
        int count = params.size();
        OptimizerKernels.requireLengths(op, count, grads.size(), expAvgs.size(), expAvgSqs.size(),
                maxExpAvgSqs == null ? count : maxExpAvgSqs.size(), steps.length);
        for (long step : steps) {
            if (step < 1) throw new IllegalArgumentException(op + ": step counts from 1, got " + step);
        }
        if (count == 0) return;
        boolean ams = maxExpAvgSqs != null;
        List<Tensor[]> operands = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            Tensor p = params.get(i), g = grads.get(i), m = expAvgs.get(i), v = expAvgSqs.get(i);
            operands.add(ams ? new Tensor[] {p, g, m, v, maxExpAvgSqs.get(i)} : new Tensor[] {p, g, m, v});
        }
        boolean[] written = ams ? new boolean[] {true, false, true, true, true} : new boolean[] {true, false, true, true};
        flatMulti(op, operands, written, os -> forEachElement(sizes(os), (k, lo, hi) ->
                adamRange(os[k].flat, lo, hi, lr, beta1, beta2, eps, weightDecay, decoupled, steps[k])));
    }

    /** The Adam/AdamW update of elements [lo, hi) of one parameter (f: param, grad, exp_avg, exp_avg_sq and, with AMSGrad, the max). */
    private static void adamRange(Flat[] f, long lo, long hi, double lr, double beta1, double beta2, double eps, double weightDecay,
                                  boolean decoupled, long step) {
        Flat p = f[0], g = f[1], m1 = f[2], m2 = f[3], mx = f.length > 4 ? f[4] : null;
        boolean ams = mx != null;
        boolean l2 = !decoupled && weightDecay != 0;
        boolean shrink = decoupled && weightDecay != 0;
        // Scalars as torch computes them: in double on the host, then rounded to the tensor dtype.
        AdamBiasCorrection bc = AdamBiasCorrection.of(decoupled ? "adamw" : "adam", lr, beta1, beta2, step);
        double negStepSize = bc.negStepSize(), bc2Sqrt = bc.bc2Sqrt();
        double decay = 1 - lr * weightDecay;
        if (p.f32()) {
            float b1 = (float) beta1, b2 = (float) beta2, c1 = (float) (1 - beta1), c2 = (float) (1 - beta2);
            float wd = (float) weightDecay, dec = (float) decay, nss = (float) negStepSize, bc2 = (float) bc2Sqrt, ep = (float) eps;
            vectorized(f, lo, hi, (t, from, to) -> {
                for (long i = from; i < to; i += S.length()) {
                    FloatVector pv = t[0].load(i);
                    FloatVector gv = t[1].load(i);
                    if (l2) gv = gv.add(pv.mul(wd));
                    if (shrink) pv = pv.mul(dec);
                    FloatVector a = t[2].load(i).mul(b1).add(gv.mul(c1));
                    FloatVector v = t[3].load(i).mul(b2).add(gv.mul(c2).mul(gv));
                    t[2].store(a, i);
                    t[3].store(v, i);
                    if (ams) {
                        v = v.max(t[4].load(i));
                        t[4].store(v, i);
                    }
                    FloatVector denom = v.sqrt().div(bc2).add(ep);
                    t[0].store(pv.add(a.mul(nss).div(denom)), i);
                }
            });
        } else {
            for (long i = lo; i < hi; i++) {
                double pv = p.d(i);
                double gv = g.d(i);
                if (l2) gv = gv + weightDecay * pv;
                if (shrink) pv = pv * decay;
                double a = m1.d(i) * beta1 + (1 - beta1) * gv;
                double v = m2.d(i) * beta2 + (1 - beta2) * gv * gv;
                m1.d(i, a);
                m2.d(i, v);
                if (ams) {
                    v = Math.max(v, mx.d(i));
                    mx.d(i, v);
                }
                double denom = Math.sqrt(v) / bc2Sqrt + eps;
                p.d(i, pv + negStepSize * a / denom);
            }
        }
    }

    /*
     * RMSprop, RMSpropTF and AdaBelief repeat, element by element, the tensor ops of the
     * interface's defaults, which the optimizers ran before: a scalar multiply is the affine
     * x * s + 0 (whose + 0 turns -0 into +0), a scalar divide multiplies by 1 / s, a scalar add
     * is x + s. So the one-pass update has the same bits as the op-by-op one.
     */

    @Override
    public void rmspropMulti(List<Tensor> params, List<Tensor> grads, List<Tensor> squareAvgs, List<Tensor> momentumBuffers, double lr,
                             double alpha, double eps, double weightDecay, double momentum, boolean tf) {
        int count = params.size();
        String op = tf ? "rmsproptf" : "rmsprop";
        OptimizerKernels.requireLengths(op, count, grads.size(), squareAvgs.size(),
                momentumBuffers == null ? count : momentumBuffers.size());
        boolean hasBuf = momentum > 0;
        if (hasBuf && momentumBuffers == null) throw new IllegalArgumentException(op + ": momentum " + momentum + " needs momentum buffers");
        if (count == 0) return;
        List<Tensor[]> operands = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            Tensor p = params.get(i), g = grads.get(i), sq = squareAvgs.get(i);
            operands.add(hasBuf ? new Tensor[] {p, g, sq, momentumBuffers.get(i)} : new Tensor[] {p, g, sq});
        }
        boolean[] written = hasBuf ? new boolean[] {true, false, true, true} : new boolean[] {true, false, true};
        flatMulti(op, operands, written, os -> forEachElement(sizes(os), (k, lo, hi) ->
                rmspropRange(os[k].flat, lo, hi, lr, alpha, eps, weightDecay, momentum, tf)));
    }

    /** The RMSprop (or RMSpropTF) update of elements [lo, hi) of one parameter (f: param, grad, square_avg and, with momentum, its buffer). */
    private static void rmspropRange(Flat[] f, long lo, long hi, double lr, double alpha, double eps, double weightDecay, double momentum,
                                     boolean tf) {
        Flat p = f[0], g = f[1], sq = f[2], b = f.length > 3 ? f[3] : null;
        boolean l2 = weightDecay != 0;
        if (p.f32()) {
            float wd = (float) weightDecay, al = (float) alpha, c = (float) (1 - alpha), ep = (float) eps, mom = (float) momentum;
            float lrf = (float) lr, nlr = (float) -lr;
            vectorized(f, lo, hi, (t, from, to) -> {
                for (long i = from; i < to; i += S.length()) {
                    FloatVector pv = t[0].load(i);
                    FloatVector gv = t[1].load(i);
                    if (l2) gv = gv.add(pv.mul(wd).add(0f));
                    FloatVector s = t[2].load(i), avg;
                    if (tf) {
                        s = s.add(gv.mul(gv).sub(s).mul(c).add(0f));
                        avg = s.add(ep).sqrt();
                    } else {
                        s = s.mul(al).add(0f).add(gv.mul(gv).mul(c).add(0f));
                        avg = s.sqrt().add(ep);
                    }
                    t[2].store(s, i);
                    FloatVector step = gv.div(avg);
                    if (b != null) {
                        FloatVector buf = t[3].load(i).mul(mom).add(0f).add(tf ? step.mul(lrf).add(0f) : step);
                        t[3].store(buf, i);
                        t[0].store(pv.sub(tf ? buf : buf.mul(lrf).add(0f)), i);
                    } else {
                        t[0].store(pv.add(step.mul(nlr).add(0f)), i);
                    }
                }
            });
        } else {
            for (long i = lo; i < hi; i++) {
                double pv = p.d(i), gv = g.d(i);
                if (l2) gv = gv + (weightDecay * pv + 0.0);
                double s = sq.d(i), avg;
                if (tf) {
                    s = s + ((1 - alpha) * (gv * gv - s) + 0.0);
                    avg = Math.sqrt(s + eps);
                } else {
                    s = (alpha * s + 0.0) + ((1 - alpha) * (gv * gv) + 0.0);
                    avg = Math.sqrt(s) + eps;
                }
                sq.d(i, s);
                double step = gv / avg;
                if (b != null) {
                    double buf = (momentum * b.d(i) + 0.0) + (tf ? lr * step + 0.0 : step);
                    b.d(i, buf);
                    p.d(i, pv - (tf ? buf : lr * buf + 0.0));
                } else {
                    p.d(i, pv + (-lr * step + 0.0));
                }
            }
        }
    }

    @Override
    public void adaBeliefMulti(List<Tensor> params, List<Tensor> grads, List<Tensor> expAvgs, List<Tensor> expAvgVars, double lr,
                               double beta1, double beta2, double eps, double weightDecay, long[] steps) {
        int count = params.size();
        OptimizerKernels.requireLengths("adabelief", count, grads.size(), expAvgs.size(), expAvgVars.size(), steps.length);
        if (count == 0) return;
        AdamBiasCorrection[] bc = new AdamBiasCorrection[count];
        for (int i = 0; i < count; i++) bc[i] = AdamBiasCorrection.of("adabelief", lr, beta1, beta2, steps[i]);
        List<Tensor[]> operands = momentOperands(params, grads, expAvgs, expAvgVars);
        flatMulti("adabelief", operands, MOMENTS_WRITTEN, os -> forEachElement(sizes(os), (k, lo, hi) ->
                adaBeliefRange(os[k].flat, lo, hi, lr, beta1, beta2, eps, weightDecay, bc[k])));
    }

    /** The operands of a moment-based update per parameter: param, grad, first and second moment. */
    private static List<Tensor[]> momentOperands(List<Tensor> params, List<Tensor> grads, List<Tensor> firsts, List<Tensor> seconds) {
        List<Tensor[]> operands = new ArrayList<>(params.size());
        for (int i = 0; i < params.size(); i++) operands.add(new Tensor[] {params.get(i), grads.get(i), firsts.get(i), seconds.get(i)});
        return operands;
    }

    /** The AdaBelief update of elements [lo, hi) of one parameter (f: param, grad, exp_avg, exp_avg_var). */
    private static void adaBeliefRange(Flat[] f, long lo, long hi, double lr, double beta1, double beta2, double eps, double weightDecay,
                                       AdamBiasCorrection bc) {
        Flat p = f[0], g = f[1], m1 = f[2], m2 = f[3];
        double decay = 1 - lr * weightDecay, invBc2 = 1 / bc.bc2Sqrt(), nss = bc.negStepSize();
        if (p.f32()) {
            float dec = (float) decay, b1 = (float) beta1, c1 = (float) (1 - beta1), b2 = (float) beta2, c2 = (float) (1 - beta2);
            float ep = (float) eps, inv = (float) invBc2, ns = (float) nss;
            vectorized(f, lo, hi, (t, from, to) -> {
                for (long i = from; i < to; i += S.length()) {
                    FloatVector pv = t[0].load(i).mul(dec).add(0f);
                    FloatVector gv = t[1].load(i);
                    FloatVector a = t[2].load(i).mul(b1).add(0f).add(gv.mul(c1).add(0f));
                    FloatVector r = gv.sub(a);
                    FloatVector v = t[3].load(i).mul(b2).add(0f).add(r.mul(r).mul(c2).add(0f)).add(ep);
                    t[2].store(a, i);
                    t[3].store(v, i);
                    FloatVector denom = v.sqrt().mul(inv).add(0f).add(ep);
                    t[0].store(pv.add(a.div(denom).mul(ns).add(0f)), i);
                }
            });
        } else {
            for (long i = lo; i < hi; i++) {
                double pv = decay * p.d(i) + 0.0, gv = g.d(i);
                double a = (beta1 * m1.d(i) + 0.0) + ((1 - beta1) * gv + 0.0);
                double r = gv - a;
                double v = ((beta2 * m2.d(i) + 0.0) + ((1 - beta2) * (r * r) + 0.0)) + eps;
                m1.d(i, a);
                m2.d(i, v);
                double denom = (invBc2 * Math.sqrt(v) + 0.0) + eps;
                p.d(i, pv + (nss * (a / denom) + 0.0));
            }
        }
    }

    @Override
    public void nadamMulti(List<Tensor> params, List<Tensor> grads, List<Tensor> expAvgs, List<Tensor> expAvgSqs, double lr, double beta1,
                           double beta2, double eps, double weightDecay, double momentumDecay, long[] steps, double[] muProducts) {
        int count = params.size();
        OptimizerKernels.requireLengths("nadam", count, grads.size(), expAvgs.size(), expAvgSqs.size(), steps.length, muProducts.length);
        if (count == 0) return;
        NAdamStep[] at = new NAdamStep[count];
        for (int i = 0; i < count; i++) at[i] = NAdamStep.of(lr, beta1, beta2, momentumDecay, steps[i], muProducts[i]);
        List<Tensor[]> operands = momentOperands(params, grads, expAvgs, expAvgSqs);
        flatMulti("nadam", operands, MOMENTS_WRITTEN, os -> forEachElement(sizes(os), (k, lo, hi) ->
                nadamRange(os[k].flat, lo, hi, beta1, beta2, eps, weightDecay, at[k])));
    }

    /** The NAdam update of elements [lo, hi) of one parameter (f: param, grad, exp_avg, exp_avg_sq). */
    private static void nadamRange(Flat[] f, long lo, long hi, double beta1, double beta2, double eps, double weightDecay, NAdamStep s) {
        Flat p = f[0], g = f[1], m1 = f[2], m2 = f[3];
        boolean l2 = weightDecay != 0;
        double invBc2 = 1 / s.bc2(), gc = s.gradCoef(), ac = s.avgCoef();
        if (p.f32()) {
            float wd = (float) weightDecay, c1 = (float) (1 - beta1), b2 = (float) beta2, c2 = (float) (1 - beta2);
            float inv = (float) invBc2, ep = (float) eps, gcf = (float) gc, acf = (float) ac;
            vectorized(f, lo, hi, (t, from, to) -> {
                VectorMask<Float> decay = S.maskAll(l2);
                for (long i = from; i < to; i += S.length()) {
                    FloatVector pv = t[0].load(i);
                    FloatVector gv = t[1].load(i);
                    gv = gv.blend(gv.add(pv.mul(wd).add(0f)), decay);
                    FloatVector a = t[2].load(i);
                    a = a.add(gv.sub(a).mul(c1).add(0f));
                    FloatVector v = t[3].load(i).mul(b2).add(0f).add(gv.mul(gv).mul(c2).add(0f));
                    t[2].store(a, i);
                    t[3].store(v, i);
                    FloatVector denom = v.mul(inv).add(0f).sqrt().add(ep);
                    FloatVector fromGrad = gv.div(denom).mul(gcf).add(0f), fromAvg = a.div(denom).mul(acf).add(0f);
                    t[0].store(pv.add(fromGrad).add(fromAvg), i);
                }
            }, (from, to) -> {
                for (long i = from; i < to; i++) {
                    float pv = p.f(i), gv = g.f(i);
                    if (l2) gv = gv + (pv * wd + 0f);
                    float a = m1.f(i);
                    a = a + ((gv - a) * c1 + 0f);
                    float v = (m2.f(i) * b2 + 0f) + (gv * gv * c2 + 0f);
                    m1.f(i, a);
                    m2.f(i, v);
                    float denom = (float) Math.sqrt(v * inv + 0f) + ep;
                    float fromGrad = gv / denom * gcf + 0f, fromAvg = a / denom * acf + 0f;
                    p.f(i, pv + fromGrad + fromAvg);
                }
            });
        } else {
            for (long i = lo; i < hi; i++) {
                double pv = p.d(i), gv = g.d(i);
                if (l2) gv = gv + (weightDecay * pv + 0.0);
                double a = m1.d(i);
                a = a + ((1 - beta1) * (gv - a) + 0.0);
                double v = (beta2 * m2.d(i) + 0.0) + ((1 - beta2) * (gv * gv) + 0.0);
                m1.d(i, a);
                m2.d(i, v);
                double denom = Math.sqrt(invBc2 * v + 0.0) + eps;
                double next = pv + (gc * (gv / denom) + 0.0);
                p.d(i, next + (ac * (a / denom) + 0.0));
            }
        }
    }

    @Override
    public void radamMulti(List<Tensor> params, List<Tensor> grads, List<Tensor> expAvgs, List<Tensor> expAvgSqs, double lr, double beta1,
                           double beta2, double eps, double weightDecay, long[] steps) {
        int count = params.size();
        OptimizerKernels.requireLengths("radam", count, grads.size(), expAvgs.size(), expAvgSqs.size(), steps.length);
        if (count == 0) return;
        RAdamStep[] at = new RAdamStep[count];
        for (int i = 0; i < count; i++) at[i] = RAdamStep.of(beta1, beta2, steps[i]);
        List<Tensor[]> operands = momentOperands(params, grads, expAvgs, expAvgSqs);
        flatMulti("radam", operands, MOMENTS_WRITTEN, os -> forEachElement(sizes(os), (k, lo, hi) ->
                radamRange(os[k].flat, lo, hi, lr, beta1, beta2, eps, weightDecay, at[k])));
    }

    /** The RAdam update of elements [lo, hi) of one parameter (f: param, grad, exp_avg, exp_avg_sq). */
    private static void radamRange(Flat[] f, long lo, long hi, double lr, double beta1, double beta2, double eps, double weightDecay,
                                   RAdamStep s) {
        Flat p = f[0], g = f[1], m1 = f[2], m2 = f[3];
        boolean l2 = weightDecay != 0, rectified = s.rectified();
        double invBc1 = 1 / s.bc1(), sqrtBc2 = Math.sqrt(s.bc2()), rect = s.rect();
        if (p.f32()) {
            float wd = (float) weightDecay, c1 = (float) (1 - beta1), b2 = (float) beta2, c2 = (float) (1 - beta2);
            float inv = (float) invBc1, sb2 = (float) sqrtBc2, ep = (float) eps, lrf = (float) lr, rc = (float) rect;
            // One loop per branch, all vector code inline: a step blended from both, or vectors
            // passed to a helper that C2 compiled alone, were boxed (150-300 MB per resnet50 step),
            // and so was the store of a body past C2's inlining node cutoff. So the step drops the
            // tensor ops' "+ 0" after its first two products: only the last "+ 0" decides a
            // zero's sign, and the bits are the same.
            if (rectified) {
                vectorized(f, lo, hi, (t, from, to) -> {
                    VectorMask<Float> decay = S.maskAll(l2);
                    FloatVector one = FloatVector.broadcast(S, 1f);
                    for (long i = from; i < to; i += S.length()) {
                        FloatVector pv = t[0].load(i), gv = t[1].load(i), a = t[2].load(i);
                        gv = gv.blend(gv.add(pv.mul(wd).add(0f)), decay);
                        a = a.add(gv.sub(a).mul(c1).add(0f));
                        FloatVector v = t[3].load(i).mul(b2).add(0f).add(gv.mul(gv).mul(c2).add(0f));
                        t[2].store(a, i);
                        t[3].store(v, i);
                        FloatVector adaptive = one.div(v.sqrt().add(ep)).mul(sb2).add(0f);
                        t[0].store(pv.sub(a.mul(inv).mul(lrf).mul(adaptive).mul(rc).add(0f)), i);
                    }
                }, (from, to) -> {
                    for (long i = from; i < to; i++) {
                        float a = radamMomentsScalar(p, g, m1, m2, i, l2, wd, c1, b2, c2);
                        float adaptive = 1f / ((float) Math.sqrt(m2.f(i)) + ep) * sb2 + 0f;
                        p.f(i, p.f(i) - (a * inv * lrf * adaptive * rc + 0f));
                    }
                });
            } else {
                vectorized(f, lo, hi, (t, from, to) -> {
                    VectorMask<Float> decay = S.maskAll(l2);
                    for (long i = from; i < to; i += S.length()) {
                        FloatVector pv = t[0].load(i), gv = t[1].load(i), a = t[2].load(i);
                        gv = gv.blend(gv.add(pv.mul(wd).add(0f)), decay);
                        a = a.add(gv.sub(a).mul(c1).add(0f));
                        t[2].store(a, i);
                        t[3].store(t[3].load(i).mul(b2).add(0f).add(gv.mul(gv).mul(c2).add(0f)), i);
                        t[0].store(pv.sub(a.mul(inv).mul(lrf).add(0f)), i);
                    }
                }, (from, to) -> {
                    for (long i = from; i < to; i++) {
                        float a = radamMomentsScalar(p, g, m1, m2, i, l2, wd, c1, b2, c2);
                        p.f(i, p.f(i) - (a * inv * lrf + 0f));
                    }
                });
            }
        } else {
            for (long i = lo; i < hi; i++) {
                double pv = p.d(i), gv = g.d(i);
                if (l2) gv = gv + (weightDecay * pv + 0.0);
                double a = m1.d(i);
                a = a + ((1 - beta1) * (gv - a) + 0.0);
                double v = (beta2 * m2.d(i) + 0.0) + ((1 - beta2) * (gv * gv) + 0.0);
                m1.d(i, a);
                m2.d(i, v);
                double step = lr * (invBc1 * a + 0.0) + 0.0;
                if (rectified) step = rect * (step * (sqrtBc2 * Math.pow(Math.sqrt(v) + eps, -1) + 0.0)) + 0.0;
                p.d(i, pv - step);
            }
        }
    }

    /** RAdam's F32 moment update of element i, as its vector lanes do it; returns the new exp_avg (exp_avg_sq is stored). */
    private static float radamMomentsScalar(Flat p, Flat g, Flat m1, Flat m2, long i, boolean l2, float wd, float c1, float b2, float c2) {
        float gv = g.f(i);
        if (l2) gv = gv + (p.f(i) * wd + 0f);
        float a = m1.f(i);
        a = a + ((gv - a) * c1 + 0f);
        m1.f(i, a);
        m2.f(i, (m2.f(i) * b2 + 0f) + (gv * gv * c2 + 0f));
        return a;
    }

    /*
     * LAMB and LARS scale each parameter's update by a trust ratio of two norms, so they run in
     * two regions: the norms (cut into NORM_BLOCK blocks over every tensor of the call, summed in
     * block order, so the bits do not depend on the thread count), then the element-wise update.
     * The norms are exact-er than the tensor ops' float sums, so the trajectories agree with the
     * interface's defaults to rounding, not bit for bit; everything else repeats their ops.
     */

    @Override
    public void lambMulti(List<Tensor> params, List<Tensor> grads, List<Tensor> expAvgs, List<Tensor> expAvgSqs, double lr, double beta1,
                          double beta2, double eps, double weightDecay, long[] steps) {
        int count = params.size();
        OptimizerKernels.requireLengths("lamb", count, grads.size(), expAvgs.size(), expAvgSqs.size(), steps.length);
        if (count == 0) return;
        LambStep[] at = new LambStep[count];
        for (int i = 0; i < count; i++) at[i] = LambStep.of(lr, beta1, beta2, eps, weightDecay, steps[i]);
        List<Tensor[]> operands = momentOperands(params, grads, expAvgs, expAvgSqs);
        flatMulti("lamb", operands, MOMENTS_WRITTEN, os -> {
            // Region 1 updates the moments and sums ||param||^2 and ||u||^2 per block; region 2
            // recomputes u from them (the same bits) and applies it.
            double[][] sq = blockSums(os, 2, (k, f, lo, hi, out) -> lambMomentsAndNorms(f, lo, hi, at[k], out));
            double[] trust = new double[os.length];
            for (int k = 0; k < os.length; k++) {
                double w = Math.sqrt(sq[k][0]), u = Math.sqrt(sq[k][1]);
                trust[k] = weightDecay == 0 ? 1 : trustRatio(w, u, w, 0, 0);
            }
            forEachElement(sizes(os), (k, lo, hi) -> lambRange(os[k].flat, lo, hi, at[k], trust[k]));
        });
    }

    /**
     * LAMB's scalars for one parameter at one step, as the tensor ops apply them: a scalar
     * divide multiplies by its reciprocal.
     */
    private record LambStep(double beta1, double beta2, double invBc1, double invBc2Sqrt, double eps, double weightDecay, double lr) {
        static LambStep of(double lr, double beta1, double beta2, double eps, double weightDecay, long step) {
            if (step < 1) throw new IllegalArgumentException("lamb: step counts from 1, got " + step);
            return new LambStep(beta1, beta2, 1 / (1 - Math.pow(beta1, step)), 1 / Math.sqrt(1 - Math.pow(beta2, step)), eps, weightDecay, lr);
        }
    }

    /*
     * The F32 loops below keep every vector inside one method: a helper that takes or returns a
     * vector, once C2 compiles it on its own, is called with boxed vectors and falls back to
     * Java arrays (300 MB per resnet50 step). The scalar F32 tail repeats the lanes' arithmetic
     * (each float operation rounds the same in a lane and in a scalar).
     */

    /**
     * LAMB's region 1 over the block [lo, hi) of one parameter (f: param, grad, exp_avg,
     * exp_avg_sq): updates the moments and adds ||param||^2 to out[0] and ||u||^2 to out[1],
     * u = exp_avg / bc1 / (sqrt(exp_avg_sq) / sqrt(bc2) + eps) (+ param * weight_decay). F32
     * sums in float lanes over at most 64 vectors, then in double.
     */
    private static void lambMomentsAndNorms(Flat[] f, long lo, long hi, LambStep s, double[] out) {
        Flat p = f[0], g = f[1], m1 = f[2], m2 = f[3];
        if (!p.f32()) {
            for (long i = lo; i < hi; i++) {
                double gv = g.d(i);
                double a = (s.beta1() * m1.d(i) + 0.0) + ((1 - s.beta1()) * gv + 0.0);
                double v = (s.beta2() * m2.d(i) + 0.0) + ((1 - s.beta2()) * (gv * gv) + 0.0);
                m1.d(i, a);
                m2.d(i, v);
                double pv = p.d(i), u = lambDirection(pv, a, v, s);
                out[0] += pv * pv;
                out[1] += u * u;
            }
            return;
        }
        float b1 = (float) s.beta1(), c1 = (float) (1 - s.beta1()), b2 = (float) s.beta2(), c2 = (float) (1 - s.beta2());
        float i1 = (float) s.invBc1(), i2 = (float) s.invBc2Sqrt(), ep = (float) s.eps(), wd = (float) s.weightDecay();
        boolean decay = s.weightDecay() != 0;
        VectorMask<Float> decayed = S.maskAll(decay);
        int len = S.length();
        long full = lo + (hi - lo) / len * len;
        float[] lanes = new float[2 * len];
        for (long b = lo; b < full; b += 64L * len) {
            long e = Math.min(full, b + 64L * len);
            FloatVector sp = FloatVector.zero(S), su = FloatVector.zero(S);
            for (long i = b; i < e; i += len) {
                FloatVector gv = g.load(i), pv = p.load(i);
                FloatVector a = m1.load(i).mul(b1).add(0f).add(gv.mul(c1).add(0f));
                FloatVector v = m2.load(i).mul(b2).add(0f).add(gv.mul(gv).mul(c2).add(0f));
                m1.store(a, i);
                m2.store(v, i);
                FloatVector u = a.mul(i1).add(0f).div(v.sqrt().mul(i2).add(0f).add(ep));
                u = u.blend(u.add(pv.mul(wd).add(0f)), decayed);
                sp = sp.add(pv.mul(pv));
                su = su.add(u.mul(u));
            }
            // Lanes in order, in double (a call to Vec.sum here took the vectors boxed).
            sp.intoArray(lanes, 0);
            su.intoArray(lanes, len);
            double bp = 0, bu = 0;
            for (int j = 0; j < len; j++) {
                bp += lanes[j];
                bu += lanes[len + j];
            }
            out[0] += bp;
            out[1] += bu;
        }
        float rp = 0, ru = 0;
        for (long i = full; i < hi; i++) {
            float gv = g.f(i), pv = p.f(i);
            float a = (m1.f(i) * b1 + 0f) + (gv * c1 + 0f);
            float v = (m2.f(i) * b2 + 0f) + (gv * gv * c2 + 0f);
            m1.f(i, a);
            m2.f(i, v);
            float u = (a * i1 + 0f) / (((float) Math.sqrt(v) * i2 + 0f) + ep);
            if (decay) u = u + (pv * wd + 0f);
            rp += pv * pv;
            ru += u * u;
        }
        out[0] += rp;
        out[1] += ru;
    }

    /** LAMB's direction for one F64 element, as region 1 computes it. */
    private static double lambDirection(double pv, double a, double v, LambStep s) {
        double u = (s.invBc1() * a + 0.0) / ((s.invBc2Sqrt() * Math.sqrt(v) + 0.0) + s.eps());
        return s.weightDecay() != 0 ? u + (s.weightDecay() * pv + 0.0) : u;
    }

    /** LAMB's region 2 over [lo, hi) of one parameter: u again from the new moments, then param -= u * trust * lr (no trust without weight decay). */
    private static void lambRange(Flat[] f, long lo, long hi, LambStep s, double trust) {
        Flat p = f[0], m1 = f[2], m2 = f[3];
        boolean decay = s.weightDecay() != 0;
        if (p.f32()) {
            float i1 = (float) s.invBc1(), i2 = (float) s.invBc2Sqrt(), ep = (float) s.eps(), wd = (float) s.weightDecay();
            float lrf = (float) s.lr(), tr = (float) trust;
            vectorized(f, lo, hi, (t, from, to) -> {
                VectorMask<Float> decayed = S.maskAll(decay);
                for (long i = from; i < to; i += S.length()) {
                    FloatVector pv = t[0].load(i);
                    FloatVector u = t[2].load(i).mul(i1).add(0f).div(t[3].load(i).sqrt().mul(i2).add(0f).add(ep));
                    u = u.blend(u.add(pv.mul(wd).add(0f)).mul(tr), decayed);
                    t[0].store(pv.sub(u.mul(lrf).add(0f)), i);
                }
            });
        } else {
            for (long i = lo; i < hi; i++) {
                double pv = p.d(i), u = lambDirection(pv, m1.d(i), m2.d(i), s);
                if (decay) u = u * trust;
                p.d(i, pv - (s.lr() * u + 0.0));
            }
        }
    }

    @Override
    public void larsMulti(List<Tensor> params, List<Tensor> grads, List<Tensor> momentumBuffers, double lr, double momentum,
                          double dampening, double weightDecay, boolean nesterov, double trustCoeff, double eps, boolean[] initBuffers) {
        List<Tensor[]> operands = momentumOperands("lars", params, grads, momentumBuffers, momentum, initBuffers);
        if (operands.isEmpty()) return;
        flatMulti("lars", operands, momentumWritten(momentum), os -> {
            double[] trust = new double[os.length];
            Arrays.fill(trust, 1);
            if (weightDecay != 0) {
                double[][] sq = blockSums(os, 2, (k, f, lo, hi, out) -> {
                    out[0] += blockNorm(f[0], lo, hi, 2);
                    out[1] += blockNorm(f[1], lo, hi, 2);
                });
                for (int k = 0; k < os.length; k++) {
                    double w = Math.sqrt(sq[k][0]), gn = Math.sqrt(sq[k][1]);
                    trust[k] = trustRatio(trustCoeff * w, gn, w, weightDecay, eps);
                }
            }
            forEachElement(sizes(os), (k, lo, hi) -> larsRange(os[k].flat, lo, hi, lr, momentum, dampening, weightDecay, nesterov,
                    initBuffers[k], trust[k]));
        });
    }

    /**
     * num / (den + weightDecay * w + eps) when the norms w and den are both > 0, else 1: LARS's
     * trust ratio (and LAMB's, with weightDecay and eps 0), in double.
     */
    private static double trustRatio(double num, double den, double w, double weightDecay, double eps) {
        return w > 0 && den > 0 ? num / (den + weightDecay * w + eps) : 1;
    }

    /** The LARS update of elements [lo, hi) of one parameter (f: param, grad and, with momentum, its buffer). */
    private static void larsRange(Flat[] f, long lo, long hi, double lr, double momentum, double dampening, double weightDecay,
                                  boolean nesterov, boolean initBuffer, double trust) {
        Flat p = f[0], g = f[1], b = f.length > 2 ? f[2] : null;
        boolean decay = weightDecay != 0, hasBuf = b != null;
        if (p.f32()) {
            float wd = (float) weightDecay, tr = (float) trust, mom = (float) momentum, keep = (float) (1 - dampening), lrf = (float) lr;
            // Blends of both ways, not vectors merged from branches (which C2 boxed), and one loop
            // per operand count.
            if (hasBuf) {
                vectorized(f, lo, hi, (t, from, to) -> {
                    VectorMask<Float> scaled = S.maskAll(decay), init = S.maskAll(initBuffer), ahead = S.maskAll(nesterov);
                    for (long i = from; i < to; i += S.length()) {
                        FloatVector pv = t[0].load(i), d = t[1].load(i);
                        d = d.blend(d.add(pv.mul(wd).add(0f)).mul(tr), scaled);
                        FloatVector buf = t[2].load(i).mul(mom).add(0f).add(d.mul(keep).add(0f)).blend(d, init);
                        t[2].store(buf, i);
                        d = buf.blend(d.add(buf.mul(mom).add(0f)), ahead);
                        t[0].store(pv.sub(d.mul(lrf).add(0f)), i);
                    }
                });
            } else {
                vectorized(f, lo, hi, (t, from, to) -> {
                    VectorMask<Float> scaled = S.maskAll(decay);
                    for (long i = from; i < to; i += S.length()) {
                        FloatVector pv = t[0].load(i), d = t[1].load(i);
                        d = d.blend(d.add(pv.mul(wd).add(0f)).mul(tr), scaled);
                        t[0].store(pv.sub(d.mul(lrf).add(0f)), i);
                    }
                });
            }
        } else {
            for (long i = lo; i < hi; i++) {
                double pv = p.d(i), d = g.d(i);
                if (decay) d = (d + (weightDecay * pv + 0.0)) * trust;
                if (hasBuf) {
                    double buf = initBuffer ? d : (momentum * b.d(i) + 0.0) + ((1 - dampening) * d + 0.0);
                    b.d(i, buf);
                    d = nesterov ? d + (momentum * buf + 0.0) : buf;
                }
                p.d(i, pv - (lr * d + 0.0));
            }
        }
    }

    /** Adds a block's sums of one tensor of a multi-tensor call (f: its operands) into out. */
    @FunctionalInterface
    private interface BlockSum {
        void run(int k, Flat[] f, long lo, long hi, double[] out);
    }

    /** Each NORM_BLOCK block's values (part) and the first block of each tensor (first, one more entry than tensors). */
    private record Blocks(long[] first, double[][] part) {}

    /**
     * width values per NORM_BLOCK block of every tensor of a multi-tensor call, in one parallel
     * region; body fills a block's values and may also update the block. Which values a block
     * gets does not depend on the thread count.
     */
    private static Blocks perBlock(Operands[] os, int width, BlockSum body) {
        long[] first = new long[os.length + 1];
        for (int k = 0; k < os.length; k++) first[k + 1] = first[k] + (os[k].numel + NORM_BLOCK - 1) / NORM_BLOCK;
        double[][] part = new double[Math.toIntExact(first[os.length])][width];
        Parallel.forRange(part.length, 1, (blo, bhi) -> {
            int k = 0;
            for (long blk = blo; blk < bhi; blk++) {
                while (blk >= first[k + 1]) k++;
                long lo = (blk - first[k]) * NORM_BLOCK;
                body.run(k, os[k].flat, lo, Math.min(os[k].numel, lo + NORM_BLOCK), part[(int) blk]);
            }
        });
        return new Blocks(first, part);
    }

    /** width sums per tensor of a multi-tensor call: {@link #perBlock}'s values, each tensor's blocks added in order. */
    private static double[][] blockSums(Operands[] os, int width, BlockSum body) {
        Blocks b = perBlock(os, width, body);
        double[][] result = new double[os.length][width];
        for (int k = 0; k < os.length; k++) {
            for (long blk = b.first()[k]; blk < b.first()[k + 1]; blk++) {
                for (int j = 0; j < width; j++) result[k][j] += b.part()[(int) blk][j];
            }
        }
        return result;
    }

    @Override
    public double vectorNorm(Tensor x, double ord) {
        if (!(ord > 0)) throw new IllegalArgumentException("vector_norm: ord must be > 0, got " + ord);
        double[] result = new double[1];
        flatMulti("vector_norm", List.<Tensor[]>of(new Tensor[] {x}), new boolean[] {false}, os -> result[0] = norms(os, ord)[0]);
        return result[0];
    }

    /**
     * The ord-norm of each tensor of a multi-tensor call, in one parallel region: every tensor
     * is cut into NORM_BLOCK blocks, the blocks of all tensors are summed as one list, then each
     * tensor's blocks in order. A tensor's norm has the same bits whichever tensors share the
     * call and whatever the thread count.
     */
    private static double[] norms(Operands[] os, double ord) {
        boolean inf = Double.isInfinite(ord);
        Blocks b = perBlock(os, 1, (k, f, lo, hi, out) -> out[0] = blockNorm(f[0], lo, hi, ord));
        double[] result = new double[os.length];
        for (int k = 0; k < os.length; k++) {
            double total = 0;
            for (long blk = b.first()[k]; blk < b.first()[k + 1]; blk++) {
                double v = b.part()[(int) blk][0];
                total = inf ? Math.max(total, v) : total + v;
            }
            result[k] = inf || ord == 1 ? total : ord == 2 ? Math.sqrt(total) : Math.pow(total, 1 / ord);
        }
        return result;
    }

    /** The sum of |x|^ord over elements [lo, hi) of a (the largest |x| for ord infinity). */
    private static double blockNorm(Flat a, long lo, long hi, double ord) {
        boolean inf = Double.isInfinite(ord);
        double acc = 0;
        if (a.f32() && ord == 2) {
            // Float lanes over at most 64 vectors each, then double: exact enough and vectorized.
            for (long s = lo; s < hi; s += 64L * S.length()) {
                long e = Math.min(hi, s + 64L * S.length());
                FloatVector sum = FloatVector.zero(S);
                long i = s;
                for (; i + S.length() <= e; i += S.length()) {
                    FloatVector v = a.load(i);
                    sum = sum.add(v.mul(v));
                }
                acc += Vec.sum(sum);
                // The block's last, partial vector in float, in lane order, as its lanes were added.
                float rest = 0;
                for (; i < e; i++) rest += a.f(i) * a.f(i);
                acc += rest;
            }
            return acc;
        }
        for (long i = lo; i < hi; i++) {
            double v = Math.abs(a.f32() ? a.f(i) : a.d(i));
            if (inf) acc = Math.max(acc, v);
            else if (ord == 1) acc += v;
            else if (ord == 2) acc += v * v;
            else acc += Math.pow(v, ord);
        }
        return acc;
    }

    /**
     * torch.nn.utils.clip_grad_norm_ as the interface's default computes it (the same bits),
     * in two multi-tensor passes instead of two regions per gradient: every norm at once, then,
     * when clipping, every gradient scaled at once.
     */
    @Override
    public double clipGradNorm(List<Tensor> grads, double maxNorm, double ord) {
        if (!(ord > 0)) throw new IllegalArgumentException("clip_grad_norm: norm_type must be > 0, got " + ord);
        if (grads.isEmpty()) return 0;
        boolean inf = Double.isInfinite(ord);
        double[] total = new double[1];
        List<Tensor[]> operands = new ArrayList<>(grads.size());
        for (Tensor g : grads) operands.add(new Tensor[] {g});
        flatMulti("clip_grad_norm", operands, new boolean[] {true}, os -> {
            double acc = 0;
            for (double n : norms(os, ord)) acc = inf ? Math.max(acc, n) : acc + Math.pow(n, ord);
            total[0] = inf ? acc : ord == 2 ? Math.sqrt(acc) : Math.pow(acc, 1 / ord);
            double coef = maxNorm / (total[0] + 1e-6);
            if (coef < 1) forEachElement(sizes(os), (k, lo, hi) -> scaleRange(os[k].flat[0], lo, hi, coef));
        });
        return total[0];
    }

    /** timm Lamb's clip as the interface's default computes it, to rounding: the norm in one region, the division in one more. */
    @Override
    public void lambClipGradNorm(List<Tensor> grads, double maxNorm) {
        if (!(maxNorm > 0)) throw new IllegalArgumentException("lamb: max_grad_norm must be > 0, got " + maxNorm);
        if (grads.isEmpty()) return;
        List<Tensor[]> operands = new ArrayList<>(grads.size());
        for (Tensor g : grads) operands.add(new Tensor[] {g});
        flatMulti("lamb_clip", operands, new boolean[] {true}, os -> {
            double sq = 0;
            for (double[] s : blockSums(os, 1, (k, f, lo, hi, out) -> out[0] += blockNorm(f[0], lo, hi, 2))) sq += s[0];
            double total = Math.sqrt(sq);
            if (total > maxNorm) forEachElement(sizes(os), (k, lo, hi) -> divideRange(os[k].flat[0], lo, hi, total / maxNorm));
        });
    }

    /**
     * AGC as the interface's default computes it, to rounding (the unit norms sum in double): one
     * region over every unit of every parameter, cut by elements as {@link #forEachElement}
     * cuts them; a unit belongs to the piece its first element falls in, so it is read, measured
     * and scaled by one thread while it is in that thread's cache, and its bits do not depend on
     * the thread count.
     */
    @Override
    public void adaptiveClipGrad(List<Tensor> params, List<Tensor> grads, double clipFactor, double eps) {
        OptimizerKernels.requireLengths("adaptive_clip_grad", params.size(), grads.size());
        List<Tensor[]> operands = new ArrayList<>(params.size());
        long[] unit = new long[params.size()];
        for (int k = 0; k < params.size(); k++) {
            Tensor p = params.get(k);
            operands.add(new Tensor[] {p, grads.get(k)});
            unit[k] = p.dim() > 1 && p.shape(0) > 0 ? p.numel() / p.shape(0) : p.numel();
        }
        flatMulti("adaptive_clip_grad", operands, new boolean[] {false, true}, os -> forEachElement(sizes(os), (k, lo, hi) -> {
            long len = unit[k];
            if (len == 0) return;
            for (long at = (lo + len - 1) / len * len; at < hi; at += len) clipUnit(os[k].flat, at, at + len, clipFactor, eps);
        }));
    }

    /** AGC of one unit, elements [lo, hi) of f (param, grad): its gradient scaled when its norm reaches the cap. */
    private static void clipUnit(Flat[] f, long lo, long hi, double clipFactor, double eps) {
        double pNorm = Math.sqrt(blockNorm(f[0], lo, hi, 2)), gNorm = Math.sqrt(blockNorm(f[1], lo, hi, 2));
        if (f[0].f32()) {
            // The tensor ops' float steps: the norms rounded to float, then clamp, multiply, divide.
            float gn = (float) gNorm, cap = Math.max((float) pNorm, (float) eps) * (float) clipFactor;
            if (!(cap > gn)) scaleRange(f[1], lo, hi, cap / Math.max(gn, 1e-6f));
        } else {
            double cap = Math.max(pNorm, eps) * clipFactor;
            if (!(cap > gNorm)) scaleRange(f[1], lo, hi, cap / Math.max(gNorm, 1e-6));
        }
    }

    /** x /= divisor over elements [lo, hi) of a (a division, as torch's div_, not a multiply by the reciprocal). */
    private static void divideRange(Flat a, long lo, long hi, double divisor) {
        if (a.f32()) {
            float d = (float) divisor;
            vectorized(new Flat[] {a}, lo, hi, (t, from, to) -> {
                for (long i = from; i < to; i += S.length()) t[0].store(t[0].load(i).div(d), i);
            });
        } else {
            for (long i = lo; i < hi; i++) a.d(i, a.d(i) / divisor);
        }
    }

    @Override
    public void scaleInPlace(Tensor x, double factor) {
        flatMulti("scale", List.<Tensor[]>of(new Tensor[] {x}), new boolean[] {true}, os ->
                forEachElement(sizes(os), (k, lo, hi) -> scaleRange(os[k].flat[0], lo, hi, factor)));
    }

    /** x *= factor over elements [lo, hi) of a. */
    private static void scaleRange(Flat a, long lo, long hi, double factor) {
        if (a.f32()) {
            float s = (float) factor;
            vectorized(new Flat[] {a}, lo, hi, (t, from, to) -> {
                for (long i = from; i < to; i += S.length()) t[0].store(t[0].load(i).mul(s), i);
            });
        } else {
            for (long i = lo; i < hi; i++) a.d(i, a.d(i) * factor);
        }
    }

    @Override
    public void clampInPlace(Tensor x, double lo, double hi) { clampMulti(List.of(x), lo, hi); }

    @Override
    public void clampMulti(List<Tensor> xs, double lo, double hi) {
        if (lo > hi) throw new IllegalArgumentException("clamp: min " + lo + " > max " + hi);
        if (xs.isEmpty()) return;
        List<Tensor[]> operands = new ArrayList<>(xs.size());
        for (Tensor x : xs) operands.add(new Tensor[] {x});
        flatMulti("clamp", operands, new boolean[] {true}, os -> forEachElement(sizes(os), (k, a, b) -> {
            Flat t = os[k].flat[0];
            if (t.f32()) {
                float l = (float) lo, h = (float) hi;
                vectorized(new Flat[] {t}, a, b, (u, from, to) -> {
                    for (long i = from; i < to; i += S.length()) u[0].store(u[0].load(i).max(l).min(h), i);
                });
            } else {
                for (long i = a; i < b; i++) t.d(i, Math.min(Math.max(t.d(i), lo), hi));
            }
        }));
    }

    @Override
    public void emaUpdate(Tensor ema, Tensor src, double decay) { emaUpdateMulti(List.of(ema), List.of(src), decay); }

    @Override
    public void emaUpdateMulti(List<Tensor> emas, List<Tensor> srcs, double decay) {
        OptimizerKernels.requireLengths("ema_update", emas.size(), srcs.size());
        if (emas.isEmpty()) return;
        List<Tensor[]> operands = new ArrayList<>(emas.size());
        for (int i = 0; i < emas.size(); i++) operands.add(new Tensor[] {emas.get(i), srcs.get(i)});
        flatMulti("ema_update", operands, new boolean[] {true, false}, os -> forEachElement(sizes(os), (k, lo, hi) -> {
            Flat e = os[k].flat[0], s = os[k].flat[1];
            if (e.f32()) {
                float d = (float) decay, c = (float) (1 - decay);
                vectorized(os[k].flat, lo, hi, (t, from, to) -> {
                    for (long i = from; i < to; i += S.length()) t[0].store(t[0].load(i).mul(d).add(t[1].load(i).mul(c)), i);
                });
            } else {
                for (long i = lo; i < hi; i++) e.d(i, decay * e.d(i) + (1 - decay) * s.d(i));
            }
        }));
    }
}
