package dev.lumen.ops;

import dev.lumen.autograd.Autograd;
import dev.lumen.tensor.Tensor;

/**
 * When an op may write its result over its input, as PyTorch's in-place ops do once its
 * version counter proves nobody saved the input. Here the proof is the hold count: an input
 * that some autograd node saved, or whose storage another view shares, is never overwritten.
 */
final class InPlace {
    private InPlace() {}

    static boolean canOverwrite(Tensor x) {
        if (!x.isExclusive() || !x.isContiguous()) return false;
        // A leaf that requires grad is the user's parameter or input: PyTorch refuses to change it in place.
        return !(x.isLeaf() && x.requiresGrad() && Autograd.needsGrad(x));
    }
}
