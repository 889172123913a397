package dev.lumen.backend.cpu;

import dev.lumen.backend.ElementwiseKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.HostAccess;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** CPU implementation of {@link ElementwiseKernels}. */
final class CpuElementwise implements ElementwiseKernels {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    @Override
    public void binary(Binary op, Tensor a, Tensor b, Tensor out) {
        MemorySegment sa = a.storage().segment(), sb = b.storage().segment(), so = out.storage().segment();
        DType t = out.dtype();
        requireSame(t, a, b);
        StridedLoop.of(out.shape(), a, b, out).forEachRow((base, n, step) -> {
            long ia = base[0], ib = base[1], io = base[2];
            int xa = step[0], xb = step[1], xo = step[2];
            if (t == DType.F32) {
                switch (op) {
                    case ADD -> { for (int i = 0; i < n; i++, ia += xa, ib += xb, io += xo) so.setAtIndex(F, io, sa.getAtIndex(F, ia) + sb.getAtIndex(F, ib)); }
                    case SUB -> { for (int i = 0; i < n; i++, ia += xa, ib += xb, io += xo) so.setAtIndex(F, io, sa.getAtIndex(F, ia) - sb.getAtIndex(F, ib)); }
                    case MUL -> { for (int i = 0; i < n; i++, ia += xa, ib += xb, io += xo) so.setAtIndex(F, io, sa.getAtIndex(F, ia) * sb.getAtIndex(F, ib)); }
                    case DIV -> { for (int i = 0; i < n; i++, ia += xa, ib += xb, io += xo) so.setAtIndex(F, io, sa.getAtIndex(F, ia) / sb.getAtIndex(F, ib)); }
                }
            } else {
                for (int i = 0; i < n; i++, ia += xa, ib += xb, io += xo) {
                    double x = HostAccess.get(sa, t, ia), y = HostAccess.get(sb, t, ib);
                    HostAccess.set(so, t, io, switch (op) {
                        case ADD -> x + y;
                        case SUB -> x - y;
                        case MUL -> x * y;
                        case DIV -> t.isFloating() ? x / y : Math.floorDiv((long) x, (long) y);
                    });
                }
            }
        });
    }

    @Override
    public void affine(Tensor x, double alpha, double beta, Tensor out) {
        MemorySegment sx = x.storage().segment(), so = out.storage().segment();
        DType t = out.dtype();
        requireSame(t, x, x);
        StridedLoop.of(out.shape(), x, out).forEachRow((base, n, step) -> {
            long ix = base[0], io = base[1];
            if (t == DType.F32) {
                float a = (float) alpha, b = (float) beta;
                for (int i = 0; i < n; i++, ix += step[0], io += step[1]) so.setAtIndex(F, io, a * sx.getAtIndex(F, ix) + b);
            } else {
                for (int i = 0; i < n; i++, ix += step[0], io += step[1]) HostAccess.set(so, t, io, alpha * HostAccess.get(sx, t, ix) + beta);
            }
        });
    }

    @Override
    public void addInPlace(Tensor dst, Tensor src, double alpha) {
        MemorySegment ss = src.storage().segment(), sd = dst.storage().segment();
        DType t = dst.dtype();
        requireSame(t, src, src);
        StridedLoop.of(dst.shape(), src, dst).forEachRow((base, n, step) -> {
            long is = base[0], id = base[1];
            if (t == DType.F32) {
                float a = (float) alpha;
                for (int i = 0; i < n; i++, is += step[0], id += step[1]) sd.setAtIndex(F, id, sd.getAtIndex(F, id) + a * ss.getAtIndex(F, is));
            } else {
                for (int i = 0; i < n; i++, is += step[0], id += step[1]) HostAccess.set(sd, t, id, HostAccess.get(sd, t, id) + alpha * HostAccess.get(ss, t, is));
            }
        });
    }

    private static void requireSame(DType t, Tensor a, Tensor b) {
        if (a.dtype() != t || b.dtype() != t) {
            throw new IllegalArgumentException("element-wise kernel needs one dtype; got " + a.dtype() + ", " + b.dtype() + " -> " + t);
        }
    }
}
