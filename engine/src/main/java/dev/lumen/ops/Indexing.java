package dev.lumen.ops;

import dev.lumen.autograd.Autograd;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * Index-driven gathers and scatters along one dim, with PyTorch's semantics: index_select,
 * gather and (out-of-place) scatter_add. Index tensors are I64 or I32; an index outside the
 * dim is an IllegalArgumentException naming the op, the index and the size.
 */
public final class Indexing {
    private Indexing() {}

    /** torch.index_select: the slices index[0], index[1] ... of dim; index is 1-D. Gradient: index_add into zeros. */
    public static Tensor indexSelect(Tensor x, int dim, Tensor index) {
        Devices.common("indexSelect", x, index);
        if (x.dim() < 1) throw new IllegalArgumentException("indexSelect: input must have at least 1 dim");
        int d = Shapes.wrapDim(dim, x.dim());
        checkIndexType("indexSelect", index);
        if (index.dim() > 1) {
            throw new IllegalArgumentException("indexSelect: index must be 1-D, got shape " + Shapes.str(index.shape()));
        }
        Tensor idx = index.dim() == 0 ? index.reshape(1) : index;
        int[] shape = x.shape();
        shape[d] = (int) idx.numel();
        Tensor out = Tensor.empty(x.dtype(), x.device(), shape);
        x.backend().indexing().indexSelect(x, d, idx, out);
        int[] inShape = x.shape();
        return Autograd.record("index_select", out, g -> {
            Tensor gx = Tensor.zeros(g.dtype(), g.device(), inShape);
            gx.backend().indexing().indexAdd(gx, d, idx, g);
            return new Tensor[] {gx};
        }, x);
    }

    /** torch.gather: out[.., j, ..] = x[.., index[.., j, ..], ..], out of index's shape. Gradient: scatter_add into zeros. */
    public static Tensor gather(Tensor x, int dim, Tensor index) {
        Devices.common("gather", x, index);
        int d = Shapes.wrapDim(dim, x.dim());
        checkIndexType("gather", index);
        checkShapes("gather", "input", x, index, d);
        Tensor out = Tensor.empty(x.dtype(), x.device(), index.shape());
        x.backend().indexing().gather(x, d, index, out);
        int[] inShape = x.shape();
        return Autograd.record("gather", out, g -> {
            Tensor gx = Tensor.zeros(g.dtype(), g.device(), inShape);
            gx.backend().indexing().scatterAdd(gx, d, index, g);
            return new Tensor[] {gx};
        }, x);
    }

    /**
     * torch.scatter_add, out of place: a copy of x with src[.., j, ..] added at
     * [.., index[.., j, ..], ..] for every position of index. The gradient passes to x
     * unchanged and reaches src as gather(gradOut, dim, index) (zero where src was not read).
     */
    public static Tensor scatterAdd(Tensor x, int dim, Tensor index, Tensor src) {
        Devices.common("scatterAdd", x, index, src);
        int d = Shapes.wrapDim(dim, x.dim());
        checkIndexType("scatterAdd", index);
        checkShapes("scatterAdd", "self", x, index, d);
        int[] ss = src.shape(), is = index.shape();
        boolean fits = ss.length == is.length;
        for (int k = 0; fits && k < is.length; k++) fits = is[k] <= ss[k];
        if (!fits) {
            throw new IllegalArgumentException("scatterAdd: index " + Shapes.str(is) + " must not be larger than src " + Shapes.str(ss)
                    + " in any dim");
        }
        Tensor s = src.dtype() == x.dtype() ? src : src.to(x.dtype());
        Tensor out = Tensor.empty(x.dtype(), x.device(), x.shape());
        x.backend().copy(x, out);
        x.backend().indexing().scatterAdd(out, d, index, s);
        return Autograd.record("scatter_add", out, g -> {
            Tensor gs = null;
            if (s.requiresGrad()) {
                Tensor gathered = Tensor.empty(g.dtype(), g.device(), is);
                g.backend().indexing().gather(g, d, index, gathered);
                if (Arrays.equals(is, ss)) {
                    gs = gathered;
                } else {
                    gs = Tensor.zeros(g.dtype(), g.device(), ss);
                    try (Tensor region = gs.viewOf(is, gs.strides(), gs.offset())) {
                        g.backend().copy(gathered, region);
                    }
                    gathered.close();
                }
            }
            return new Tensor[] {g, gs};
        }, x, s);
    }

    private static void checkIndexType(String op, Tensor index) {
        if (index.dtype() != DType.I64 && index.dtype() != DType.I32) {
            throw new IllegalArgumentException(op + ": index must be I64 or I32, got " + index.dtype());
        }
    }

    /** index has x's rank and is no larger than x outside dim d. */
    private static void checkShapes(String op, String what, Tensor x, Tensor index, int d) {
        int[] xs = x.shape(), is = index.shape();
        boolean ok = xs.length == is.length;
        for (int k = 0; ok && k < xs.length; k++) ok = k == d || is[k] <= xs[k];
        if (!ok) {
            throw new IllegalArgumentException(op + ": index " + Shapes.str(is) + " must have the rank of " + what + " " + Shapes.str(xs)
                    + " and be no larger outside dim " + d);
        }
    }
}
