package dev.lumen.models.casvit;

import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.ops.Regularization;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * One CAS-ViT block: x += local_perception(x); x += drop_path(attn(norm1(x)));
 * x += drop_path(mlp(norm2(x))), norm1 / norm2 BatchNorm. No layer scale (the official
 * classification model has none).
 */
final class AdditiveBlock extends Module implements Layer {
    private final LocalIntegration localPerception;
    private final BatchNorm2d norm1, norm2;
    private final AdditiveTokenMixer attn;
    private final Mlp mlp;
    private final double dropPath;
    private final Generator gen;

    AdditiveBlock(int dim, double mlpRatio, double drop, double dropPath, boolean fused, Generator gen) {
        this.dropPath = dropPath;
        this.gen = gen;
        localPerception = registerModule("local_perception", new LocalIntegration(dim, gen));
        norm1 = registerModule("norm1", new BatchNorm2d(dim));
        attn = registerModule("attn", new AdditiveTokenMixer(dim, drop, fused, gen));
        norm2 = registerModule("norm2", new BatchNorm2d(dim));
        mlp = registerModule("mlp", new Mlp(dim, (int) (dim * mlpRatio), drop, gen));
    }

    @Override
    public Tensor forward(Tensor x) {
        x = x.add(localPerception.forward(x));
        x = x.add(dropPath(attn.forward(norm1.forward(x))));
        return x.add(dropPath(mlp.forward(norm2.forward(x))));
    }

    private Tensor dropPath(Tensor y) {
        return dropPath > 0 && isTraining() ? Regularization.dropPath(y, dropPath, true, gen, true) : y;
    }
}
