package dev.lumen.backend.cpu;

import dev.lumen.backend.ConvKernels;
import dev.lumen.memory.Storage;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * CPU implementation of {@link ConvKernels}. A general convolution is, per image and
 * group, one GEMM of the weights [O/g, C/g*kh*kw] with the image's im2col columns; the
 * columns are built a band of output rows at a time so their memory stays under
 * {@link #COLUMN_BUDGET} elements. A 1x1 convolution with stride 1 and no padding uses the
 * image itself as the GEMM operand. Depth-wise F32 convolutions use {@link DepthwiseConv}.
 * Small images run in parallel (one GEMM per thread); large ones one at a time, each GEMM
 * using every thread.
 */
final class CpuConv implements ConvKernels {
    /** Elements of im2col columns held at once per thread (16 MB in F32). */
    static final long COLUMN_BUDGET = 4L << 20;
    /** Below this many multiply-adds per image, images are spread over threads. */
    private static final long SMALL_IMAGE = 1L << 23;
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;

    /** Sizes of one convolution, from its tensors. */
    private record Dims(int n, int c, int h, int w, int o, int oh, int ow, int groups, Window win) {
        int cg() { return c / groups; }
        int og() { return o / groups; }
        int k() { return cg() * win.area(); }
        int l() { return oh * ow; }
        boolean pointwise() { return win.kh() == 1 && win.kw() == 1 && win.sh() == 1 && win.sw() == 1 && win.ph() == 0 && win.pw() == 0; }
        boolean depthwise(DType t) { return t == DType.F32 && groups == c && o == c; }
        /** Output rows per im2col band. */
        int band() { return (int) Math.max(1, Math.min(oh, COLUMN_BUDGET / Math.max(1L, (long) c * win.area() * ow))); }
        long perImageWork() { return (long) o * k() * l(); }
    }

    private static Dims dims(Tensor x, int o, int oh, int ow, int groups, Window win) {
        int[] s = x.shape();
        return new Dims(s[0], s[1], s[2], s[3], o, oh, ow, groups, win);
    }

    private static MemorySegment seg(Tensor t) { return t.storage().segment(); }

    private static void gemm(boolean f32, boolean ta, boolean tb, int m, int n, int k, MemorySegment a, long oa, int lda,
                             MemorySegment b, long ob, int ldb, boolean accumulate, MemorySegment c, long oc, int ldc) {
        Gemm g = Gemm.active();
        if (f32) g.sgemm(ta, tb, m, n, k, 1f, a, oa, Math.max(lda, 1), b, ob, Math.max(ldb, 1), accumulate ? 1f : 0f, c, oc, Math.max(ldc, 1));
        else g.dgemm(ta, tb, m, n, k, 1.0, a, oa, Math.max(lda, 1), b, ob, Math.max(ldb, 1), accumulate ? 1.0 : 0.0, c, oc, Math.max(ldc, 1));
    }

    /** Per-image body, given that image's scratch columns. */
    private interface ImageBody {
        void run(int image, MemorySegment cols);
    }

    /** Runs body for every image, in parallel over images when each is small; scratch holds colsElems elements per thread. */
    private static void forImages(Dims d, int es, long colsElems, boolean parallelOk, ImageBody body) {
        boolean parallel = parallelOk && d.n() > 1 && Parallel.threads() > 1 && d.perImageWork() < SMALL_IMAGE
                && Gemm.active().concurrentOk(d.og(), d.l(), d.k());
        long chunks = parallel ? d.n() : 1;
        Parallel.forRange(chunks, 1, (lo, hi) -> {
            Storage scratch = colsElems > 0 ? Storage.host(colsElems * es) : null;
            try {
                MemorySegment cols = scratch == null ? null : scratch.segment();
                long from = parallel ? lo : 0, to = parallel ? hi : d.n();
                for (long i = from; i < to; i++) body.run((int) i, cols);
            } finally {
                if (scratch != null) scratch.release();
            }
        });
    }

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
        int es = x.dtype().byteSize();
        int band = d.band(), l = d.l(), k = d.k(), og = d.og();
        long inImage = (long) d.c() * d.h() * d.w(), outImage = (long) d.o() * l;
        MemorySegment xs = seg(x), ws = seg(weight), o = seg(out);
        forImages(d, es, d.pointwise() ? 0 : (long) d.c() * win.area() * band * d.ow(), true, (i, cols) -> {
            long xo = x.offset() + i * inImage, oo = out.offset() + i * outImage;
            if (bias != null) fillRows(f32, o, oo, d.o(), l, seg(bias), bias.offset());
            boolean acc = bias != null;
            if (d.pointwise()) {
                for (int g = 0; g < groups; g++) {
                    gemm(f32, false, false, og, l, k, ws, weight.offset() + (long) g * og * k, k, xs, xo + (long) g * k * l, l,
                            acc, o, oo + (long) g * og * l, l);
                }
                return;
            }
            for (int r0 = 0; r0 < d.oh(); r0 += band) {
                int r1 = Math.min(d.oh(), r0 + band), bl = (r1 - r0) * d.ow();
                ConvColumns.im2col(es, xs, xo, d.c(), d.h(), d.w(), win, d.ow(), r0, r1, cols, 0, bl);
                for (int g = 0; g < groups; g++) {
                    gemm(f32, false, false, og, bl, k, ws, weight.offset() + (long) g * og * k, k, cols, (long) g * k * bl, bl,
                            acc, o, oo + (long) g * og * l + (long) r0 * d.ow(), l);
                }
            }
        });
    }

    /** Row r of the [rows, len] block at off = value[r]. */
    private static void fillRows(boolean f32, MemorySegment o, long off, int rows, int len, MemorySegment v, long vOff) {
        for (int r = 0; r < rows; r++) {
            long at = off + (long) r * len;
            if (f32) {
                float b = v.getAtIndex(ValueLayout.JAVA_FLOAT, vOff + r);
                for (int q = 0; q < len; q++) o.setAtIndex(ValueLayout.JAVA_FLOAT, at + q, b);
            } else {
                double b = v.getAtIndex(ValueLayout.JAVA_DOUBLE, vOff + r);
                for (int q = 0; q < len; q++) o.setAtIndex(ValueLayout.JAVA_DOUBLE, at + q, b);
            }
        }
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
        int es = gradIn.dtype().byteSize();
        int band = d.band(), l = d.l(), k = d.k(), og = d.og();
        long inImage = (long) d.c() * d.h() * d.w(), outImage = (long) d.o() * l;
        MemorySegment gx = seg(gradIn), ws = seg(weight), go = seg(gradOut);
        forImages(d, es, d.pointwise() ? 0 : (long) d.c() * win.area() * band * d.ow(), true, (i, cols) -> {
            long xo = gradIn.offset() + i * inImage, oo = gradOut.offset() + i * outImage;
            if (d.pointwise()) {
                for (int g = 0; g < groups; g++) {
                    gemm(f32, true, false, k, l, og, ws, weight.offset() + (long) g * og * k, k, go, oo + (long) g * og * l, l,
                            false, gx, xo + (long) g * k * l, l);
                }
                return;
            }
            ConvColumns.zero(gx, xo, inImage, es);
            for (int r0 = 0; r0 < d.oh(); r0 += band) {
                int r1 = Math.min(d.oh(), r0 + band), bl = (r1 - r0) * d.ow();
                for (int g = 0; g < groups; g++) {
                    gemm(f32, true, false, k, bl, og, ws, weight.offset() + (long) g * og * k, k, go, oo + (long) g * og * l + (long) r0 * d.ow(), l,
                            false, cols, (long) g * k * bl, bl);
                }
                ConvColumns.col2im(f32, cols, 0, bl, d.c(), d.h(), d.w(), win, d.ow(), r0, r1, gx, xo);
            }
        });
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
        int es = x.dtype().byteSize();
        int band = d.band(), l = d.l(), k = d.k(), og = d.og();
        long inImage = (long) d.c() * d.h() * d.w(), outImage = (long) d.o() * l;
        long wElems = (long) d.o() * k;
        // Images are summed into the weight gradient; in parallel, each thread sums its images
        // into its own partial, and the partials are added at the end.
        int parts = d.n() > 1 && d.perImageWork() < SMALL_IMAGE && Gemm.active().concurrentOk(og, k, l) ? Math.min(d.n(), Parallel.threads()) : 1;
        Storage partials = parts > 1 ? Storage.host((parts - 1) * wElems * es) : null;
        try {
            MemorySegment xs = seg(x), go = seg(gradOut);
            Parallel.forRange(parts, 1, (lo, hi) -> {
                for (long part = lo; part < hi; part++) {
                    MemorySegment gw = part == 0 ? seg(gradWeight) : partials.segment();
                    long gwOff = part == 0 ? gradWeight.offset() : (part - 1) * wElems;
                    int from = (int) (part * d.n() / parts), to = (int) ((part + 1) * d.n() / parts);
                    Storage scratch = d.pointwise() ? null : Storage.host((long) d.c() * win.area() * band * d.ow() * es);
                    try {
                        boolean first = true;
                        for (int i = from; i < to; i++) {
                            long xo = x.offset() + i * inImage, oo = gradOut.offset() + i * outImage;
                            if (d.pointwise()) {
                                for (int g = 0; g < groups; g++) {
                                    gemm(f32, false, true, og, k, l, go, oo + (long) g * og * l, l, xs, xo + (long) g * k * l, l,
                                            !first, gw, gwOff + (long) g * og * k, k);
                                }
                                first = false;
                                continue;
                            }
                            MemorySegment cols = scratch.segment();
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
                        if (first) ConvColumns.zero(gw, gwOff, wElems, es);
                    } finally {
                        if (scratch != null) scratch.release();
                    }
                }
            });
            for (int p = 1; p < parts; p++) {
                ConvColumns.addRun(f32, seg(gradWeight), gradWeight.offset(), partials.segment(), (p - 1) * wElems, (int) wElems);
            }
        } finally {
            if (partials != null) partials.release();
        }
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
        double acc = v.reduceLanes(VectorOperators.ADD);
        for (; q < n; q++) acc += s.getAtIndex(ValueLayout.JAVA_FLOAT, at + q);
        return acc;
    }

    static double sumF64(MemorySegment s, long at, long n) {
        double acc = 0;
        for (long q = 0; q < n; q++) acc += s.getAtIndex(ValueLayout.JAVA_DOUBLE, at + q);
        return acc;
    }
}
