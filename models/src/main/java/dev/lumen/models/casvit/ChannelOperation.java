package dev.lumen.models.casvit;

import dev.lumen.nn.AdaptiveAvgPool2d;
import dev.lumen.nn.Conv2d;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.nn.Sequential;
import dev.lumen.nn.Sigmoid;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * The channel gate of q or k: x * sigmoid(conv1x1_{C->C}(mean over H, W of x)), with the
 * official names block.0 (pool), block.1 (1x1 conv, no bias). Fused in the model like
 * {@link SpatialOperation}; {@link #forward} is the unfused math.
 */
final class ChannelOperation extends Module implements Layer {
    private final Sequential block;

    ChannelOperation(int dim, Generator gen) {
        block = registerModule("block", new Sequential(new AdaptiveAvgPool2d(1), Layers.conv(dim, dim, 1, 1, 0, 1, false, gen),
                new Sigmoid()));
    }

    Conv2d channel() { return (Conv2d) block.get(1); }

    @Override
    public Tensor forward(Tensor x) { return x.mul(block.forward(x)); }
}
