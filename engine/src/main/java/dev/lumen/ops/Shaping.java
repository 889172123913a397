package dev.lumen.ops;

import dev.lumen.autograd.Autograd;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Ops that assemble or rearrange tensors: cat, stack, split, chunk, pad, flip, roll, with
 * PyTorch's semantics. They are views plus {@code Backend.copy} into slices of a fresh
 * output, so they need no kernels of their own; their gradients are exact (slices of, or
 * copies into, the incoming gradient).
 */
public final class Shaping {
    private Shaping() {}

    // ---------------------------------------------------------------- cat / stack

    /** torch.cat: joins tensors of equal shape except in dim; promotes dtypes as torch does. */
    public static Tensor cat(List<Tensor> ts, int dim) {
        Devices.common("cat", ts);
        if (ts == null || ts.isEmpty()) throw new IllegalArgumentException("cat: expects a non-empty list of tensors");
        // As torch, 1-D empty tensors are skipped when the others have more dims (a legacy convenience).
        List<Tensor> parts = new ArrayList<>();
        int rank = -1;
        for (Tensor t : ts) if (!(t.dim() == 1 && t.numel() == 0)) rank = Math.max(rank, t.dim());
        for (Tensor t : ts) if (rank < 0 || !(t.dim() == 1 && t.numel() == 0 && rank > 1)) parts.add(t);
        if (rank < 0) rank = 1;
        if (rank == 0) throw new IllegalArgumentException("cat: zero-dimensional tensors cannot be concatenated");
        int d = Shapes.wrapDim(dim, rank);
        int[] shape = parts.get(0).shape();
        DType type = parts.get(0).dtype();
        int total = 0;
        for (int i = 0; i < parts.size(); i++) {
            Tensor t = parts.get(i);
            int[] s = t.shape();
            if (s.length != rank) {
                throw new IllegalArgumentException("cat: tensor " + i + " has shape " + Shapes.str(s) + ", expected rank " + rank
                        + " like " + Shapes.str(shape));
            }
            for (int k = 0; k < rank; k++) {
                if (k != d && s[k] != shape[k]) {
                    throw new IllegalArgumentException("cat: sizes must match except in dim " + d + "; tensor " + i + " has shape "
                            + Shapes.str(s) + ", tensor 0 has " + Shapes.str(shape));
                }
            }
            if (!t.device().equals(parts.get(0).device())) {
                throw new IllegalArgumentException("cat: tensor " + i + " is on " + t.device() + ", tensor 0 on " + parts.get(0).device());
            }
            type = DType.promote(type, t.dtype());
            total += s[d];
        }
        shape[d] = total;
        Tensor out = Tensor.empty(type, parts.get(0).device(), shape);
        int[] starts = new int[parts.size()], lengths = new int[parts.size()];
        DType[] types = new DType[parts.size()];
        int at = 0;
        for (int i = 0; i < parts.size(); i++) {
            Tensor t = parts.get(i);
            starts[i] = at;
            lengths[i] = t.shape(d);
            types[i] = t.dtype();
            try (Tensor region = narrowRaw(out, d, at, lengths[i])) {
                out.backend().copy(t, region);
            }
            at += lengths[i];
        }
        return Autograd.record("cat", out, g -> {
            Tensor[] grads = new Tensor[parts.size()];
            for (int i = 0; i < grads.length; i++) {
                if (!parts.get(i).requiresGrad()) continue;
                Tensor gi = g.narrow(d, starts[i], lengths[i]);
                grads[i] = gi.dtype() == types[i] ? gi : gi.to(types[i]);
            }
            return grads;
        }, parts.toArray(new Tensor[0]));
    }

    /** torch.stack: joins tensors of one shape along a new dim. */
    public static Tensor stack(List<Tensor> ts, int dim) {
        Devices.common("stack", ts);
        if (ts == null || ts.isEmpty()) throw new IllegalArgumentException("stack: expects a non-empty list of tensors");
        int[] shape = ts.get(0).shape();
        int d = Shapes.wrapDim(dim, shape.length + 1);
        List<Tensor> parts = new ArrayList<>(ts.size());
        for (int i = 0; i < ts.size(); i++) {
            Tensor t = ts.get(i);
            if (!Arrays.equals(t.shape(), shape)) {
                throw new IllegalArgumentException("stack: expects tensors of one shape; tensor " + i + " is " + Shapes.str(t.shape())
                        + ", tensor 0 is " + Shapes.str(shape));
            }
            parts.add(t.unsqueeze(d));
        }
        return cat(parts, d);
    }

