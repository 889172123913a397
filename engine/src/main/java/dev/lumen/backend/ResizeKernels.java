package dev.lumen.backend;

import dev.lumen.tensor.Tensor;

/** Interpolation (nearest, bilinear, bicubic) of [N, C, H, W] images, forward and backward. */
public interface ResizeKernels {
    /** The modes of torch.nn.functional.interpolate for 2-D images. */
    enum Mode { NEAREST, BILINEAR, BICUBIC }

    /**
     * out [N, C, outH, outW] from x [N, C, H, W] with PyTorch's source-index formulas:
     * nearest floor(dst * in/out); bilinear and bicubic (A = -0.75, border taps clamped)
     * from the pixel-centre or corner-aligned source coordinate.
     */
    void interpolateForward(Tensor x, Mode mode, boolean alignCorners, Tensor out);

    /** gradX [N, C, H, W] (overwritten) = the adjoint of the forward map applied to gradOut. */
    void interpolateBackward(Tensor gradOut, Mode mode, boolean alignCorners, Tensor gradX);
}
