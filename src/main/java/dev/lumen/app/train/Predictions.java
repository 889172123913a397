package dev.lumen.app.train;

import java.util.List;

/**
 * Per-sample results of one pass over the validation (or test) set, for reports: the dataset
 * index, true label and softmax probabilities of every sample, in dataset order.
 *
 * @param probabilities row-major [size, numClasses]
 */
public record Predictions(List<String> classNames, int[] indices, int[] labels, float[] probabilities) {
    public int size() { return indices.length; }

    public int numClasses() { return classNames.size(); }

    /** The class with the highest probability for sample row i (the first on ties). */
    public int predicted(int i) {
        int k = numClasses(), best = 0;
        for (int c = 1; c < k; c++) if (probabilities[i * k + c] > probabilities[i * k + best]) best = c;
        return best;
    }

    public float probability(int i, int c) { return probabilities[i * numClasses() + c]; }

    /** Percentage of rows whose predicted class is the label. */
    public double top1() {
        int hit = 0;
        for (int i = 0; i < size(); i++) if (predicted(i) == labels[i]) hit++;
        return size() == 0 ? 0 : 100.0 * hit / size();
    }
}
