package dev.lumen.backend;

/** Gathers and scatters along a dim: index_select, gather, scatter_add, and their cousins. */
public interface IndexKernels {
}
