package dev.lumen.backend.cpu;

import dev.lumen.backend.OutlookKernels;

/** CPU implementation of {@link OutlookKernels}. */
final class CpuOutlook implements OutlookKernels {
}
