package dev.lumen.backend;

import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.ops.Elementwise;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;
import java.util.List;

/**
 * Fused in-place optimizer updates (SGD, Adam, AdamW, RMSprop, RMSpropTF, AdaBelief, NAdam,
 * RAdam, LAMB, LARS), one parameter or a list per call, and the small in-place maps around them
 * (gradient norms and clipping, AGC, EMA of weights). All tensors of one call have the parameter's
 * shape and dtype (F32 or F64). The formulas and their order are torch.optim's (PyTorch 1.13,
 * single-tensor path) and timm's, so trajectories match PyTorch.
 */
public interface OptimizerKernels {
    /**
     * torch.optim.SGD for one parameter:
     * <pre>
     * d = grad + weightDecay * param
     * if momentum != 0:
     *     buf = initBuffer ? d : momentum * buf + (1 - dampening) * d
     *     d = nesterov ? d + momentum * buf : buf
     * param -= lr * d
     * </pre>
     * momentumBuffer is null when momentum is 0; initBuffer is true on the parameter's first step
     * (torch starts the buffer at the first gradient, without dampening).
     */
    void sgd(Tensor param, Tensor grad, Tensor momentumBuffer, double lr, double momentum, double dampening,
             double weightDecay, boolean nesterov, boolean initBuffer);

    /**
     * torch.optim.Adam (decoupled false) or AdamW (decoupled true) for one parameter, at step
     * (counted from 1, already incremented):
     * <pre>
     * decoupled: param *= 1 - lr * weightDecay        else: g = grad + weightDecay * param
     * expAvg   = beta1 * expAvg   + (1 - beta1) * g
     * expAvgSq = beta2 * expAvgSq + (1 - beta2) * g * g
     * v = amsgrad ? (maxExpAvgSq = max(maxExpAvgSq, expAvgSq)) : expAvgSq
     * param -= lr / (1 - beta1^step) * expAvg / (sqrt(v) / sqrt(1 - beta2^step) + eps)
     * </pre>
     * maxExpAvgSq is null unless amsgrad.
     */
    void adam(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, Tensor maxExpAvgSq, double lr, double beta1,
              double beta2, double eps, double weightDecay, boolean decoupled, long step);

    /**
     * {@link #sgd} for every parameter of a list (torch's foreach path, same arithmetic per
     * element): one hyper-parameter set, a first-step flag per parameter. momentumBuffers is null
     * when momentum is 0. This default makes one call per parameter; a backend whose calls are
     * kernel launches overrides it with one launch for the whole list.
     */
    default void sgdMulti(List<Tensor> params, List<Tensor> grads, List<Tensor> momentumBuffers, double lr, double momentum,
                          double dampening, double weightDecay, boolean nesterov, boolean[] initBuffers) {
        int n = params.size();
        requireLengths("sgd", n, grads.size(), momentumBuffers == null ? n : momentumBuffers.size(), initBuffers.length);
        for (int i = 0; i < n; i++) {
            sgd(params.get(i), grads.get(i), momentumBuffers == null ? null : momentumBuffers.get(i), lr, momentum, dampening,
                    weightDecay, nesterov, initBuffers[i]);
        }
    }

    /**
     * {@link #adam} for every parameter of a list, each at its own step count (steps[i]).
     * maxExpAvgSqs is null unless amsgrad. This default makes one call per parameter; a backend
     * whose calls are kernel launches overrides it with one launch for the whole list.
     */
    default void adamMulti(List<Tensor> params, List<Tensor> grads, List<Tensor> expAvgs, List<Tensor> expAvgSqs,
                           List<Tensor> maxExpAvgSqs, double lr, double beta1, double beta2, double eps, double weightDecay,
                           boolean decoupled, long[] steps) {
        int n = params.size();
        requireLengths(decoupled ? "adamw" : "adam", n, grads.size(), expAvgs.size(), expAvgSqs.size(),
                maxExpAvgSqs == null ? n : maxExpAvgSqs.size(), steps.length);
        for (int i = 0; i < n; i++) {
            adam(params.get(i), grads.get(i), expAvgs.get(i), expAvgSqs.get(i), maxExpAvgSqs == null ? null : maxExpAvgSqs.get(i),
                    lr, beta1, beta2, eps, weightDecay, decoupled, steps[i]);
        }
    }

