package dev.lumen.backend.cpu;

import dev.lumen.backend.OptimizerKernels;

/** CPU implementation of {@link OptimizerKernels}. */
final class CpuOptimizer implements OptimizerKernels {
}
