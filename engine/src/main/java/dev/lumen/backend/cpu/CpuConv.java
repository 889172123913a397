package dev.lumen.backend.cpu;

import dev.lumen.backend.ConvKernels;
import dev.lumen.memory.Storage;
import dev.lumen.tensor.ChannelsLast;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * CPU implementation of {@link ConvKernels}. A general convolution is, per group, a GEMM of
 * the weights [O/g, C/g*kh*kw] with im2col columns. Small maps put several images side by
 * side in one GEMM (N = images * OH*OW of about {@link #TARGET_N}), so that Fashion-MNIST-sized
 * layers still make GEMMs wide enough to use every thread; large maps go one image at a time,
 * their columns built a band of output rows at a time under {@link #COLUMN_BUDGET} elements.
 * A 1x1 convolution with stride 1 and no padding uses the images themselves as the GEMM
 * operand. Depth-wise F32 convolutions use {@link DepthwiseConv}; other F32 convolutions go
 * to oneDNN ({@link OneDnnConv}) when it is loaded and switched on, this code being the
 * fallback and the reference its tests compare with.
 */
final class CpuConv implements ConvKernels {
    /** Elements of im2col columns held at once (16 MB in F32). */
    static final long COLUMN_BUDGET = 4L << 20;
    /** GEMM width (images * output positions) worth batching small images up to. */
    static final int TARGET_N = 2048;
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;

    /** Sizes of one convolution, from its tensors. */
    private record Dims(int n, int c, int h, int w, int o, int oh, int ow, int groups, Window win) {
        int cg() { return c / groups; }
        int og() { return o / groups; }
        int k() { return cg() * win.area(); }
        int l() { return oh * ow; }
        long inImage() { return (long) c * h * w; }
        long outImage() { return (long) o * l(); }
        long colRows() { return (long) c * win.area(); }
        boolean pointwise() { return win.kh() == 1 && win.kw() == 1 && win.sh() == 1 && win.sw() == 1 && win.ph() == 0 && win.pw() == 0; }
        boolean depthwise(DType t) { return t == DType.F32 && groups == c && o == c; }
        /** Images per GEMM: 1 for large maps, else enough for a GEMM about TARGET_N wide whose columns fit the budget. */
        int images() {
            if (l() >= TARGET_N / 2) return 1;
            long byWidth = (TARGET_N + l() - 1) / l();
            long byBudget = COLUMN_BUDGET / Math.max(1L, (colRows() + o) * l());
            return (int) Math.max(1, Math.min(n, Math.min(byWidth, byBudget)));
        }
        /** Output rows per im2col band when images go one at a time. */
        int band() { return (int) Math.max(1, Math.min(oh, COLUMN_BUDGET / Math.max(1L, colRows() * ow))); }
    }

    private static Dims dims(Tensor x, int o, int oh, int ow, int groups, Window win) {
        int[] s = x.shape();
        return new Dims(s[0], s[1], s[2], s[3], o, oh, ow, groups, win);
    }

    private static MemorySegment seg(Tensor t) { return t.storage().segment(); }

    /**
     * oneDNN's convolutions for this one, or null for the Java path: F64, depth-wise (the
     * direct kernel of {@link DepthwiseConv} measured faster), empty tensors, and calls from
     * inside a parallel region (oneDNN's OpenMP threads would run beside the pool's).
     */
    private static OneDnnConv oneDnn(Dims d, DType t) {
        if (t != DType.F32 || d.depthwise(t) || Parallel.inRegion() || d.n() == 0 || d.c() == 0 || d.o() == 0 || d.l() == 0) return null;
        return OneDnnConv.active();
    }

    private static OneDnnConv.Shape shape(Dims d) {
        return new OneDnnConv.Shape(d.n(), d.c(), d.h(), d.w(), d.o(), d.oh(), d.ow(), d.groups(), d.win());
    }

    /** The tensor's bytes from its first element. */
    private static MemorySegment at(Tensor t) { return seg(t).asSlice(t.offset() * t.dtype().byteSize()); }

    private static void gemm(boolean f32, boolean ta, boolean tb, int m, int n, int k, MemorySegment a, long oa, int lda,
                             MemorySegment b, long ob, int ldb, boolean accumulate, MemorySegment c, long oc, int ldc) {
        Gemm g = Gemm.active();
        if (f32) g.sgemm(ta, tb, m, n, k, 1f, a, oa, Math.max(lda, 1), b, ob, Math.max(ldb, 1), accumulate ? 1f : 0f, c, oc, Math.max(ldc, 1));
        else g.dgemm(ta, tb, m, n, k, 1.0, a, oa, Math.max(lda, 1), b, ob, Math.max(ldb, 1), accumulate ? 1.0 : 0.0, c, oc, Math.max(ldc, 1));
    }

    /** rows x len block copy between leading dimensions (element offsets). */
    private static void copyBlock(int es, MemorySegment src, long so, long sld, MemorySegment dst, long dOff, long dld, int rows, int len) {
        for (int r = 0; r < rows; r++) ConvColumns.copyRun(es, src, so + r * sld, dst, dOff + r * dld, len);
    }

    /**
     * Lays images [i0, i0+nb) of t ([N, rows, l] per image) side by side as a [rows, nb*l]
     * matrix at dst (the layout a batched GEMM reads or writes); toImages reverses it.
     */
    private static void sideBySide(int es, Tensor t, int i0, int nb, int rows, int l, MemorySegment dst, boolean toImages) {
        long image = (long) rows * l, wide = (long) nb * l;
        Parallel.forRange(nb, 1, (lo, hi) -> {
            for (long b = lo; b < hi; b++) {
                long at = t.offset() + (i0 + b) * image;
                if (toImages) copyBlock(es, dst, b * l, wide, seg(t), at, l, rows, l);
                else copyBlock(es, seg(t), at, l, dst, b * l, wide, rows, l);
            }
        });
    }

    /** Body over images [i0, i0 + cnt), with scratch of its own for columns and GEMM output. */
    private interface ImageGroup {
        void run(int i0, int cnt, MemorySegment cols, MemorySegment tmp);
    }

    /**
     * Runs body over groups of nb images on the pool's threads, each thread with its own
     * scratch. A small-map convolution is a chain of small steps per group (im2col, GEMM, copy
     * back); split by group, each thread runs whole chains instead of waiting at every step.
     */
    private static void forImageGroups(int n, int nb, long colsElems, long tmpElems, int es, ImageGroup body) {
        Parallel.forRange((n + nb - 1) / nb, 1, (lo, hi) -> {
            Storage colsS = scratch(colsElems, es), tmpS = scratch(tmpElems, es);
            try {
                for (long gi = lo; gi < hi; gi++) {
                    int i0 = (int) gi * nb;
                    body.run(i0, Math.min(nb, n - i0), colsS.segment(), tmpS.segment());
                }
            } finally {
                colsS.release();
                tmpS.release();
            }
        });
    }

    /** Builds the [C*kh*kw, nb*L] columns of images [i0, i0+nb) (nb > 1: whole images). */
    private static void columns(int es, Tensor x, Dims d, int i0, int nb, MemorySegment cols) {
        if (d.pointwise()) {
            sideBySide(es, x, i0, nb, d.c(), d.l(), cols, false);
            return;
        }
        long wide = (long) nb * d.l();
        for (int b = 0; b < nb; b++) {
            ConvColumns.im2col(es, seg(x), x.offset() + (i0 + b) * d.inImage(), d.c(), d.h(), d.w(), d.win(), d.ow(), 0, d.oh(),
                    cols, (long) b * d.l(), (int) wide);
        }
    }

    /** Scratch memory, released by the caller. */
    private static Storage scratch(long elems, int es) { return Storage.host(Math.max(1, elems) * es); }

    @Override
    public void im2col(Tensor x, Window w, Tensor cols) {
        int[] s = x.shape();
        int oh = w.outH(s[2]), ow = w.outW(s[3]);
        int es = x.dtype().byteSize();
        long rows = (long) s[1] * w.area(), l = (long) oh * ow;
        for (int i = 0; i < s[0]; i++) {
            ConvColumns.im2col(es, seg(x), x.offset() + (long) i * s[1] * s[2] * s[3], s[1], s[2], s[3], w, ow, 0, oh,
                    seg(cols), cols.offset() + i * rows * l, (int) l);
        }
    }

    @Override
    public void col2im(Tensor cols, Window w, Tensor x) {
        int[] s = x.shape();
        int oh = w.outH(s[2]), ow = w.outW(s[3]);
        long rows = (long) s[1] * w.area(), l = (long) oh * ow;
        x.backend().fill(x, 0);
        for (int i = 0; i < s[0]; i++) {
            ConvColumns.col2im(x.dtype() == DType.F32, seg(cols), cols.offset() + i * rows * l, (int) l, s[1], s[2], s[3], w, ow, 0, oh,
                    seg(x), x.offset() + (long) i * s[1] * s[2] * s[3]);
        }
    }

    @Override
    public void conv2d(Tensor x, Tensor weight, Tensor bias, Window win, int groups, Tensor out) {
        int[] os = out.shape();
        Dims d = dims(x, os[1], os[2], os[3], groups, win);
        boolean f32 = x.dtype() == DType.F32;
        if (d.depthwise(x.dtype())) {
            DepthwiseConv.forward(seg(x), x.offset(), seg(weight), weight.offset(), bias == null ? null : seg(bias), bias == null ? 0 : bias.offset(),
                    d.n(), d.c(), d.h(), d.w(), win, d.oh(), d.ow(), seg(out), out.offset());
            return;
        }
        OneDnnConv dnn = oneDnn(d, x.dtype());
        if (dnn != null) {
            dnn.forward(shape(d), at(x), at(weight), bias == null ? null : at(bias), at(out));
            return;
        }
        int es = x.dtype().byteSize();
        int l = d.l(), k = d.k(), og = d.og(), nb = d.images();
        MemorySegment xs = seg(x), ws = seg(weight), o = seg(out);
        boolean acc = bias != null;
        if (nb > 1) {
            forImageGroups(d.n(), nb, d.colRows() * nb * l, (long) d.o() * nb * l, es, (i0, cnt, cols, tmp) -> {
                int w = cnt * l;
                columns(es, x, d, i0, cnt, cols);
                if (acc) fillRows(f32, tmp, 0, d.o(), w, seg(bias), bias.offset());
                for (int g = 0; g < groups; g++) {
                    gemm(f32, false, false, og, w, k, ws, weight.offset() + (long) g * og * k, k, cols, (long) g * k * w, w,
                            acc, tmp, (long) g * og * w, w);
                }
                sideBySide(es, out, i0, cnt, d.o(), l, tmp, true);
            });
            return;
        }
        int band = d.band();
        Storage colsS = d.pointwise() ? null : scratch(d.colRows() * band * d.ow(), es);
        try {
            for (int i = 0; i < d.n(); i++) {
                long xo = x.offset() + i * d.inImage(), oo = out.offset() + i * d.outImage();
                if (acc) fillRows(f32, o, oo, d.o(), l, seg(bias), bias.offset());
                if (d.pointwise()) {
                    for (int g = 0; g < groups; g++) {
                        gemm(f32, false, false, og, l, k, ws, weight.offset() + (long) g * og * k, k, xs, xo + (long) g * k * l, l,
                                acc, o, oo + (long) g * og * l, l);
                    }
                    continue;
                }
                MemorySegment cols = colsS.segment();
                for (int r0 = 0; r0 < d.oh(); r0 += band) {
                    int r1 = Math.min(d.oh(), r0 + band), bl = (r1 - r0) * d.ow();
                    ConvColumns.im2col(es, xs, xo, d.c(), d.h(), d.w(), win, d.ow(), r0, r1, cols, 0, bl);
                    for (int g = 0; g < groups; g++) {
                        gemm(f32, false, false, og, bl, k, ws, weight.offset() + (long) g * og * k, k, cols, (long) g * k * bl, bl,
                                acc, o, oo + (long) g * og * l + (long) r0 * d.ow(), l);
                    }
                }
            }
        } finally {
            if (colsS != null) colsS.release();
        }
    }

    /** Row r of the [rows, len] block at off = value[r]. */
    private static void fillRows(boolean f32, MemorySegment o, long off, int rows, int len, MemorySegment v, long vOff) {
        for (int r = 0; r < rows; r++) {
            long at = off + (long) r * len;
            if (f32) {
                float b = v.getAtIndex(ValueLayout.JAVA_FLOAT, vOff + r);
                FloatVector bv = FloatVector.broadcast(FS, b);
                int q = 0;
                for (; q + FS.length() <= len; q += FS.length()) bv.intoMemorySegment(o, (at + q) * 4, ByteOrder.nativeOrder());
                for (; q < len; q++) o.setAtIndex(ValueLayout.JAVA_FLOAT, at + q, b);
            } else {
                double b = v.getAtIndex(ValueLayout.JAVA_DOUBLE, vOff + r);
                for (int q = 0; q < len; q++) o.setAtIndex(ValueLayout.JAVA_DOUBLE, at + q, b);
            }
        }
    }

    /** On oneDNN only: F32, not depth-wise, outside a parallel region, with oneDNN switched on. */
    @Override
    public boolean hasConv2dInference(Tensor x, Tensor weight, int groups) {
        int[] ws = weight.shape();
        Dims d = new Dims(x.shape(0), x.shape(1), x.shape(2), x.shape(3), ws[0], 1, 1, groups,
                new Window(ws[2], ws[3], 1, 1, 0, 0, 1, 1));
        return weight.dtype() == DType.F32 && oneDnn(d, x.dtype()) != null;
    }

    /** oneDNN's inference convolutions compute in NHWC (brgconv) and take it as their own layout. */
    @Override
    public boolean channelsLastInference() { return true; }

    @Override
    public void conv2dInference(Tensor x, Tensor weight, Tensor bias, Window win, int groups, boolean relu, Tensor out) {
        int[] os = out.shape();
        Dims d = dims(x, os[1], os[2], os[3], groups, win);
        OneDnnConv dnn = oneDnn(d, x.dtype());
        if (dnn == null || weight.dtype() != DType.F32 || bias.dtype() != DType.F32) {
            throw new IllegalStateException("conv2dInference " + shape(d) + " " + x.dtype() + ": needs oneDNN and F32 (hasConv2dInference is false)");
        }
        dnn.forwardInference(shape(d), at(x), ChannelsLast.is(x), at(weight), at(bias), relu, at(out), ChannelsLast.is(out));
    }

    @Override
    public void conv2dBackwardInput(Tensor gradOut, Tensor weight, Window win, int groups, Tensor gradIn) {
        int[] gs = gradOut.shape();
        Dims d = dims(gradIn, gs[1], gs[2], gs[3], groups, win);
        boolean f32 = gradIn.dtype() == DType.F32;
        if (d.depthwise(gradIn.dtype())) {
            DepthwiseConv.backwardInput(seg(gradOut), gradOut.offset(), seg(weight), weight.offset(), d.n(), d.c(), d.h(), d.w(), win,
                    d.oh(), d.ow(), seg(gradIn), gradIn.offset());
            return;
        }
        OneDnnConv dnn = oneDnn(d, gradIn.dtype());
        if (dnn != null) {
            dnn.backwardData(shape(d), at(gradOut), at(weight), at(gradIn));
            return;
        }
        int es = gradIn.dtype().byteSize();
        int l = d.l(), k = d.k(), og = d.og(), nb = d.images();
        MemorySegment gx = seg(gradIn), ws = seg(weight), go = seg(gradOut);
        if (nb > 1) {
            forImageGroups(d.n(), nb, d.colRows() * nb * l, (long) d.o() * nb * l, es, (i0, cnt, cols, tmp) -> {
                int w = cnt * l;
                sideBySide(es, gradOut, i0, cnt, d.o(), l, tmp, false);
                for (int g = 0; g < groups; g++) {
                    gemm(f32, true, false, k, w, og, ws, weight.offset() + (long) g * og * k, k, tmp, (long) g * og * w, w,
                            false, cols, (long) g * k * w, w);
                }
                if (d.pointwise()) {
                    sideBySide(es, gradIn, i0, cnt, d.c(), l, cols, true);
                    return;
                }
                for (int b = 0; b < cnt; b++) {
                    long xo = gradIn.offset() + (i0 + b) * d.inImage();
                    ConvColumns.zero(gx, xo, d.inImage(), es);
                    ConvColumns.col2im(f32, cols, (long) b * l, w, d.c(), d.h(), d.w(), win, d.ow(), 0, d.oh(), gx, xo);
                }
            });
            return;
        }
        int band = d.band();
        Storage colsS = d.pointwise() ? null : scratch(d.colRows() * band * d.ow(), es);
        try {
            for (int i = 0; i < d.n(); i++) {
                long xo = gradIn.offset() + i * d.inImage(), oo = gradOut.offset() + i * d.outImage();
                if (d.pointwise()) {
                    for (int g = 0; g < groups; g++) {
                        gemm(f32, true, false, k, l, og, ws, weight.offset() + (long) g * og * k, k, go, oo + (long) g * og * l, l,
                                false, gx, xo + (long) g * k * l, l);
                    }
                    continue;
                }
                MemorySegment cols = colsS.segment();
                ConvColumns.zero(gx, xo, d.inImage(), es);
                for (int r0 = 0; r0 < d.oh(); r0 += band) {
                    int r1 = Math.min(d.oh(), r0 + band), bl = (r1 - r0) * d.ow();
                    for (int g = 0; g < groups; g++) {
                        gemm(f32, true, false, k, bl, og, ws, weight.offset() + (long) g * og * k, k, go, oo + (long) g * og * l + (long) r0 * d.ow(), l,
                                false, cols, (long) g * k * bl, bl);
                    }
                    ConvColumns.col2im(f32, cols, 0, bl, d.c(), d.h(), d.w(), win, d.ow(), r0, r1, gx, xo);
                }
            }
        } finally {
            if (colsS != null) colsS.release();
        }
    }

    /** On oneDNN, both passes in one call, so that a blocked gradOut is reordered once for the two. */
    @Override
    public void conv2dBackward(Tensor gradOut, Tensor x, Tensor weight, Window win, int groups, Tensor gradIn, Tensor gradWeight) {
        int[] gs = gradOut.shape();
        Dims d = dims(x, gs[1], gs[2], gs[3], groups, win);
        OneDnnConv dnn = gradIn == null || gradWeight == null || d.depthwise(x.dtype()) ? null : oneDnn(d, x.dtype());
        if (dnn == null) {
            ConvKernels.super.conv2dBackward(gradOut, x, weight, win, groups, gradIn, gradWeight);
            return;
        }
        dnn.backward(shape(d), at(gradOut), at(weight), at(x), at(gradIn), at(gradWeight));
    }

    @Override
    public void conv2dBackwardWeight(Tensor gradOut, Tensor x, Window win, int groups, Tensor gradWeight) {
        int[] gs = gradOut.shape();
        Dims d = dims(x, gs[1], gs[2], gs[3], groups, win);
        boolean f32 = x.dtype() == DType.F32;
        if (d.depthwise(x.dtype())) {
            DepthwiseConv.backwardWeight(seg(gradOut), gradOut.offset(), seg(x), x.offset(), d.n(), d.c(), d.h(), d.w(), win,
                    d.oh(), d.ow(), seg(gradWeight), gradWeight.offset());
            return;
        }
        OneDnnConv dnn = oneDnn(d, x.dtype());
        if (dnn != null) {
            dnn.backwardWeights(shape(d), at(gradOut), at(x), at(gradWeight));
            return;
        }
        int es = x.dtype().byteSize();
        int l = d.l(), k = d.k(), og = d.og(), nb = d.images();
        MemorySegment xs = seg(x), go = seg(gradOut), gw = seg(gradWeight);
        long gwOff = gradWeight.offset();
        // Images are summed into the weight gradient: the first GEMM overwrites, later ones add.
        boolean first = true;
        if (nb > 1 && d.n() > 0) {
            // Part p sums its image groups into its own buffer (part 0 into gradWeight itself), and the
            // parts are added in order: the result depends on the thread count, not on timing.
            int numGroups = (d.n() + nb - 1) / nb, parts = Math.min(Parallel.threads(), numGroups);
            long size = (long) d.o() * k;
            Storage partialS = parts > 1 ? scratch(size * (parts - 1), es) : null;
            try {
                MemorySegment partial = partialS == null ? null : partialS.segment();
                Parallel.forRange(parts, 1, (lo, hi) -> {
                    Storage colsS = scratch(d.colRows() * nb * l, es), tmpS = scratch((long) d.o() * nb * l, es);
                    try {
                        MemorySegment cols = colsS.segment(), tmp = tmpS.segment();
                        for (long p = lo; p < hi; p++) {
                            MemorySegment dst = p == 0 ? gw : partial;
                            long dstOff = p == 0 ? gwOff : (p - 1) * size;
                            for (int gi = (int) (p * numGroups / parts), end = (int) ((p + 1) * numGroups / parts); gi < end; gi++) {
                                int i0 = gi * nb, cnt = Math.min(nb, d.n() - i0), w = cnt * l;
                                boolean firstOfPart = gi == (int) (p * numGroups / parts);
                                sideBySide(es, gradOut, i0, cnt, d.o(), l, tmp, false);
                                columns(es, x, d, i0, cnt, cols);
                                for (int g = 0; g < groups; g++) {
                                    gemm(f32, false, true, og, k, w, tmp, (long) g * og * w, w, cols, (long) g * k * w, w,
                                            !firstOfPart, dst, dstOff + (long) g * og * k, k);
                                }
                            }
                        }
                    } finally {
                        colsS.release();
                        tmpS.release();
                    }
                });
                for (int p = 1; p < parts; p++) ConvColumns.addRun(f32, gw, gwOff, partial, (p - 1) * size, Math.toIntExact(size));
            } finally {
                if (partialS != null) partialS.release();
            }
            first = false;
        } else {
            int band = d.band();
            Storage colsS = d.pointwise() ? null : scratch(d.colRows() * band * d.ow(), es);
            try {
                for (int i = 0; i < d.n(); i++) {
                    long xo = x.offset() + i * d.inImage(), oo = gradOut.offset() + i * d.outImage();
                    if (d.pointwise()) {
                        for (int g = 0; g < groups; g++) {
                            gemm(f32, false, true, og, k, l, go, oo + (long) g * og * l, l, xs, xo + (long) g * k * l, l,
                                    !first, gw, gwOff + (long) g * og * k, k);
                        }
                        first = false;
                        continue;
                    }
                    MemorySegment cols = colsS.segment();
                    for (int r0 = 0; r0 < d.oh(); r0 += band) {
                        int r1 = Math.min(d.oh(), r0 + band), bl = (r1 - r0) * d.ow();
                        ConvColumns.im2col(es, xs, xo, d.c(), d.h(), d.w(), win, d.ow(), r0, r1, cols, 0, bl);
                        for (int g = 0; g < groups; g++) {
                            gemm(f32, false, true, og, k, bl, go, oo + (long) g * og * l + (long) r0 * d.ow(), l, cols, (long) g * k * bl, bl,
                                    !first, gw, gwOff + (long) g * og * k, k);
                        }
                        first = false;
                    }
                }
            } finally {
                if (colsS != null) colsS.release();
            }
        }
        if (first) ConvColumns.zero(gw, gwOff, (long) d.o() * k, es);
    }

    @Override
    public void conv2dBackwardBias(Tensor gradOut, Tensor gradBias) {
        int[] s = gradOut.shape();
        int n = s[0], o = s[1];
        long l = (long) s[2] * s[3];
        MemorySegment g = seg(gradOut), gb = seg(gradBias);
        boolean f32 = gradOut.dtype() == DType.F32;
        Parallel.forRange(o, Math.max(1, 16384 / Math.max(1, n * l)), (lo, hi) -> {
            for (int c = (int) lo; c < hi; c++) {
                double acc = 0;
                for (int i = 0; i < n; i++) {
                    long at = gradOut.offset() + ((long) i * o + c) * l;
                    acc += f32 ? sumF32(g, at, l) : sumF64(g, at, l);
                }
                if (f32) gb.setAtIndex(ValueLayout.JAVA_FLOAT, gradBias.offset() + c, (float) acc);
                else gb.setAtIndex(ValueLayout.JAVA_DOUBLE, gradBias.offset() + c, acc);
            }
        });
    }

    static double sumF32(MemorySegment s, long at, long n) {
        int vl = FS.length();
        long q = 0;
        FloatVector v = FloatVector.zero(FS);
        for (; q + vl <= n; q += vl) v = v.add(FloatVector.fromMemorySegment(FS, s, (at + q) * 4, ByteOrder.nativeOrder()));
        double acc = Vec.sum(v);
        for (; q < n; q++) acc += s.getAtIndex(ValueLayout.JAVA_FLOAT, at + q);
        return acc;
    }

    static double sumF64(MemorySegment s, long at, long n) {
        double acc = 0;
        for (long q = 0; q < n; q++) acc += s.getAtIndex(ValueLayout.JAVA_DOUBLE, at + q);
        return acc;
    }
}
