package dev.lumen.nn;

import dev.lumen.ops.LinearAlgebra;
import dev.lumen.ops.SelfAttention;
import dev.lumen.ops.Softmax;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * Multi-head self-attention over tokens [B, N, C], as timm's vision_transformer.Attention
 * (parameters qkv.weight, qkv.bias, proj.weight, proj.bias): one linear layer makes
 * queries, keys and values for all heads, each head attends with scale headDim^-0.5, and
 * proj mixes the heads back to C channels.
 */
public class Attention extends Module implements Layer {
    private final int dim, numHeads, headDim;
    private final double scale;
    private final Linear qkv, proj;
    private final Dropout attnDrop, projDrop;

    public Attention(int dim, int numHeads) { this(dim, numHeads, false, 0, 0); }

    public Attention(int dim, int numHeads, boolean qkvBias, double attnDrop, double projDrop) {
        if (numHeads <= 0 || dim % numHeads != 0) {
            throw new IllegalArgumentException("Attention: dim " + dim + " must be divisible by numHeads " + numHeads);
        }
        this.dim = dim;
        this.numHeads = numHeads;
        this.headDim = dim / numHeads;
        this.scale = Math.pow(headDim, -0.5);
        this.qkv = registerModule("qkv", new Linear(dim, 3 * dim, qkvBias));
        this.attnDrop = registerModule("attn_drop", new Dropout(attnDrop));
        this.proj = registerModule("proj", new Linear(dim, dim));
        this.projDrop = registerModule("proj_drop", new Dropout(projDrop));
    }

    public Linear qkv() { return qkv; }

    public Linear proj() { return proj; }

    public int numHeads() { return numHeads; }

    public double scale() { return scale; }

    @Override
    public Tensor forward(Tensor x) {
        if (x.dim() != 3 || x.shape(2) != dim) {
            throw new IllegalArgumentException("Attention(dim " + dim + "): expects input [B, N, " + dim + "], got " + Arrays.toString(x.shape()));
        }
        int b = x.shape(0), n = x.shape(1);
        Tensor packed = qkv.forward(x);
        if (fusable(packed)) return projDrop.forward(proj.forward(SelfAttention.packed(packed, numHeads, scale)));
        // [B, N, 3 * C] -> [3, B, heads, N, headDim]
        Tensor qkvh = packed.reshape(b, n, 3, numHeads, headDim).permute(2, 0, 3, 1, 4);
        Tensor out = attend(qkvh.select(0, 0), qkvh.select(0, 1), qkvh.select(0, 2), scale, attnDrop);
        return projDrop.forward(proj.forward(out.transpose(1, 2).reshape(b, n, dim)));
    }

    /**
     * The fused core computes in F32 or F64 and has no dropout on the weights: attention
     * dropout in training, or 16-bit projections under autocast, take the composed path.
     */
    private boolean fusable(Tensor packed) {
        DType t = packed.dtype();
        return (t == DType.F32 || t == DType.F64) && (attnDrop.p() == 0 || !attnDrop.isTraining());
    }

    /**
     * The attention core shared by the models: softmax(q k^T * scale) v over the last two
     * dims of q [..., Nq, D], k [..., Nk, D] and v [..., Nk, Dv], with the dropout module
     * drop (null for none; it acts only in training) on the attention weights.
     */
    public static Tensor attend(Tensor q, Tensor k, Tensor v, double scale, Dropout drop) {
        // Scaling q (N * D values) rather than the logits (N * N) is cheaper and, as in timm, equal up to rounding.
        Tensor logits = LinearAlgebra.matmul(q.mul(scale), k.transpose(-2, -1));
        Tensor weights = Softmax.softmax(logits, -1);
        if (drop != null) weights = drop.forward(weights);
        return LinearAlgebra.matmul(weights, v);
    }

    @Override
    public String toString() { return "Attention(dim=" + dim + ", heads=" + numHeads + ")"; }
}
