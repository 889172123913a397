package dev.lumen.backend.cpu;

import dev.lumen.backend.ResizeKernels;

/** CPU implementation of {@link ResizeKernels}. */
final class CpuResize implements ResizeKernels {
}