    /**
     * torch.optim.RMSprop, uncentered (tf false), or timm's RMSpropTF (tf true), for every
     * parameter of a list, one hyper-parameter set. In tensor ops, per parameter:
     * <pre>
     * g = weightDecay != 0 ? grad + param * weightDecay : grad
     * RMSprop:   sq = sq * alpha + g * g * (1 - alpha);  avg = sqrt(sq) + eps
     *            momentum > 0: buf = buf * momentum + g / avg;  param -= buf * lr
     *            else: param += g / avg * -lr
     * RMSpropTF: sq = sq + (g * g - sq) * (1 - alpha);  avg = sqrt(sq + eps)
     *            momentum > 0: buf = buf * momentum + g / avg * lr;  param -= buf
     *            else: param += g / avg * -lr
     * </pre>
     * momentumBuffers is null when momentum is 0. This default runs those ops one parameter at a
     * time, on any backend; a backend overrides it with one pass of the same arithmetic.
     */
    default void rmspropMulti(List<Tensor> params, List<Tensor> grads, List<Tensor> squareAvgs, List<Tensor> momentumBuffers, double lr,
                              double alpha, double eps, double weightDecay, double momentum, boolean tf) {
        int n = params.size();
        String op = tf ? "rmsproptf" : "rmsprop";
        requireLengths(op, n, grads.size(), squareAvgs.size(), momentumBuffers == null ? n : momentumBuffers.size());
        if (momentum > 0 && momentumBuffers == null) throw new IllegalArgumentException(op + ": momentum " + momentum + " needs momentum buffers");
        for (int i = 0; i < n; i++) {
            if (params.get(i).numel() == 0) continue; // nothing to update (and the CPU's copy rejects [k, 0] shapes)
            try (Scope scope = Scope.open()) {
                Tensor p = params.get(i), grad = grads.get(i), sq = squareAvgs.get(i);
                Tensor g = weightDecay != 0 ? grad.add(p.mul(weightDecay)) : grad;
                sq.backend().copy(tf ? sq.add(g.mul(g).sub(sq).mul(1 - alpha)) : sq.mul(alpha).add(g.mul(g).mul(1 - alpha)), sq);
                Tensor avg = tf ? sq.add(eps).sqrt() : sq.sqrt().add(eps);
                if (momentum > 0) {
                    Tensor buf = momentumBuffers.get(i);
                    buf.backend().copy(buf.mul(momentum).add(tf ? g.div(avg).mul(lr) : g.div(avg)), buf);
                    p.backend().copy(p.sub(tf ? buf : buf.mul(lr)), p);
                } else {
                    p.backend().copy(p.add(g.div(avg).mul(-lr)), p);
                }
            }
        }
    }

    /**
     * timm's AdaBelief (unrectified, decoupled weight decay) for every parameter of a list, each
     * at its own step count (steps[i], from 1). In tensor ops, per parameter:
     * <pre>
     * param = param * (1 - lr * weightDecay)
     * expAvg = expAvg * beta1 + grad * (1 - beta1)
     * r = grad - expAvg;  expAvgVar = expAvgVar * beta2 + r * r * (1 - beta2) + eps
     * denom = sqrt(expAvgVar) / sqrt(1 - beta2^step) + eps
     * param += expAvg / denom * (-lr / (1 - beta1^step))
     * </pre>
     * This default runs those ops one parameter at a time, on any backend; a backend overrides
     * it with one pass of the same arithmetic.
     */
    default void adaBeliefMulti(List<Tensor> params, List<Tensor> grads, List<Tensor> expAvgs, List<Tensor> expAvgVars, double lr,
                                double beta1, double beta2, double eps, double weightDecay, long[] steps) {
        int n = params.size();
        requireLengths("adabelief", n, grads.size(), expAvgs.size(), expAvgVars.size(), steps.length);
        for (int i = 0; i < n; i++) {
            AdamBiasCorrection bc = AdamBiasCorrection.of("adabelief", lr, beta1, beta2, steps[i]);
            if (params.get(i).numel() == 0) continue; // nothing to update (and the CPU's copy rejects [k, 0] shapes)
            try (Scope scope = Scope.open()) {
                Tensor p = params.get(i), grad = grads.get(i), m = expAvgs.get(i), v = expAvgVars.get(i);
                p.backend().copy(p.mul(1 - lr * weightDecay), p);
                m.backend().copy(m.mul(beta1).add(grad.mul(1 - beta1)), m);
                Tensor r = grad.sub(m);
                v.backend().copy(v.mul(beta2).add(r.mul(r).mul(1 - beta2)).add(eps), v);
                Tensor denom = v.sqrt().div(bc.bc2Sqrt()).add(eps);
                p.backend().copy(p.add(m.div(denom).mul(bc.negStepSize())), p);
            }
        }
    }

