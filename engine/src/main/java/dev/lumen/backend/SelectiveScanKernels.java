package dev.lumen.backend;

import dev.lumen.tensor.Tensor;

/**
 * Selective 2-D scan (VMamba SS2D core): cross-scan, the selective recurrence over 4 routes, and
 * cross-merge, fused, with its backward.
 *
 * <p>Shapes: x [B,D,H,W], delta [B,K,D,L], b and c [B,K,N,L], a [K*D,N], dSkip and deltaBias
 * [K*D], with K = 4 and L = H*W. Route 0 visits (h,w) row-major (l = h*W + w), route 1
 * column-major (l = w*H + h), routes 2 and 3 are routes 0 and 1 reversed. Per route k and
 * channel d: dt_l = softplus(delta_l + bias), s_l = exp(dt_l*A) s_{l-1} + dt_l*B_l*u_l,
 * y_l = C_l.s_l + D*u_l with u_l = x at the route's l-th position; out at (h,w) is the sum of
 * the four routes' y at that position. No route-expanded copy of x is ever stored.
 *
 * <p>All tensors are contiguous. x, delta, b and c may be F32, F16 or BF16 (computed in F32);
 * a, dSkip and deltaBias are F32; out and every gradient are F32. Or everything is F64.
 */
public interface SelectiveScanKernels {
    /** Number of routes. */
    int ROUTES = 4;

    /**
     * Scan steps between saved states: the forward saves the state entering every chunk of
     * CHUNK steps so that the backward recomputes one chunk at a time instead of the whole scan.
     */
    int CHUNK = 64;

    /** Number of saved states per sequence of length l. */
    static int chunks(int l) { return (l + CHUNK - 1) / CHUNK; }

    /**
     * out [B,D,H,W] = the fused 4-route scan. states is null or F32 [B,K,D,chunks(L),N]:
     * entry c is the state entering step c*CHUNK (zeros for c = 0); it is written when given
     * and only then can the backward run (the F64 path needs none and ignores it).
     */
    void selectiveScan2dForward(Tensor x, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor dSkip, Tensor deltaBias,
                                Tensor out, Tensor states);

    /**
     * Gradients of the fused scan given dL/d(out) gradOut [B,D,H,W] and the states saved by the
     * forward. Each gradient output is written in full (null skips it); they have the shapes of
     * their inputs and F32 (or F64) dtype.
     */
    void selectiveScan2dBackward(Tensor x, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor dSkip, Tensor deltaBias,
                                 Tensor states, Tensor gradOut, Tensor gradX, Tensor gradDelta, Tensor gradA,
                                 Tensor gradB, Tensor gradC, Tensor gradDSkip, Tensor gradDeltaBias);
}
