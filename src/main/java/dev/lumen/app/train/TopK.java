package dev.lumen.app.train;

import dev.lumen.tensor.Tensor;

/** Top-k accuracy counts, computed on the host from the logits. */
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
}
