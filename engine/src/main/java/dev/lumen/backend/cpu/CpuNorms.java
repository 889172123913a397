package dev.lumen.backend.cpu;

import dev.lumen.backend.NormKernels;

/** CPU implementation of {@link NormKernels}. */
final class CpuNorms implements NormKernels {
}
