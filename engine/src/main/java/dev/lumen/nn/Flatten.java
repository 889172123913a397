package dev.lumen.nn;

import dev.lumen.tensor.Tensor;

/** Flattens dims startDim..endDim into one, as torch's nn.Flatten (default 1..-1: keep the batch). */
public class Flatten extends Module implements Layer {
    private final int startDim, endDim;

    public Flatten() { this(1, -1); }

    public Flatten(int startDim, int endDim) {
        this.startDim = startDim;
        this.endDim = endDim;
    }

    @Override
    public Tensor forward(Tensor x) { return x.flatten(startDim, endDim); }
}
