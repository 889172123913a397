package dev.lumen.backend.cpu;

import dev.lumen.backend.LinalgKernels;

/** CPU implementation of {@link LinalgKernels}. */
final class CpuLinalg implements LinalgKernels {
}