    /**
     * torch.optim.NAdam for every parameter of a list, each at its own step (steps[i], from 1)
     * with muProducts[i] = mu_1 * ... * mu_step (see {@link NAdamStep}). In tensor ops, per
     * parameter, with s = NAdamStep.of(...):
     * <pre>
     * g = weightDecay != 0 ? grad + param * weightDecay : grad
     * expAvg = expAvg + (g - expAvg) * (1 - beta1)
     * expAvgSq = expAvgSq * beta2 + g * g * (1 - beta2)
     * denom = sqrt(expAvgSq / s.bc2) + eps
     * param = param + g / denom * s.gradCoef + expAvg / denom * s.avgCoef
     * </pre>
     * This default runs those ops one parameter at a time, on any backend; a backend overrides
     * it with one pass of the same arithmetic.
     */
    default void nadamMulti(List<Tensor> params, List<Tensor> grads, List<Tensor> expAvgs, List<Tensor> expAvgSqs, double lr, double beta1,
                            double beta2, double eps, double weightDecay, double momentumDecay, long[] steps, double[] muProducts) {
        int n = params.size();
        requireLengths("nadam", n, grads.size(), expAvgs.size(), expAvgSqs.size(), steps.length, muProducts.length);
        for (int i = 0; i < n; i++) {
            NAdamStep s = NAdamStep.of(lr, beta1, beta2, momentumDecay, steps[i], muProducts[i]);
            if (params.get(i).numel() == 0) continue; // nothing to update (and the CPU's copy rejects [k, 0] shapes)
            try (Scope scope = Scope.open()) {
                Tensor p = params.get(i), m = expAvgs.get(i), v = expAvgSqs.get(i);
                Tensor g = l2Moments(p, grads.get(i), m, v, beta1, beta2, weightDecay);
                Tensor denom = v.div(s.bc2()).sqrt().add(eps);
                Tensor next = p.add(g.div(denom).mul(s.gradCoef()));
                p.backend().copy(next.add(m.div(denom).mul(s.avgCoef())), p);
            }
        }
    }

    /**
     * torch.optim.RAdam for every parameter of a list, each at its own step (steps[i], from 1).
     * In tensor ops, per parameter, with s = RAdamStep.of(beta1, beta2, step):
     * <pre>
     * g = weightDecay != 0 ? grad + param * weightDecay : grad
     * expAvg = expAvg + (g - expAvg) * (1 - beta1)
     * expAvgSq = expAvgSq * beta2 + g * g * (1 - beta2)
     * c = expAvg / s.bc1
     * s.rectified: param = param - c * lr * ((sqrt(expAvgSq) + eps)^-1 * sqrt(s.bc2)) * s.rect
     * else:        param = param - c * lr
     * </pre>
     * This default runs those ops one parameter at a time, on any backend; a backend overrides
     * it with one pass of the same arithmetic.
     */
    default void radamMulti(List<Tensor> params, List<Tensor> grads, List<Tensor> expAvgs, List<Tensor> expAvgSqs, double lr, double beta1,
                            double beta2, double eps, double weightDecay, long[] steps) {
        int n = params.size();
        requireLengths("radam", n, grads.size(), expAvgs.size(), expAvgSqs.size(), steps.length);
        for (int i = 0; i < n; i++) {
            RAdamStep s = RAdamStep.of(beta1, beta2, steps[i]);
            if (params.get(i).numel() == 0) continue; // nothing to update (and the CPU's copy rejects [k, 0] shapes)
            try (Scope scope = Scope.open()) {
                Tensor p = params.get(i), m = expAvgs.get(i), v = expAvgSqs.get(i);
                Tensor g = l2Moments(p, grads.get(i), m, v, beta1, beta2, weightDecay);
                Tensor corrected = m.div(s.bc1());
                if (s.rectified()) {
                    Tensor adaptive = v.sqrt().add(eps).pow(-1).mul(Math.sqrt(s.bc2()));
                    p.backend().copy(p.sub(corrected.mul(lr).mul(adaptive).mul(s.rect())), p);
                } else {
                    p.backend().copy(p.sub(corrected.mul(lr)), p);
                }
            }
        }
    }

