// Selective 2-D scan (VMamba SS2D core), fused cross-scan + selective scan + cross-merge.
//
// x [B,D,H,W]; delta [B,4,D,L]; Bs, Cs [B,4,N,L]; A [4*D,N]; Ds, bias [4*D]; L = H*W, N <= 16.
// Route 0 visits (h,w) row-major (l = h*W + w), route 1 column-major (l = w*H + h), routes 2
// and 3 are 0 and 1 reversed. For route k and channel d, with u_l = x at the route's l-th
// position: dt = softplus(delta + bias), s_l = exp(dt*A) s_{l-1} + dt*B_l*u_l,
// y_l = C_l.s_l + D*u_l; out = the sum of the 4 routes' y mapped back to (h,w). x, delta, B
// and C are f32, f16 or bf16 with A, D, bias, out, states, scratch and every gradient f32; or
// all f64 (computed in double). Shared memory is dynamic: ROUTES * FWD_WARP_FLOATS (or
// BWD_WARP_FLOATS) values of the compute type.
//
// Deterministic: no float atomics. Every sum has one fixed order, so a training step gives the
// same bits run to run.
//
// Launch protocol (SelectiveScanCuda.java; B = gridDim.y, G = gridDim.x of the backward):
//   forward   selective_scan_fwd_<t>   grid (ceil(D/32), B), block 128.
//             ys: scratch [3,B,D,L] for the y of routes 1..3 at their (h,w) positions.
//             states may be null; otherwise [B,4,D,ceil(L/64),N]: the state entering every
//             64-step chunk, which the backward restarts from.
//   backward  selective_scan_bwd_<t>   grid (G = ceil(D/(32/NP)), B), block 128, NP = N rounded
//             up to a power of 2. Writes gx and gdelta in full, and partial sums to scratch:
//             gxs [3,B,D,L] (routes 1..3 of gx, as ys), part_bc [G,2,B,4,N,L] (the B and C
//             gradients of block column g, summed over its channels) and part_p
//             [B, 4DN + 4D + 4D] (the A, D and bias gradients of batch b, summed over L).
//             Then selective_scan_sum_<f32|f64> twice, any 1-D grid: part_p over B into gA, gD
//             and gbias, part_bc over G into gB and gC.
//
// Forward: one block per (b, 32 channels); warp k runs route k, lane = channel, and each
// thread carries its channel's N states in registers through the whole scan. Every 16 steps
// the warp stages delta, x at the route's positions and B/C into shared memory with
// coalesced loads (B and C once for the 32 channels), scans the tile and stores its outputs.
//
// The route merge. The 4 routes visit a position at unrelated steps (route 0 at h*W+w, route 2
// at L-1-(h*W+w), routes 1 and 3 column-major), so every route's y must be kept somewhere until
// the last route has passed it. Held on chip, that is channels x L values per block (32 x 3136
// floats = 400 KB for VMamba-T's L, four times an SM's shared memory, and L has no bound), so it
// goes through global memory: route 0 stores its y straight into out and routes 1..3 into ys.
// Since the block owns all 4 routes of its channels, it merges them itself after one barrier:
// out = ((y0 + y1) + y2) + y3 at each position, coalesced, with no second kernel, and partly
// from L2 (the block wrote it). The cost is 3 stores and 3 loads of a [B,D,L] plane on top of
// the forward's floor of about 6 (x, 4 routes of delta, out); atomics would make the same
// read-modify-writes in L2, but in a varying order. A separate merge kernel over 4 scratch
// planes would move 8 planes; keeping out in shared memory would need the L-bounded block above.
//
// Backward: the same block shape, but a lane holds one state of one channel (NP lanes per
// channel), so that a thread keeps one state and its gradient, and the 16 per-step states of
// a tile fit in shared memory: no spills at N = 16. Per 64-step chunk (last first) it restarts
// from the saved state, recomputes the tile starts, then per tile (last first) recomputes the
// tile's states into shared memory and runs the reverse scan. Sums over states use shuffles
// within a channel's lanes, sums over channels (B and C gradients) shuffles across them: fixed
// butterflies. Reductions that cross blocks go to scratch partials, one slot per writer, summed
// by selective_scan_sum in ascending slot order: gx over the routes (merged by the block, as
// in the forward), gB and gC over the G blocks of channels, gA, gD and gbias over the batch.
// part_bc holds G = D*NP/32 copies of the B and C gradients: 3 for VMamba-T (D 96, N 1), but
// D/2 at N 16, where a block holds 2 channels per route.
#include "lumen_tensor.cuh"

