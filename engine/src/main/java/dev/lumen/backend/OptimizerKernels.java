package dev.lumen.backend;

/** Fused in-place optimizer updates (SGD, Adam, AdamW), one parameter tensor per call. */
public interface OptimizerKernels {
}
