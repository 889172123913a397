package dev.lumen.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.reference.Compare;
import dev.lumen.reference.SelectiveScanReference;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** selective_scan.cu against the double-precision reference: the output and all 7 gradients. */
class SelectiveScanCudaTest {
    // f32 arithmetic against double: a few roundings per step, decays below 1 so errors do not
    // grow along the scan; the A, D and bias gradients sum L terms in f32 per thread, then B of
    // those. The B/C gradients sum over channels in another order than the reference.
    private static final double TOL = 2e-5;
    // 16-bit storage only rounds the inputs, and the reference is given the same rounded values;
    // the arithmetic and every output stay f32, so the bound is the f32 one.
    private static final String[] NAMES = {"out", "x", "delta", "A", "B", "C", "D", "bias"};

    private static float stored(float v, DType st) {
        return switch (st) {
            case F32 -> v;
            case F16 -> Float.float16ToFloat(Float.floatToFloat16(v));
            case BF16 -> Float.intBitsToFloat(Float.floatToRawIntBits(v) & 0xffff0000);
            default -> throw new IllegalArgumentException("no 32- or 16-bit float dtype: " + st);
        };
    }

    private static DeviceBuffer upload(CudaContext ctx, float[] v, DType st) {
        boolean wide = st == DType.F32;
        DeviceBuffer b = ctx.allocate((long) v.length * (wide ? 4 : 2));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(b.byteSize(), 8);
            for (int i = 0; i < v.length; i++) {
                switch (st) {
                    case F32 -> h.setAtIndex(ValueLayout.JAVA_FLOAT, i, v[i]);
                    case F16 -> h.setAtIndex(ValueLayout.JAVA_SHORT, i, Float.floatToFloat16(v[i]));
                    case BF16 -> h.setAtIndex(ValueLayout.JAVA_SHORT, i, (short) (Float.floatToRawIntBits(v[i]) >>> 16));
                    default -> throw new IllegalArgumentException("no 32- or 16-bit float dtype: " + st);
                }
            }
            b.copyFrom(h);
        }
        return b;
    }

    private static float[] random(Random r, int n, double scale, double shift, DType st) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = stored((float) (shift + scale * r.nextGaussian()), st);
        return v;
    }

    private static Tensor t(float[] v, int... shape) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) d[i] = v[i];
        return Tensor.fromDoubles(d, DType.F64, shape);
    }

    @ParameterizedTest(name = "{5} B{0} D{1} {2}x{3} N{4}")
    @CsvSource({
        "2, 5, 7, 7, 16, F32",
        "1, 19, 14, 14, 1, F32",
        "2, 3, 13, 13, 3, F32",
        "1, 3, 1, 97, 16, F32",
        "2, 33, 7, 11, 1, F32",
        "1, 2, 56, 56, 16, F32",
        "1, 40, 6, 9, 5, F16",
        "2, 7, 8, 8, 16, BF16",
        // VMamba-T's scan length (L 3136 = 7 spans of 512) with tiny batch and channels; D 9
        // leaves the second backward channel group one channel.
        "2, 9, 56, 56, 1, F16",
        // Tall map: a column-major span ends inside a column, and 2 spans carry the state.
        "1, 4, 150, 4, 2, F32",
    })
    void matchesReference(int nb, int nd, int h, int w, int n, DType st) {
        CudaContext ctx = CudaTestSupport.context();
        var s = new SelectiveScanCuda.Shape(nb, nd, h, w, n);
        int len = s.len();
        Random r = new Random(977L * h + 31L * w + n);
        float[] x = random(r, nb * nd * len, 1, 0, st);
        float[] delta = random(r, nb * 4 * nd * len, 0.5, 0, st);
        float[] a = new float[4 * nd * n];
        for (int i = 0; i < a.length; i++) a[i] = (float) -Math.exp(0.5 * r.nextGaussian());
        float[] bs = random(r, nb * 4 * n * len, 1, 0, st), cs = random(r, nb * 4 * n * len, 1, 0, st);
        float[] ds = random(r, 4 * nd, 1, 0, DType.F32);
        float[] bias = new float[4 * nd];
        for (int i = 0; i < bias.length; i++) bias[i] = (float) (r.nextDouble() - 2);
        float[] go = random(r, nb * nd * len, 1, 0, DType.F32);
        String what = CudaTestSupport.mode(ctx) + " " + s + " " + st;
        var f32 = DType.F32;

        try (DeviceBuffer dx = upload(ctx, x, st); DeviceBuffer ddelta = upload(ctx, delta, st);
             DeviceBuffer da = upload(ctx, a, f32); DeviceBuffer dbs = upload(ctx, bs, st); DeviceBuffer dcs = upload(ctx, cs, st);
             DeviceBuffer dds = upload(ctx, ds, f32); DeviceBuffer dbias = upload(ctx, bias, f32); DeviceBuffer dgo = upload(ctx, go, f32);
             DeviceBuffer out = ctx.allocate((long) x.length * 4); DeviceBuffer states = ctx.allocate(s.stateElements() * 4);
             DeviceBuffer gx = ctx.allocate((long) x.length * 4); DeviceBuffer gdelta = ctx.allocate((long) delta.length * 4);
             DeviceBuffer ga = ctx.allocate((long) a.length * 4); DeviceBuffer gb = ctx.allocate((long) bs.length * 4);
             DeviceBuffer gc = ctx.allocate((long) cs.length * 4); DeviceBuffer gd = ctx.allocate((long) ds.length * 4);
             DeviceBuffer gbias = ctx.allocate((long) bias.length * 4)) {
            DeviceBuffer[] outs = {out, gx, gdelta, ga, gb, gc, gd, gbias};
            for (DeviceBuffer o : outs) o.fillBytes(0xFF);   // NaN poison
            states.fillBytes(0xFF);

            SelectiveScanCuda.forward(ctx, st, s, dx.pointer(), ddelta.pointer(), da.pointer(), dbs.pointer(), dcs.pointer(),
                    dds.pointer(), dbias.pointer(), out.pointer(), states.pointer());
            SelectiveScanCuda.backward(ctx, st, s, dx.pointer(), ddelta.pointer(), da.pointer(), dbs.pointer(), dcs.pointer(),
                    dds.pointer(), dbias.pointer(), states.pointer(), dgo.pointer(), gx.pointer(), gdelta.pointer(), ga.pointer(),
                    gb.pointer(), gc.pointer(), gd.pointer(), gbias.pointer());
            ctx.synchronize();

            Tensor[] in = {t(x, nb, nd, h, w), t(delta, nb, 4, nd, len), t(a, 4 * nd, n), t(bs, nb, 4, n, len),
                t(cs, nb, 4, n, len), t(ds, 4 * nd), t(bias, 4 * nd)};
            Tensor yRef = SelectiveScanReference.forward(in[0], in[1], in[2], in[3], in[4], in[5], in[6]);
            SelectiveScanReference.Grads g = SelectiveScanReference.backward(in[0], in[1], in[2], in[3], in[4], in[5], in[6],
                    t(go, nb, nd, h, w));
            Tensor[] want = {yRef, g.x(), g.delta(), g.a(), g.b(), g.c(), g.dSkip(), g.deltaBias()};
            double[] errs = new double[outs.length];
            for (int i = 0; i < outs.length; i++) {
                float[] got = outs[i].toFloats();
                double[] ref = want[i].toDoubles();
                errs[i] = Compare.relativeError(java.util.Arrays.copyOf(got, ref.length), ref);
            }
            KernelErrors.record("selective_scan_2d", st.name(), errs);
            for (int i = 0; i < outs.length; i++) assertTrue(errs[i] <= TOL, what + ": " + NAMES[i] + " error " + errs[i]);
        }
    }

    /**
     * The backward run twice gives the same bits: no float atomics, every partial summed in one
     * order. B 3, D 17 (three channel groups of the backward, the last with one channel) and
     * L 600 (two spans, so the reverse scan carries between them) spread every sum over several
     * blocks, which the emulator runs on several worker threads in varying order.
     */
    @Test
    void backwardTwiceGivesIdenticalBits() {
        CudaContext ctx = CudaTestSupport.context();
        int nb = 3, nd = 17, h = 20, w = 30, n = 3, len = h * w;
        var s = new SelectiveScanCuda.Shape(nb, nd, h, w, n);
        Random r = new Random(61);
        DType f32 = DType.F32;
        float[] a = new float[4 * nd * n];
        for (int i = 0; i < a.length; i++) a[i] = (float) -Math.exp(0.5 * r.nextGaussian());
        try (DeviceBuffer dx = upload(ctx, random(r, nb * nd * len, 1, 0, f32), f32);
             DeviceBuffer ddelta = upload(ctx, random(r, nb * 4 * nd * len, 0.5, 0, f32), f32);
             DeviceBuffer da = upload(ctx, a, f32); DeviceBuffer dbs = upload(ctx, random(r, nb * 4 * n * len, 1, 0, f32), f32);
             DeviceBuffer dcs = upload(ctx, random(r, nb * 4 * n * len, 1, 0, f32), f32);
             DeviceBuffer dds = upload(ctx, random(r, 4 * nd, 1, 0, f32), f32);
             DeviceBuffer dbias = upload(ctx, random(r, 4 * nd, 0.3, -1.5, f32), f32);
             DeviceBuffer dgo = upload(ctx, random(r, nb * nd * len, 1, 0, f32), f32);
             DeviceBuffer out = ctx.allocate(s.planeElements() * 4); DeviceBuffer states = ctx.allocate(s.stateElements() * 4)) {
            SelectiveScanCuda.forward(ctx, f32, s, dx.pointer(), ddelta.pointer(), da.pointer(), dbs.pointer(), dcs.pointer(),
                    dds.pointer(), dbias.pointer(), out.pointer(), states.pointer());
            long[] sizes = {s.planeElements(), (long) nb * 4 * nd * len, a.length, (long) nb * 4 * n * len,
                (long) nb * 4 * n * len, 4L * nd, 4L * nd};
            int[][] first = null;
            for (int run = 0; run < 2; run++) {
                DeviceBuffer[] g = new DeviceBuffer[sizes.length];
                try {
                    for (int i = 0; i < g.length; i++) {
                        g[i] = ctx.allocate(sizes[i] * 4);
                        g[i].fillBytes(0xFF);
                    }
                    SelectiveScanCuda.backward(ctx, f32, s, dx.pointer(), ddelta.pointer(), da.pointer(), dbs.pointer(),
                            dcs.pointer(), dds.pointer(), dbias.pointer(), states.pointer(), dgo.pointer(), g[0].pointer(),
                            g[1].pointer(), g[2].pointer(), g[3].pointer(), g[4].pointer(), g[5].pointer(), g[6].pointer());
                    ctx.synchronize();
                    int[][] bits = new int[g.length][];
                    for (int i = 0; i < g.length; i++) {
                        float[] v = g[i].toFloats();
                        bits[i] = new int[v.length];
                        for (int j = 0; j < v.length; j++) bits[i][j] = Float.floatToRawIntBits(v[j]);
                    }
                    if (first == null) {
                        first = bits;
                    } else {
                        for (int i = 0; i < g.length; i++) {
                            assertArrayEquals(first[i], bits[i], "selective_scan_2d backward: " + NAMES[i + 1] + " differs between two runs");
                        }
                    }
                } finally {
                    for (DeviceBuffer b : g) if (b != null) b.close();
                }
            }
        }
    }
}
