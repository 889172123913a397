package dev.lumen.backend.cpu;

import dev.lumen.backend.ConvKernels;
import dev.lumen.backend.LinalgKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * F16/BF16 matrix products and convolutions on the CPU (what {@link dev.lumen.autograd.Autocast}
 * asks for). The CPU's GEMMs compute in F32 or F64 only, so 16-bit operands are widened to F32
 * copies (exactly), the F32 kernel runs, and each result is rounded once to 16 bits: the values
 * a GPU's tensor cores give (16-bit inputs, F32 accumulation, 16-bit output) up to the order of
 * the sums, but neither their speed nor their memory saving. F32 and F64 calls pass straight through.
 */
final class HalfPrecision {
    private HalfPrecision() {}

    static LinalgKernels linalg(LinalgKernels f32) {
        return (a, b, out, accumulate) -> {
            if (!anyHalf(a, b, out)) {
                f32.matmul(a, b, out, accumulate);
                return;
            }
            try (Widened w = new Widened("matmul", a, b, out)) {
                Tensor o = w.output(out, accumulate);
                f32.matmul(w.input(a), w.input(b), o, accumulate);
                w.store(o, out);
            }
        };
    }

    static ConvKernels conv(ConvKernels f32) {
        return new ConvKernels() {
            @Override
            public void im2col(Tensor x, Window win, Tensor cols) {
                f32.im2col(x, win, cols);  // a pure rearrangement: any element size
            }

            @Override
            public void col2im(Tensor cols, Window win, Tensor x) {
                if (!anyHalf(cols, x)) {
                    f32.col2im(cols, win, x);
                    return;
                }
                try (Widened w = new Widened("col2im", cols, x)) {
                    Tensor o = w.output(x, false);
                    f32.col2im(w.input(cols), win, o);
                    w.store(o, x);
                }
            }

            @Override
            public void conv2d(Tensor x, Tensor weight, Tensor bias, Window win, int groups, Tensor out) {
                if (!anyHalf(x, weight, bias, out)) {
                    f32.conv2d(x, weight, bias, win, groups, out);
                    return;
                }
                try (Widened w = new Widened("conv2d", x, weight, bias, out)) {
                    Tensor o = w.output(out, false);
                    f32.conv2d(w.input(x), w.input(weight), w.input(bias), win, groups, o);
                    w.store(o, out);
                }
            }

            /** F32 only (the fused kernel is oneDNN's F32 one): 16-bit tensors run the steps. */
            @Override
            public boolean hasConv2dInference(Tensor x, Tensor weight, int groups) { return f32.hasConv2dInference(x, weight, groups); }

            @Override
            public boolean channelsLastInference() { return f32.channelsLastInference(); }

            @Override
            public void conv2dInference(Tensor x, Tensor weight, Tensor bias, Window win, int groups, boolean relu, Tensor out) {
                f32.conv2dInference(x, weight, bias, win, groups, relu, out);
            }

            @Override
            public void conv2dBackwardInput(Tensor gradOut, Tensor weight, Window win, int groups, Tensor gradIn) {
                if (!anyHalf(gradOut, weight, gradIn)) {
                    f32.conv2dBackwardInput(gradOut, weight, win, groups, gradIn);
                    return;
                }
                try (Widened w = new Widened("conv2d backward (input)", gradOut, weight, gradIn)) {
                    Tensor o = w.output(gradIn, false);
                    f32.conv2dBackwardInput(w.input(gradOut), w.input(weight), win, groups, o);
                    w.store(o, gradIn);
                }
            }

            /** F32: the wrapped kernels' joint pass (oneDNN reorders gradOut once); 16-bit tensors widen per pass. */
            @Override
            public void conv2dBackward(Tensor gradOut, Tensor x, Tensor weight, Window win, int groups, Tensor gradIn, Tensor gradWeight) {
                if (!anyHalf(gradOut, x, weight, gradIn, gradWeight)) {
                    f32.conv2dBackward(gradOut, x, weight, win, groups, gradIn, gradWeight);
                    return;
                }
                ConvKernels.super.conv2dBackward(gradOut, x, weight, win, groups, gradIn, gradWeight);
            }

            @Override
            public void conv2dBackwardWeight(Tensor gradOut, Tensor x, Window win, int groups, Tensor gradWeight) {
                if (!anyHalf(gradOut, x, gradWeight)) {
                    f32.conv2dBackwardWeight(gradOut, x, win, groups, gradWeight);
                    return;
                }
                try (Widened w = new Widened("conv2d backward (weight)", gradOut, x, gradWeight)) {
                    Tensor o = w.output(gradWeight, false);
                    f32.conv2dBackwardWeight(w.input(gradOut), w.input(x), win, groups, o);
                    w.store(o, gradWeight);
                }
            }

            @Override
            public void conv2dBackwardBias(Tensor gradOut, Tensor gradBias) {
                if (!anyHalf(gradOut, gradBias)) {
                    f32.conv2dBackwardBias(gradOut, gradBias);
                    return;
                }
                try (Widened w = new Widened("conv2d backward (bias)", gradOut, gradBias)) {
                    Tensor o = w.output(gradBias, false);
                    f32.conv2dBackwardBias(w.input(gradOut), o);
                    w.store(o, gradBias);
                }
            }
        };
    }

    private static boolean isHalf(DType t) { return t == DType.F16 || t == DType.BF16; }

    private static boolean anyHalf(Tensor... ts) {
        for (Tensor t : ts) if (t != null && isHalf(t.dtype())) return true;
        return false;
    }

    /** The F32 copies of one kernel call's 16-bit tensors, freed on close. */
    private static final class Widened implements AutoCloseable {
        private final List<Tensor> copies = new ArrayList<>();

        /** Checks that the call's tensors (null ones skipped) share one 16-bit dtype. */
        Widened(String op, Tensor... ts) {
            DType t = null;
            for (Tensor x : ts) {
                if (x == null) continue;
                if (t == null) t = x.dtype();
                if (x.dtype() != t || !isHalf(t)) {
                    StringBuilder got = new StringBuilder();
                    for (Tensor y : ts) if (y != null) got.append(got.isEmpty() ? "" : ", ").append(y.dtype());
                    throw new IllegalArgumentException(op + " kernel: dtypes " + got + " (needs one of F32, F64, F16, BF16 for all)");
                }
            }
        }

        /** x widened to a contiguous F32 copy; null stays null. */
        Tensor input(Tensor x) {
            if (x == null) return null;
            Tensor c = Tensor.empty(DType.F32, Device.CPU, x.shape());
            copies.add(c);
            x.backend().copy(x, c);
            return c;
        }

        /** An F32 tensor for the kernel to write out's values into, holding out's values when the kernel reads them. */
        Tensor output(Tensor out, boolean keepValues) {
            if (keepValues) return input(out);
            Tensor c = Tensor.empty(DType.F32, Device.CPU, out.shape());
            copies.add(c);
            return c;
        }

        /** Rounds the F32 result into the 16-bit output. */
        void store(Tensor result, Tensor out) { out.backend().copy(result, out); }

        @Override
        public void close() { for (Tensor c : copies) c.close(); }
    }
}
