package dev.lumen.backend;

import dev.lumen.tensor.Tensor;

/**
 * Outlook attention core (VOLO): out = fold(softmax(scale*logits) @ unfold(v)) without storing
 * the unfolded tensor, and its backward.
 *
 * <p>Layouts (all contiguous, one floating dtype): v and out [B,H,W,C] (channels last, as VOLO's
 * linear layers leave them), logits [B,h,w,heads,k*k,k*k] with h = (H+2p-k)/s+1 (VOLO's
 * ceil(H/s) for k=3, p=1). Channel c belongs to head c / (C/heads). The softmax runs over the
 * last axis (the window position j that v is read from); the second-to-last axis i is the window
 * position the result is folded into. Window positions outside [0,H)x[0,W) read zeros and fold
 * nowhere, as F.unfold/F.fold with zero padding do.
 */
public interface OutlookKernels {
    /** out[b,y,x,c] = sum over anchors n and i with n*s-p+i = (y,x) of sum_j softmax(scale*logits[b,n,head(c),i,:])_j * v[b,n*s-p+j,c]. */
    void outlookForward(Tensor v, Tensor logits, int kernel, int padding, int stride, double scale, Tensor out);

    /**
     * Gradients of {@link #outlookForward} for gradOut [B,H,W,C]: gradV like v and gradLogits like
     * logits; either may be null when not wanted.
     */
    void outlookBackward(Tensor v, Tensor logits, Tensor gradOut, int kernel, int padding, int stride, double scale,
                         Tensor gradV, Tensor gradLogits);
}
