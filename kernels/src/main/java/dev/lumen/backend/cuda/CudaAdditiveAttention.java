package dev.lumen.backend.cuda;

import dev.lumen.backend.AdditiveAttentionKernels;
import dev.lumen.cuda.AdditiveAttentionCuda;
import dev.lumen.cuda.CudaContext;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * {@link AdditiveAttentionKernels} on the device: additive_attention.cu through
 * {@link AdditiveAttentionCuda}, queued on the compute stream with scratch from the caching
 * allocator. F32, F16 and BF16 compute in float, F64 in double; partial sums go to per-block
 * slots reduced in a fixed order, so results do not depend on block order.
 */
final class CudaAdditiveAttention implements AdditiveAttentionKernels {
    private final CudaContext ctx;

    CudaAdditiveAttention(CudaContext ctx) { this.ctx = ctx; }

    /** The problem's shape, after checking that every tensor is a contiguous [shape] of dtype. */
    private static AdditiveAttentionCuda.Shape shape(Tensor t, Tensor... sameShape) {
        if (t.dim() != 4) throw new IllegalArgumentException("catm: expected [B,C,H,W], got " + Arrays.toString(t.shape()));
        if (!t.dtype().isFloating()) throw new IllegalArgumentException("catm: " + t.dtype() + " is not a floating dtype");
        CudaTensors.requireContiguous(t, "catm");
        for (Tensor o : sameShape) expect("catm", o, t.dtype(), t.shape());
        int[] s = t.shape();
        return new AdditiveAttentionCuda.Shape(s[0], s[1], s[2], s[3]);
    }