    // ---------------------------------------------------------------- split / chunk

    /** torch.split with one size: views of size elements along dim, the last one possibly smaller. */
    public static List<Tensor> split(Tensor x, int size, int dim) {
        int d = Shapes.wrapDim(dim, x.dim());
        int n = x.shape(d);
        if (size < 0 || (size == 0 && n != 0)) {
            throw new IllegalArgumentException("split: size " + size + " must be positive to split dim " + d + " of size " + n);
        }
        List<Tensor> out = new ArrayList<>();
        if (n == 0) {
            out.add(x.narrow(d, 0, 0));
            return out;
        }
        for (int start = 0; start < n; start += size) out.add(x.narrow(d, start, Math.min(size, n - start)));
        return out;
    }

    /** torch.split with sizes: views of the given sizes along dim, which must add up to its size. */
    public static List<Tensor> split(Tensor x, int[] sizes, int dim) {
        int d = Shapes.wrapDim(dim, x.dim());
        long sum = 0;
        for (int s : sizes) {
            if (s < 0) throw new IllegalArgumentException("split: negative size in " + Arrays.toString(sizes));
            sum += s;
        }
        if (sum != x.shape(d)) {
            throw new IllegalArgumentException("split: sizes " + Arrays.toString(sizes) + " add up to " + sum + ", not to the size "
                    + x.shape(d) + " of dim " + d + " of " + Shapes.str(x.shape()));
        }
        List<Tensor> out = new ArrayList<>(sizes.length);
        int start = 0;
        for (int s : sizes) {
            out.add(x.narrow(d, start, s));
            start += s;
        }
        return out;
    }

    /** torch.chunk: ceil(size / chunks) elements per piece, so there may be fewer than chunks pieces. */
    public static List<Tensor> chunk(Tensor x, int chunks, int dim) {
        if (chunks <= 0) throw new IllegalArgumentException("chunk: number of chunks must be positive, got " + chunks);
        int d = Shapes.wrapDim(dim, x.dim());
        int n = x.shape(d);
        return split(x, Math.max(1, (n + chunks - 1) / chunks), d);
    }

    // ---------------------------------------------------------------- pad

    /**
     * torch.nn.functional.pad in constant mode. pads come in torch's order, last dim first:
     * (left, right) of the last dim, then (top, bottom) of the one before, and so on.
     * Negative pads crop.
     */
    public static Tensor pad(Tensor x, int[] pads, double value) {
        int rank = x.dim();
        if (pads.length % 2 != 0 || pads.length / 2 > rank) {
            throw new IllegalArgumentException("pad: " + pads.length + " pad values " + Arrays.toString(pads)
                    + " must be an even number, at most 2 per dim of " + Shapes.str(x.shape()));
        }
        int[] in = x.shape(), outShape = x.shape();
        int[] inStart = new int[rank], outStart = new int[rank], len = x.shape();
        boolean crops = false, empty = false;
        for (int j = 0; j < pads.length / 2; j++) {
            int d = rank - 1 - j, l = pads[2 * j], r = pads[2 * j + 1];
            outShape[d] = in[d] + l + r;
            if (outShape[d] < 0) {
                throw new IllegalArgumentException("pad: pads (" + l + ", " + r + ") leave dim " + d + " of " + Shapes.str(in)
                        + " with negative size " + outShape[d]);
            }
            inStart[d] = Math.max(0, -l);
            outStart[d] = Math.max(0, l);
            len[d] = in[d] - Math.max(0, -l) - Math.max(0, -r);
            if (len[d] <= 0) {
                len[d] = 0;
                empty = true;
            }
            crops |= l < 0 || r < 0;
        }
        Tensor out = Tensor.full(value, x.dtype(), x.device(), outShape);
        if (!empty) {
            try (Tensor src = regionRaw(x, inStart, len); Tensor dst = regionRaw(out, outStart, len)) {
                out.backend().copy(src, dst);
            }
        }
        boolean isEmpty = empty, isCrop = crops;
        return Autograd.record("pad", out, g -> {
            if (!isCrop) return new Tensor[] {region(g, outStart, len)};
            Tensor gx = Tensor.zeros(g.dtype(), g.device(), in);
            if (!isEmpty) {
                try (Tensor src = regionRaw(g, outStart, len); Tensor dst = regionRaw(gx, inStart, len)) {
                    gx.backend().copy(src, dst);
                }
            }
            return new Tensor[] {gx};
        }, x);
    }

