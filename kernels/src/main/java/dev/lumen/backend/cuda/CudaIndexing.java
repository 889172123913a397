package dev.lumen.backend.cuda;

import dev.lumen.cuda.CudaContext;
import dev.lumen.backend.IndexKernels;
import dev.lumen.cuda.KernelArgs;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * {@link IndexKernels} on the device (indexing.cu), one launch per op over strided tensors.
 *
 * <p>Range check: every call queues a {@link DeferredChecks} check of its indices, with the
 * CPU's message naming the op, and does not wait for it; a bad index throws that message at the
 * next host read. The kernels stay inside their tensors regardless: the gathers write 0 for a
 * bad index, and the in-place adds write nothing once a check has failed, so a failed op leaves
 * dst untouched as on the CPU.
 */
final class CudaIndexing implements IndexKernels {
    private final DeferredChecks checks;

    private final CudaContext ctx;

    CudaIndexing(CudaContext ctx, DeferredChecks checks) {
        this.ctx = ctx;
        this.checks = checks;
    }

    @Override
    public void indexSelect(Tensor x, int dim, Tensor index, Tensor out) {
        String op = "indexSelect";
        checkDim(op, x, dim);
        requireIndexVector(op, index, out.shape(dim));
        requireSameExceptDim(op, "out", out.shape(), x.shape(), dim);
        CudaTensors.requireDType(x.dtype(), op + " out", out);
        checkRange(op, index, dim, x.shape(dim));
        if (out.numel() == 0) return;
        CudaTensors.Layout l = Walk.over(out.shape(), 3)
                .operand(0, Walk.stridesHeldAt(x.strides(), dim), x.offset())
                .coordinate(1, dim)
                .operand(2, Walk.stridesHeldAt(out.strides(), -1), out.offset())
                .layout();
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.base(x)).view(l, 0).i64(x.stride(dim)).i64(x.shape(dim)).ptr(CudaTensors.ptr(index)).i64(index.stride(0))
                    .view(l, 1).ptr(CudaTensors.base(out)).view(l, 2);
            Launch.elementwise(ctx, "index_select_" + suffixes(x, index), l.numel(), a);
        }
    }

    @Override
    public void indexAdd(Tensor dst, int dim, Tensor index, Tensor src) {
        String op = "indexAdd";
        checkDim(op, dst, dim);
        requireIndexVector(op, index, src.shape(dim));
        requireSameExceptDim(op, "src", src.shape(), dst.shape(), dim);
        CudaTensors.requireDType(dst.dtype(), op + " src", src);
        checkRange(op, index, dim, dst.shape(dim));
        if (dst.numel() == 0 || src.numel() == 0) return;
        // Owners: every element of dst (src's shape with dst's size at dim).
        CudaTensors.Layout l = Walk.over(dst.shape(), 3)
                .operand(0, Walk.stridesHeldAt(dst.strides(), -1), dst.offset())
                .operand(1, Walk.stridesHeldAt(src.strides(), dim), src.offset())
                .coordinate(2, dim)
                .layout();
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.base(dst)).view(l, 0).ptr(CudaTensors.base(src)).view(l, 1).i64(src.stride(dim))
                    .ptr(CudaTensors.ptr(index)).i64(index.stride(0)).i32(src.shape(dim)).view(l, 2).ptr(checks.failedKey());
            Launch.elementwise(ctx, "index_add_" + suffixes(dst, index), l.numel(), a);
        }
    }

    @Override
    public void gather(Tensor x, int dim, Tensor index, Tensor out) {
        String op = "gather";
        checkDim(op, x, dim);
        requireIndexDType(op, index);
        requireShape(op + " out", out.shape(), index.shape());
        requireWithin(op, "index", index.shape(), x.shape(), dim);
        CudaTensors.requireDType(x.dtype(), op + " out", out);
        checkRange(op, index, dim, x.shape(dim));
        if (out.numel() == 0) return;
        CudaTensors.Layout l = Walk.over(index.shape(), 3)
                .operand(0, Walk.stridesHeldAt(x.strides(), dim), x.offset())
                .operand(1, Walk.stridesHeldAt(index.strides(), -1), index.offset())
                .operand(2, Walk.stridesHeldAt(out.strides(), -1), out.offset())
                .layout();
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.base(x)).view(l, 0).i64(x.stride(dim)).i64(x.shape(dim)).ptr(CudaTensors.base(index)).view(l, 1)
                    .ptr(CudaTensors.base(out)).view(l, 2);
            Launch.elementwise(ctx, "gather_fwd_" + suffixes(x, index), l.numel(), a);
        }
    }

    @Override
    public void scatterAdd(Tensor dst, int dim, Tensor index, Tensor src) {
        String op = "scatterAdd";
        checkDim(op, dst, dim);
        requireIndexDType(op, index);
        requireWithin(op, "index", index.shape(), dst.shape(), dim);
        requireWithin(op, "index", index.shape(), src.shape(), -1);
        CudaTensors.requireDType(dst.dtype(), op + " src", src);
        checkRange(op, index, dim, dst.shape(dim));
        if (index.numel() == 0 || dst.shape(dim) == 0) return;
        // Owners: dst over index's extents in the other dims and all of dst's dim.
        int[] owners = index.shape();
        owners[dim] = dst.shape(dim);
        CudaTensors.Layout l = Walk.over(owners, 4)
                .operand(0, Walk.stridesHeldAt(dst.strides(), -1), dst.offset())
                .operand(1, Walk.stridesHeldAt(src.strides(), dim), src.offset())
                .operand(2, Walk.stridesHeldAt(index.strides(), dim), index.offset())
                .coordinate(3, dim)
                .layout();
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.base(dst)).view(l, 0).ptr(CudaTensors.base(src)).view(l, 1).i64(src.stride(dim))
                    .ptr(CudaTensors.base(index)).view(l, 2).i64(index.stride(dim)).i32(index.shape(dim)).view(l, 3).ptr(checks.failedKey());
            Launch.elementwise(ctx, "scatter_add_" + suffixes(dst, index), l.numel(), a);
        }
    }

    /** Queues the range check of index against the size of dim, failing with the CPU's message at the next host read. */
    private void checkRange(String op, Tensor index, int dim, int size) {
        checks.check(index, size, v -> op + ": index " + v + " is out of range for dim " + dim + " of size " + size);
    }

    private static String suffixes(Tensor data, Tensor index) {
        return CudaBackend.suffix(data.dtype()) + "_" + CudaBackend.suffix(index.dtype());
    }

    private static void requireIndexDType(String op, Tensor index) {
        if (index.dtype() != DType.I64 && index.dtype() != DType.I32) {
            throw new IllegalArgumentException(op + ": index must be I64 or I32, got " + index.dtype());
        }
        CudaTensors.ptr(index);
    }

    private static void requireIndexVector(String op, Tensor index, int length) {
        requireIndexDType(op, index);
        if (index.dim() != 1 || index.shape(0) != length) {
            throw new IllegalArgumentException(op + ": index must be 1-D of length " + length + ", got " + Arrays.toString(index.shape()));
        }
    }

    private static void checkDim(String op, Tensor x, int dim) {
        if (dim < 0 || dim >= x.dim()) throw new IllegalArgumentException(op + ": dim " + dim + " out of range for rank " + x.dim());
    }

    private static void requireShape(String what, int[] got, int[] want) {
        if (!Arrays.equals(got, want)) throw new IllegalArgumentException(what + ": shape " + Arrays.toString(got) + ", expected " + Arrays.toString(want));
    }

    /** a and b have one rank and equal sizes except at dim. */
    private static void requireSameExceptDim(String op, String what, int[] a, int[] b, int dim) {
        boolean ok = a.length == b.length;
        for (int d = 0; ok && d < a.length; d++) ok = d == dim || a[d] == b[d];
        if (!ok) throw new IllegalArgumentException(op + ": " + what + " shape " + Arrays.toString(a) + " must match " + Arrays.toString(b) + " except at dim " + dim);
    }

    /** a has b's rank and no size above b's, except at dim (-1: none). */
    private static void requireWithin(String op, String what, int[] a, int[] b, int dim) {
        boolean ok = a.length == b.length;
        for (int d = 0; ok && d < a.length; d++) ok = d == dim || a[d] <= b[d];
        if (!ok) throw new IllegalArgumentException(op + ": " + what + " shape " + Arrays.toString(a) + " exceeds " + Arrays.toString(b)
                + (dim >= 0 ? " outside dim " + dim : ""));
    }
}
