package dev.lumen.ops;

import dev.lumen.autograd.Autograd;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;

/** Reductions over dims, and their gradient rules. */
public final class Reductions {
    private Reductions() {}

    private static int[] keptShape(int[] shape, int[] dims) {
        int[] s = shape.clone();
        for (int d : dims) s[d] = 1;
        return s;
    }

    private static int[] droppedShape(int[] shape, int[] dims) {
        int[] s = new int[shape.length - dims.length];
        for (int i = 0, k = 0, j = 0; i < shape.length; i++) {
            if (j < dims.length && dims[j] == i) { j++; continue; }
            s[k++] = shape[i];
        }
        return s;
    }

    /** Sum over dims (all dims if none given). */
    public static Tensor sum(Tensor x, int[] dims, boolean keepdim) {
        int[] d = Shapes.normalizeDims(dims, x.dim());
        int[] kept = keptShape(x.shape(), d);
        Tensor out = Tensor.empty(x.dtype(), x.device(), kept);
        x.backend().reductions().sum(x, d, out);
        int[] inShape = x.shape();
        Tensor res = Autograd.record("sum", out, g -> new Tensor[] {g.expand(inShape).contiguous()}, x);
        return keepdim ? res : res.view(droppedShape(x.shape(), d));
    }

    public static Tensor sum(Tensor x) { return sum(x, null, false); }

    /** Sums a broadcast gradient back to the shape of the operand that was broadcast. */
    public static Tensor sumTo(Tensor g, int[] shape) {
        int[] gs = g.shape();
        if (java.util.Arrays.equals(gs, shape)) return g;
        int lead = gs.length - shape.length;
        java.util.List<Integer> dims = new java.util.ArrayList<>();
        for (int i = 0; i < gs.length; i++) {
            if (i < lead || (shape[i - lead] == 1 && gs[i] != 1)) dims.add(i);
        }
        Tensor s = sum(g, dims.stream().mapToInt(Integer::intValue).toArray(), true);
        return s.reshape(shape);
    }
}