    // ---------------------------------------------------------------- flip / roll

    /** torch.flip: a copy with the order of the given dims reversed. */
    public static Tensor flip(Tensor x, int... dims) {
        int rank = x.dim();
        int[] shape = x.shape(), strides = x.strides();
        boolean[] seen = new boolean[Math.max(rank, 1)];
        long offset = x.offset();
        for (int dim : dims) {
            int d = Shapes.wrapDim(dim, rank);
            if (seen[d]) throw new IllegalArgumentException("flip: dim " + d + " appears more than once in " + Arrays.toString(dims));
            seen[d] = true;
            if (rank == 0) continue;
            if (shape[d] > 0) offset += (long) (shape[d] - 1) * strides[d];
            strides[d] = -strides[d];
        }
        Tensor out = Tensor.empty(x.dtype(), x.device(), shape);
        try (Tensor reversed = x.viewOf(shape, strides, offset)) {
            x.backend().copy(reversed, out);
        }
        return Autograd.record("flip", out, g -> new Tensor[] {flip(g, dims)}, x);
    }

    /** torch.roll: elements shifted along each dim, wrapping around. */
    public static Tensor roll(Tensor x, int[] shifts, int[] dims) {
        if (dims == null || dims.length == 0) {
            if (shifts.length != 1) {
                throw new IllegalArgumentException("roll: without dims it needs exactly one shift, got " + Arrays.toString(shifts));
            }
            return roll(x.reshape(-1), shifts, new int[] {0}).view(x.shape());
        }
        if (shifts.length != dims.length) {
            throw new IllegalArgumentException("roll: " + shifts.length + " shifts " + Arrays.toString(shifts) + " for "
                    + dims.length + " dims " + Arrays.toString(dims));
        }
        Tensor cur = x;
        for (int i = 0; i < dims.length; i++) {
            int d = Shapes.wrapDim(dims[i], x.dim());
            int n = x.shape(d);
            int s = n == 0 ? 0 : Math.floorMod(shifts[i], n);
            Tensor next = Tensor.empty(x.dtype(), x.device(), x.shape());
            try (Tensor a = narrowRaw(cur, d, n - s, s); Tensor b = narrowRaw(next, d, 0, s);
                 Tensor c = narrowRaw(cur, d, 0, n - s); Tensor e = narrowRaw(next, d, s, n - s)) {
                x.backend().copy(a, b);
                x.backend().copy(c, e);
            }
            if (cur != x) cur.close();
            cur = next;
        }
        int[] back = new int[shifts.length];
        for (int i = 0; i < back.length; i++) back[i] = -shifts[i];
        return Autograd.record("roll", cur, g -> new Tensor[] {roll(g, back, dims)}, x);
    }

    // ---------------------------------------------------------------- helpers

    /** The slice [start, start+length) of dim as a view outside the tape; the caller closes it. */
    static Tensor narrowRaw(Tensor t, int dim, int start, int length) {
        int[] shape = t.shape();
        shape[dim] = length;
        return t.viewOf(shape, t.strides(), t.offset() + (long) start * t.stride(dim));
    }

    /** The box [start, start+len) in every dim as a view outside the tape; the caller closes it. */
    private static Tensor regionRaw(Tensor t, int[] start, int[] len) {
        int[] st = t.strides();
        long off = t.offset();
        for (int d = 0; d < st.length; d++) off += (long) start[d] * st[d];
        return t.viewOf(len.clone(), st, off);
    }

    /** The same box as a (recorded) view. */
    private static Tensor region(Tensor t, int[] start, int[] len) {
        Tensor r = t;
        for (int d = 0; d < start.length; d++) if (start[d] != 0 || len[d] != t.shape(d)) r = r.narrow(d, start[d], len[d]);
        return r;
    }
}
