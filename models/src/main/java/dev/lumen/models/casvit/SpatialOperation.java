package dev.lumen.models.casvit;

import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Conv2d;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.nn.ReLU;
import dev.lumen.nn.Sequential;
import dev.lumen.nn.Sigmoid;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * The spatial gate of q or k: x * sigmoid(conv1x1_{C->1}(relu(BN(dw3x3(x))))), with the
 * official names block.0 (dw conv), block.1 (BN), block.3 (1x1 conv, no bias). The model
 * runs it fused inside {@link AdditiveTokenMixer}; {@link #forward} is the unfused math.
 */
final class SpatialOperation extends Module implements Layer {
    private final Sequential block;

    SpatialOperation(int dim, Generator gen) {
        block = registerModule("block", new Sequential(Layers.dw3x3(dim, gen), new BatchNorm2d(dim), new ReLU(true),
                Layers.conv(dim, 1, 1, 1, 0, 1, false, gen), new Sigmoid()));
    }

    Conv2d dw() { return (Conv2d) block.get(0); }

    BatchNorm2d bn() { return (BatchNorm2d) block.get(1); }

    Conv2d spatial() { return (Conv2d) block.get(3); }

    @Override
    public Tensor forward(Tensor x) { return x.mul(block.forward(x)); }
}
