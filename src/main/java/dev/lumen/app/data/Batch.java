package dev.lumen.app.data;

import dev.lumen.tensor.Tensor;

/**
 * One batch from a {@link DataLoader}: images F32 [B, C, H, W], labels I64 [B], and the dataset
 * index of each row. The tensors belong to no scope; the consumer closes the batch after the
 * training step ({@code try (Batch b = it.next()) {...}}), or the GC frees it eventually.
 */
public record Batch(Tensor images, Tensor labels, int[] indices) implements AutoCloseable {
    public int size() { return indices.length; }

    @Override
    public void close() {
        images.close();
        labels.close();
    }
}
