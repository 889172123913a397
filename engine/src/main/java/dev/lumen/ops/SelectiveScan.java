package dev.lumen.ops;

import dev.lumen.autograd.Autograd;
import dev.lumen.autograd.GradMode;
import dev.lumen.backend.SelectiveScanKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * The selective 2-D scan of VMamba's SS2D block: cross-scan of x over four routes, the
 * selective state-space recurrence on each, and cross-merge of the results, as one op with
 * its gradient rule (see {@link SelectiveScanKernels} for the exact semantics).
 */
public final class SelectiveScan {
    private SelectiveScan() {}

    private static final String OP = "selective_scan_2d";
    private static final int K = SelectiveScanKernels.ROUTES;

    /**
     * y [B,D,H,W] for x [B,D,H,W], delta [B,4,D,H*W], a [4*D,N] (the caller passes
     * A = -exp(A_logs)), b and c [B,4,N,H*W], dSkip and deltaBias [4*D]. The step is
     * softplus(delta + deltaBias). x, delta, b and c may be F32, F16 or BF16 and are computed
     * in F32; a, dSkip and deltaBias are F32 (F16/BF16 ones are widened). The output is F32,
     * or F64 when every input is F64.
     */
    public static Tensor selectiveScan2d(Tensor x, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor dSkip, Tensor deltaBias) {
        Devices.common("selectiveScan2d", x, delta, a, b, c, dSkip, deltaBias);
        checkShapes(x, delta, a, b, c, dSkip, deltaBias);
        Tensor[] ins = {x, delta, a, b, c, dSkip, deltaBias};
        boolean f64 = x.dtype() == DType.F64;
        for (int i = 0; i < ins.length; i++) {
            DType t = ins[i].dtype();
            if (f64 ? t != DType.F64 : !(t == DType.F32 || t == DType.F16 || t == DType.BF16)) {
                throw new IllegalArgumentException(OP + ": " + NAMES[i] + " has dtype " + t + "; inputs are F32, F16 or BF16"
                        + " (computed in F32), or all F64");
            }
        }
        DType outType = f64 ? DType.F64 : DType.F32;
        Tensor[] k = new Tensor[ins.length];
        try (GradMode ng = GradMode.noGrad()) {
            for (int i = 0; i < ins.length; i++) {
                Tensor t = i == 2 || i >= 5 ? ins[i].to(outType) : ins[i]; // a, dSkip, deltaBias: compute dtype
                k[i] = t.contiguous();
            }
        }
        int nb = x.shape(0), nd = x.shape(1), n = b.shape(2), len = x.shape(2) * x.shape(3);
        Tensor out = Tensor.empty(outType, x.device(), x.shape());
        boolean grad = Autograd.needsGrad(ins);
        Tensor states = grad && !f64 ? Tensor.empty(DType.F32, x.device(), nb, K, nd, SelectiveScanKernels.chunks(len), n) : null;
        x.backend().selectiveScan().selectiveScan2dForward(k[0], k[1], k[2], k[3], k[4], k[5], k[6], out, states);
        return Autograd.record(OP, out, g -> {
            Tensor go = g.to(outType).contiguous();
            Tensor[] grads = new Tensor[ins.length];
            for (int i = 0; i < ins.length; i++) grads[i] = Tensor.empty(outType, x.device(), ins[i].shape());
            x.backend().selectiveScan().selectiveScan2dBackward(k[0], k[1], k[2], k[3], k[4], k[5], k[6], states, go,
                    grads[0], grads[1], grads[2], grads[3], grads[4], grads[5], grads[6]);
            if (go != g) go.close();
            for (int i = 0; i < ins.length; i++) {
                if (!ins[i].requiresGrad()) {
                    grads[i].close();
                    grads[i] = null;
                } else if (ins[i].dtype() != outType) {
                    Tensor cast = grads[i].to(ins[i].dtype());
                    grads[i].close();
                    grads[i] = cast;
                }
            }
            return grads;
        }, ins);
    }

    private static final String[] NAMES = {"x", "delta", "a", "b", "c", "dSkip", "deltaBias"};

    private static void checkShapes(Tensor x, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor dSkip, Tensor deltaBias) {
        if (x.dim() != 4) throw new IllegalArgumentException(OP + ": x must be [B, D, H, W], got " + Arrays.toString(x.shape()));
        int nb = x.shape(0), nd = x.shape(1), len = x.shape(2) * x.shape(3);
        if (b.dim() != 4 || b.shape(0) != nb || b.shape(1) != K || b.shape(3) != len) {
            throw new IllegalArgumentException(OP + ": b must be [B, 4, N, H*W] = [" + nb + ", 4, N, " + len + "] for x "
                    + Arrays.toString(x.shape()) + ", got " + Arrays.toString(b.shape()));
        }
        int n = b.shape(2);
        if (n < 1 || n > 16) throw new IllegalArgumentException(OP + ": d_state N = " + n + " (from b " + Arrays.toString(b.shape()) + ") must be 1..16");
        expect("delta", delta, new int[] {nb, K, nd, len}, x);
        expect("c", c, b.shape(), x);
        expect("a", a, new int[] {K * nd, n}, x);
        expect("dSkip", dSkip, new int[] {K * nd}, x);
        expect("deltaBias", deltaBias, new int[] {K * nd}, x);
        for (Tensor t : new Tensor[] {delta, a, b, c, dSkip, deltaBias}) {
            if (!t.device().equals(x.device())) {
                throw new IllegalArgumentException(OP + ": inputs must be on one device; x is on " + x.device() + ", another on " + t.device());
            }
        }
    }

    private static void expect(String name, Tensor t, int[] shape, Tensor x) {
        if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException(OP + ": " + name + " must be " + Arrays.toString(shape) + " for x "
                    + Arrays.toString(x.shape()) + ", got " + Arrays.toString(t.shape()));
        }
    }
}
