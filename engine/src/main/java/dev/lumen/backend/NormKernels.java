package dev.lumen.backend;

/** Batch, layer and group normalization forward and backward, dropout masks. */
public interface NormKernels {
}
