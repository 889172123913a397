package dev.lumen.backend;

/** Outlook attention core (VOLO): fold(softmax(scale*logits) @ unfold(v)) without storing the unfolded tensor, and its backward. */
public interface OutlookKernels {
}
