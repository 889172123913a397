package dev.lumen.backend;

/** Additive token mixer core (CAS-ViT CATM): spatial and channel gates of q and k, their sum, a depth-wise conv and the product with v, with its backward. */
public interface AdditiveAttentionKernels {
}
