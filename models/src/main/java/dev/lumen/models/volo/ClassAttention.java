package dev.lumen.models.volo;

import dev.lumen.nn.Attention;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Linear;
import dev.lumen.nn.Module;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * Class attention (CaiT, as VOLO's post network uses it): only the class token (token 0)
 * queries; keys and values come from every token. Parameters kv, q (no bias) and proj.
 * Returns the class token's update [B, 1, C].
 */
final class ClassAttention extends Module implements Layer {
    private final int dim, heads, headDim;
    private final double scale;
    private final Linear kv, q, proj;

    ClassAttention(int dim, int heads, boolean qkvBias, Generator gen) {
        if (heads < 1 || dim % heads != 0) throw new IllegalArgumentException("ClassAttention: dim " + dim + " does not split into " + heads + " heads");
        this.dim = dim;
        this.heads = heads;
        this.headDim = dim / heads;
        this.scale = Math.pow(headDim, -0.5);
        kv = registerModule("kv", Layers.linear(dim, 2 * dim, qkvBias, gen));
        q = registerModule("q", Layers.linear(dim, dim, qkvBias, gen));
        proj = registerModule("proj", Layers.linear(dim, dim, true, gen));
    }

    @Override
    public Tensor forward(Tensor x) {
        int b = x.shape(0), n = x.shape(1);
        Tensor kvh = kv.forward(x).reshape(b, n, 2, heads, headDim).permute(2, 0, 3, 1, 4);
        Tensor qh = q.forward(x.narrow(1, 0, 1)).reshape(b, heads, 1, headDim);
        Tensor out = Attention.attend(qh, kvh.select(0, 0), kvh.select(0, 1), scale, null);
        return proj.forward(out.transpose(1, 2).reshape(b, 1, dim));
    }
}