    /**
     * timm's Lamb update (after its global gradient clip, which the optimizer applies) for every
     * parameter of a list, each at its own step (steps[i], from 1). In tensor ops, per parameter:
     * <pre>
     * expAvg = expAvg * beta1 + grad * (1 - beta1)
     * expAvgSq = expAvgSq * beta2 + grad * grad * (1 - beta2)
     * u = expAvg / (1 - beta1^step) / (sqrt(expAvgSq) / sqrt(1 - beta2^step) + eps)
     * weightDecay != 0: u = (u + param * weightDecay) * trust, trust = ||param|| / ||u|| (1 when either is 0)
     * param = param - u * lr
     * </pre>
     * This default runs those ops one parameter at a time, the trust ratio on the device; a
     * backend overrides it with two passes of the same arithmetic (norms, then the update), whose
     * norms may sum in another order.
     */
    default void lambMulti(List<Tensor> params, List<Tensor> grads, List<Tensor> expAvgs, List<Tensor> expAvgSqs, double lr, double beta1,
                           double beta2, double eps, double weightDecay, long[] steps) {
        int n = params.size();
        requireLengths("lamb", n, grads.size(), expAvgs.size(), expAvgSqs.size(), steps.length);
        for (int i = 0; i < n; i++) {
            if (steps[i] < 1) throw new IllegalArgumentException("lamb: step counts from 1, got " + steps[i]);
            if (params.get(i).numel() == 0) continue; // nothing to update (and the CPU's copy rejects [k, 0] shapes)
            try (Scope scope = Scope.open()) {
                Tensor p = params.get(i), grad = grads.get(i), m = expAvgs.get(i), v = expAvgSqs.get(i);
                m.backend().copy(m.mul(beta1).add(grad.mul(1 - beta1)), m);
                v.backend().copy(v.mul(beta2).add(grad.mul(grad).mul(1 - beta2)), v);
                Tensor denom = v.sqrt().div(Math.sqrt(1 - Math.pow(beta2, steps[i]))).add(eps);
                Tensor update = m.div(1 - Math.pow(beta1, steps[i])).div(denom);
                if (weightDecay != 0) {
                    update = update.add(p.mul(weightDecay));
                    Tensor w = norm(p), u = norm(update);
                    update = update.mul(trustRatio(w, u, w, u));
                }
                p.backend().copy(p.sub(update.mul(lr)), p);
            }
        }
    }

    /**
     * timm's Lars for every parameter of a list, one hyper-parameter set, a first-step flag per
     * parameter (torch starts the momentum buffer at the first direction). In tensor ops, per
     * parameter:
     * <pre>
     * d = grad
     * weightDecay != 0: d = (d + param * weightDecay) * trust,
     *     trust = trustCoeff * ||param|| / (||grad|| + weightDecay * ||param|| + eps) (1 when either norm is 0)
     * momentum != 0: buf = initBuffer ? d : buf * momentum + d * (1 - dampening)
     *                d = nesterov ? d + buf * momentum : buf
     * param = param - d * lr
     * </pre>
     * momentumBuffers is null when momentum is 0. This default runs those ops one parameter at a
     * time, the trust ratio on the device; a backend overrides it with two passes of the same
     * arithmetic (norms, then the update), whose norms may sum in another order.
     */
    default void larsMulti(List<Tensor> params, List<Tensor> grads, List<Tensor> momentumBuffers, double lr, double momentum,
                           double dampening, double weightDecay, boolean nesterov, double trustCoeff, double eps, boolean[] initBuffers) {
        int n = params.size();
        requireLengths("lars", n, grads.size(), momentumBuffers == null ? n : momentumBuffers.size(), initBuffers.length);
        if (momentum != 0 && momentumBuffers == null) throw new IllegalArgumentException("lars: momentum " + momentum + " needs momentum buffers");
        for (int i = 0; i < n; i++) {
            if (params.get(i).numel() == 0) continue; // nothing to update (and the CPU's copy rejects [k, 0] shapes)
            try (Scope scope = Scope.open()) {
                Tensor p = params.get(i), d = grads.get(i);
                if (weightDecay != 0) {
                    Tensor w = norm(p), gn = norm(d);
                    Tensor trust = trustRatio(w.mul(trustCoeff), gn.add(w.mul(weightDecay)).add(eps), w, gn);
                    d = d.add(p.mul(weightDecay)).mul(trust);
                }
                if (momentum != 0) {
                    Tensor buf = momentumBuffers.get(i);
                    buf.backend().copy(initBuffers[i] ? d : buf.mul(momentum).add(d.mul(1 - dampening)), buf);
                    d = nesterov ? d.add(buf.mul(momentum)) : buf;
                }
                p.backend().copy(p.sub(d.mul(lr)), p);
            }
        }
    }

