package dev.lumen.distributed;

import dev.lumen.autograd.Autograd;
import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.ops.Elementwise;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;

/**
 * Batch norm in training over the union of every rank's batch, on the batch-norm kernels.
 *
 * <p>Forward: each rank computes its channels' mean and biased variance with the kernel (a
 * shifted, accurate pass) and its count; one all-gather brings every rank's [mean, var, count];
 * each rank combines them in rank order (mean = sum n_r m_r / N, var = sum n_r (v_r + (m_r -
 * mean)^2) / N), the way torch's SyncBatchNorm gathers per-rank statistics rather than raw sums,
 * which would cancel in var = E[x^2] - mean^2. All ranks combine the same gathered bits in the
 * same order, so their statistics and running statistics are identical. Running variance is
 * unbiased with the global count, as in PyTorch; it is computed on the device (no host read).
 *
 * <p>Backward: the kernel with the statistics held constant gives g * w * rstd and the local
 * sums sum(g) and sum(g * xhat), which are also the local weight and bias gradients (DDP
 * averages those like any other). The two sums are all-reduced (SUM) and the dependence of the
 * global statistics on x is added: gx -= w * rstd / N * (sum(g) + xhat * sum(g * xhat)), that
 * correction computed by the forward kernel as a per-channel affine of xhat.
 */
final class SyncBatchNormOp {
    private SyncBatchNormOp() {}

    static Tensor forward(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias,
                          double momentum, double eps, Communicator comm) {
        if (!x.dtype().isCompute()) {
            return forward(x.to(DType.F32), runningMean, runningVar, weight, bias, momentum, eps, comm).to(x.dtype());
        }
        DType t = x.dtype();
        int n = x.shape(0), c = x.shape(1);
        int s = (int) (x.numel() / Math.max(1, (long) n * c));
        long count = (long) n * s;
        Tensor xc = x.contiguous();
        Tensor w = weight == null ? null : weight.to(t), b = bias == null ? null : bias.to(t);
        Tensor out = Tensor.empty(t, x.device(), x.shape());
        Tensor[] stats = globalStatistics(xc, out, n, c, s, count, eps, comm);
        Tensor mean = stats[0], var = stats[1], total = stats[2];
        try (Tensor x3 = as3d(xc, n, c, s); Tensor o3 = as3d(out, n, c, s)) {
            x.backend().norms().batchNormForward(x3, w, b, eps, false, mean, var, o3);
        }
        if (runningMean != null) updateRunning(runningMean, runningVar, mean, var, total, momentum);
        return Autograd.record("sync_batch_norm", out, g -> backward(g, xc, w, b, mean, var, total, n, c, s, eps, comm), xc, w, b);
    }

    /** {mean, biased var, count} of the global batch, each rank's gathered and combined in rank order. */
    private static Tensor[] globalStatistics(Tensor xc, Tensor scratch, int n, int c, int s, long count, double eps, Communicator comm) {
        DType t = xc.dtype();
        int ranks = comm.worldSize(), row = 2 * c + 1;
        try (GradMode ng = GradMode.noGrad(); Scope tmp = Scope.open()) {
            Tensor local = Tensor.empty(t, xc.device(), row);
            Tensor localMean = slice(local, 0, c), localVar = slice(local, c, c);
            if (count > 0) {
                // The kernel's own statistics pass; the normalized output it also writes is overwritten by the global one.
                try (Tensor x3 = as3d(xc, n, c, s); Tensor o3 = as3d(scratch, n, c, s)) {
                    xc.backend().norms().batchNormForward(x3, null, null, eps, true, localMean, localVar, o3);
                }
            } else {
                local.backend().fill(local, 0);
            }
            local.backend().fill(slice(local, 2 * c, 1), count);
            Tensor gathered = Tensor.empty(t, xc.device(), ranks * row);
            comm.allGather(local, gathered);
            comm.joinCompute();
            Tensor all = gathered.view(ranks, row);
            Tensor means = all.narrow(1, 0, c), vars = all.narrow(1, c, c), counts = all.narrow(1, 2 * c, 1);
            Tensor total = counts.sum(0);
            Tensor mean = means.mul(counts).sum(0).div(total);
            Tensor dev = means.sub(mean);
            Tensor var = vars.add(dev.mul(dev)).mul(counts).sum(0).div(total);
            return new Tensor[] {tmp.keep(mean), tmp.keep(var), tmp.keep(total)};
        }
    }

    private static void updateRunning(Tensor runningMean, Tensor runningVar, Tensor mean, Tensor var, Tensor total, double momentum) {
        try (GradMode ng = GradMode.noGrad(); Scope tmp = Scope.open()) {
            Tensor rm = runningMean.view(-1), rv = runningVar.view(-1);
            rm.backend().elementwise().affine(rm, 1 - momentum, 0, rm);
            Elementwise.addInPlace(rm, mean, momentum);
            rv.backend().elementwise().affine(rv, 1 - momentum, 0, rv);
            Elementwise.addInPlace(rv, var.mul(total.div(total.sub(1))), momentum);
        }
    }

    private static Tensor[] backward(Tensor g, Tensor xc, Tensor w, Tensor b, Tensor mean, Tensor var, Tensor total,
                                     int n, int c, int s, double eps, Communicator comm) {
        DType t = xc.dtype();
        Tensor gc = g.contiguous();
        boolean needX = xc.requiresGrad();
        Tensor gx = needX ? Tensor.empty(t, g.device(), xc.shape()) : null;
        Tensor sums = Tensor.empty(t, g.device(), 2 * c);
        Tensor sumG = slice(sums, 0, c), sumGXhat = slice(sums, c, c);
        try (Tensor x3 = as3d(xc, n, c, s); Tensor g3 = as3d(gc, n, c, s); Tensor gx3 = gx == null ? null : as3d(gx, n, c, s)) {
            xc.backend().norms().batchNormBackward(g3, x3, w, mean, var, eps, false, gx3, sumGXhat, sumG);
        }
        Tensor gw = w != null && w.requiresGrad() ? sumGXhat.copy() : null;
        Tensor gb = b != null && b.requiresGrad() ? sumG.copy() : null;
        if (needX) {
            comm.allReduce(sums, ReduceOp.SUM);
            comm.joinCompute();
            try (Scope tmp = Scope.open()) {
                Tensor scale = Elementwise.rsqrt(var.add(eps));
                if (w != null) scale = scale.mul(w);
                scale = scale.div(total).neg();
                Tensor corrW = scale.mul(sumGXhat), corrB = scale.mul(sumG);
                Tensor corr = Tensor.empty(t, g.device(), xc.shape());
                try (Tensor x3 = as3d(xc, n, c, s); Tensor c3 = as3d(corr, n, c, s)) {
                    xc.backend().norms().batchNormForward(x3, corrW, corrB, eps, false, mean, var, c3);
                }
                Elementwise.addInPlace(gx, corr, 1.0);
            }
        }
        return new Tensor[] {gx, gw, gb};
    }

    /** A contiguous 1-D view of length elements of v from start, outside the tape. */
    private static Tensor slice(Tensor v, int start, int length) {
        return v.viewOf(new int[] {length}, new int[] {1}, v.offset() + start);
    }

    /** A kernel-facing [n, c, s] view of a contiguous tensor, outside the tape; the caller closes it. */
    private static Tensor as3d(Tensor t, int n, int c, int s) {
        int[] shape = {n, c, s};
        return t.viewOf(shape, Shapes.contiguousStrides(shape), t.offset());
    }
}
