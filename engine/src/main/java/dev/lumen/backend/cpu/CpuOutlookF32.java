package dev.lumen.backend.cpu;

import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The F32 outlook attention kernels of {@link CpuOutlook}. Output pixels and v pixels gather
 * (threads never write the same element, and every sum has one fixed order); the logits
 * gradient walks anchors.
 *
 * <p>The logits gradient needs, per anchor and head, the k*k x k*k dot products dP[i][j] =
 * gradOut[i] . v[j] over the head's channels. Done one by one they are short dots that end in a
 * horizontal sum each; instead the anchor's window of v is transposed once into vT[c][j] (j
 * padded to whole vectors), so that row i of dP is one vector sum of gradOut[i][c] * vT[c] over
 * c, with the lanes running over j, which is also the axis of the softmax backward that follows.
 *
 * <p>Softmax rows are made a row of anchors at a time ({@link SoftmaxRows#f32InPlace}, lanes over
 * rows). Rows shorter than a vector are computed in whole vectors into float arrays with a vector of
 * slack, written in order so that a row's spill past its end is overwritten by the next row, and
 * copied out by length. Sums that would be one serial chain of FMAs (each waiting for the last)
 * run as two or four interleaved ones, combined in a fixed order.
 */
final class CpuOutlookF32 {
    private static final VectorSpecies<Float> S = Vec.S;
    private static final int L = Vec.L;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private CpuOutlookF32() {}

    private static MemorySegment seg(Tensor t) { return t.storage().segment(); }

    /** Output rows per forward task: the anchor rows that cover a band get their softmax once, those at its edges once more. */
    private static final int BAND = 8;

    /** out = fold(softmax(scale*logits) @ unfold(v)), one band of output rows of one image per task. */
    static void forward(Tensor v, Tensor logits, CpuOutlookGeometry g, float scale, Tensor out) {
        MemorySegment sv = seg(v), sl = seg(logits), so = seg(out);
        long oBase = out.offset();
        int kk = g.kk(), k = g.k(), hd = g.hd(), area = kk * kk;
        int anchorRow = g.w() * g.heads() * area;    // logits of one row of anchors
        int bands = Math.ceilDiv(g.height(), BAND);
        Parallel.forRange((long) g.batch() * bands, 1, (lo, hi) -> {
            float[] probs = new float[0];
            float[] acc = new float[g.channels()];
            float[] wt = new float[kk];
            int[] idx = new int[kk];
            long[] off = new long[kk];
            for (long t = lo; t < hi; t++) {
                int b = (int) (t / bands), y0 = (int) (t % bands) * BAND, y1 = Math.min(g.height(), y0 + BAND);
                int nyLo = g.first(y0), nyHi = g.last(y1 - 1, g.h());
                int n = Math.max(0, nyHi - nyLo + 1) * anchorRow;
                if (probs.length < n) probs = new float[n];
                if (n > 0) {
                    MemorySegment.copy(sl, F, (g.lBase() + g.row(b, nyLo, 0, 0, 0)) * 4, probs, 0, n);
                    SoftmaxRows.f32InPlace(probs, 0, n / kk, kk, scale);
                }
                for (int y = y0; y < y1; y++) {
                    for (int x = 0; x < g.width(); x++) {
                        Arrays.fill(acc, 0f);
                        for (int ny = g.first(y), nyEnd = g.last(y, g.h()); ny <= nyEnd; ny++) {
                            int iy = y + g.p() - ny * g.s();
                            for (int nx = g.first(x), nxEnd = g.last(x, g.w()); nx <= nxEnd; nx++) {
                                int i = iy * k + x + g.p() - nx * g.s();
                                int m = g.window(b, ny, nx, g.vBase(), idx, off);
                                for (int head = 0; head < g.heads(); head++) {
                                    int at = (ny - nyLo) * anchorRow + (nx * g.heads() + head) * area + i * kk;
                                    for (int q = 0; q < m; q++) wt[q] = probs[at + idx[q]];
                                    gather(acc, sv, off, wt, m, head * hd, hd);
                                }
                            }
                        }
                        MemorySegment.copy(acc, 0, so, F, (oBase + g.pixel(b, y, x)) * 4, acc.length);
                    }
                }
            }
        });
    }

    /**
     * One pass over anchors, a row of them per task: the probabilities P = softmax(scale*logits)
     * into probs (when not null, for {@link #gradV}) and gradLogits = scale * P * (dP - sum_j P dP)
     * (when not null).
     */
    static void anchors(Tensor v, Tensor logits, Tensor gradOut, CpuOutlookGeometry g, float scale, Tensor probs, Tensor gradLogits) {
        MemorySegment sv = seg(v), sl = seg(logits), sg = seg(gradOut);
        MemorySegment sp = probs == null ? null : seg(probs), sd = gradLogits == null ? null : seg(gradLogits);
        long gBase = gradOut.offset(), pBase = probs == null ? 0 : probs.offset(), dBase = gradLogits == null ? 0 : gradLogits.offset();
        int kk = g.kk(), hd = g.hd(), c = g.channels(), area = kk * kk;
        int anchorRow = g.w() * g.heads() * area;
        int span = Math.ceilDiv(kk, L) * L;        // the j axis of vT and dP, in whole vectors
        Parallel.forRange((long) g.batch() * g.h(), 1, (lo, hi) -> {
            float[] p = new float[anchorRow + L], dl = new float[area + L], dp = new float[span];
            float[] vt = sd == null ? null : new float[c * span];
            int[] idx = new int[kk], slot = new int[kk];
            long[] pix = new long[kk];
            for (long r = lo; r < hi; r++) {
                int b = (int) (r / g.h()), ny = (int) (r % g.h());
                long row0 = g.row(b, ny, 0, 0, 0);
                MemorySegment.copy(sl, F, (g.lBase() + row0) * 4, p, 0, anchorRow);
                SoftmaxRows.f32InPlace(p, 0, anchorRow / kk, kk, scale);
                if (sp != null) MemorySegment.copy(p, 0, sp, F, (pBase + row0) * 4, anchorRow);
                if (sd == null) continue;
                for (int nx = 0; nx < g.w(); nx++) {
                    int n = g.window(b, ny, nx, 0, idx, pix);
                    Arrays.fill(slot, -1);
                    for (int m = 0; m < n; m++) slot[idx[m]] = m;
                    transposeWindow(sv, g.vBase(), pix, idx, n, kk, c, span, vt);
                    for (int head = 0; head < g.heads(); head++) {
                        int at = (nx * g.heads() + head) * area, c0 = head * hd;
                        for (int i = 0; i < kk; i++) {
                            if (slot[i] < 0) {
                                Arrays.fill(dl, i * kk, i * kk + kk, 0f); // gradOut outside the image: the fold dropped row i
                                continue;
                            }
                            rowDots(sg, gBase + pix[slot[i]] + c0, vt, c0, hd, span, dp);
                            softmaxBackwardRow(p, at + i * kk, dp, i * kk, kk, scale, dl);
                        }
                        MemorySegment.copy(dl, 0, sd, F, (dBase + row0 + at) * 4, area);
                    }
                }
            }
        });
    }

    /** vt[c*span + j] = v at window position j (zero where j is outside the image), for every channel c. */
    private static void transposeWindow(MemorySegment sv, long vBase, long[] pix, int[] idx, int n, int kk, int c, int span, float[] vt) {
        if (n < kk) Arrays.fill(vt, 0f);
        for (int m = 0; m < n; m++) {
            long at = vBase + pix[m];
            int j = idx[m];
            for (int ch = 0; ch < c; ch++) vt[ch * span + j] = sv.getAtIndex(F, at + ch);
        }
    }

    /**
     * dp[j] = sum over c < hd of gradOut[go + c] * vt[(c0 + c)*span + j], j over whole vectors; four
     * partial sums over c mod 4, added as (0+1)+(2+3).
     */
    private static void rowDots(MemorySegment sg, long go, float[] vt, int c0, int hd, int span, float[] dp) {
        for (int j = 0; j < span; j += L) {
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            int ch = 0, at = c0 * span + j;
            for (; ch + 4 <= hd; ch += 4, at += 4 * span) {
                a0 = FloatVector.fromArray(S, vt, at).fma(FloatVector.broadcast(S, sg.getAtIndex(F, go + ch)), a0);
                a1 = FloatVector.fromArray(S, vt, at + span).fma(FloatVector.broadcast(S, sg.getAtIndex(F, go + ch + 1)), a1);
                a2 = FloatVector.fromArray(S, vt, at + 2 * span).fma(FloatVector.broadcast(S, sg.getAtIndex(F, go + ch + 2)), a2);
                a3 = FloatVector.fromArray(S, vt, at + 3 * span).fma(FloatVector.broadcast(S, sg.getAtIndex(F, go + ch + 3)), a3);
            }
            for (; ch < hd; ch++, at += span) a0 = FloatVector.fromArray(S, vt, at).fma(FloatVector.broadcast(S, sg.getAtIndex(F, go + ch)), a0);
            a0.add(a1).add(a2.add(a3)).intoArray(dp, j);
        }
    }

    /**
     * dl[at + j] = scale * p[pAt + j] * (dp[j] - sum_j' p[pAt + j'] dp[j']) for j < kk (the sum in
     * order of j); whole vectors, so up to a vector past the row is overwritten (see the class comment).
     */
    private static void softmaxBackwardRow(float[] p, int pAt, float[] dp, int at, int kk, float scale, float[] dl) {
        float sum = 0;
        for (int j = 0; j < kk; j++) sum += p[pAt + j] * dp[j];
        FloatVector vs = FloatVector.broadcast(S, sum), sc = FloatVector.broadcast(S, scale);
        for (int j = 0; j < kk; j += L) {
            FloatVector.fromArray(S, dp, j).sub(vs).mul(FloatVector.fromArray(S, p, pAt + j)).mul(sc).intoArray(dl, at + j);
        }
    }

    /** gradV[m] = sum over anchors whose window reads m, and their positions i inside the image, of P[n,i,j] * gradOut[i]. */
    static void gradV(CpuOutlookGeometry g, Tensor probs, Tensor gradOut, Tensor gradV) {
        MemorySegment sp = seg(probs), sg = seg(gradOut), sd = seg(gradV);
        long pBase = probs.offset(), gBase = gradOut.offset(), dBase = gradV.offset();
        int kk = g.kk(), hd = g.hd();
        Parallel.forRange((long) g.batch() * g.height(), 1, (lo, hi) -> {
            float[] acc = new float[g.channels()];
            float[] wt = new float[kk];
            int[] idx = new int[kk];
            long[] off = new long[kk];
            for (long r = lo; r < hi; r++) {
                int b = (int) (r / g.height()), y = (int) (r % g.height());
                for (int x = 0; x < g.width(); x++) {
                    Arrays.fill(acc, 0f);
                    for (int ny = g.first(y), nyEnd = g.last(y, g.h()); ny <= nyEnd; ny++) {
                        int jy = y + g.p() - ny * g.s();
                        for (int nx = g.first(x), nxEnd = g.last(x, g.w()); nx <= nxEnd; nx++) {
                            int j = jy * g.k() + (x + g.p() - nx * g.s());
                            int n = g.window(b, ny, nx, gBase, idx, off);
                            for (int head = 0; head < g.heads(); head++) {
                                long row0 = pBase + g.row(b, ny, nx, head, 0) + j;
                                for (int m = 0; m < n; m++) wt[m] = sp.getAtIndex(F, row0 + (long) idx[m] * kk);
                                gather(acc, sg, off, wt, n, head * hd, hd);
                            }
                        }
                    }
                    MemorySegment.copy(acc, 0, sd, F, (dBase + g.pixel(b, y, x)) * 4, acc.length);
                }
            }
        });
    }

    /** acc[c0 .. c0+len) += sum over m < n of wt[m] * src[off[m]+c0 ..], in order of m; two vectors at a time. */
    private static void gather(float[] acc, MemorySegment src, long[] off, float[] wt, int n, int c0, int len) {
        int c = 0;
        for (int bound = len - 2 * L; c <= bound; c += 2 * L) {
            FloatVector a0 = FloatVector.fromArray(S, acc, c0 + c), a1 = FloatVector.fromArray(S, acc, c0 + c + L);
            for (int m = 0; m < n; m++) {
                FloatVector w = FloatVector.broadcast(S, wt[m]);
                a0 = Vec.ld(src, off[m] + c0 + c).fma(w, a0);
                a1 = Vec.ld(src, off[m] + c0 + c + L).fma(w, a1);
            }
            a0.intoArray(acc, c0 + c);
            a1.intoArray(acc, c0 + c + L);
        }
        for (int bound = S.loopBound(len); c < bound; c += L) {
            FloatVector a = FloatVector.fromArray(S, acc, c0 + c);
            for (int m = 0; m < n; m++) a = Vec.ld(src, off[m] + c0 + c).fma(FloatVector.broadcast(S, wt[m]), a);
            a.intoArray(acc, c0 + c);
        }
        for (; c < len; c++) {
            float a = acc[c0 + c];
            for (int m = 0; m < n; m++) a = Math.fma(src.getAtIndex(F, off[m] + c0 + c), wt[m], a);
            acc[c0 + c] = a;
        }
    }
}
