package dev.lumen.ops;

import dev.lumen.autograd.Autograd;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * Layout ops: views that share storage (reshape, permute, narrow, expand ...) and the copies
 * that change layout, dtype or device. Each records its gradient rule.
 */
public final class Views {
    private Views() {}

    /** Resolves a single -1 in a requested shape. */
    static int[] inferShape(int[] req, long numel) {
        int[] s = req.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException("only one dim can be -1 in " + Arrays.toString(req));
                infer = i;
            } else {
                known *= s[i];
            }
        }
        if (infer >= 0) {
            if (known == 0 || numel % known != 0) {
                throw new IllegalArgumentException("shape " + Arrays.toString(req) + " is invalid for " + numel + " elements");
            }
            s[infer] = (int) (numel / known);
        }
        if (Shapes.numel(s) != numel) {
            throw new IllegalArgumentException("shape " + Arrays.toString(req) + " is invalid for " + numel + " elements");
        }
        return s;
    }

    /** Strides for viewing x as newShape without a copy, or null if its layout does not allow it. */
    static int[] viewStrides(Tensor x, int[] newShape) {
        if (x.isContiguous()) return Shapes.contiguousStrides(newShape);
        // Split x's dims into contiguous chunks; each chunk must map onto a run of new dims.
        int[] os = x.shape(), ost = x.strides();
        int[] ns = new int[newShape.length];
        int oi = 0, ni = 0;
        while (ni < newShape.length || oi < os.length) {
            if (oi < os.length && os[oi] == 1) { oi++; continue; }
            if (ni < newShape.length && newShape[ni] == 1) { ns[ni] = 1; ni++; continue; }
            if (oi >= os.length || ni >= newShape.length) return null;
            // Gather a chunk of old dims that are mutually contiguous.
            long chunk = os[oi];
            int chunkEnd = oi;
            while (chunkEnd + 1 < os.length && (long) ost[chunkEnd] == (long) ost[chunkEnd + 1] * os[chunkEnd + 1]) {
                chunkEnd++;
                chunk *= os[chunkEnd];
            }
            int innerStride = ost[chunkEnd];
            long acc = 1;
            int nStart = ni;
            while (ni < newShape.length && acc < chunk) acc *= newShape[ni++];
            if (acc != chunk) return null;
            int st = innerStride;
            for (int k = ni - 1; k >= nStart; k--) {
                ns[k] = st;
                st *= newShape[k];
            }
            oi = chunkEnd + 1;
        }
        return ns;
    }

    public static Tensor view(Tensor x, int... shape) {
        int[] s = inferShape(shape, x.numel());
        int[] st = viewStrides(x, s);
        if (st == null) {
            throw new IllegalStateException("view " + Arrays.toString(shape) + " of a non-contiguous tensor " + Arrays.toString(x.shape())
                    + ": use reshape (which copies)");
        }
        int[] inShape = x.shape();
        Tensor out = x.viewOf(s, st, x.offset());
        return Autograd.record("view", out, g -> new Tensor[] {g.reshape(inShape)}, x);
    }

    public static Tensor reshape(Tensor x, int... shape) {
        int[] s = inferShape(shape, x.numel());
        if (viewStrides(x, s) != null) return view(x, s);
        return view(copy(x), s);
    }

    public static Tensor flatten(Tensor x, int startDim, int endDim) {
        int r = x.dim();
        if (r == 0) return reshape(x, 1);
        int a = Shapes.wrapDim(startDim, r), b = Shapes.wrapDim(endDim, r);
        int[] s = x.shape();
        int[] ns = new int[r - (b - a)];
        int k = 0;
        for (int i = 0; i < a; i++) ns[k++] = s[i];
        int m = 1;
        for (int i = a; i <= b; i++) m *= s[i];
        ns[k++] = m;
        for (int i = b + 1; i < r; i++) ns[k++] = s[i];
        return reshape(x, ns);
    }

    public static Tensor permute(Tensor x, int... dims) {
        int r = x.dim();
        if (dims.length != r) throw new IllegalArgumentException("permute needs " + r + " dims, got " + Arrays.toString(dims));
        int[] s = x.shape(), st = x.strides();
        int[] ns = new int[r], nst = new int[r], inverse = new int[r];
        boolean[] used = new boolean[r];
        for (int i = 0; i < r; i++) {
            int d = Shapes.wrapDim(dims[i], r);
            if (used[d]) throw new IllegalArgumentException("permute: repeated dim in " + Arrays.toString(dims));
            used[d] = true;
            ns[i] = s[d];
            nst[i] = st[d];
            inverse[d] = i;
        }
        Tensor out = x.viewOf(ns, nst, x.offset());
        return Autograd.record("permute", out, g -> new Tensor[] {permute(g, inverse)}, x);
    }

    public static Tensor transpose(Tensor x, int d0, int d1) {
        int r = x.dim();
        int[] p = new int[r];
        for (int i = 0; i < r; i++) p[i] = i;
        int a = Shapes.wrapDim(d0, r), b = Shapes.wrapDim(d1, r);
        p[a] = b;
        p[b] = a;
        return permute(x, p);
    }

    public static Tensor narrow(Tensor x, int dim, int start, int length) {
        int d = Shapes.wrapDim(dim, x.dim());
        int size = x.shape(d);
        if (start < 0) start += size;
        if (start < 0 || length < 0 || start + length > size) {
            throw new IndexOutOfBoundsException("narrow(" + dim + ", " + start + ", " + length + ") of size " + size);
        }
        return slice(x, d, start, start + length, 1);
    }

    public static Tensor slice(Tensor x, int dim, int start, int end, int step) {
        int d = Shapes.wrapDim(dim, x.dim());
        int size = x.shape(d);
        if (step <= 0) throw new IllegalArgumentException("slice step must be positive, got " + step);
        if (start < 0) start += size;
        if (end < 0) end += size;
        start = Math.max(0, Math.min(start, size));
        end = Math.max(start, Math.min(end, size));
        int[] s = x.shape(), st = x.strides();
        int len = (end - start + step - 1) / step;
        long off = x.offset() + (long) start * st[d];
        s[d] = len;
        st[d] *= step;
        Tensor out = x.viewOf(s, st, off);
        final int from = start;
        // The gradient goes into this view's part of x's gradient buffer, which the other views of x
        // (a split's parts, qkv's three heads) share: one buffer, not a zero tensor per view to add up.
        return Autograd.recordInto("slice", out, (g, gradX, zeros) -> {
            Tensor region = gradX.slice(d, from, from + (len - 1) * step + 1, step);
            if (zeros) region.backend().copy(g, region);
            else region.backend().elementwise().addInPlace(region, g, 1);
            region.close();
        }, x);
    }

    /** x[index] along dim, dropping the dim. */
    public static Tensor select(Tensor x, int dim, int index) {
        int d = Shapes.wrapDim(dim, x.dim());
        int size = x.shape(d);
        int i = index < 0 ? index + size : index;
        if (i < 0 || i >= size) throw new IndexOutOfBoundsException("index " + index + " out of range for dim " + dim + " of size " + size);
        return squeeze(narrow(x, d, i, 1), d);
    }

    public static Tensor expand(Tensor x, int... shape) {
        int r = shape.length;
        int[] s = x.shape(), st = x.strides();
        if (r < s.length) throw new IllegalArgumentException("expand to " + Arrays.toString(shape) + " has fewer dims than " + Arrays.toString(s));
        int[] ns = new int[r], nst = new int[r];
        int lead = r - s.length;
        for (int i = 0; i < r; i++) {
            int j = i - lead;
            int want = shape[i];
            if (j < 0) {
                if (want < 0) throw new IllegalArgumentException("expand: -1 for a new leading dim");
                ns[i] = want;
                nst[i] = 0;
            } else if (want == -1 || want == s[j]) {
                ns[i] = s[j];
                nst[i] = st[j];
            } else if (s[j] == 1) {
                ns[i] = want;
                nst[i] = 0;
            } else {
                throw new IllegalArgumentException("cannot expand " + Arrays.toString(s) + " to " + Arrays.toString(shape));
            }
        }
        int[] inShape = x.shape();
        Tensor out = x.viewOf(ns, nst, x.offset());
        return Autograd.record("expand", out, g -> new Tensor[] {Reductions.sumTo(g, inShape)}, x);
    }

    public static Tensor squeeze(Tensor x, int dim) {
        int d = Shapes.wrapDim(dim, x.dim());
        if (x.shape(d) != 1) return x;
        int[] s = x.shape(), st = x.strides();
        int[] ns = new int[s.length - 1], nst = new int[s.length - 1];
        for (int i = 0, k = 0; i < s.length; i++) {
            if (i == d) continue;
            ns[k] = s[i];
            nst[k++] = st[i];
        }
        Tensor out = x.viewOf(ns, nst, x.offset());
        return Autograd.record("squeeze", out, g -> new Tensor[] {unsqueeze(g, d)}, x);
    }

    public static Tensor unsqueeze(Tensor x, int dim) {
        int r = x.dim() + 1;
        int d = Shapes.wrapDim(dim, r);
        int[] s = x.shape(), st = x.strides();
        int[] ns = new int[r], nst = new int[r];
        for (int i = 0, k = 0; i < r; i++) {
            if (i == d) {
                ns[i] = 1;
                nst[i] = k < s.length ? st[k] * s[k] : 1;
            } else {
                ns[i] = s[k];
                nst[i] = st[k++];
            }
        }
        Tensor out = x.viewOf(ns, nst, x.offset());
        return Autograd.record("unsqueeze", out, g -> new Tensor[] {squeeze(g, d)}, x);
    }

    /** A contiguous copy; differentiable. */
    public static Tensor copy(Tensor x) {
        Tensor out = Tensor.empty(x.dtype(), x.device(), x.shape());
        x.backend().copy(x, out);
        return Autograd.record("copy", out, g -> new Tensor[] {g}, x);
    }

    /** Converts the dtype; the gradient is converted back. */
    public static Tensor cast(Tensor x, DType target) {
        Tensor out = Tensor.empty(target, x.device(), x.shape());
        x.backend().copy(x, out);
        DType source = x.dtype();
        if (!target.isFloating()) return out;
        return Autograd.record("cast", out, g -> new Tensor[] {cast(g, source)}, x);
    }

    /** Moves to another device; the gradient moves back. */
    public static Tensor toDevice(Tensor x, Device target) {
        Tensor out = Tensor.empty(x.dtype(), target, x.shape());
        (target.kind() == Device.Kind.CPU ? x.backend() : out.backend()).transfer(x.contiguous(), out);
        Device source = x.device();
        return Autograd.record("to_device", out, g -> new Tensor[] {toDevice(g, source)}, x);
    }
}
