package dev.lumen.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.reference.Compare;
import dev.lumen.reference.OutlookReference;
import dev.lumen.tensor.DType;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * outlook_attention.cu against the double-precision reference: output, dv and dlogits, a backward
 * that repeats bit for bit, and the grid check. (B*heads = 65,536, past grid z's 65535 where the
 * old mapping put it, passes but is not run here: 65,536 blocks of 256 fibers take ~30 s per pass.)
 */
class OutlookCudaTest {
    // f32 with __expf (2 ulp) in the softmax and sums of at most (K/s)^2*K*K terms: ~1e-6 relative.
    private static final double TOL_F32 = 2e-5;

    @ParameterizedTest(name = "B{0} {1}x{2} C{3} heads{4} k{5} p{6} s{7}")
    @CsvSource({
        "2, 7, 7, 12, 3, 3, 1, 2",
        "1, 13, 13, 20, 2, 3, 1, 2",
        "2, 14, 14, 64, 2, 3, 1, 1",
        "1, 28, 28, 96, 3, 3, 1, 2",
        "1, 13, 11, 40, 1, 3, 1, 1",
        "2, 9, 10, 6, 2, 5, 2, 3",
        "1, 6, 5, 8, 2, 1, 0, 1",      // a 1x1 window takes the any-K entry, not the K = 3 one
    })
    void matchesReference(int b, int hgt, int wid, int c, int heads, int k, int p, int s) {
        CudaContext ctx = CudaTestSupport.context();
        var sh = new OutlookCuda.Shape(b, hgt, wid, c, heads, k, p, s);
        var rs = new OutlookReference.Shape(b, hgt, wid, c, heads, k, p, s);
        Random r = new Random(97L * hgt + c + s);
        float[] v = Compare.randomFloats(r, rs.vSize()), logits = Compare.randomFloats(r, rs.logitsSize()), go = Compare.randomFloats(r, rs.vSize());
        for (int i = 0; i < logits.length; i++) logits[i] *= 3;
        double scale = 1 / Math.sqrt((double) c / heads);
        var st = DType.F32;
        var ref = OutlookReference.run(rs, toDoubles(v), toDoubles(logits), scale, toDoubles(go));
        try (DeviceBuffer dv = ctx.allocate(v.length * 4L); DeviceBuffer dl = ctx.allocate(logits.length * 4L);
             DeviceBuffer dgo = ctx.allocate(go.length * 4L); DeviceBuffer out = ctx.allocate(v.length * 4L);
             DeviceBuffer gv = ctx.allocate(v.length * 4L); DeviceBuffer gl = ctx.allocate(logits.length * 4L)) {
            dv.copyFrom(v);
            dl.copyFrom(logits);
            dgo.copyFrom(go);
            for (DeviceBuffer o : new DeviceBuffer[] {out, gv, gl}) o.fillBytes(0xFF);   // NaN poison
            OutlookCuda.forward(ctx, st, sh, dv.pointer(), dl.pointer(), scale, out.pointer());
            OutlookCuda.backwardV(ctx, st, sh, dl.pointer(), dgo.pointer(), scale, gv.pointer());
            OutlookCuda.backwardLogits(ctx, st, sh, dv.pointer(), dl.pointer(), dgo.pointer(), scale, gl.pointer());
            ctx.synchronize();
            float[] gvFirst = gv.toFloats(), glFirst = gl.toFloats();
            // The backward again, over poison: the same bits (gathers only, no order-dependent sums).
            for (DeviceBuffer o : new DeviceBuffer[] {gv, gl}) o.fillBytes(0xFF);
            OutlookCuda.backwardV(ctx, st, sh, dl.pointer(), dgo.pointer(), scale, gv.pointer());
            OutlookCuda.backwardLogits(ctx, st, sh, dv.pointer(), dl.pointer(), dgo.pointer(), scale, gl.pointer());
            ctx.synchronize();
            assertArrayEquals(gvFirst, gv.toFloats(), sh + ": dv differs between two runs");
            assertArrayEquals(glFirst, gl.toFloats(), sh + ": dlogits differs between two runs");
            double eo = Compare.relativeError(out.toFloats(), ref.out());
            double ev = Compare.relativeError(gv.toFloats(), ref.gradV());
            double el = Compare.relativeError(gl.toFloats(), ref.gradLogits());
            KernelErrors.record("outlook", "F32", eo, ev, el);
            String what = CudaTestSupport.mode(ctx) + " " + sh;
            assertTrue(eo <= TOL_F32, what + ": forward error " + eo);
            assertTrue(ev <= TOL_F32, what + ": dv error " + ev);
            assertTrue(el <= TOL_F32, what + ": dlogits error " + el);
        }
    }

    @Test
    void logitsTileFillsTheBlock() {
        // One thread per softmax row: 4x7 anchors x 9 rows = 252 of 256 threads for VOLO's k = 3.
        assertArrayEquals(new int[] {4, 7}, new OutlookCuda.Shape(1, 28, 28, 192, 6, 3, 1, 2).logitsTile());
        assertArrayEquals(new int[] {2, 5}, new OutlookCuda.Shape(1, 28, 28, 192, 6, 5, 2, 2).logitsTile());
    }

    @Test
    void gridPastTwoToThe31IsRefusedInOneLine() {
        var sh = new OutlookCuda.Shape(1, 28, 28, 192, 6, 3, 1, 2);
        var e = assertThrows(IllegalArgumentException.class, () -> OutlookCuda.grid(65536, 65536, 1, "forward", sh));
        assertTrue(e.getMessage().startsWith("outlook forward: 4294967296 blocks exceed grid x's 2^31-1"), e.getMessage());
        assertArrayEquals(new int[] {Integer.MAX_VALUE}, OutlookCuda.grid(Integer.MAX_VALUE, 1, 1, "forward", sh));
    }

    static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }
}
