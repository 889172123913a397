package dev.lumen.backend.cpu;

import dev.lumen.backend.IndexKernels;

/** CPU implementation of {@link IndexKernels}. */
final class CpuIndexing implements IndexKernels {
}
