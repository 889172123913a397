package dev.lumen.backend;

/** Matrix products: batched GEMM with broadcasting batch dims. */
public interface LinalgKernels {
}
