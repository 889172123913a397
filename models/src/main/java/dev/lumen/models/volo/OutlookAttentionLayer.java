package dev.lumen.models.volo;

import dev.lumen.nn.Layer;
import dev.lumen.nn.Linear;
import dev.lumen.nn.Module;
import dev.lumen.ops.OutlookAttention;
import dev.lumen.ops.Pooling;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * VOLO's outlook attention module on channels-last maps [B, H, W, C] (parameters v, attn,
 * proj). Values come from v(x); the attention of each anchor is predicted, not computed
 * from queries and keys: attn(avgpool(x)) gives, per anchor of the stride-s grid and head,
 * the k*k x k*k weights between the positions of its k x k window. The fused op
 * {@link OutlookAttention#outlookAttention} then does softmax(scale * logits), the window
 * gather, the product and the overlapping fold back onto [B, H, W, C]; proj mixes the heads.
 */
final class OutlookAttentionLayer extends Module implements Layer {
    private final int dim, heads, kernel, padding, stride;
    private final double scale;
    private final Linear v, attn, proj;

    OutlookAttentionLayer(int dim, int heads, int kernel, int padding, int stride, boolean qkvBias, Generator gen) {
        if (heads < 1 || dim % heads != 0) throw new IllegalArgumentException("OutlookAttention: dim " + dim + " does not split into " + heads + " heads");
        // stride 1 takes another code path in the official module ((2k-1)^2 windows around every pixel); no VOLO variant uses it
        if (stride < 2) throw new IllegalArgumentException("OutlookAttention: stride must be >= 2 (VOLO uses 2), got " + stride);
        this.dim = dim;
        this.heads = heads;
        this.kernel = kernel;
        this.padding = padding;
        this.stride = stride;
        this.scale = Math.pow(dim / heads, -0.5);
        v = registerModule("v", Layers.linear(dim, dim, qkvBias, gen));
        attn = registerModule("attn", Layers.linear(dim, kernel * kernel * kernel * kernel * heads, true, gen));
        proj = registerModule("proj", Layers.linear(dim, dim, true, gen));
    }

    @Override
    public Tensor forward(Tensor x) {
        if (x.dim() != 4 || x.shape(3) != dim) {
            throw new IllegalArgumentException("OutlookAttention(dim " + dim + "): expects [B, H, W, " + dim + "], got " + Arrays.toString(x.shape()));
        }
        int b = x.shape(0);
        Tensor values = v.forward(x);
        // ceil-mode average over stride x stride cells: one summary per anchor (partial cells at odd sizes)
        Tensor pooled = Pooling.avgPool2d(x.permute(0, 3, 1, 2), new int[] {stride}, new int[] {stride}, new int[] {0}, true, true)
                .permute(0, 2, 3, 1);
        int h = pooled.shape(1), w = pooled.shape(2), kk = kernel * kernel;
        Tensor logits = attn.forward(pooled).reshape(b, h, w, heads, kk, kk);
        return proj.forward(OutlookAttention.outlookAttention(values, logits, kernel, padding, stride, scale));
    }
}