namespace lumen_sscan {

constexpr int ROUTES = 4;
constexpr int CHUNK = 64;   // steps between saved states (SelectiveScanKernels.CHUNK)
constexpr int TILE = 16;    // steps staged per shared-memory tile
constexpr int TP = TILE + 1; // padded row: lanes reading one column of different rows hit different banks
constexpr int MAXN = 16;
constexpr int THREADS = 32 * ROUTES;

// Forward smem per warp: delta and u tiles [32][TP], B and C tiles [MAXN][TP].
constexpr int FWD_WARP_FLOATS = 2 * 32 * TP + 2 * MAXN * TP;
// Backward smem per warp: delta/gz, u, gy, gx tiles [CPB][TP], B, C, gB, gC tiles [NP][TP] and
// the tile's states [TILE][32]; CPB + NP <= 33.
constexpr int BWD_WARP_FLOATS = 4 * TP * 33 + TILE * 32;

// Storage type T computes in R = lumen::Acc<T>: double for f64 (with A, D, bias, out, states and
// every gradient in double too), float otherwise.
template <typename T> using AccOf = typename lumen::Acc<T>::type;

template <typename T>
__device__ __forceinline__ AccOf<T> ld(const T* p, size_t i) { return lumen::to_acc(p[i]); }
__device__ __forceinline__ float ex(float z) { return expf(z); }
__device__ __forceinline__ double ex(double z) { return exp(z); }
// 1/x: in double, the rounded reciprocal instruction rather than div.rn.f64, whose slow-path call
// makes ptxas spill (F64 runs finite-difference checks, where one more ulp does not matter).
__device__ __forceinline__ float recip(float x) { return 1.f / x; }
__device__ __forceinline__ double recip(double x) {
#ifdef LUMEN_CUDA_EMU
    return 1.0 / x;
#else
    return __drcp_rn(x);
#endif
}

// torch.nn.functional.softplus with its default threshold.
__device__ __forceinline__ float softplus(float z) { return z > 20.f ? z : log1pf(expf(z)); }
__device__ __forceinline__ double softplus(double z) { return z > 20.0 ? z : log1p(exp(z)); }

// The flat position (h*W + w) that route k visits at step l.
__device__ __forceinline__ int route_pos(int k, int l, int L, int H, int W) {
    int m = k >= 2 ? L - 1 - l : l;
    if ((k & 1) == 0) return m;
    int q = m / H;
    return (m - q * H) * W + q;
}

// After every route of the block has stored its values for rows [row0, row0 + count) (route 0 in
// dst, routes 1..3 in parts at plane strides): dst = ((v0 + v1) + v2) + v3, in route order.
template <typename R>
__device__ __forceinline__ void merge_routes(R* __restrict__ dst, const R* __restrict__ parts, size_t plane,
                                             size_t row0, int count) {
    __syncthreads();
    for (int i = threadIdx.x; i < count; i += THREADS) {
        const size_t at = row0 + i;
        dst[at] = ((dst[at] + parts[at]) + parts[plane + at]) + parts[2 * plane + at];
    }
}

template <int NS, typename T, typename R = AccOf<T>>
__device__ void fwd(const T* __restrict__ x, const T* __restrict__ delta, const R* __restrict__ A,
                    const T* __restrict__ Bs, const T* __restrict__ Cs, const R* __restrict__ Ds,
                    const R* __restrict__ bias, R* __restrict__ out, R* __restrict__ ys, R* __restrict__ states,
                    int D, int H, int W, int N, R* smem) {
    const int k = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int b = blockIdx.y, d0 = blockIdx.x * 32, d = d0 + lane;
    const int L = H * W, nchunks = (L + CHUNK - 1) / CHUNK;
    const int chans = min(32, D - d0);
    const bool valid = lane < chans;
    const size_t xrow0 = ((size_t) b * D + d0) * L;
    const size_t drow0 = (((size_t) b * ROUTES + k) * D + d0) * L;
    const size_t bcrow = ((size_t) b * ROUTES + k) * N * L;
    const size_t plane = (size_t) gridDim.y * D * L;   // one route's slice of ys
    R* const ydst = k == 0 ? out : ys + (k - 1) * plane;

    R* sD = smem + k * FWD_WARP_FLOATS;
    R* sU = sD + 32 * TP;
    R* sB = sU + 32 * TP;
    R* sC = sB + MAXN * TP;

    R a[NS], h[NS];
#pragma unroll
    for (int n = 0; n < NS; n++) {
        a[n] = (valid && n < N) ? A[((size_t) k * D + d) * N + n] : R(0);
        h[n] = R(0);
    }
    const R dskip = valid ? Ds[k * D + d] : R(0);
    const R bz = valid ? bias[k * D + d] : R(0);

    for (int l0 = 0; l0 < L; l0 += TILE) {
        const int tl = min(TILE, L - l0);
        if (states != nullptr && l0 % CHUNK == 0 && valid) {
            R* st = states + ((((size_t) b * ROUTES + k) * D + d) * nchunks + l0 / CHUNK) * N;
#pragma unroll
            for (int n = 0; n < NS; n++) if (n < N) st[n] = h[n];
        }
        for (int idx = lane; idx < 32 * TILE; idx += 32) {
            const int r = idx / TILE, i = idx % TILE;
            R dv = R(0), uv = R(0);
            if (r < chans && i < tl) {
                dv = ld(delta, drow0 + (size_t) r * L + l0 + i);
                uv = ld(x, xrow0 + (size_t) r * L + route_pos(k, l0 + i, L, H, W));
            }
            sD[r * TP + i] = dv;
            sU[r * TP + i] = uv;
        }
        for (int idx = lane; idx < NS * TILE; idx += 32) {
            const int n = idx / TILE, i = idx % TILE;
            const bool in = n < N && i < tl;
            sB[n * TP + i] = in ? ld(Bs, bcrow + (size_t) n * L + l0 + i) : R(0);
            sC[n * TP + i] = in ? ld(Cs, bcrow + (size_t) n * L + l0 + i) : R(0);
        }
        __syncwarp();
        for (int i = 0; i < tl; i++) {
            const R dt = softplus(sD[lane * TP + i] + bz);
            const R u = sU[lane * TP + i];
            const R du = dt * u;
            R y = dskip * u;
#pragma unroll
            for (int n = 0; n < NS; n++) {
                h[n] = ex(dt * a[n]) * h[n] + du * sB[n * TP + i];
                y += sC[n * TP + i] * h[n];
            }
            sD[lane * TP + i] = y;  // this lane's own delta slot, already consumed
        }
        __syncwarp();
        for (int idx = lane; idx < 32 * TILE; idx += 32) {
            const int r = idx / TILE, i = idx % TILE;
            if (r < chans && i < tl) ydst[xrow0 + (size_t) r * L + route_pos(k, l0 + i, L, H, W)] = sD[r * TP + i];
        }
        __syncwarp();
    }
    merge_routes(out, ys, plane, xrow0, chans * L);
}

// Sum over the lanes of one channel (the NP lanes holding its states).
template <int NP, typename R>
__device__ __forceinline__ R sum_states(R v) {
#pragma unroll
    for (int off = 1; off < NP; off <<= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

// Sum over the channels of the warp, per state.
template <int NP, typename R>
__device__ __forceinline__ R sum_channels(R v) {
#pragma unroll
    for (int off = NP; off < 32; off <<= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

template <int NP, typename T>
struct BwdTile {
    using R = AccOf<T>;
    static constexpr int CPB = 32 / NP;
    R *sD, *sU, *sG, *sX, *sB, *sC, *sGB, *sGC, *sH;
    const T *x, *delta, *Bs, *Cs;
    const R* gout;
    size_t xrow0, drow0, bcrow;
    int k, L, H, W, N, chans;

    __device__ void carve(R* warp_smem) {
        sD = warp_smem;
        sU = sD + CPB * TP;
        sG = sU + CPB * TP;
        sX = sG + CPB * TP;
        sB = sX + CPB * TP;
        sC = sB + NP * TP;
        sGB = sC + NP * TP;
        sGC = sGB + NP * TP;
        sH = sGC + NP * TP;
    }

    // Stages delta, u and B for steps [l0, l0+tl); with the gradient also gy and C.
    __device__ void stage(int lane, int l0, int tl, bool grad) {
        for (int idx = lane; idx < CPB * TILE; idx += 32) {
            const int r = idx / TILE, i = idx % TILE;
            const bool in = r < chans && i < tl;
            const int p = in ? route_pos(k, l0 + i, L, H, W) : 0;
            sD[r * TP + i] = in ? ld(delta, drow0 + (size_t) r * L + l0 + i) : R(0);
            sU[r * TP + i] = in ? ld(x, xrow0 + (size_t) r * L + p) : R(0);
            if (grad) sG[r * TP + i] = in ? gout[xrow0 + (size_t) r * L + p] : R(0);
        }
        for (int idx = lane; idx < NP * TILE; idx += 32) {
            const int n = idx / TILE, i = idx % TILE;
            const bool in = n < N && i < tl;
            sB[n * TP + i] = in ? ld(Bs, bcrow + (size_t) n * L + l0 + i) : R(0);
            if (grad) sC[n * TP + i] = in ? ld(Cs, bcrow + (size_t) n * L + l0 + i) : R(0);
        }
    }
};

template <int NP, typename T, typename R = AccOf<T>>
__device__ void bwd(const T* __restrict__ x, const T* __restrict__ delta, const R* __restrict__ A,
                    const T* __restrict__ Bs, const T* __restrict__ Cs, const R* __restrict__ Ds,
                    const R* __restrict__ bias, const R* __restrict__ states, const R* __restrict__ gout,
                    R* __restrict__ gx, R* __restrict__ gdelta, R* __restrict__ gxs, R* __restrict__ part_bc,
                    R* __restrict__ part_p, int D, int H, int W, int N, R* smem) {
    constexpr int CPB = 32 / NP;
    const int k = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int c = lane / NP, n = lane % NP;
    const int b = blockIdx.y, d0 = blockIdx.x * CPB, d = d0 + c;
    const int L = H * W, nchunks = (L + CHUNK - 1) / CHUNK;
    const int chans = min(CPB, D - d0);
    const bool vd = c < chans, valid = vd && n < N;

    BwdTile<NP, T> t;
    t.carve(smem + k * BWD_WARP_FLOATS);
    t.x = x; t.delta = delta; t.Bs = Bs; t.Cs = Cs; t.gout = gout;
    t.xrow0 = ((size_t) b * D + d0) * L;
    t.drow0 = (((size_t) b * ROUTES + k) * D + d0) * L;
    t.bcrow = ((size_t) b * ROUTES + k) * N * L;
    t.k = k; t.L = L; t.H = H; t.W = W; t.N = N; t.chans = chans;

    const size_t plane = (size_t) gridDim.y * D * L;                 // one route's slice of gxs
    R* const gxdst = k == 0 ? gx : gxs + (k - 1) * plane;
    const size_t bcplane = (size_t) gridDim.y * ROUTES * N * L;      // one gradient of part_bc
    R* const gbdst = part_bc + (size_t) blockIdx.x * 2 * bcplane;   // this block column's slot

    const R an = valid ? A[((size_t) k * D + d) * N + n] : R(0);
    const R dskip = vd ? Ds[k * D + d] : R(0);
    const R bz = vd ? bias[k * D + d] : R(0);
    R gh = R(0);                     // dL/d(state after the step being processed), decayed
    R acc_a = R(0), acc_d = R(0), acc_z = R(0);

    for (int ch = nchunks - 1; ch >= 0; ch--) {
        const int c0 = ch * CHUNK, clen = min(CHUNK, L - c0), ntiles = (clen + TILE - 1) / TILE;
        R h = valid ? states[((((size_t) b * ROUTES + k) * D + d) * nchunks + ch) * N + n] : R(0);
        R hstart[CHUNK / TILE];
        // Pass 1: the state entering each tile of the chunk.
#pragma unroll
        for (int ti = 0; ti < CHUNK / TILE; ti++) {
            hstart[ti] = h;
            if (ti + 1 < ntiles) {
                t.stage(lane, c0 + ti * TILE, TILE, false);
                __syncwarp();
                for (int i = 0; i < TILE; i++) {
                    const R dt = softplus(t.sD[c * TP + i] + bz);
                    h = ex(dt * an) * h + dt * t.sU[c * TP + i] * t.sB[n * TP + i];
                }
                __syncwarp();
            }
        }
        // Pass 2: tiles last to first; recompute the tile's states, then the reverse scan.
#pragma unroll
        for (int ti = CHUNK / TILE - 1; ti >= 0; ti--) {
            if (ti >= ntiles) continue;
            const int l0 = c0 + ti * TILE, tl = min(TILE, L - l0);
            t.stage(lane, l0, tl, true);
            __syncwarp();
            const R h0 = hstart[ti];
            h = h0;
            for (int i = 0; i < tl; i++) {
                const R dt = softplus(t.sD[c * TP + i] + bz);
                h = ex(dt * an) * h + dt * t.sU[c * TP + i] * t.sB[n * TP + i];
                t.sH[i * 32 + lane] = h;
            }
            for (int i = tl - 1; i >= 0; i--) {
                const R z = t.sD[c * TP + i] + bz;
                const R dt = softplus(z);
                const R sig = recip(R(1) + ex(-z));
                const R u = t.sU[c * TP + i], gy = t.sG[c * TP + i];
                const R bn = t.sB[n * TP + i], cn = t.sC[n * TP + i];
                const R decay = ex(dt * an);
                const R hprev = i > 0 ? t.sH[(i - 1) * 32 + lane] : h0;
                gh += gy * cn;
                const R vc = sum_channels<NP>(gy * t.sH[i * 32 + lane]);
                const R vb = sum_channels<NP>(gh * dt * u);
                const R w = gh * decay * hprev;            // dL/d(decay) * decay
                const R pu = sum_states<NP>(gh * bn);
                const R pdt = sum_states<NP>(w * an);
                acc_a += w * dt;
                gh *= decay;
                __syncwarp();  // every lane has read this step's delta slot before it is overwritten
                if (c == 0) {
                    t.sGB[n * TP + i] = vb;
                    t.sGC[n * TP + i] = vc;
                }
                if (n == 0) {
                    const R gz = (u * pu + pdt) * sig;
                    t.sD[c * TP + i] = gz;
                    t.sX[c * TP + i] = dt * pu + gy * dskip;
                    acc_z += gz;
                    acc_d += gy * u;
                }
            }
            __syncwarp();
            for (int idx = lane; idx < CPB * TILE; idx += 32) {
                const int r = idx / TILE, i = idx % TILE;
                if (r < chans && i < tl) {
                    gdelta[t.drow0 + (size_t) r * L + l0 + i] = t.sD[r * TP + i];
                    gxdst[t.xrow0 + (size_t) r * L + route_pos(k, l0 + i, L, H, W)] = t.sX[r * TP + i];
                }
            }
            for (int idx = lane; idx < NP * TILE; idx += 32) {
                const int nn = idx / TILE, i = idx % TILE;
                if (nn < N && i < tl) {
                    gbdst[t.bcrow + (size_t) nn * L + l0 + i] = t.sGB[nn * TP + i];
                    gbdst[bcplane + t.bcrow + (size_t) nn * L + l0 + i] = t.sGC[nn * TP + i];
                }
            }
            __syncwarp();
        }
    }
    // This batch's A, D and bias gradients: one writer per (k, d, n).
    const size_t nA = (size_t) ROUTES * D * N, nD = (size_t) ROUTES * D;
    R* const prow = part_p + (size_t) b * (nA + 2 * nD);
    if (valid) prow[((size_t) k * D + d) * N + n] = acc_a;
    if (vd && n == 0) {
        prow[nA + k * D + d] = acc_d;
        prow[nA + nD + k * D + d] = acc_z;
    }
    merge_routes(gx, gxs, plane, t.xrow0, chans * L);
}

template <typename T, typename R = AccOf<T>>
__device__ void fwd_dispatch(const T* x, const T* delta, const R* A, const T* Bs, const T* Cs, const R* Ds,
                             const R* bias, R* out, R* ys, R* states, int D, int H, int W, int N) {
    extern __shared__ double sscan_fwd_smem[];   // ROUTES * FWD_WARP_FLOATS values of R
    R* smem = reinterpret_cast<R*>(sscan_fwd_smem);
    if (N <= 1) fwd<1>(x, delta, A, Bs, Cs, Ds, bias, out, ys, states, D, H, W, N, smem);
    else if (N <= 2) fwd<2>(x, delta, A, Bs, Cs, Ds, bias, out, ys, states, D, H, W, N, smem);
    else if (N <= 4) fwd<4>(x, delta, A, Bs, Cs, Ds, bias, out, ys, states, D, H, W, N, smem);
    else if (N <= 8) fwd<8>(x, delta, A, Bs, Cs, Ds, bias, out, ys, states, D, H, W, N, smem);
    else fwd<16>(x, delta, A, Bs, Cs, Ds, bias, out, ys, states, D, H, W, N, smem);
}

template <typename T, typename R = AccOf<T>>
__device__ void bwd_dispatch(const T* x, const T* delta, const R* A, const T* Bs, const T* Cs, const R* Ds,
                             const R* bias, const R* states, const R* gout, R* gx, R* gdelta,
                             R* gxs, R* part_bc, R* part_p, int D, int H, int W, int N) {
    extern __shared__ double sscan_bwd_smem[];   // ROUTES * BWD_WARP_FLOATS values of R
    R* smem = reinterpret_cast<R*>(sscan_bwd_smem);
    if (N <= 1) bwd<1>(x, delta, A, Bs, Cs, Ds, bias, states, gout, gx, gdelta, gxs, part_bc, part_p, D, H, W, N, smem);
    else if (N <= 2) bwd<2>(x, delta, A, Bs, Cs, Ds, bias, states, gout, gx, gdelta, gxs, part_bc, part_p, D, H, W, N, smem);
    else if (N <= 4) bwd<4>(x, delta, A, Bs, Cs, Ds, bias, states, gout, gx, gdelta, gxs, part_bc, part_p, D, H, W, N, smem);
    else if (N <= 8) bwd<8>(x, delta, A, Bs, Cs, Ds, bias, states, gout, gx, gdelta, gxs, part_bc, part_p, D, H, W, N, smem);
    else bwd<16>(x, delta, A, Bs, Cs, Ds, bias, states, gout, gx, gdelta, gxs, part_bc, part_p, D, H, W, N, smem);
}

}  // namespace lumen_sscan

// out = the sum over groups of part [groups, n0 + n1 + n2], in ascending group order; element i
// of a row goes to out0[i], out1[i - n0] or out2[i - n0 - n1]. Any 1-D grid; grid-stride.
namespace lumen_sscan {
template <typename R>
__device__ void sum_groups(const R* __restrict__ part, int groups, long long n0, long long n1, long long n2,
                           R* __restrict__ out0, R* __restrict__ out1, R* __restrict__ out2) {
    const long long row = n0 + n1 + n2, stride = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < row; i += stride) {
        R s = part[i];
#pragma unroll 8
        for (int g = 1; g < groups; g++) s += part[g * row + i];
        if (i < n0) out0[i] = s;
        else if (i < n0 + n1) out1[i - n0] = s;
        else out2[i - n0 - n1] = s;
    }
}
}  // namespace lumen_sscan

// Entry points per storage type T; R is what A, D, bias, out, states and the gradients are.
#define LUMEN_SSCAN_ENTRIES(T, SUFFIX) LUMEN_SSCAN_ENTRIES_R(T, SUFFIX, lumen_sscan::AccOf<T>)
#define LUMEN_SSCAN_ENTRIES_R(T, SUFFIX, R)                                                                              \
    extern "C" __global__ void __launch_bounds__(lumen_sscan::THREADS) selective_scan_fwd_##SUFFIX(                      \
            const T* x, const T* delta, const R* A, const T* Bs, const T* Cs, const R* Ds, const R* bias,                \
            R* out, R* ys, R* states, int D, int H, int W, int N) {                                                      \
        lumen_sscan::fwd_dispatch<T>(x, delta, A, Bs, Cs, Ds, bias, out, ys, states, D, H, W, N);                        \
    }                                                                                                                    \
    extern "C" __global__ void __launch_bounds__(lumen_sscan::THREADS, 1) selective_scan_bwd_##SUFFIX(                      \
            const T* x, const T* delta, const R* A, const T* Bs, const T* Cs, const R* Ds, const R* bias,                \
            const R* states, const R* gout, R* gx, R* gdelta, R* gxs, R* part_bc, R* part_p,                             \
            int D, int H, int W, int N) {                                                                                \
        lumen_sscan::bwd_dispatch<T>(x, delta, A, Bs, Cs, Ds, bias, states, gout, gx, gdelta, gxs, part_bc, part_p,      \
                                     D, H, W, N);                                                                        \
    }

LUMEN_FOR_FLOAT_TYPES(LUMEN_SSCAN_ENTRIES)

extern "C" __global__ void selective_scan_sum_f32(const float* part, int groups, long long n0, long long n1, long long n2,
                                                  float* out0, float* out1, float* out2) {
    lumen_sscan::sum_groups(part, groups, n0, n1, n2, out0, out1, out2);
}

extern "C" __global__ void selective_scan_sum_f64(const double* part, int groups, long long n0, long long n1, long long n2,
                                                  double* out0, double* out1, double* out2) {
    lumen_sscan::sum_groups(part, groups, n0, n1, n2, out0, out1, out2);
}
