package dev.lumen.app.train;

import dev.lumen.ops.Elementwise;
import dev.lumen.ops.Reductions;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;

/** Top-k accuracy counts: on the host from the logits, or top-1 on the logits' device. */
public final class TopK {
    private TopK() {}

    /**
     * How many rows of logits [N, K] have their label among the k largest logits. A tie with the
     * k-th value counts as a hit only if the label comes first in index order, as torch.topk keeps
     * the lower indices.
     */
    public static long hits(Tensor logits, Tensor labels, int k) {
        int n = logits.shape(0), c = logits.shape(1);
        float[] v = logits.toFloats();
        long[] y = labels.toLongs();
        long hits = 0;
        for (int i = 0; i < n; i++) {
            int label = (int) y[i];
            float target = v[i * c + label];
            int above = 0;
            for (int j = 0; j < c && above < k; j++) {
                float o = v[i * c + j];
                if (o > target || (o == target && j < label)) above++;
            }
            if (above < k) hits++;
        }
        return hits;
    }

    /**
     * How many rows of logits [N, K] have their label as the first index of the row's largest
     * value (torch.argmax), as an I64 scalar on the logits' device: the training step reads it
     * together with the loss instead of copying the logits to the host.
     */
    public static Tensor top1Hits(Tensor logits, Tensor labels) {
        Tensor pred = Reductions.argmax(logits, 1, false);
        Tensor hit = Elementwise.eq(pred, labels.to(DType.I64)).to(DType.I64);
        return Reductions.sum(hit);
    }
}
