package dev.lumen.backend.cpu;

import dev.lumen.backend.AttentionKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;

/**
 * {@link AttentionKernels} with one task per (image, head): its products, softmax and, in the
 * backward, softmax's gradient run one after another on one thread while that head's [N, N]
 * scores (155 KB at N = 197) stay in its core's cache, where the composed kernels stream every
 * head's scores through memory between passes. The GEMMs read q, k and v in place in the packed
 * qkv (leading dimension 3C) and write out and gradQkv there too, so nothing is permuted or
 * gathered, and the scale rides on the GEMMs' alpha instead of a pass of its own.
 * Scratch (P without a gradient to keep, and dP) is one head's [N, w] per thread, reused from one
 * head to the next while it is in cache. Without a gradient the F32 forward also leaves P
 * unnormalized and divides the output rows by the softmax sums (d products a row, not w).
 * The rows of P and of its gradient are padded to whole vectors, and in F32 the softmax rows run
 * over the padding (-inf in the logits, 0 in the gradient) with no scalar tail: softmax over
 * rows of 197 floats that straddle cache lines took twice as long as over aligned ones, and the
 * 5-float tail of each row cost a fifth of the forward.
 * SelfAttentionBench measures it against the composed kernels.
 */
final class CpuAttention implements AttentionKernels {

    @Override
    public int probsWidth(int n) { return (n + Vec.L - 1) / Vec.L * Vec.L; }

