package dev.lumen.models.casvit;

import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.GELU;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.nn.Sequential;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * CAS-ViT's local perception branch, as network.0..4: 1x1 conv, BatchNorm, depth-wise 3x3
 * conv, GELU, 1x1 conv (ratio 1, so every width is dim). The official class takes
 * act_layer=GELU and norm_layer=BatchNorm2d from the stage.
 */
final class LocalIntegration extends Module implements Layer {
    private final Sequential network;

    LocalIntegration(int dim, Generator gen) {
        network = registerModule("network", new Sequential(
                Layers.conv(dim, dim, 1, 1, 0, 1, true, gen),
                new BatchNorm2d(dim),
                Layers.dw3x3(dim, gen),
                new GELU(),
                Layers.conv(dim, dim, 1, 1, 0, 1, true, gen)));
    }

    @Override
    public Tensor forward(Tensor x) { return network.forward(x); }
}
