package dev.lumen.app.train;

import dev.lumen.ops.Elementwise;
import dev.lumen.ops.Reductions;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;

/**
 * Top-k accuracy counts: on the host from the logits, or top-1 on the logits' device. A row
 * with a non-finite logit (NaN or infinity) is always a miss: comparisons with NaN are false,
 * so without that rule a diverged model would score every row as a hit.
 */
public final class TopK {
    private TopK() {}

    /**
     * How many rows of logits [N, K] have their label among the k largest logits. A tie with the
     * k-th value counts as a hit only if the label comes first in index order, as torch.topk keeps
     * the lower indices. Rows with a non-finite logit are misses ({@link #nonFiniteRows}).
     */
    public static long hits(Tensor logits, Tensor labels, int k) {
        int n = logits.shape(0), c = logits.shape(1);
        float[] v = logits.toFloats();
        long[] y = labels.toLongs();
        long hits = 0;
        for (int i = 0; i < n; i++) {
            if (!finiteRow(v, i, c)) continue;
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

    /** How many rows of logits [N, K] hold a NaN or an infinity. */
    public static long nonFiniteRows(Tensor logits) {
        int n = logits.shape(0), c = logits.shape(1);
        float[] v = logits.toFloats();
        long bad = 0;
        for (int i = 0; i < n; i++) if (!finiteRow(v, i, c)) bad++;
        return bad;
    }

    private static boolean finiteRow(float[] v, int row, int c) {
        for (int j = row * c; j < (row + 1) * c; j++) if (!Float.isFinite(v[j])) return false;
        return true;
    }

    /**
     * How many rows of logits [N, K] have their label as the first index of the row's largest
     * value (torch.argmax), as an I64 scalar on the logits' device: the training step reads it
     * together with the loss instead of copying the logits to the host. Rows with a non-finite
     * logit are misses: x - x is 0 for finite x and NaN for NaN and infinities.
     */
    public static Tensor top1Hits(Tensor logits, Tensor labels) {
        Tensor pred = Reductions.argmax(logits, 1, false);
        Tensor finite = Elementwise.eq(Reductions.sum(Elementwise.sub(logits, logits).to(DType.F32), new int[] {1}, false), 0);
        Tensor hit = Elementwise.mul(Elementwise.eq(pred, labels.to(DType.I64)).to(DType.I64), finite.to(DType.I64));
        return Reductions.sum(hit);
    }
}
