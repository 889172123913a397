package dev.lumen.backend.cpu;

import dev.lumen.backend.AdditiveAttentionKernels;

/** CPU implementation of {@link AdditiveAttentionKernels}. */
final class CpuAdditiveAttention implements AdditiveAttentionKernels {
}
