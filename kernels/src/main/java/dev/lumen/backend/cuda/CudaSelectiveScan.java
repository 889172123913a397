package dev.lumen.backend.cuda;

import dev.lumen.backend.SelectiveScanKernels;
import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.SelectiveScanCuda;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * {@link SelectiveScanKernels} on the device: selective_scan.cu through {@link SelectiveScanCuda},
 * queued on the compute stream. x, delta, B and C may be F32, F16 or BF16 with everything else
 * F32, or everything is F64. The F64 path gets no saved states from the op (the interface lets
 * it ignore them), so its backward first reruns the forward into scratch to save them. A gradient
 * the caller skips (null) is written to scratch, since one kernel produces them all.
 */
final class CudaSelectiveScan implements SelectiveScanKernels {
    private final CudaContext ctx;

    CudaSelectiveScan(CudaContext ctx) { this.ctx = ctx; }

    /** The launch shape, after checking every shape, dtype and layout. */
    private static SelectiveScanCuda.Shape shape(Tensor x, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor dSkip, Tensor bias) {
        if (x.dim() != 4 || b.dim() != 4) {
            throw new IllegalArgumentException("selective_scan_2d: x must be [B,D,H,W] and b [B,K,N,L], got "
                    + Arrays.toString(x.shape()) + " and " + Arrays.toString(b.shape()));
        }
        int nb = x.shape(0), nd = x.shape(1), h = x.shape(2), w = x.shape(3), n = b.shape(2), len = h * w;
        SelectiveScanCuda.Shape s = new SelectiveScanCuda.Shape(nb, nd, h, w, n);
        expect("delta", delta, nb, ROUTES, nd, len);
        expect("a", a, ROUTES * nd, n);
        expect("b", b, nb, ROUTES, n, len);
        expect("c", c, nb, ROUTES, n, len);
        expect("dSkip", dSkip, ROUTES * nd);
        expect("deltaBias", bias, ROUTES * nd);
        DType t = x.dtype(), wide = SelectiveScanCuda.wide(t);
        CudaTensors.requireDType(t, "selective_scan_2d x, delta, b and c", delta, b, c);
        CudaTensors.requireDType(wide, "selective_scan_2d a, dSkip and deltaBias", a, dSkip, bias);
        return s;
    }

    private static void expect(String name, Tensor t, int... shape) {
        if (t == null) return;
        if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException("selective_scan_2d: " + name + " must be " + Arrays.toString(shape) + ", got " + Arrays.toString(t.shape()));
        }
        CudaTensors.requireContiguous(t, "selective_scan_2d " + name);
    }

    @Override
    public void selectiveScan2dForward(Tensor x, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor dSkip, Tensor deltaBias,
                                       Tensor out, Tensor states) {
        SelectiveScanCuda.Shape s = shape(x, delta, a, b, c, dSkip, deltaBias);
        DType wide = SelectiveScanCuda.wide(x.dtype());
        expect("out", out, x.shape());
        CudaTensors.requireDType(wide, "selective_scan_2d out", out);
        boolean f64 = x.dtype() == DType.F64;
        if (states != null && !f64) {
            expect("states", states, s.b(), ROUTES, s.d(), s.chunks(), s.n());
            CudaTensors.requireDType(DType.F32, "selective_scan_2d states", states);
        }
        if (out.numel() == 0) return;
        SelectiveScanCuda.forward(ctx, x.dtype(), s, CudaTensors.ptr(x), CudaTensors.ptr(delta), CudaTensors.ptr(a), CudaTensors.ptr(b),
                CudaTensors.ptr(c), CudaTensors.ptr(dSkip), CudaTensors.ptr(deltaBias), CudaTensors.ptr(out),
                f64 ? 0 : CudaTensors.ptrOrNull(states));
    }

    @Override
    public void selectiveScan2dBackward(Tensor x, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor dSkip, Tensor deltaBias,
                                        Tensor states, Tensor gradOut, Tensor gradX, Tensor gradDelta, Tensor gradA,
                                        Tensor gradB, Tensor gradC, Tensor gradDSkip, Tensor gradDeltaBias) {
        SelectiveScanCuda.Shape s = shape(x, delta, a, b, c, dSkip, deltaBias);
        DType wide = SelectiveScanCuda.wide(x.dtype());
        boolean f64 = x.dtype() == DType.F64;
        expect("gradOut", gradOut, x.shape());
        Tensor[] grads = {gradX, gradDelta, gradA, gradB, gradC, gradDSkip, gradDeltaBias};
        Tensor[] like = {x, delta, a, b, c, dSkip, deltaBias};
        for (int i = 0; i < grads.length; i++) expect("gradient " + i, grads[i], like[i].shape());
        CudaTensors.requireDType(wide, "selective_scan_2d gradients", grads);
        CudaTensors.requireDType(wide, "selective_scan_2d gradOut", gradOut);
        if (!f64) {
            if (states == null) throw new IllegalArgumentException("selective_scan_2d backward: needs the states the forward saved");
            expect("states", states, s.b(), ROUTES, s.d(), s.chunks(), s.n());
            CudaTensors.requireDType(DType.F32, "selective_scan_2d states", states);
        }
        if (x.numel() == 0) {
            // Sums over no positions: the parameter gradients are zero.
            for (Tensor g : grads) if (g != null) CudaBackend.of(ctx).fill(g, 0);
            return;
        }
        int e = wide.byteSize();
        long[] sizes = {x.numel(), delta.numel(), a.numel(), b.numel(), c.numel(), dSkip.numel(), deltaBias.numel()};
        long skipped = 0;
        for (int i = 0; i < grads.length; i++) if (grads[i] == null) skipped += sizes[i] * e;
        long recompute = f64 ? (s.stateElements() + x.numel()) * e : 0;
        try (DeviceScratch scratch = DeviceScratch.allocate(ctx, skipped + recompute)) {
            long next = scratch.ptr();
            long[] ptrs = new long[grads.length];
            for (int i = 0; i < grads.length; i++) {
                if (grads[i] != null) {
                    ptrs[i] = CudaTensors.ptr(grads[i]);
                } else {
                    ptrs[i] = next;
                    next += sizes[i] * e;
                }
            }
            long st;
            if (f64) {
                st = next;
                long out = st + s.stateElements() * e;
                SelectiveScanCuda.forward(ctx, x.dtype(), s, CudaTensors.ptr(x), CudaTensors.ptr(delta), CudaTensors.ptr(a),
                        CudaTensors.ptr(b), CudaTensors.ptr(c), CudaTensors.ptr(dSkip), CudaTensors.ptr(deltaBias), out, st);
            } else {
                st = CudaTensors.ptr(states);
            }
            SelectiveScanCuda.backward(ctx, x.dtype(), s, CudaTensors.ptr(x), CudaTensors.ptr(delta), CudaTensors.ptr(a),
                    CudaTensors.ptr(b), CudaTensors.ptr(c), CudaTensors.ptr(dSkip), CudaTensors.ptr(deltaBias), st,
                    CudaTensors.ptr(gradOut), ptrs[0], ptrs[1], ptrs[2], ptrs[3], ptrs[4], ptrs[5], ptrs[6]);
        }
    }
}
