package dev.lumen.backend;

import dev.lumen.backend.ConvKernels.Window;
import dev.lumen.tensor.Tensor;

/**
 * Max, average and adaptive average pooling, forward and backward, over NCHW tensors.
 * Inputs must be contiguous; outputs are contiguous and overwritten (average pooling may also
 * take channels-last ones, see {@link #avgPoolChannelsLast}). The output size
 * (which ceil_mode decides) is the output tensor's; windows use the window's dilation.
 */
public interface PoolKernels {
    /** out = max over each window (padding never wins); indices (I64) = the flat h*W + w position of the max in its plane, as torch. */
    void maxPool2d(Tensor x, Window w, Tensor out, Tensor indices);

    /**
     * gradIn = gradOut scattered (summed) to the positions in indices. w is the forward's window:
     * a device kernel gathers, for each input pixel, from the outputs whose windows span it.
     */
    void maxPool2dBackward(Tensor gradOut, Tensor indices, Window w, Tensor gradIn);

    /** out = mean over each window; the divisor counts padded positions when countIncludePad (torch's rules at the borders). */
    void avgPool2d(Tensor x, Window w, boolean countIncludePad, Tensor out);

    void avgPool2dBackward(Tensor gradOut, Window w, boolean countIncludePad, Tensor gradIn);

    /**
     * Whether avgPool2d and its backward also take x, out, gradOut and gradIn all channels-last
     * ({@link dev.lumen.tensor.ChannelsLast}), as VOLO pools its [B, H, W, C] tokens, so that the
     * op need not reorder them to NCHW and back. False by default: the op then makes them contiguous.
     */
    default boolean avgPoolChannelsLast() { return false; }

    /** out[oh, ow] = mean of x over rows [floor(oh*H/OH), ceil((oh+1)*H/OH)) and likewise columns. */
    void adaptiveAvgPool2d(Tensor x, Tensor out);

    void adaptiveAvgPool2dBackward(Tensor gradOut, Tensor gradIn);
}
