package dev.lumen.nn;

import dev.lumen.tensor.Tensor;

/** A module with one input and one output, so that it can be chained in a {@link Sequential}. */
public interface Layer {
    Tensor forward(Tensor x);
}
