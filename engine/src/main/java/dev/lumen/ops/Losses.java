package dev.lumen.ops;

import dev.lumen.autograd.Autograd;
import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Classification losses with mean reduction, as torch.nn.functional (and timm's
 * SoftTargetCrossEntropy). Each computes its value without recording the intermediate ops
 * and attaches one fused gradient rule, so a step keeps only the log-probabilities and the
 * targets for backward.
 */
public final class Losses {
    private Losses() {}

    /**
     * F.cross_entropy(logits [N, C], targets I64 [N], label_smoothing): the targets become
     * the distribution (1 - s) * onehot + s / C, and the loss is its mean cross entropy with
     * log_softmax(logits).
     */
    public static Tensor crossEntropy(Tensor logits, Tensor targets, double labelSmoothing) {
        Devices.common("crossEntropy", logits, targets);
        if (logits.dim() != 2) {
            throw new IllegalArgumentException("crossEntropy: logits must be [N, C], got " + Arrays.toString(logits.shape()));
        }
        int n = logits.shape(0), c = logits.shape(1);
        if (targets.dim() != 1 || targets.shape(0) != n || targets.dtype().isFloating()) {
            throw new IllegalArgumentException("crossEntropy: targets must be integer class indices [" + n + "] for logits "
                    + Arrays.toString(logits.shape()) + ", got " + targets.dtype() + Arrays.toString(targets.shape()));
        }
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) {
            throw new IllegalArgumentException("crossEntropy: labelSmoothing must be in [0, 1], got " + labelSmoothing);
        }
        // On a device the check is queued and a bad target raises at the next host read, so the step does not wait here.
        targets.backend().checkIndices(targets, c, t -> "crossEntropy: target " + t + " is out of range for " + c + " classes");
        Tensor dist;
        try (GradMode ng = GradMode.noGrad()) {
            Tensor classes = classIndices(c, logits.device()).view(1, c);
            Tensor onehot = Elementwise.eq(targets.view(n, 1), classes).to(compute(logits));
            dist = Elementwise.affine(onehot, 1 - labelSmoothing, labelSmoothing / c);
        }
        return softCrossEntropy("cross_entropy", logits, dist);
    }

    public static Tensor crossEntropy(Tensor logits, Tensor targets) { return crossEntropy(logits, targets, 0); }

    /** 0 .. c-1 as I64 on device, made once per (c, device): an upload per step would be a copy the step need not make. */
    private static Tensor classIndices(int c, Device device) {
        return CLASS_INDICES.computeIfAbsent(new ClassesKey(c, device), k -> {
            Tensor host = Scope.detachFromScopes(Tensor.arange(0, c, 1, DType.I64));
            if (device.kind() == Device.Kind.CPU) return host;
            try (host) {
                return Scope.detachFromScopes(host.to(device));
            }
        });
    }

    private record ClassesKey(int classes, Device device) {}

    private static final ConcurrentHashMap<ClassesKey, Tensor> CLASS_INDICES = new ConcurrentHashMap<>();

    /**
     * timm's SoftTargetCrossEntropy: mean over rows of sum(-targets * log_softmax(logits)),
     * for mixed (MixUp/CutMix) target distributions [N, C].
     */
    public static Tensor softTargetCrossEntropy(Tensor logits, Tensor targets) {
        Devices.common("softTargetCrossEntropy", logits, targets);
        if (logits.dim() != 2 || !Arrays.equals(logits.shape(), targets.shape()) || !targets.dtype().isFloating()) {
            throw new IllegalArgumentException("softTargetCrossEntropy: logits [N, C] and floating targets of the same shape expected, got "
                    + Arrays.toString(logits.shape()) + " and " + targets.dtype() + Arrays.toString(targets.shape()));
        }
        return softCrossEntropy("soft_target_cross_entropy", logits, targets);
    }

    /** -sum(t * log_softmax(x)) / N; d/dx = (softmax(x) * rowsum(t) - t) / N, d/dt = -log_softmax(x) / N. */
    private static Tensor softCrossEntropy(String op, Tensor logits, Tensor targets) {
        DType dt = compute(logits);
        Tensor x = logits.to(dt), t = targets.to(dt);
        double invN = 1.0 / logits.shape(0);
        Tensor logp, out;
        try (GradMode ng = GradMode.noGrad()) {
            logp = Softmax.logSoftmax(x, 1);
            out = Reductions.sum(t.mul(logp)).mul(-invN);
        }
        return Autograd.record(op, out, g -> new Tensor[] {
            logits.requiresGrad() ? Elementwise.exp(logp).mul(Reductions.sum(t, new int[] {1}, true)).sub(t).mul(g.mul(invN)).to(logits.dtype()) : null,
            targets.requiresGrad() ? logp.mul(g.mul(-invN)).to(targets.dtype()) : null}, logits, targets);
    }

    /**
     * F.binary_cross_entropy_with_logits, mean over all elements, in the stable form
     * softplus(x) - x * t (which is max(x, 0) - x t + log(1 + exp(-|x|))).
     */
    public static Tensor bceWithLogits(Tensor logits, Tensor targets) {
        Devices.common("bceWithLogits", logits, targets);
        if (!Arrays.equals(logits.shape(), targets.shape()) || !targets.dtype().isFloating()) {
            throw new IllegalArgumentException("bceWithLogits: logits and floating targets of the same shape expected, got "
                    + Arrays.toString(logits.shape()) + " and " + targets.dtype() + Arrays.toString(targets.shape()));
        }
        DType dt = compute(logits);
        Tensor x = logits.to(dt), t = targets.to(dt);
        double invN = 1.0 / Math.max(1, logits.numel());
        Tensor out;
        try (GradMode ng = GradMode.noGrad()) {
            out = Reductions.sum(Activations.softplus(x, 1, 20).sub(x.mul(t))).mul(invN);
        }
        return Autograd.record("bce_with_logits", out, g -> new Tensor[] {
            logits.requiresGrad() ? Activations.sigmoid(x).sub(t).mul(g.mul(invN)).to(logits.dtype()) : null,
            targets.requiresGrad() ? x.mul(g.mul(-invN)).to(targets.dtype()) : null}, logits, targets);
    }

    /** F16/BF16 logits are computed in F32. */
    private static DType compute(Tensor t) { return t.dtype().isCompute() ? t.dtype() : DType.F32; }
}
