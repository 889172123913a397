package dev.lumen.backend.cpu;

import dev.lumen.backend.ConvKernels;

/** CPU implementation of {@link ConvKernels}. */
final class CpuConv implements ConvKernels {
}
