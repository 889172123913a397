package dev.lumen.backend;

/** Max, average and adaptive average pooling, forward and backward. */
public interface PoolKernels {
}