    /**
     * NAdam's and RAdam's first steps in tensor ops: g = grad (+ param * weightDecay), then
     * expAvg += (g - expAvg) * (1 - beta1) and expAvgSq = expAvgSq * beta2 + g * g * (1 - beta2)
     * in place. Returns g.
     */
    private static Tensor l2Moments(Tensor p, Tensor grad, Tensor m, Tensor v, double beta1, double beta2, double weightDecay) {
        Tensor g = weightDecay != 0 ? grad.add(p.mul(weightDecay)) : grad;
        m.backend().copy(m.add(g.sub(m).mul(1 - beta1)), m);
        v.backend().copy(v.mul(beta2).add(g.mul(g).mul(1 - beta2)), v);
        return g;
    }

    /** The 2-norm of every element as a 0-d tensor on t's device, so a trust ratio needs no host read. */
    private static Tensor norm(Tensor t) { return t.mul(t).sum().sqrt(); }

    /** num / den where the norms a and b are both > 0, else 1 (LAMB's and LARS's trust ratio rule), on the device. */
    private static Tensor trustRatio(Tensor num, Tensor den, Tensor a, Tensor b) {
        Tensor one = a.mul(0).add(1);
        return Elementwise.where(a.gt(0), Elementwise.where(b.gt(0), num.div(den), one), one);
    }

    /** Fails unless every per-parameter list of a multi-tensor call has one entry per parameter. */
    static void requireLengths(String op, int params, int... lengths) {
        for (int len : lengths) {
            if (len != params) throw new IllegalArgumentException(op + ": " + params + " parameters but a list of " + len);
        }
    }

    /** torch.linalg.vector_norm(x, ord) over all elements, accumulated in double; ord may be +infinity. */
    double vectorNorm(Tensor x, double ord);

    /**
     * torch.nn.utils.clip_grad_norm_ over grads (all on this backend): total = the ord-norm of
     * the per-tensor ord-norms (infinity: the largest), and when maxNorm / (total + 1e-6) is
     * below 1 every gradient is scaled by it. Returns total (0 for no gradients). This default
     * composes vectorNorm and scaleInPlace, one host value per tensor; a backend whose norms
     * cost a device round trip each overrides it with one round trip for the whole list.
     */
    default double clipGradNorm(List<Tensor> grads, double maxNorm, double ord) {
        if (!(ord > 0)) throw new IllegalArgumentException("clip_grad_norm: norm_type must be > 0, got " + ord);
        if (grads.isEmpty()) return 0;
        boolean inf = Double.isInfinite(ord);
        double acc = 0;
        for (Tensor g : grads) {
            double n = vectorNorm(g, ord);
            acc = inf ? Math.max(acc, n) : acc + Math.pow(n, ord);
        }
        double total = inf ? acc : ord == 2 ? Math.sqrt(acc) : Math.pow(acc, 1 / ord);
        double coef = maxNorm / (total + 1e-6);
        if (coef < 1) {
            for (Tensor g : grads) scaleInPlace(g, coef);
        }
        return total;
    }

