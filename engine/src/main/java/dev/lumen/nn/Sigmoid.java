package dev.lumen.nn;

import dev.lumen.ops.Activations;
import dev.lumen.tensor.Tensor;

/** 1 / (1 + exp(-x)), as torch's nn.Sigmoid. */
public class Sigmoid extends Module implements Layer {
    @Override
    public Tensor forward(Tensor x) { return Activations.sigmoid(x); }
}
