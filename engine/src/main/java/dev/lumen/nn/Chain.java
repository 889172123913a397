package dev.lumen.nn;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.Tensor;

/**
 * Layers applied one after another, each step's leftovers released as soon as the next step
 * has run: nothing outside can reach what a step made besides its output, nor an output once the
 * next step consumed it. Autograd keeps what it saved until backward used it; without grad a chain
 * holds about two activations instead of all of them. The chain's input and whatever a step hands
 * through unchanged stay the caller's.
 */
public final class Chain {
    private Chain() {}

    public static Tensor forward(Tensor x, Iterable<? extends Layer> steps) {
        boolean prevMadeHere = false;
        for (Layer step : steps) {
            Tensor prev = x;
            boolean madeHere;
            try (Scope locals = Scope.openReleasing()) {
                x = step.forward(prev);
                madeHere = x.owner() == locals;
                if (madeHere) locals.keep(x);
            }
            if (prevMadeHere && prev != x) prev.release();
            prevMadeHere = madeHere || (prevMadeHere && prev == x);
        }
        return x;
    }

    public static Tensor forward(Tensor x, Layer... steps) { return forward(x, java.util.Arrays.asList(steps)); }
}
