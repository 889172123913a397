package dev.lumen.ops;

import dev.lumen.tensor.ChannelsLast;
import dev.lumen.tensor.Tensor;

/**
 * When an op may write its result over its input, as PyTorch's in-place ops do once its
 * version counter proves nobody saved the input. Here the proof is the hold count: an input
 * that some autograd node saved, or whose storage another view shares, is never overwritten; nor
 * is anything that outlives the step (not owned by a scope) or a leaf that requires grad.
 */
final class InPlace {
    private InPlace() {}

    static boolean canOverwrite(Tensor x) {
        // Dense layouts only: a kernel writing over x reads and writes one element at one address.
        if (!x.isExclusive() || !(x.isContiguous() || ChannelsLast.is(x))) return false;
        // Parameters, buffers and optimizer state live outside every scope: never consumed, with or without grad.
        if (x.owner() == null) return false;
        // A leaf that requires grad is the user's: PyTorch refuses to change it in place.
        return !(x.isLeaf() && x.requiresGrad());
    }
}