    /**
     * timm Lamb's global gradient clip, in place: total = the 2-norm of every element of grads
     * (all on this backend); when total > maxNorm every gradient is divided by total / maxNorm.
     * This default computes it with tensor ops on the device, with no host read; a backend
     * overrides it with one pass for the norm and one for the division.
     */
    default void lambClipGradNorm(List<Tensor> grads, double maxNorm) {
        if (!(maxNorm > 0)) throw new IllegalArgumentException("lamb: max_grad_norm must be > 0, got " + maxNorm);
        if (grads.isEmpty()) return;
        try (Scope scope = Scope.open()) {
            Tensor sq = null;
            for (Tensor g : grads) {
                Tensor n = g.mul(g).sum();
                sq = sq == null ? n : sq.add(n);
            }
            Tensor total = sq.sqrt(), one = total.mul(0).add(1);
            Tensor clip = Elementwise.where(total.gt(maxNorm), total.div(maxNorm), one);
            for (Tensor g : grads) {
                if (g.numel() > 0) g.backend().copy(g.div(clip), g); // (the CPU's copy rejects [k, 0] shapes)
            }
        }
    }

    /**
     * timm's adaptive_clip_grad (AGC, NFNets) in place: grads[i] is params[i]'s gradient (all on
     * this backend). Each unit's gradient (a row along dim 0; the whole tensor for parameters of
     * at most 1 dim) whose 2-norm reaches clipFactor * max(its weight's norm, eps) is scaled to
     * that norm (its own norm floored at 1e-6); the other units are kept. This default runs
     * tensor ops one parameter at a time, on any backend; a backend overrides it with one pass.
     */
    default void adaptiveClipGrad(List<Tensor> params, List<Tensor> grads, double clipFactor, double eps) {
        requireLengths("adaptive_clip_grad", params.size(), grads.size());
        try (GradMode off = GradMode.noGrad()) {
            for (int i = 0; i < params.size(); i++) {
                Tensor p = params.get(i), g = grads.get(i);
                try (Scope s = Scope.open()) {
                    Tensor maxNorm = Elementwise.clampMin(unitwiseNorm(p), eps).mul(clipFactor);
                    Tensor gNorm = unitwiseNorm(g);
                    Tensor clipped = g.mul(maxNorm.div(Elementwise.clampMin(gNorm, 1e-6)));
                    g.backend().copy(Elementwise.where(Elementwise.gt(maxNorm, gNorm), g, clipped), g);
                }
            }
        }
    }

    /** AGC's unit norms: the 2-norm of each row along dim 0, shaped to broadcast over x ([n, 1, ...]); the whole norm for x of at most 1 dim. */
    private static Tensor unitwiseNorm(Tensor x) {
        if (x.dim() <= 1) return x.mul(x).sum().sqrt();
        int[] dims = new int[x.dim() - 1];
        int[] keep = new int[x.dim()];
        Arrays.fill(keep, 1);
        keep[0] = x.shape(0);
        for (int d = 1; d < x.dim(); d++) dims[d - 1] = d;
        return x.mul(x).sum(dims).sqrt().reshape(keep);
    }

    /** x *= factor, in place. */
    void scaleInPlace(Tensor x, double factor);

    /** x = clamp(x, lo, hi), in place. */
    void clampInPlace(Tensor x, double lo, double hi);

    /**
     * {@link #clampInPlace} for every tensor of a list (torch.nn.utils.clip_grad_value_ over a
     * model's gradients). This default makes one call per tensor; a backend overrides it to
     * clamp the list in one pass.
     */
    default void clampMulti(List<Tensor> xs, double lo, double hi) {
        for (Tensor x : xs) clampInPlace(x, lo, hi);
    }

    /**
     * ema = decay * ema + (1 - decay) * src, in place (timm's ModelEmaV2 update). Floating ema
     * only; src has ema's shape and dtype.
     */
    void emaUpdate(Tensor ema, Tensor src, double decay);

    /**
     * {@link #emaUpdate} for every pair of two lists (a model's whole state), one decay. This
     * default makes one call per pair; a backend overrides it to update the list in one pass.
     */
    default void emaUpdateMulti(List<Tensor> emas, List<Tensor> srcs, double decay) {
        requireLengths("ema_update", emas.size(), srcs.size());
        for (int i = 0; i < emas.size(); i++) emaUpdate(emas.get(i), srcs.get(i), decay);
    }
}