    private static void expect(String what, Tensor t, DType dtype, int... shape) {
        if (t == null) throw new IllegalArgumentException(what + " is missing");
        if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException(what + " must be " + Arrays.toString(shape) + ", got " + Arrays.toString(t.shape()));
        }
        CudaTensors.requireDType(dtype, what, t);
        CudaTensors.requireContiguous(t, what);
    }

    private static AdditiveAttentionCuda.Gate gate(Gate g, DType t, int c) {
        expect("catm gate dwWeight", g.dwWeight(), t, c, 1, 3, 3);
        expect("catm gate dwBias", g.dwBias(), t, c);
        expect("catm gate bnWeight", g.bnWeight(), t, c);
        expect("catm gate bnBias", g.bnBias(), t, c);
        expect("catm gate bnMean", g.bnMean(), t, c);
        expect("catm gate bnInvStd", g.bnInvStd(), t, c);
        expect("catm gate spatialWeight", g.spatialWeight(), t, 1, c, 1, 1);
        expect("catm gate channelWeight", g.channelWeight(), t, c, c, 1, 1);
        return new AdditiveAttentionCuda.Gate(CudaTensors.ptr(g.dwWeight()), CudaTensors.ptr(g.dwBias()), CudaTensors.ptr(g.bnWeight()),
                CudaTensors.ptr(g.bnBias()), CudaTensors.ptr(g.bnMean()), CudaTensors.ptr(g.bnInvStd()),
                CudaTensors.ptr(g.spatialWeight()), CudaTensors.ptr(g.channelWeight()));
    }

    private static AdditiveAttentionCuda.State state(GateState s, DType t, int[] shape) {
        expect("catm gate state spatial", s.spatial(), t, shape[0], shape[2], shape[3]);
        expect("catm gate state pooled", s.pooled(), t, shape[0], shape[1]);
        expect("catm gate state channel", s.channel(), t, shape[0], shape[1]);
        return new AdditiveAttentionCuda.State(CudaTensors.ptr(s.spatial()), CudaTensors.ptr(s.pooled()), CudaTensors.ptr(s.channel()));
    }

    private static AdditiveAttentionCuda.GateGrads grads(GateGrads g, DType t, int[] shape) {
        int c = shape[1];
        expect("catm gradient of the gate input", g.input(), t, shape);
        expect("catm gradient of dwWeight", g.dwWeight(), t, c, 1, 3, 3);
        expect("catm gradient of dwBias", g.dwBias(), t, c);
        expect("catm gradient of bnWeight", g.bnWeight(), t, c);
        expect("catm gradient of bnBias", g.bnBias(), t, c);
        expect("catm gradient of spatialWeight", g.spatialWeight(), t, 1, c, 1, 1);
        expect("catm gradient of channelWeight", g.channelWeight(), t, c, c, 1, 1);
        return new AdditiveAttentionCuda.GateGrads(CudaTensors.ptr(g.input()), CudaTensors.ptr(g.dwWeight()), CudaTensors.ptr(g.dwBias()),
                CudaTensors.ptr(g.bnWeight()), CudaTensors.ptr(g.bnBias()), CudaTensors.ptr(g.spatialWeight()),
                CudaTensors.ptr(g.channelWeight()));
    }

    /** Fails on a problem with no pixels: BatchNorm and the channel means are undefined there. */
    private static void requirePixels(AdditiveAttentionCuda.Shape s) {
        if (s.b() == 0 || s.c() == 0 || s.h() == 0 || s.w() == 0) throw new IllegalArgumentException("catm: empty problem " + s);
    }

    @Override
    public void catmBatchStats(Tensor t, Tensor dwWeight, Tensor dwBias, Tensor mean, Tensor var) {
        AdditiveAttentionCuda.Shape s = shape(t);
        DType dt = t.dtype();
        expect("catm dwWeight", dwWeight, dt, s.c(), 1, 3, 3);
        expect("catm dwBias", dwBias, dt, s.c());
        expect("catm batch mean", mean, dt, s.c());
        expect("catm batch var", var, dt, s.c());
        requirePixels(s);
        AdditiveAttentionCuda.batchStats(ctx, dt, s, CudaTensors.ptr(t), CudaTensors.ptr(dwWeight), CudaTensors.ptr(dwBias),
                CudaTensors.ptr(mean), CudaTensors.ptr(var));
    }

    @Override
    public void catmNormalization(Tensor batchMean, Tensor batchVar, Tensor runningMean, Tensor runningVar, double momentum,
                                  double varianceCorrection, double eps, Tensor mean, Tensor invStd) {
        DType dt = runningMean.dtype();
        int c = runningMean.shape(0);
        for (Tensor x : new Tensor[] {runningMean, runningVar, mean, invStd}) expect("catm normalization", x, dt, c);
        if (batchMean != null) {
            expect("catm normalization batch mean", batchMean, dt, c);
            expect("catm normalization batch var", batchVar, dt, c);
        }
        if (c == 0) return;
        AdditiveAttentionCuda.normalization(ctx, dt, c, CudaTensors.ptrOrNull(batchMean), CudaTensors.ptrOrNull(batchVar),
                CudaTensors.ptr(runningMean), CudaTensors.ptr(runningVar), momentum, varianceCorrection, eps,
                CudaTensors.ptr(mean), CudaTensors.ptr(invStd));
    }

    @Override
    public void catmForward(Tensor q, Tensor k, Tensor v, Gate gq, Gate gk, GateState sq, GateState sk, Tensor dwcWeight,
                            Tensor dwcBias, Tensor out) {
        AdditiveAttentionCuda.Shape s = shape(q, k, v, out);
        DType dt = q.dtype();
        expect("catm dwcWeight", dwcWeight, dt, s.c(), 1, 3, 3);
        expect("catm dwcBias", dwcBias, dt, s.c());
        AdditiveAttentionCuda.Gate cq = gate(gq, dt, s.c()), ck = gate(gk, dt, s.c());
        AdditiveAttentionCuda.State stq = state(sq, dt, q.shape()), stk = state(sk, dt, q.shape());
        requirePixels(s);
        AdditiveAttentionCuda.gates(ctx, dt, s, CudaTensors.ptr(q), cq, stq);
        AdditiveAttentionCuda.gates(ctx, dt, s, CudaTensors.ptr(k), ck, stk);
        AdditiveAttentionCuda.forward(ctx, dt, s, CudaTensors.ptr(q), CudaTensors.ptr(k), CudaTensors.ptr(v), stq, stk,
                CudaTensors.ptr(dwcWeight), CudaTensors.ptr(dwcBias), CudaTensors.ptr(out));
    }

    @Override
    public void catmBackward(Tensor q, Tensor k, Tensor v, Gate gq, Gate gk, GateState sq, GateState sk, Tensor dwcWeight,
                             Tensor dwcBias, boolean batchStats, Tensor gradOut, Tensor gradV, Tensor gradDwcWeight,
                             Tensor gradDwcBias, GateGrads gradQ, GateGrads gradK) {
        AdditiveAttentionCuda.Shape s = shape(q, k, v, gradOut, gradV);
        DType dt = q.dtype();
        expect("catm dwcWeight", dwcWeight, dt, s.c(), 1, 3, 3);
        expect("catm dwcBias", dwcBias, dt, s.c());
        expect("catm gradient of dwcWeight", gradDwcWeight, dt, s.c(), 1, 3, 3);
        expect("catm gradient of dwcBias", gradDwcBias, dt, s.c());
        AdditiveAttentionCuda.Gate cq = gate(gq, dt, s.c()), ck = gate(gk, dt, s.c());
        AdditiveAttentionCuda.State stq = state(sq, dt, q.shape()), stk = state(sk, dt, q.shape());
        AdditiveAttentionCuda.GateGrads dq = grads(gradQ, dt, q.shape()), dk = grads(gradK, dt, q.shape());
        requirePixels(s);
        AdditiveAttentionCuda.backward(ctx, dt, s, CudaTensors.ptr(q), CudaTensors.ptr(k), CudaTensors.ptr(v), cq, ck, stq, stk,
                CudaTensors.ptr(dwcWeight), CudaTensors.ptr(dwcBias), batchStats, CudaTensors.ptr(gradOut), CudaTensors.ptr(gradV),
                CudaTensors.ptr(gradDwcWeight), CudaTensors.ptr(gradDwcBias), dq, dk);
    }
}
