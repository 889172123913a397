package dev.lumen.ops;

import dev.lumen.autograd.Autocast;
import dev.lumen.autograd.Autograd;
import dev.lumen.autograd.GradMode;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * Matrix products with PyTorch's semantics (torch.matmul, torch.bmm, F.linear) and their
 * gradient rules. Gradients are products with transposed views, which reach the GEMM as
 * transA/transB flags, not as copies. Under {@link Autocast} the operands are cast to its 16-bit
 * type and the product computes there (F32 accumulation); otherwise F16/BF16 compute in F32.
 */
public final class LinearAlgebra {
    private LinearAlgebra() {}

    /**
     * torch.matmul: 1-D x 1-D is a dot product; a 1-D operand is a row (left) or column
     * (right) vector that is removed from the result; otherwise the last two dims multiply
     * and the leading (batch) dims broadcast.
     */
    public static Tensor matmul(Tensor a, Tensor b) {
        Devices.common("matmul", a, b);
        a = Autocast.toLowPrecision(a);
        b = Autocast.toLowPrecision(b);
        int ra = a.dim(), rb = b.dim();
        if (ra == 0 || rb == 0) {
            throw new IllegalArgumentException("matmul: both arguments need at least 1 dim, got " + Shapes.str(a.shape()) + " and " + Shapes.str(b.shape()));
        }
        if (ra == 1 && rb == 1) {
            requireInner("matmul", a.shape(0), b.shape(0), a, b);
            return product(a.unsqueeze(0), b.unsqueeze(1)).reshape();
        }
        if (ra == 1) return matmul(a.unsqueeze(0), b).squeeze(-2);
        if (rb == 1) return matmul(a, b.unsqueeze(1)).squeeze(-1);
        requireInner("matmul", a.shape(-1), b.shape(-2), a, b);
        if (rb == 2 && ra > 2) {
            // [..., M, K] @ [K, N]: the batch folds into M (one GEMM, and b's gradient needs no batch sum).
            int[] as = a.shape();
            int[] outShape = as.clone();
            outShape[ra - 1] = b.shape(1);
            return product(a.reshape(-1, as[ra - 1]), b).view(outShape);
        }
        int[] batch = Shapes.broadcast(Arrays.copyOf(a.shape(), ra - 2), Arrays.copyOf(b.shape(), rb - 2));
        return product(expandTo(a, concat(batch, a.shape(-2), a.shape(-1))), expandTo(b, concat(batch, b.shape(-2), b.shape(-1))));
    }

    /** torch.bmm: [B, M, K] @ [B, K, N] -> [B, M, N], no broadcasting. */
    public static Tensor bmm(Tensor a, Tensor b) {
        Devices.common("bmm", a, b);
        a = Autocast.toLowPrecision(a);
        b = Autocast.toLowPrecision(b);
        if (a.dim() != 3 || b.dim() != 3 || a.shape(0) != b.shape(0)) {
            throw new IllegalArgumentException("bmm: expects [B, M, K] and [B, K, N] with one B, got " + Shapes.str(a.shape()) + " and " + Shapes.str(b.shape()));
        }
        requireInner("bmm", a.shape(2), b.shape(1), a, b);
        return product(a, b);
    }

