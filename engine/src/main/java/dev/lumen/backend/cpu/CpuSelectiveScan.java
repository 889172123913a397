package dev.lumen.backend.cpu;

import dev.lumen.backend.SelectiveScanKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * CPU implementation of {@link SelectiveScanKernels}.
 *
 * <p>The F32 path vectorizes across channels: a group of G channels (one SIMD vector) of one
 * batch entry is scanned together, all four routes, so each lane is an independent recurrence
 * and every step is a handful of vector ops (the exp of each state's decay dominates). The
 * group's x plane is transposed once to [position][lane], so that the four routes read it by
 * a permuted position index, and the routes accumulate into a [position][lane] plane that is
 * transposed into the output at the end: cross-scan and cross-merge cost one transposition each.
 *
 * <p>The backward recomputes one CHUNK of states at a time from the states the forward saved,
 * then sweeps it in reverse. B and C gradients are sums over channels: each task covers a range
 * of channel groups, adds its lanes in place and reduces them once per chunk into a per-task
 * partial, and the partials of the few tasks are summed at the end.
 *
 * <p>F64 (finite-difference checks) takes {@link CpuSelectiveScanF64}, a plain scalar path.
 */
final class CpuSelectiveScan implements SelectiveScanKernels {
    private static final VectorSpecies<Float> SP = FloatVector.SPECIES_PREFERRED;
    private static final int G = SP.length();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final int K = ROUTES;

    /** The problem's sizes and inputs. */
    private record Problem(int nb, int nd, int h, int w, int len, int n, int groups, int chunks, int[][] pos,
                           MemorySegment x, DType xt, MemorySegment delta, DType dt, MemorySegment b, DType bt,
                           MemorySegment c, DType ct, float[] a, float[] dSkip, float[] bias) {
        static Problem of(Tensor x, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor dSkip, Tensor bias) {
            int nb = x.shape(0), nd = x.shape(1), h = x.shape(2), w = x.shape(3), n = b.shape(2);
            return new Problem(nb, nd, h, w, h * w, n, (nd + G - 1) / G, SelectiveScanKernels.chunks(h * w),
                    positions(h, w), base(x), x.dtype(), base(delta), delta.dtype(), base(b), b.dtype(), base(c), c.dtype(),
                    a.toFloats(), dSkip.toFloats(), bias.toFloats());
        }

        long xRow(int bi, int d) { return (long) (bi * nd + d) * len; }

        long deltaRow(int bi, int k, int d) { return ((long) (bi * K + k) * nd + d) * len; }

        long bcRow(int bi, int k, int j) { return ((long) (bi * K + k) * n + j) * len; }

        long stateAt(int bi, int k, int d, int chunk) { return (((long) (bi * K + k) * nd + d) * chunks + chunk) * n; }
    }

    /** The segment of a contiguous tensor, sliced at its offset so index 0 is its first element. */
    private static MemorySegment base(Tensor t) {
        if (!t.isContiguous()) throw new IllegalArgumentException("selective_scan_2d kernel needs contiguous tensors");
        return t.storage().segment().asSlice(t.offset() * t.dtype().byteSize());
    }

    /** pos[k][l]: the flat position (h*W + w) that route k visits at step l. */
    static int[][] positions(int h, int w) {
        int len = h * w;
        int[][] pos = new int[K][len];
        for (int l = 0; l < len; l++) {
            int col = l / h, row = l % h;
            pos[0][l] = l;
            pos[1][l] = row * w + col;
            pos[2][len - 1 - l] = l;
            pos[3][len - 1 - l] = row * w + col;
        }
        return pos;
    }

    @Override
    public void selectiveScan2dForward(Tensor x, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor dSkip, Tensor deltaBias,
                                       Tensor out, Tensor states) {
        if (out.dtype() == DType.F64) {
            CpuSelectiveScanF64.forward(x, delta, a, b, c, dSkip, deltaBias, out);
            return;
        }
        Problem p = Problem.of(x, delta, a, b, c, dSkip, deltaBias);
        MemorySegment o = base(out), st = states == null ? null : base(states);
        Parallel.forRange((long) p.nb * p.groups, 1, (lo, hi) -> {
            Scratch s = new Scratch(p, 1);
            for (long t = lo; t < hi; t++) forwardGroup(p, (int) (t / p.groups), (int) (t % p.groups), s, o, st);
        });
    }

    /** Per-task buffers, reused across the task's groups, routes and chunks. */
    private static final class Scratch {
        final float[] xT, acc, goT;
        final float[] bT, cT, raw, zT, eT, stepT, sigT, hs, decay, h, gdT, gbAcc, gcAcc, gaC, gdC, gzC;

        Scratch(Problem p, int groupsHeld) {
            int plane = p.len * G, n = p.n;
            xT = new float[groupsHeld * plane];
            acc = new float[groupsHeld * plane];
            goT = new float[groupsHeld * plane];
            bT = new float[CHUNK * n];
            cT = new float[CHUNK * n];
            raw = new float[CHUNK * G];
            zT = new float[CHUNK * G];
            eT = new float[CHUNK * G];
            stepT = new float[CHUNK * G];
            sigT = new float[CHUNK * G];
            hs = new float[(CHUNK + 1) * n * G];
            decay = new float[CHUNK * n * G];
            h = new float[n * G];
            gdT = new float[CHUNK * G];
            gbAcc = new float[CHUNK * n * G];
            gcAcc = new float[CHUNK * n * G];
            gaC = new float[n * G];
            gdC = new float[G];
            gzC = new float[G];
        }
    }

    /** Transposes rows [len] of channels d0.. of one batch entry into plane[pos*G + lane], zero in unused lanes. */
    private static void transposeIn(MemorySegment src, DType t, Problem p, int bi, int d0, int lanes, float[] plane, int at) {
        if (lanes < G) Arrays.fill(plane, at, at + p.len * G, 0f);
        for (int j = 0; j < lanes; j++) FloatRows.read(src, t, p.xRow(bi, d0 + j), p.len, plane, at + j, G);
    }

    private static void transposeOut(float[] plane, int at, Problem p, int bi, int d0, int lanes, MemorySegment dst) {
        for (int j = 0; j < lanes; j++) FloatRows.write(plane, at + j, G, dst, p.xRow(bi, d0 + j), p.len);
    }

    /** Per-lane parameters of route k for channels d0..d0+lanes-1 (zero in unused lanes). */
    private static void laneParams(Problem p, int k, int d0, int lanes, float[] aLanes, float[] dLanes, float[] biasLanes) {
        Arrays.fill(aLanes, 0f);
        Arrays.fill(dLanes, 0f);
        Arrays.fill(biasLanes, 0f);
        for (int j = 0; j < lanes; j++) {
            int kd = k * p.nd + d0 + j;
            for (int s = 0; s < p.n; s++) aLanes[s * G + j] = p.a[kd * p.n + s];
            dLanes[j] = p.dSkip[kd];
            biasLanes[j] = p.bias[kd];
        }
    }

    /** Reads route k's B and C at steps [l0, l0+cl) into [step][state] arrays. */
    private static void readBC(Problem p, int bi, int k, int l0, int cl, float[] bT, float[] cT) {
        for (int s = 0; s < p.n; s++) {
            FloatRows.read(p.b, p.bt, p.bcRow(bi, k, s) + l0, cl, bT, s, p.n);
            FloatRows.read(p.c, p.ct, p.bcRow(bi, k, s) + l0, cl, cT, s, p.n);
        }
    }

    /** Reads delta of route k at steps [l0, l0+cl) transposed to raw[step*G + lane]. */
    private static void readDelta(Problem p, int bi, int k, int d0, int lanes, int l0, int cl, float[] raw) {
        if (lanes < G) Arrays.fill(raw, 0, cl * G, 0f);
        for (int j = 0; j < lanes; j++) FloatRows.read(p.delta, p.dt, p.deltaRow(bi, k, d0 + j) + l0, cl, raw, j, G);
    }

    /**
     * stepT = softplus(zT) with torch's threshold (z above 20 passes through), zT = raw + bias,
     * over a chunk's cl steps of G lanes. In stages that each call one VecMath helper and pass
     * only arrays, as CpuElementwise's rows: softplus inside the recurrence ran log1p out of line
     * and boxed every vector (96 MB per forward of a 96x56x56 map).
     */
    private static void softplusSteps(float[] raw, float[] biasLanes, int cl, Scratch s) {
        int n = cl * G;
        stepInputs(raw, biasLanes, n, s.zT);
        stepExps(s.zT, n, s.eT);
        stepLogsOfPositive(s.eT, n, s.stepT);
        stepLogSpecialCases(s.eT, n, s.stepT);
        stepsFromLogs(s.zT, s.eT, n, s.stepT);
    }

    /** sig = 1 / (1 + e^-z), softplus's derivative, over n lanes. */
    private static void stepSigmoids(float[] z, int n, float[] sig) {
        FloatVector one = FloatVector.broadcast(SP, 1f);
        for (int i = 0; i < n; i += G) one.div(one.add(VecMath.exp(FloatVector.fromArray(SP, z, i).neg()))).intoArray(sig, i);
    }

    /**
     * The chunk's states and decays: hs[((i + 1)*n + q)*G + lane] after step i from the first
     * state in hs[q*G + lane] (one array, so that no loop picks its previous state from two), the
     * steps in s.stepT, x at xT[planeAt + pos[l0 + i]*G] and B in s.bT.
     */
    private static void recomputeStates(Scratch s, int n, int cl, float[] xT, int planeAt, int[] pos, int l0, float[] aLanes) {
        float[] hs = s.hs, bT = s.bT, decayS = s.decay;
        for (int i = 0; i < cl; i++) {
            FloatVector step = FloatVector.fromArray(SP, s.stepT, i * G);
            FloatVector du = step.mul(FloatVector.fromArray(SP, xT, planeAt + pos[l0 + i] * G));
            for (int q = 0; q < n; q++) {
                int at = (i * n + q) * G;
                FloatVector decay = VecMath.exp(step.mul(FloatVector.fromArray(SP, aLanes, q * G)));
                decay.fma(FloatVector.fromArray(SP, hs, at), du.mul(bT[i * n + q])).intoArray(hs, at + n * G);
                decay.intoArray(decayS, at);
            }
        }
    }

    private static void stepInputs(float[] raw, float[] biasLanes, int n, float[] z) {
        FloatVector bias = FloatVector.fromArray(SP, biasLanes, 0);
        for (int i = 0; i < n; i += G) FloatVector.fromArray(SP, raw, i).add(bias).intoArray(z, i);
    }

    private static void stepExps(float[] z, int n, float[] e) {
        for (int i = 0; i < n; i += G) VecMath.exp(FloatVector.fromArray(SP, z, i)).intoArray(e, i);
    }

    private static void stepLogsOfPositive(float[] e, int n, float[] lw) {
        for (int i = 0; i < n; i += G) VecMath.logOfPositive(FloatVector.fromArray(SP, e, i).add(1f)).intoArray(lw, i);
    }

    private static void stepLogSpecialCases(float[] e, int n, float[] lw) {
        for (int i = 0; i < n; i += G) VecMath.logSpecialCases(FloatVector.fromArray(SP, e, i).add(1f), FloatVector.fromArray(SP, lw, i)).intoArray(lw, i);
    }

    private static void stepsFromLogs(float[] z, float[] e, int n, float[] step) {
        for (int i = 0; i < n; i += G) {
            FloatVector zv = FloatVector.fromArray(SP, z, i);
            FloatVector sp = VecMath.log1pFromLog(FloatVector.fromArray(SP, e, i), FloatVector.fromArray(SP, step, i));
            sp.blend(zv, zv.compare(VectorOperators.GT, 20f)).intoArray(step, i);
        }
    }

    private static void forwardGroup(Problem p, int bi, int g, Scratch s, MemorySegment out, MemorySegment states) {
        int n = p.n, d0 = g * G, lanes = Math.min(G, p.nd - d0);
        float[] xT = s.xT, acc = s.acc, h = s.h, bT = s.bT, cT = s.cT, raw = s.raw;
        float[] aLanes = new float[n * G], dLanes = new float[G], biasLanes = new float[G];
        transposeIn(p.x, p.xt, p, bi, d0, lanes, xT, 0);
        Arrays.fill(acc, 0, p.len * G, 0f);
        for (int k = 0; k < K; k++) {
            laneParams(p, k, d0, lanes, aLanes, dLanes, biasLanes);
            FloatVector dv = FloatVector.fromArray(SP, dLanes, 0);
            int[] pos = p.pos[k];
            Arrays.fill(h, 0f);
            for (int ch = 0; ch < p.chunks; ch++) {
                int l0 = ch * CHUNK, cl = Math.min(CHUNK, p.len - l0);
                if (states != null) {
                    for (int j = 0; j < lanes; j++) {
                        long at = p.stateAt(bi, k, d0 + j, ch);
                        for (int q = 0; q < n; q++) states.setAtIndex(F, at + q, h[q * G + j]);
                    }
                }
                readBC(p, bi, k, l0, cl, bT, cT);
                readDelta(p, bi, k, d0, lanes, l0, cl, raw);
                softplusSteps(raw, biasLanes, cl, s);
                for (int i = 0; i < cl; i++) {
                    int at = pos[l0 + i] * G;
                    FloatVector step = FloatVector.fromArray(SP, s.stepT, i * G);
                    FloatVector u = FloatVector.fromArray(SP, xT, at);
                    FloatVector du = step.mul(u);
                    FloatVector y = u.mul(dv);
                    for (int q = 0; q < n; q++) {
                        FloatVector decay = VecMath.exp(step.mul(FloatVector.fromArray(SP, aLanes, q * G)));
                        FloatVector hv = decay.fma(FloatVector.fromArray(SP, h, q * G), du.mul(bT[i * n + q]));
                        hv.intoArray(h, q * G);
                        y = hv.fma(FloatVector.broadcast(SP, cT[i * n + q]), y);
                    }
                    FloatVector.fromArray(SP, acc, at).add(y).intoArray(acc, at);
                }
            }
        }
        transposeOut(acc, 0, p, bi, d0, lanes, out);
    }

    @Override
    public void selectiveScan2dBackward(Tensor x, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor dSkip, Tensor deltaBias,
                                        Tensor states, Tensor gradOut, Tensor gradX, Tensor gradDelta, Tensor gradA,
                                        Tensor gradB, Tensor gradC, Tensor gradDSkip, Tensor gradDeltaBias) {
        if (gradOut.dtype() == DType.F64) {
            CpuSelectiveScanF64.backward(x, delta, a, b, c, dSkip, deltaBias, gradOut, gradX, gradDelta, gradA, gradB, gradC,
                    gradDSkip, gradDeltaBias);
            return;
        }
        if (states == null) throw new IllegalArgumentException("selective_scan_2d backward needs the states saved by the forward");
        Problem p = Problem.of(x, delta, a, b, c, dSkip, deltaBias);
        MemorySegment st = base(states), go = base(gradOut);
        if (gradOut.dtype() != DType.F32) throw new IllegalArgumentException("selective_scan_2d backward: gradOut must be F32");
        // Split each batch entry's channel groups over enough tasks to keep every thread busy.
        int splits = Math.min(p.groups, Math.max(1, (2 * Parallel.threads() + p.nb - 1) / p.nb));
        int kdn = K * p.nd * p.n, kd = K * p.nd, bcLen = K * p.n * p.len;
        float[][] gbPart = new float[p.nb * splits][], gcPart = new float[p.nb * splits][];
        double[] gaB = new double[p.nb * kdn], gdB = new double[p.nb * kd], gzB = new double[p.nb * kd];
        MemorySegment gx = gradX == null ? null : base(gradX), gDelta = gradDelta == null ? null : base(gradDelta);
        Parallel.forRange((long) p.nb * splits, 1, (lo, hi) -> {
            for (long t = lo; t < hi; t++) {
                int bi = (int) (t / splits), sp = (int) (t % splits);
                int g0 = (int) ((long) p.groups * sp / splits), g1 = (int) ((long) p.groups * (sp + 1) / splits);
                float[] gb = new float[bcLen], gc = new float[bcLen];
                backwardTask(p, bi, g0, g1, st, go, gx, gDelta, gb, gc, gaB, gdB, gzB);
                gbPart[(int) t] = gb;
                gcPart[(int) t] = gc;
            }
        });
        if (gradB != null) sumParts(gbPart, p.nb, splits, bcLen, base(gradB));
        if (gradC != null) sumParts(gcPart, p.nb, splits, bcLen, base(gradC));
        if (gradA != null) sumBatch(gaB, p.nb, kdn, base(gradA));
        if (gradDSkip != null) sumBatch(gdB, p.nb, kd, base(gradDSkip));
        if (gradDeltaBias != null) sumBatch(gzB, p.nb, kd, base(gradDeltaBias));
    }

    /** out[bi] = sum over the splits of parts[bi*splits + s]. */
    private static void sumParts(float[][] parts, int nb, int splits, int size, MemorySegment out) {
        Parallel.forRange(nb, 1, (lo, hi) -> {
            for (int bi = (int) lo; bi < hi; bi++) {
                float[] sum = parts[bi * splits].clone();
                for (int s = 1; s < splits; s++) {
                    float[] part = parts[bi * splits + s];
                    for (int i = 0; i < size; i++) sum[i] += part[i];
                }
                MemorySegment.copy(sum, 0, out, F, (long) bi * size * 4, size);
            }
        });
    }

    /** out[i] = sum over the batch of perBatch[bi*size + i]. */
    private static void sumBatch(double[] perBatch, int nb, int size, MemorySegment out) {
        for (int i = 0; i < size; i++) {
            double acc = 0;
            for (int bi = 0; bi < nb; bi++) acc += perBatch[bi * size + i];
            out.setAtIndex(F, i, (float) acc);
        }
    }

    /**
     * The backward of channel groups [g0, g1) of batch entry bi, all routes. Writes the rows of
     * gx and gDelta it owns, adds B and C gradients into gb and gc (this task's partials) and
     * A, D and bias gradients into this batch entry's slots of gaB, gdB and gzB.
     */
    private static void backwardTask(Problem p, int bi, int g0, int g1, MemorySegment states, MemorySegment go,
                                     MemorySegment gx, MemorySegment gDelta, float[] gb, float[] gc,
                                     double[] gaB, double[] gdB, double[] gzB) {
        int n = p.n, ng = g1 - g0, plane = p.len * G;
        Scratch s = new Scratch(p, ng);
        float[] xT = s.xT, goT = s.goT, gxT = s.acc;
        float[][] aLanes = new float[ng * K][n * G], dLanes = new float[ng * K][G], biasLanes = new float[ng * K][G];
        float[][] ghCarry = new float[ng][n * G];
        double[] gaSum = new double[ng * K * n * G], gdSum = new double[ng * K * G], gzSum = new double[ng * K * G];
        for (int gl = 0; gl < ng; gl++) {
            int d0 = (g0 + gl) * G, lanes = Math.min(G, p.nd - d0);
            transposeIn(p.x, p.xt, p, bi, d0, lanes, xT, gl * plane);
            transposeIn(go, DType.F32, p, bi, d0, lanes, goT, gl * plane);
            for (int k = 0; k < K; k++) laneParams(p, k, d0, lanes, aLanes[gl * K + k], dLanes[gl * K + k], biasLanes[gl * K + k]);
        }
        Arrays.fill(gxT, 0, ng * plane, 0f);
        for (int k = 0; k < K; k++) {
            for (float[] gh : ghCarry) Arrays.fill(gh, 0f);
            for (int ch = p.chunks - 1; ch >= 0; ch--) {
                int l0 = ch * CHUNK, cl = Math.min(CHUNK, p.len - l0);
                readBC(p, bi, k, l0, cl, s.bT, s.cT);
                Arrays.fill(s.gbAcc, 0, cl * n * G, 0f);
                Arrays.fill(s.gcAcc, 0, cl * n * G, 0f);
                for (int gl = 0; gl < ng; gl++) {
                    int d0 = (g0 + gl) * G, lanes = Math.min(G, p.nd - d0);
                    int pk = gl * K + k;
                    backwardChunk(p, s, bi, k, d0, lanes, ch, l0, cl, gl * plane, aLanes[pk], dLanes[pk], biasLanes[pk],
                            ghCarry[gl], states, xT, goT, gxT);
                    if (gDelta != null) {
                        for (int j = 0; j < lanes; j++) FloatRows.write(s.gdT, j, G, gDelta, p.deltaRow(bi, k, d0 + j) + l0, cl);
                    }
                    for (int i = 0; i < n * G; i++) gaSum[pk * n * G + i] += s.gaC[i];
                    for (int j = 0; j < G; j++) {
                        gdSum[pk * G + j] += s.gdC[j];
                        gzSum[pk * G + j] += s.gzC[j];
                    }
                }
                // The lanes of B's and C's gradients are channels: sum them once per chunk.
                for (int i = 0; i < cl; i++) {
                    for (int q = 0; q < n; q++) {
                        int at = (i * n + q) * G;
                        gb[(k * n + q) * p.len + l0 + i] += Vec.sum(FloatVector.fromArray(SP, s.gbAcc, at));
                        gc[(k * n + q) * p.len + l0 + i] += Vec.sum(FloatVector.fromArray(SP, s.gcAcc, at));
                    }
                }
            }
        }
        for (int gl = 0; gl < ng; gl++) {
            int d0 = (g0 + gl) * G, lanes = Math.min(G, p.nd - d0);
            if (gx != null) transposeOut(gxT, gl * plane, p, bi, d0, lanes, gx);
            for (int k = 0; k < K; k++) {
                int pk = gl * K + k;
                for (int j = 0; j < lanes; j++) {
                    int kd = k * p.nd + d0 + j;
                    for (int q = 0; q < n; q++) gaB[(bi * K * p.nd + kd) * n + q] = gaSum[(pk * n + q) * G + j];
                    gdB[bi * K * p.nd + kd] = gdSum[pk * G + j];
                    gzB[bi * K * p.nd + kd] = gzSum[pk * G + j];
                }
            }
        }
    }

    /**
     * One chunk of one channel group and route, in reverse: recomputes the chunk's states from
     * the saved one, then carries dL/d(state) backwards. Leaves the chunk's delta gradient in
     * s.gdT and its A, D and bias gradient sums in s.gaC, s.gdC, s.gzC.
     */
    private static void backwardChunk(Problem p, Scratch s, int bi, int k, int d0, int lanes, int ch, int l0, int cl,
                                      int planeAt, float[] aLanes, float[] dLanes, float[] biasLanes, float[] gh,
                                      MemorySegment states, float[] xT, float[] goT, float[] gxT) {
        int n = p.n;
        int[] pos = p.pos[k];
        float[] bT = s.bT, cT = s.cT, hs = s.hs, decayS = s.decay, stepT = s.stepT, sigT = s.sigT;
        readDelta(p, bi, k, d0, lanes, l0, cl, s.raw);
        Arrays.fill(hs, 0, n * G, 0f);
        for (int j = 0; j < lanes; j++) {
            long at = p.stateAt(bi, k, d0 + j, ch);
            for (int q = 0; q < n; q++) hs[q * G + j] = states.getAtIndex(F, at + q);
        }
        FloatVector dv = FloatVector.fromArray(SP, dLanes, 0);
        // Recompute: step, dsoftplus, and every state and decay of the chunk, each in a method of
        // its own: inline here, this method outgrew C2's inlining budget and the decay's exp ran
        // out of line with boxed vectors (270 MB per forward and backward of a 96x56x56 map).
        softplusSteps(s.raw, biasLanes, cl, s);
        stepSigmoids(s.zT, cl * G, sigT);
        recomputeStates(s, n, cl, xT, planeAt, pos, l0, aLanes);
        Arrays.fill(s.gaC, 0f);
        FloatVector gdAcc = FloatVector.zero(SP), gzAcc = FloatVector.zero(SP);
        for (int i = cl - 1; i >= 0; i--) {
            int at = planeAt + pos[l0 + i] * G;
            FloatVector u = FloatVector.fromArray(SP, xT, at), gy = FloatVector.fromArray(SP, goT, at);
            FloatVector step = FloatVector.fromArray(SP, stepT, i * G);
            FloatVector du = step.mul(u);
            FloatVector sumGB = FloatVector.zero(SP), sumWA = FloatVector.zero(SP);
            for (int q = 0; q < n; q++) {
                int sq = (i * n + q) * G;
                FloatVector g = gy.fma(FloatVector.broadcast(SP, cT[i * n + q]), FloatVector.fromArray(SP, gh, q * G));
                FloatVector.fromArray(SP, s.gcAcc, sq).add(gy.mul(FloatVector.fromArray(SP, hs, sq + n * G))).intoArray(s.gcAcc, sq);
                FloatVector.fromArray(SP, s.gbAcc, sq).add(g.mul(du)).intoArray(s.gbAcc, sq);
                float bq = bT[i * n + q];
                sumGB = g.fma(FloatVector.broadcast(SP, bq), sumGB);
                FloatVector decay = FloatVector.fromArray(SP, decayS, sq);
                FloatVector prev = FloatVector.fromArray(SP, hs, sq);
                FloatVector wv = g.mul(decay).mul(prev); // dL/d(decay) * decay
                sumWA = wv.fma(FloatVector.fromArray(SP, aLanes, q * G), sumWA);
                FloatVector.fromArray(SP, s.gaC, q * G).add(wv.mul(step)).intoArray(s.gaC, q * G);
                g.mul(decay).intoArray(gh, q * G);
            }
            FloatVector gu = gy.fma(dv, step.mul(sumGB));
            FloatVector gstep = u.fma(sumGB, sumWA);
            FloatVector gz = gstep.mul(FloatVector.fromArray(SP, sigT, i * G));
            gz.intoArray(s.gdT, i * G);
            gzAcc = gzAcc.add(gz);
            gdAcc = gy.fma(u, gdAcc);
            FloatVector.fromArray(SP, gxT, at).add(gu).intoArray(gxT, at);
        }
        gdAcc.intoArray(s.gdC, 0);
        gzAcc.intoArray(s.gzC, 0);
    }
}
