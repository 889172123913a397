package dev.lumen.ops;

import dev.lumen.autograd.Autograd;
import dev.lumen.backend.ResizeKernels.Mode;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;

/**
 * torch.nn.functional.interpolate for [N, C, H, W] images to a given size, with PyTorch's
 * exact index formulas (used e.g. to resize ViT position embeddings to a new grid).
 */
public final class Resize {
    private Resize() {}

    /**
     * Resizes x [N, C, H, W] to [N, C, outH, outW]. alignCorners is only meaningful for
     * BILINEAR and BICUBIC (PyTorch rejects it for NEAREST, and so does this).
     */
    public static Tensor interpolate(Tensor x, int outH, int outW, Mode mode, boolean alignCorners) {
        if (x.dim() != 4) throw new IllegalArgumentException("interpolate: input must be [N, C, H, W], got " + Shapes.str(x.shape()));
        if (outH <= 0 || outW <= 0) {
            throw new IllegalArgumentException("interpolate: output size (" + outH + ", " + outW + ") must be positive");
        }
        if (x.shape(2) == 0 || x.shape(3) == 0) {
            throw new IllegalArgumentException("interpolate: input " + Shapes.str(x.shape()) + " has an empty spatial dim");
        }
        if (mode == Mode.NEAREST && alignCorners) {
            throw new IllegalArgumentException("interpolate: alignCorners can only be set with BILINEAR or BICUBIC, not NEAREST");
        }
        if (!x.dtype().isCompute()) return interpolate(x.to(DType.F32), outH, outW, mode, alignCorners).to(x.dtype());
        int[] inShape = x.shape();
        Tensor out = Tensor.empty(x.dtype(), x.device(), inShape[0], inShape[1], outH, outW);
        x.backend().resize().interpolateForward(x, mode, alignCorners, out);
        return Autograd.record("interpolate_" + mode.name().toLowerCase(), out, g -> {
            Tensor gx = Tensor.empty(g.dtype(), g.device(), inShape);
            g.backend().resize().interpolateBackward(g, mode, alignCorners, gx);
            return new Tensor[] {gx};
        }, x);
    }
}
