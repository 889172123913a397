package dev.lumen.backend.cpu;

import dev.lumen.backend.ConvKernels.Window;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * F32 convolutions (forward with bias, inference forward with bias and a ReLU post-op, backward
 * data, backward weights; any stride, padding,
 * dilation and groups) through oneDNN, on tensors in Lumen's NCHW / OIHW layouts, and at
 * inference on channels-last (NHWC) activations too, which oneDNN's inference kernels compute in,
 * so a chain of them runs without reordering its activations. Primitives
 * are built once per shape and kept (at most {@link #CAPACITY}, least recently used dropped).
 *
 * <p>Layouts, as measured on resnet50's layers (ConvCpuBench): a 1x1 convolution runs on
 * the plain layouts (oneDNN makes it one GEMM over the images, no reorder), every other one
 * lets the primitive pick (format any: the blocked nChw16c kernels on AVX-512) and reorders
 * its arguments per call, which still costs less than the GEMM-based kernels oneDNN uses on
 * NCHW for a 3x3 or 7x7 window ({@link #backward} reorders gradOut once for both backward passes). {@code lumen.onednn} = {@code auto} (oneDNN when it
 * loads, the default), {@code off} (the Java path) or
 * {@code on} (fail when it does not load); the environment variable {@code LUMEN_ONEDNN} sets
 * the default.
 */
public final class OneDnnConv {
    static final int CAPACITY = 256;
    /** On where the library loads (the Java path otherwise); LUMEN_ONEDNN=off turns it off. */
    static final String DEFAULT_MODE = "auto";

    /** A convolution's sizes: input [n, c, h, w], output [n, o, oh, ow]. */
    record Shape(int n, int c, int h, int w, int o, int oh, int ow, int groups, Window win) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "x[%d,%d,%d,%d] w[%d,%d,%d,%d] out[%d,%d,%d,%d] stride %dx%d pad %dx%d dilation %dx%d groups %d",
                    n, c, h, w, o, c / groups, win.kh(), win.kw(), n, o, oh, ow, win.sh(), win.sw(), win.ph(), win.pw(), win.dh(), win.dw(), groups);
        }
    }

    /** INFERENCE_*: forward for inference only (no backward follows), with a bias and optionally a ReLU post-op. */
    private enum Pass { FORWARD, FORWARD_BIAS, INFERENCE_BIAS, INFERENCE_BIAS_RELU, BACKWARD_DATA, BACKWARD_WEIGHTS }

    /**
     * threads: primitives are built for one OpenMP thread count (Parallel.threads() then).
     * xLast, yLast: the input and output lie channels-last (NHWC) rather than NCHW (inference only).
     */
    private record Key(Shape shape, Pass pass, int threads, boolean xLast, boolean yLast) {
        Key(Shape shape, Pass pass) { this(shape, pass, Parallel.threads(), false, false); }
    }

    /** Which layouts the primitives run on. */
    enum Layouts {
        /** Plain for 1x1 windows, the primitive's choice for the others. */
        BY_WINDOW,
        /** The primitive's choice (blocked) for all. */
        BLOCKED,
        /** NCHW / OIHW for all. */
        PLAIN;

        boolean blocked(Shape s) {
            return this == BLOCKED || this == BY_WINDOW && (s.win().kh() != 1 || s.win().kw() != 1);
        }
    }

    private final OneDnn dnn;
    private final Layouts layouts;
    private final Map<Key, OneDnnPrimitive> cache = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, OneDnnPrimitive> e) {
            if (size() <= CAPACITY) return false;
            e.getValue().close();
            return true;
        }
    };

    OneDnnConv(OneDnn dnn, Layouts layouts) {
        this.dnn = dnn;
        this.layouts = layouts;
    }

    /** The convolutions in use, or null for the Java path (switched off, or oneDNN absent). */
    static OneDnnConv active() { return Selection.active; }

    /** Switches oneDNN convolutions on or off (tests compare the paths); returns the previous state. */
    static boolean setEnabled(boolean on) {
        boolean was = Selection.active != null;
        Selection.active = on ? choose("on") : null;
        return was;
    }

    /**
     * Selects the convolution path as lumen.onednn does (auto, on, off), or oneDNN with one
     * layout rule for every shape: {@code nchw} (plain) or {@code blocked} (benchmarks compare them).
     */
    public static void use(String mode) {
        String m = mode.trim().toLowerCase(Locale.ROOT);
        Selection.active = m.equals("nchw") ? Selection.with(Layouts.PLAIN) : m.equals("blocked") ? Selection.with(Layouts.BLOCKED) : choose(mode);
    }

    /** Whether convolutions run on oneDNN now (tests restore this after switching). */
    public static boolean enabled() { return Selection.active != null; }

    /** What a lumen.onednn value selects (null: the Java path); bad values are rejected naming the property. */
    static OneDnnConv choose(String mode) { return Selection.choose(mode); }

    /** As {@link #choose(String)} where oneDNN did or did not load (tests of a missing library). */
    static OneDnnConv choose(String mode, boolean available, String failure) { return Selection.choose(mode, available, failure); }

    /** One line for `lumen doctor`: whether convolutions run on oneDNN and, if not, why. */
    public static String status() {
        OneDnn d = OneDnn.instance();
        if (d == null) return "not loaded (" + OneDnn.failure() + "); convolutions on the Java path";
        return Selection.active != null ? d.name() + ", convolutions on it" : d.name() + " loaded, switched off (LUMEN_ONEDNN=auto or -Dlumen.onednn=auto turns it on)";
    }

    /** Resolves lumen.onednn once, when first used. */
    private static final class Selection {
        private static final Map<Layouts, OneDnnConv> MADE = new java.util.EnumMap<>(Layouts.class);
        private static volatile OneDnnConv active = choose(System.getProperty("lumen.onednn",
                System.getenv().getOrDefault("LUMEN_ONEDNN", DEFAULT_MODE)));

        static OneDnnConv loaded() { return with(Layouts.BY_WINDOW); }

        static synchronized OneDnnConv with(Layouts layouts) {
            if (OneDnn.instance() == null) throw new IllegalStateException("oneDNN is unavailable: " + OneDnn.failure());
            return MADE.computeIfAbsent(layouts, l -> new OneDnnConv(OneDnn.instance(), l));
        }

        static OneDnnConv choose(String mode) { return choose(mode, OneDnn.instance() != null, OneDnn.failure()); }

        /** The choice for mode where oneDNN did (available) or did not load, and why not. */
        static OneDnnConv choose(String mode, boolean available, String failure) {
            switch (mode.trim().toLowerCase(Locale.ROOT)) {
                case "off" -> { return null; }
                case "on" -> {
                    if (!available) throw new IllegalStateException("lumen.onednn=on but oneDNN is unavailable: " + failure);
                    return loaded();
                }
                case "auto", "" -> {
                    if (!available) {
                        System.getLogger("dev.lumen.onednn").log(System.Logger.Level.INFO, "oneDNN unavailable, convolutions on the Java path: " + failure);
                        return null;
                    }
                    return loaded();
                }
                default -> throw new IllegalArgumentException("lumen.onednn (or LUMEN_ONEDNN) must be auto, on or off, not '" + mode + "'");
            }
        }
    }

    /** out = conv(x, w) + bias (bias may be null); the buffers start at the tensors' first elements. */
    void forward(Shape s, MemorySegment x, MemorySegment w, MemorySegment bias, MemorySegment out) {
        synchronized (OneDnn.EXECUTION) {
            if (bias == null) primitive(new Key(s, Pass.FORWARD)).run(x, w, out);
            else primitive(new Key(s, Pass.FORWARD_BIAS)).run(x, w, bias, out);
        }
    }

    /**
     * out = conv(x, w) + bias, then max(., 0) when relu, as one inference primitive: the folded
     * Conv + BatchNorm (+ ReLU) of eval mode. The ReLU is a post-op, applied while the output is
     * in registers, so it costs no pass over memory. xLast, outLast: x and out lie channels-last;
     * the primitive then picks its layouts for every window (NHWC, so nothing is reordered).
     */
    void forwardInference(Shape s, MemorySegment x, boolean xLast, MemorySegment w, MemorySegment bias, boolean relu, MemorySegment out,
                          boolean outLast) {
        synchronized (OneDnn.EXECUTION) {
            Pass pass = relu ? Pass.INFERENCE_BIAS_RELU : Pass.INFERENCE_BIAS;
            primitive(new Key(s, pass, Parallel.threads(), xLast, outLast)).run(x, w, bias, out);
        }
    }

    /** gradIn = d conv / dx applied to gradOut (overwritten). */
    void backwardData(Shape s, MemorySegment gradOut, MemorySegment w, MemorySegment gradIn) {
        synchronized (OneDnn.EXECUTION) {
            primitive(new Key(s, Pass.BACKWARD_DATA)).run(gradOut, w, gradIn);
        }
    }

    /** gradW = d conv / dw applied to gradOut, summed over the batch (overwritten). */
    void backwardWeights(Shape s, MemorySegment gradOut, MemorySegment x, MemorySegment gradW) {
        synchronized (OneDnn.EXECUTION) {
            primitive(new Key(s, Pass.BACKWARD_WEIGHTS)).run(x, gradOut, gradW);
        }
    }

    /**
     * backwardData and backwardWeights of one gradOut together: where both primitives take it in
     * the same blocked layout, it is reordered once (the passes run one after the other and
     * neither writes what the other reads).
     */
    void backward(Shape s, MemorySegment gradOut, MemorySegment w, MemorySegment x, MemorySegment gradIn, MemorySegment gradW) {
        synchronized (OneDnn.EXECUTION) {
            OneDnnPrimitive data = primitive(new Key(s, Pass.BACKWARD_DATA)), weights = primitive(new Key(s, Pass.BACKWARD_WEIGHTS));
            try (OneDnnPrimitive.Reordered shared = new OneDnnPrimitive.Reordered(dnn)) {
                data.run(shared, gradOut, w, gradIn);
                weights.run(shared, x, gradOut, gradW);
            }
        }
    }

    /** Reorders run by this instance's primitives (tests). */
    long reordersRun() {
        synchronized (OneDnn.EXECUTION) {
            return cache.values().stream().mapToLong(OneDnnPrimitive::reordersRun).sum();
        }
    }

    /** The implementation oneDNN picked for a shape's forward pass (reports, tests). */
    String implementation(Shape s) {
        synchronized (OneDnn.EXECUTION) {
            return primitive(new Key(s, Pass.FORWARD)).implementation();
        }
    }

    /**
     * The primitive for key, built on first use. Built under OneDnn.EXECUTION: libdnnl2 sizes
     * and frees its shared scratchpad as primitives are created and destroyed, so creating one
     * while another thread runs one crashed (data-parallel replicas on the CPU).
     */
    private OneDnnPrimitive primitive(Key key) {
        synchronized (OneDnn.EXECUTION) {
            OneDnnPrimitive p = cache.get(key);
            if (p != null) return p;
            try {
                p = build(key);
            } catch (RuntimeException | Error e) {
                throw new IllegalStateException("oneDNN convolution " + key.pass().name().toLowerCase(Locale.ROOT).replace('_', ' ')
                        + " " + key.shape() + ": " + e.getMessage(), e);
            } catch (Throwable e) {
                throw new IllegalStateException("oneDNN convolution " + key.shape() + ": " + e, e);
            }
            cache.put(key, p);
            return p;
        }
    }

    private OneDnnPrimitive build(Key key) throws Throwable {
        dnn.useThreads(key.threads());
        Shape s = key.shape();
        Window win = s.win();
        try (Arena a = Arena.ofConfined()) {
            // A channels-last argument is one the layer chain keeps: let the primitive pick for a 1x1 window too.
            boolean anyFormat = layouts.blocked(s) || key.xLast() || key.yLast();
            int tag = anyFormat ? OneDnn.TAG_ANY : OneDnn.TAG_ABCD;
            long[] xDims = {s.n(), s.c(), s.h(), s.w()}, yDims = {s.n(), s.o(), s.oh(), s.ow()};
            long[] wDims = s.groups() == 1 ? new long[] {s.o(), s.c(), win.kh(), win.kw()}
                    : new long[] {s.groups(), s.o() / s.groups(), s.c() / s.groups(), win.kh(), win.kw()};
            int wPlainTag = s.groups() == 1 ? OneDnn.TAG_ABCD : OneDnn.TAG_ABCDE;
            MemorySegment xPlain = dnn.md(a, xDims, key.xLast() ? OneDnn.TAG_ACDB : OneDnn.TAG_ABCD);
            MemorySegment yPlain = dnn.md(a, yDims, key.yLast() ? OneDnn.TAG_ACDB : OneDnn.TAG_ABCD);
            MemorySegment wPlain = dnn.md(a, wDims, wPlainTag), bPlain = dnn.md(a, new long[] {s.o()}, OneDnn.TAG_A);
            MemorySegment xMd = dnn.md(a, xDims, tag), yMd = dnn.md(a, yDims, tag), wMd = dnn.md(a, wDims, anyFormat ? OneDnn.TAG_ANY : wPlainTag);
            // oneDNN counts dilation from 0 (no dilation), Lumen from 1. Right padding equals left:
            // floor((h + 2p - reach) / s) + 1 is the output size both sides compute.
            MemorySegment strides = OneDnn.dims(a, win.sh(), win.sw()), dil = OneDnn.dims(a, win.dh() - 1, win.dw() - 1);
            MemorySegment pad = OneDnn.dims(a, win.ph(), win.pw());
            MemorySegment fwdDesc = a.allocate(OneDnn.CONV_DESC_BYTES, 8);
            boolean inference = key.pass() == Pass.INFERENCE_BIAS || key.pass() == Pass.INFERENCE_BIAS_RELU;
            boolean bias = key.pass() == Pass.FORWARD_BIAS || inference;
            dnn.convForwardDesc(fwdDesc, inference ? OneDnn.FORWARD_INFERENCE : OneDnn.FORWARD_TRAINING, xMd, wMd,
                    bias ? bPlain : MemorySegment.NULL, yMd, strides, dil, pad, pad);
            MemorySegment fwd = dnn.primitiveDesc(fwdDesc, MemorySegment.NULL, key.pass() == Pass.INFERENCE_BIAS_RELU);
            String what = "convolution " + key.pass().name().toLowerCase(Locale.ROOT).replace('_', ' ') + " " + s;
            switch (key.pass()) {
                case FORWARD, FORWARD_BIAS, INFERENCE_BIAS, INFERENCE_BIAS_RELU -> {
                    List<OneDnnPrimitive.Spec> specs = bias
                            ? List.of(in(OneDnn.ARG_SRC, OneDnn.QUERY_SRC_MD, xPlain), in(OneDnn.ARG_WEIGHTS, OneDnn.QUERY_WEIGHTS_MD, wPlain),
                                      new OneDnnPrimitive.Spec(OneDnn.ARG_BIAS, OneDnn.QUERY_WEIGHTS_MD, 1, false, bPlain), out(OneDnn.ARG_DST, OneDnn.QUERY_DST_MD, yPlain))
                            : List.of(in(OneDnn.ARG_SRC, OneDnn.QUERY_SRC_MD, xPlain), in(OneDnn.ARG_WEIGHTS, OneDnn.QUERY_WEIGHTS_MD, wPlain),
                                      out(OneDnn.ARG_DST, OneDnn.QUERY_DST_MD, yPlain));
                    return new OneDnnPrimitive(dnn, fwd, what, specs);
                }
                case BACKWARD_DATA -> {
                    try {
                        MemorySegment desc = a.allocate(OneDnn.CONV_DESC_BYTES, 8);
                        dnn.convBackwardDataDesc(desc, xMd, wMd, yMd, strides, dil, pad, pad);
                        MemorySegment pd = dnn.primitiveDesc(desc, fwd);
                        return new OneDnnPrimitive(dnn, pd, what, List.of(in(OneDnn.ARG_DIFF_DST, OneDnn.QUERY_DIFF_DST_MD, yPlain),
                                in(OneDnn.ARG_WEIGHTS, OneDnn.QUERY_WEIGHTS_MD, wPlain), out(OneDnn.ARG_DIFF_SRC, OneDnn.QUERY_DIFF_SRC_MD, xPlain)));
                    } finally {
                        dnn.destroyDesc(fwd);
                    }
                }
                case BACKWARD_WEIGHTS -> {
                    try {
                        MemorySegment desc = a.allocate(OneDnn.CONV_DESC_BYTES, 8);
                        dnn.convBackwardWeightsDesc(desc, xMd, wMd, MemorySegment.NULL, yMd, strides, dil, pad, pad);
                        MemorySegment pd = dnn.primitiveDesc(desc, fwd);
                        return new OneDnnPrimitive(dnn, pd, what, List.of(in(OneDnn.ARG_SRC, OneDnn.QUERY_SRC_MD, xPlain),
                                in(OneDnn.ARG_DIFF_DST, OneDnn.QUERY_DIFF_DST_MD, yPlain), out(OneDnn.ARG_DIFF_WEIGHTS, OneDnn.QUERY_DIFF_WEIGHTS_MD, wPlain)));
                    } finally {
                        dnn.destroyDesc(fwd);
                    }
                }
                default -> throw new IllegalStateException("unknown pass " + key.pass());
            }
        }
    }

    private static OneDnnPrimitive.Spec in(int id, int query, MemorySegment plain) { return new OneDnnPrimitive.Spec(id, query, 0, false, plain); }

    private static OneDnnPrimitive.Spec out(int id, int query, MemorySegment plain) { return new OneDnnPrimitive.Spec(id, query, 0, true, plain); }
}
