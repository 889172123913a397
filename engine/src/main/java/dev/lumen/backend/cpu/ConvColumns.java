package dev.lumen.backend.cpu;

import dev.lumen.backend.ConvKernels.Window;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * im2col and col2im of one image, shared by the convolution (as GEMM operands) and by
 * unfold/fold. Column row r = (c, i, j) holds, for each output position (oh, ow), the input
 * pixel x[c, oh*sh - ph + i*dh, ow*sw - pw + j*dw], or 0 in the padding. Both work on a
 * band of output rows [oh0, oh1), so a convolution can bound its temporary memory.
 */
final class ConvColumns {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> DS = DoubleVector.SPECIES_PREFERRED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    private ConvColumns() {}

    /** First ow whose input column ow*s - p + j*d is >= 0. */
    private static int firstValid(int p, int jd, int s) {
        int need = p - jd;
        return need <= 0 ? 0 : (need + s - 1) / s;
    }

    /** One past the last ow whose input column is < size. */
    private static int endValid(int size, int p, int jd, int s, int out) {
        int top = size - 1 + p - jd;
        if (top < 0) return 0;
        return Math.min(out, top / s + 1);
    }

    /**
     * cols[r, (oh - oh0)*OW + ow] for oh in [oh0, oh1), every r in [0, C*kh*kw); row r starts at
     * cOff + r*ldc. es is the element size (4 or 8): im2col only moves bits.
     */
    static void im2col(int es, MemorySegment x, long xOff, int c, int h, int w, Window win, int ow, int oh0, int oh1,
                       MemorySegment cols, long cOff, int ldc) {
        int area = win.area();
        int rows = c * area;
        long len = (long) (oh1 - oh0) * ow;
        Parallel.forRange(rows, Math.max(1, 8192 / Math.max(len, 1)), (lo, hi) -> {
            for (int r = (int) lo; r < hi; r++) {
                int ch = r / area, i = (r % area) / win.kw(), j = r % win.kw();
                int jd = j * win.dw();
                int a = Math.min(ow, firstValid(win.pw(), jd, win.sw())), b = Math.max(a, endValid(w, win.pw(), jd, win.sw(), ow));
                long plane = xOff + (long) ch * h * w;
                long dst = cOff + (long) r * ldc;
                // Padding: zero the whole row in one fill, then copy the valid runs over it (a
                // small fill per output row and border cost more than the row's copies).
                boolean padded = a > 0 || b < ow || oh0 * win.sh() - win.ph() + i * win.dh() < 0
                        || (oh1 - 1) * win.sh() - win.ph() + i * win.dh() >= h;
                if (padded) zero(cols, dst, len, es);
                for (int oh = oh0; oh < oh1; oh++, dst += ow) {
                    int ih = oh * win.sh() - win.ph() + i * win.dh();
                    if (ih < 0 || ih >= h) continue;
                    long src = plane + (long) ih * w + (long) a * win.sw() - win.pw() + jd;
                    if (b == a) {
                        // the whole row falls in the padding
                    } else if (win.sw() == 1) {
                        copyRun(es, x, src, cols, dst + a, b - a);
                    } else if (es == 4) {
                        for (int q = a; q < b; q++, src += win.sw()) cols.setAtIndex(ValueLayout.JAVA_INT, dst + q, x.getAtIndex(ValueLayout.JAVA_INT, src));
                    } else {
                        for (int q = a; q < b; q++, src += win.sw()) cols.setAtIndex(ValueLayout.JAVA_LONG, dst + q, x.getAtIndex(ValueLayout.JAVA_LONG, src));
                    }
                }
            }
        });
    }

