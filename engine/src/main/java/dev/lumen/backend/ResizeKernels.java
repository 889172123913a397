package dev.lumen.backend;

/** Interpolation (nearest, bilinear, bicubic) forward and backward. */
public interface ResizeKernels {
}
