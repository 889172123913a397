package dev.lumen.backend;

/** Selective 2-D scan (VMamba SS2D core): cross-scan, the selective recurrence over 4 routes, and cross-merge, fused, with its backward. */
public interface SelectiveScanKernels {
}
