package dev.lumen.backend.cpu;

import dev.lumen.backend.SelectiveScanKernels;

/** CPU implementation of {@link SelectiveScanKernels}. */
final class CpuSelectiveScan implements SelectiveScanKernels {
}
