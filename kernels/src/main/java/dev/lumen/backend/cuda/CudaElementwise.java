package dev.lumen.backend.cuda;

import dev.lumen.cuda.CudaContext;
import dev.lumen.backend.ElementwiseKernels;
import dev.lumen.cuda.KernelArgs;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * {@link ElementwiseKernels} on the device (elementwise.cu): every method is one grid-stride
 * launch of a kernel per dtype over the operands' broadcast, strided layout, with the op passed
 * as its enum ordinal. Every dtype the CPU backend accepts is accepted; values follow the CPU's
 * semantics (see elementwise.cu), F32 and half types computing in float.
 */
final class CudaElementwise implements ElementwiseKernels {
    private final CudaContext ctx;

    CudaElementwise(CudaContext ctx) { this.ctx = ctx; }

    @Override
    public void binary(Binary op, Tensor a, Tensor b, Tensor out) {
        CudaTensors.requireDType(out.dtype(), "binary " + op, a, b);
        launch("binary_fwd", out.dtype(), op.ordinal(), out.shape(), new Tensor[] {a, b, out}, 2);
    }

    @Override
    public void binaryBackward(Binary op, Tensor a, Tensor b, Tensor gradOut, Tensor gradA, Tensor gradB) {
        DType t = gradOut.dtype();
        CudaTensors.requireDType(t, "binaryBackward " + op, a, b, gradA, gradB);
        if (gradA == null && gradB == null) return;
        // A gradient not wanted gets a null pointer, with gradOut's layout as a placeholder view.
        Tensor ga = gradA != null ? gradA : gradOut, gb = gradB != null ? gradB : gradOut;
        CudaTensors.Layout l = CudaTensors.layout(gradOut.shape(), a, b, gradOut, ga, gb);
        if (gradA != null) requireDistinctElements(l, 3, "binaryBackward gradA");
        if (gradB != null) requireDistinctElements(l, 4, "binaryBackward gradB");
        try (KernelArgs args = new KernelArgs()) {
            args.i32(op.ordinal());
            operand(args, l, 0, a);
            operand(args, l, 1, b);
            operand(args, l, 2, gradOut);
            args.ptr(gradA != null ? CudaTensors.base(gradA) : 0).view(l, 3);
            args.ptr(gradB != null ? CudaTensors.base(gradB) : 0).view(l, 4);
            Launch.elementwise(ctx, kernel("binary_bwd", t), l.numel(), args);
        }
    }

    @Override
    public void unary(Unary op, Tensor x, double p0, double p1, Tensor out) {
        CudaTensors.requireDType(out.dtype(), "unary " + op, x);
        launch("unary_fwd", out.dtype(), op.ordinal(), out.shape(), new Tensor[] {x, out}, 1, p0, p1);
    }

    @Override
    public void unaryBackward(Unary op, Tensor x, double p0, double p1, Tensor gradOut, Tensor gradIn) {
        CudaTensors.requireDType(gradIn.dtype(), "unaryBackward " + op, x, gradOut);
        launch("unary_bwd", gradIn.dtype(), op.ordinal(), gradIn.shape(), new Tensor[] {x, gradOut, gradIn}, 2, p0, p1);
    }

    @Override
    public void compare(Compare op, Tensor a, Tensor b, Tensor out) {
        CudaTensors.requireDType(a.dtype(), "compare " + op, b);
        CudaTensors.requireDType(DType.BOOL, "compare " + op + " output", out);
        launch("compare_fwd", a.dtype(), op.ordinal(), out.shape(), new Tensor[] {a, b, out}, 2);
    }

    @Override
    public void compareScalar(Compare op, Tensor a, double s, Tensor out) {
        CudaTensors.requireDType(DType.BOOL, "compareScalar " + op + " output", out);
        CudaTensors.Layout l = layout(out.shape(), new Tensor[] {a, out}, 1);
        try (KernelArgs args = new KernelArgs()) {
            args.i32(op.ordinal());
            operand(args, l, 0, a);
            args.f64(s);
            operand(args, l, 1, out);
            Launch.elementwise(ctx, kernel("compare_scalar_fwd", a.dtype()), l.numel(), args);
        }
    }

    @Override
    public void where(Tensor cond, Tensor a, Tensor b, Tensor out) {
        CudaTensors.requireDType(DType.BOOL, "where condition", cond);
        CudaTensors.requireDType(out.dtype(), "where", a, b);
        launch("where_fwd", out.dtype(), -1, out.shape(), new Tensor[] {cond, a, b, out}, 3);
    }

    @Override
    public void affine(Tensor x, double alpha, double beta, Tensor out) {
        CudaTensors.requireDType(out.dtype(), "affine", x);
        launch("affine_fwd", out.dtype(), -1, out.shape(), new Tensor[] {x, out}, 1, alpha, beta);
    }

    @Override
    public void addInPlace(Tensor dst, Tensor src, double alpha) {
        CudaTensors.requireDType(dst.dtype(), "addInPlace", src);
        launch("add_in_place_fwd", dst.dtype(), -1, dst.shape(), new Tensor[] {src, dst}, 1, alpha);
    }

    @Override
    public void mulInPlace(Tensor dst, double s) { affine(dst, s, 0, dst); }

    /**
     * One launch of family_dtype(op, operand, view, ..., scalars...): op is left out when negative;
     * operands[written] is the output, whose elements must be distinct.
     */
    private void launch(String family, DType t, int op, int[] shape, Tensor[] operands, int written, double... scalars) {
        CudaTensors.Layout l = layout(shape, operands, written);
        try (KernelArgs args = new KernelArgs()) {
            if (op >= 0) args.i32(op);
            for (int k = 0; k < operands.length; k++) operand(args, l, k, operands[k]);
            for (double s : scalars) args.f64(s);
            Launch.elementwise(ctx, kernel(family, t), l.numel(), args);
        }
    }

    private static CudaTensors.Layout layout(int[] shape, Tensor[] operands, int written) {
        CudaTensors.Layout l = CudaTensors.layout(shape, operands);
        requireDistinctElements(l, written, "output");
        return l;
    }

    private static void operand(KernelArgs args, CudaTensors.Layout l, int k, Tensor t) {
        args.ptr(CudaTensors.base(t)).view(l, k);
    }

    private static String kernel(String family, DType t) { return family + "_" + CudaBackend.suffix(t); }

    /**
     * Threads write an output element each: an output that repeats elements (stride 0 over a dim,
     * as an expanded view) would be written by several threads at once, in no fixed order.
     */
    private static void requireDistinctElements(CudaTensors.Layout l, int k, String what) {
        if (l.numel() == 0) return;
        for (long s : l.strides()[k]) {
            if (s == 0) throw new IllegalArgumentException(what + ": an output must not repeat elements (stride 0 over dims of size "
                    + Arrays.toString(l.size()) + "); write to a contiguous tensor");
        }
    }
}
