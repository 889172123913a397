package dev.lumen.backend.cpu;

import dev.lumen.backend.PoolKernels;

/** CPU implementation of {@link PoolKernels}. */
final class CpuPool implements PoolKernels {
}