    /** F.linear: x [..., in] @ weight[out, in]^T + bias[out] (bias may be null). */
    public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        Devices.common("linear", x, weight, bias);
        return linearIn(Autocast.toLowPrecision(x), Autocast.toLowPrecision(weight), Autocast.toLowPrecision(bias));
    }

    private static Tensor linearIn(Tensor x, Tensor weight, Tensor bias) {
        if (weight.dim() != 2 || x.dim() < 1 || x.shape(-1) != weight.shape(1)) {
            throw new IllegalArgumentException("linear: input " + Shapes.str(x.shape()) + " and weight " + Shapes.str(weight.shape())
                    + " (expects weight [out, in] with in = the input's last dim)");
        }
        int outF = weight.shape(0), inF = weight.shape(1);
        if (bias != null && (bias.dim() != 1 || bias.shape(0) != outF)) {
            throw new IllegalArgumentException("linear: bias " + Shapes.str(bias.shape()) + " for weight " + Shapes.str(weight.shape()) + " (expects [" + outF + "])");
        }
        DType t = promote("linear", x, weight, bias);
        int[] xs = x.shape();
        int[] outShape = xs.clone();
        outShape[xs.length - 1] = outF;
        Tensor out;
        try (GradMode ng = GradMode.noGrad()) {
            Tensor x2 = x.to(t).reshape(-1, inF);
            Tensor wt = weight.to(t).transpose(0, 1);
            out = Tensor.empty(t, x.device(), x2.shape(0), outF);
            boolean acc = bias != null;
            if (acc) out.backend().copy(bias.to(t).expand(out.shape()), out);
            out.backend().linalg().matmul(x2, wt, out, acc);
            out = out.view(outShape);
        }
        Tensor[] inputs = bias == null ? new Tensor[] {x, weight} : new Tensor[] {x, weight, bias};
        return Autograd.record("linear", out, g -> {
            Tensor g2 = g.reshape(-1, outF);
            Tensor gx = x.requiresGrad() ? raw(g2, weight.to(t)).view(xs).to(x.dtype()) : null;
            Tensor gw = weight.requiresGrad() ? raw(g2.transpose(0, 1), x.to(t).reshape(-1, inF)).to(weight.dtype()) : null;
            if (bias == null) return new Tensor[] {gx, gw};
            Tensor gb = bias.requiresGrad() ? Reductions.sum(g2, new int[] {0}, false).to(bias.dtype()) : null;
            return new Tensor[] {gx, gw, gb};
        }, inputs);
    }

    /** a [..., M, K] @ b [..., K, N] with equal batch dims, recorded with its gradient rule. */
    private static Tensor product(Tensor a, Tensor b) {
        DType t = promote("matmul", a, b, null);
        Tensor ca = a.dtype() == t ? a : a.to(t), cb = b.dtype() == t ? b : b.to(t);
        int r = a.dim();
        int[] outShape = a.shape();
        outShape[r - 1] = b.shape(r - 1);
        Tensor out = Tensor.empty(t, a.device(), outShape);
        a.backend().linalg().matmul(ca, cb, out, false);
        return Autograd.record("matmul", out, g -> new Tensor[] {
            ca.requiresGrad() ? raw(g, cb.transpose(-1, -2)) : null,
            cb.requiresGrad() ? raw(ca.transpose(-1, -2), g) : null}, ca, cb);
    }

    /** The product without recording (inside gradient rules). */
    private static Tensor raw(Tensor a, Tensor b) {
        int r = a.dim();
        int[] outShape = a.shape();
        outShape[r - 1] = b.shape(r - 1);
        Tensor out = Tensor.empty(a.dtype(), a.device(), outShape);
        a.backend().linalg().matmul(a, b, out, false);
        return out;
    }

    private static DType promote(String op, Tensor a, Tensor b, Tensor c) { return Convolution.computeType(op, a, b, c); }

    private static void requireInner(String op, int k1, int k2, Tensor a, Tensor b) {
        if (k1 != k2) {
            throw new IllegalArgumentException(op + ": shapes " + Shapes.str(a.shape()) + " and " + Shapes.str(b.shape())
                    + " cannot be multiplied (" + k1 + " != " + k2 + ")");
        }
    }

    private static Tensor expandTo(Tensor x, int[] shape) {
        return Arrays.equals(x.shape(), shape) ? x : x.expand(shape);
    }

    private static int[] concat(int[] batch, int x, int y) {
        int[] s = Arrays.copyOf(batch, batch.length + 2);
        s[batch.length] = x;
        s[batch.length + 1] = y;
        return s;
    }
}