    @Override
    public void selfAttention(Tensor qkv, int heads, double scale, Tensor probs, Tensor out) {
        Heads g = Heads.checkForward(this, qkv, heads, probs, out);
        Gemm gemm = Gemm.active();
        if (!gemm.concurrentOk(g.n(), g.n(), g.d())) {
            AttentionKernels.super.selfAttention(qkv, heads, scale, probs, out);
            return;
        }
        int n = g.n(), d = g.d(), c = g.c(), ld = 3 * c, w = probsWidth(n);
        DType t = qkv.dtype();
        boolean f32 = t == DType.F32, keep = probs != null;
        MemorySegment sx = qkv.storage().segment(), so = out.storage().segment(), sp = keep ? probs.storage().segment() : null;
        long xo = qkv.offset(), oo = out.offset(), po = keep ? probs.offset() : 0, nn = (long) n * w;
        Parallel.forRange((long) g.b() * heads, 1, (lo, hi) -> {
            // Without probs to keep (no gradient), one head's scores at a time in a buffer of this
            // thread's, which stays in its cache from one head to the next.
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment scores = keep ? sp : arena.allocate(nn * t.byteSize(), 64);
                float[] inverseSums = keep || !f32 ? null : new float[n];
                for (long task = lo; task < hi; task++) {
                    int b = (int) (task / heads), h = (int) (task % heads);
                    long q = xo + (long) b * n * ld + (long) h * d, k = q + c, v = q + 2L * c;
                    long pt = keep ? po + task * nn : 0, o = oo + (long) b * n * c + (long) h * d;
                    // P = softmax(scale q k^T), row by row in place, then out = P v.
                    gemm(gemm, f32, false, true, n, n, d, scale, sx, q, ld, sx, k, ld, scores, pt, w);
                    if (f32) {
                        // Rows run to the padded width, no scalar tail: -inf pads give exp 0, so P's pads end up 0.
                        pad(scores, pt, n, w, Float.NEGATIVE_INFINITY);
                        if (keep) {
                            for (int i = 0; i < n; i++) CpuReductions.softmaxRowF32(scores, pt + (long) i * w, scores, pt + (long) i * w, w);
                        } else {
                            // Unnormalized e^{s - max} v, then each output row over its sum: d
                            // products a row where normalizing P would take w.
                            for (int i = 0; i < n; i++) inverseSums[i] = (float) (1 / CpuReductions.expRowF32(scores, (long) i * w, scores, (long) i * w, w));
                        }
                    } else {
                        for (int i = 0; i < n; i++) CpuReductions.softmaxLine(scores, t, pt + (long) i * w, scores, pt + (long) i * w, n, 1, false);
                    }
                    gemm(gemm, f32, false, false, n, d, n, 1, scores, pt, w, sx, v, ld, so, o, c);
                    if (inverseSums != null) scaleRows(so, o, n, d, c, inverseSums);
                }
            }
        });
    }

    /** Multiplies row i of the n rows of d floats, ld apart from at, by factors[i]. */
    private static void scaleRows(MemorySegment s, long at, int n, int d, int ld, float[] factors) {
        int up = Vec.S.loopBound(d);
        for (int i = 0; i < n; i++) {
            long row = at + (long) i * ld;
            FloatVector f = Vec.of(factors[i]);
            int j = 0;
            for (; j < up; j += Vec.L) Vec.st(s, row + j, Vec.ld(s, row + j).mul(f));
            for (; j < d; j++) s.setAtIndex(ValueLayout.JAVA_FLOAT, row + j, s.getAtIndex(ValueLayout.JAVA_FLOAT, row + j) * factors[i]);
        }
    }

    @Override
    public void selfAttentionBackward(Tensor qkv, Tensor probs, Tensor gradOut, int heads, double scale, Tensor gradQkv) {
        Heads g = Heads.checkBackward(this, qkv, heads, probs, gradOut, gradQkv);
        Gemm gemm = Gemm.active();
        if (!gemm.concurrentOk(g.n(), g.n(), g.d())) {
            AttentionKernels.super.selfAttentionBackward(qkv, probs, gradOut, heads, scale, gradQkv);
            return;
        }
        DType t = qkv.dtype();
        boolean f32 = t == DType.F32;
        int n = g.n(), d = g.d(), c = g.c(), ld = 3 * c, w = probsWidth(n);
        MemorySegment sx = qkv.storage().segment(), sp = probs.storage().segment(), sg = gradOut.storage().segment();
        MemorySegment si = gradQkv.storage().segment();
        long xo = qkv.offset(), po = probs.offset(), go = gradOut.offset(), io = gradQkv.offset();
        long nn = (long) n * w;
        Parallel.forRange((long) g.b() * heads, 1, (lo, hi) -> {
            // One head's dP at a time, in a buffer of this thread's that stays in its cache.
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment ss = arena.allocate(nn * t.byteSize(), 64);
                for (long task = lo; task < hi; task++) {
                    int b = (int) (task / heads), h = (int) (task % heads);
                    long head = (long) b * n * ld + (long) h * d, q = xo + head, k = q + c, v = q + 2L * c;
                    long gq = io + head, gk = gq + c, gv = gq + 2L * c, dout = go + (long) b * n * c + (long) h * d;
                    long pt = po + task * nn;
                    // dP = dO v^T; dS = P * (dP - rowsum(dP * P)) in place; then the three products.
                    gemm(gemm, f32, false, true, n, n, d, 1, sg, dout, c, sx, v, ld, ss, 0, w);
                    if (f32) {
                        // P's pads are 0 (forward); zero pads in dP keep the row sums and give dS pads of 0.
                        pad(ss, 0, n, w, 0f);
                        for (int i = 0; i < n; i++) {
                            CpuReductions.softmaxBackwardRowF32(sp, pt + (long) i * w, ss, (long) i * w, ss, (long) i * w, w, false);
                        }
                    } else {
                        for (int i = 0; i < n; i++) {
                            CpuReductions.softmaxBackwardLine(sp, ss, ss, t, pt + (long) i * w, (long) i * w, (long) i * w, n, 1, false);
                        }
                    }
                    gemm(gemm, f32, false, false, n, d, n, scale, ss, 0, w, sx, k, ld, si, gq, ld);
                    gemm(gemm, f32, true, false, n, d, n, scale, ss, 0, w, sx, q, ld, si, gk, ld);
                    gemm(gemm, f32, true, false, n, d, n, 1, sp, pt, w, sg, dout, c, si, gv, ld);
                }
            }
        });
    }

    /** Sets columns [n, w) of the n rows of width w at element index at to value (F32). */
    private static void pad(MemorySegment s, long at, int n, int w, float value) {
        for (int i = 0; i < n; i++) {
            long row = at + (long) i * w;
            for (int j = n; j < w; j++) s.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, row + j, value);
        }
    }

    private static void gemm(Gemm g, boolean f32, boolean ta, boolean tb, int m, int n, int k, double alpha,
                             MemorySegment a, long oa, int lda, MemorySegment b, long ob, int ldb, MemorySegment c, long oc, int ldc) {
        if (f32) g.sgemm(ta, tb, m, n, k, (float) alpha, a, oa, lda, b, ob, ldb, 0f, c, oc, ldc);
        else g.dgemm(ta, tb, m, n, k, alpha, a, oa, lda, b, ob, ldb, 0.0, c, oc, ldc);
    }
}