    /** x[c, ih, iw] += cols[r, ...] over the band [oh0, oh1): the adjoint of {@link #im2col}. Parallel over channels, so no two threads add to one pixel. */
    static void col2im(boolean f32, MemorySegment cols, long cOff, int ldc, int c, int h, int w, Window win, int ow, int oh0, int oh1,
                       MemorySegment x, long xOff) {
        int area = win.area();
        long work = (long) area * (oh1 - oh0) * ow;
        Parallel.forRange(c, Math.max(1, 16384 / Math.max(work, 1)), (lo, hi) -> {
            for (int ch = (int) lo; ch < hi; ch++) {
                long plane = xOff + (long) ch * h * w;
                for (int i = 0; i < win.kh(); i++) {
                    for (int j = 0; j < win.kw(); j++) {
                        int r = (ch * win.kh() + i) * win.kw() + j;
                        int jd = j * win.dw();
                        int a = firstValid(win.pw(), jd, win.sw()), b = endValid(w, win.pw(), jd, win.sw(), ow);
                        if (a >= b) continue;
                        long src = cOff + (long) r * ldc;
                        for (int oh = oh0; oh < oh1; oh++, src += ow) {
                            int ih = oh * win.sh() - win.ph() + i * win.dh();
                            if (ih < 0 || ih >= h) continue;
                            long dst = plane + (long) ih * w + (long) a * win.sw() - win.pw() + jd;
                            if (win.sw() == 1) {
                                addRun(f32, x, dst, cols, src + a, b - a);
                            } else if (f32) {
                                for (int q = a; q < b; q++, dst += win.sw()) {
                                    x.setAtIndex(ValueLayout.JAVA_FLOAT, dst, x.getAtIndex(ValueLayout.JAVA_FLOAT, dst) + cols.getAtIndex(ValueLayout.JAVA_FLOAT, src + q));
                                }
                            } else {
                                for (int q = a; q < b; q++, dst += win.sw()) {
                                    x.setAtIndex(ValueLayout.JAVA_DOUBLE, dst, x.getAtIndex(ValueLayout.JAVA_DOUBLE, dst) + cols.getAtIndex(ValueLayout.JAVA_DOUBLE, src + q));
                                }
                            }
                        }
                    }
                }
            }
        });
    }

    /** dst[0:n] += src[0:n] (element offsets). */
    static void addRun(boolean f32, MemorySegment dst, long d, MemorySegment src, long s, int n) {
        int q = 0;
        if (f32) {
            int l = FS.length();
            for (; q + l <= n; q += l) {
                FloatVector v = FloatVector.fromMemorySegment(FS, dst, (d + q) * 4, ORDER)
                        .add(FloatVector.fromMemorySegment(FS, src, (s + q) * 4, ORDER));
                v.intoMemorySegment(dst, (d + q) * 4, ORDER);
            }
            if (q < n) {
                // Narrow maps (14, 7 columns) end in a partial vector: masked, not scalar.
                VectorMask<Float> m = FS.indexInRange(q, n);
                FloatVector v = FloatVector.fromMemorySegment(FS, dst, (d + q) * 4, ORDER, m)
                        .add(FloatVector.fromMemorySegment(FS, src, (s + q) * 4, ORDER, m));
                v.intoMemorySegment(dst, (d + q) * 4, ORDER, m);
            }
        } else {
            int l = DS.length();
            for (; q + l <= n; q += l) {
                DoubleVector v = DoubleVector.fromMemorySegment(DS, dst, (d + q) * 8, ORDER)
                        .add(DoubleVector.fromMemorySegment(DS, src, (s + q) * 8, ORDER));
                v.intoMemorySegment(dst, (d + q) * 8, ORDER);
            }
            for (; q < n; q++) dst.setAtIndex(ValueLayout.JAVA_DOUBLE, d + q, dst.getAtIndex(ValueLayout.JAVA_DOUBLE, d + q) + src.getAtIndex(ValueLayout.JAVA_DOUBLE, s + q));
        }
    }

    /**
     * Copies n elements of es bytes (bits only). Short runs go element by element: a bulk copy's
     * fixed cost (bounds and liveness checks) is worth dozens of elements, and the rows of 7x7,
     * 4x4 and 2x2 maps are 2 to 7 long.
     */
    static void copyRun(int es, MemorySegment src, long s, MemorySegment dst, long d, long n) {
        if (n >= 16) {
            MemorySegment.copy(src, s * es, dst, d * es, n * es);
        } else if (es == 4) {
            for (long q = 0; q < n; q++) dst.setAtIndex(ValueLayout.JAVA_INT, d + q, src.getAtIndex(ValueLayout.JAVA_INT, s + q));
        } else {
            for (long q = 0; q < n; q++) dst.setAtIndex(ValueLayout.JAVA_LONG, d + q, src.getAtIndex(ValueLayout.JAVA_LONG, s + q));
        }
    }

    static void zero(MemorySegment s, long at, long n, int es) {
        if (n <= 0) return;
        if (n >= 16) {
            s.asSlice(at * es, n * es).fill((byte) 0);
        } else if (es == 4) {
            for (long q = 0; q < n; q++) s.setAtIndex(ValueLayout.JAVA_INT, at + q, 0);
        } else {
            for (long q = 0; q < n; q++) s.setAtIndex(ValueLayout.JAVA_LONG, at + q, 0L);
        }
    }
}
