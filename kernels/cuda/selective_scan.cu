// Selective 2-D scan (VMamba SS2D core), fused cross-scan + selective scan + cross-merge.
//
// x [B,D,H,W]; delta [B,4,D,L]; Bs, Cs [B,4,N,L]; A [4*D,N]; Ds, bias [4*D]; L = H*W, N <= 16.
// Route 0 visits (h,w) row-major (l = h*W + w), route 1 column-major (l = w*H + h), routes 2
// and 3 are 0 and 1 reversed. For route k and channel d, with u_l = x at the route's l-th
// position: dt = softplus(delta + bias), s_l = exp(dt*A) s_{l-1} + dt*B_l*u_l,
// y_l = C_l.s_l + D*u_l; out = the sum of the 4 routes' y mapped back to (h,w). x, delta, B
// and C are f32, f16 or bf16 with A, D, bias, out, states and every gradient f32; or all f64
// (computed in double). Shared memory is dynamic: ROUTES * FWD_WARP_FLOATS (or BWD_WARP_FLOATS)
// values of the compute type.
//
// Launch protocol (SelectiveScanCuda.java):
//   forward   selective_scan_fwd_<t>   grid (ceil(D/32), B), block 128.
//             states may be null; otherwise [B,4,D,ceil(L/64),N]: the state entering every
//             64-step chunk, which the backward restarts from.
//   backward  selective_scan_bwd_zero_<f32|f64> first (zeroes gA, gB, gC, gD, gbias, which the
//             backward accumulates with atomics), then selective_scan_bwd_<t>
//             grid (ceil(D/(32/NP)), B), block 128, NP = N rounded up to a power of 2.
//   gx and gdelta are written in full by the backward itself.
//
// Forward: one block per (b, 32 channels); warp k runs route k, lane = channel, and each
// thread carries its channel's N states in registers through the whole scan. Every 16 steps
// the warp stages delta, x at the route's positions and B/C into shared memory with
// coalesced loads (B and C once for the 32 channels), scans the tile, and adds its outputs to
// out with atomics, since the 4 warps of the block merge into the same outputs (the block
// zeroes its rows of out first; no other block touches them).
//
// Backward: the same block shape, but a lane holds one state of one channel (NP lanes per
// channel), so that a thread keeps one state and its gradient, and the 16 per-step states of
// a tile fit in shared memory: no spills at N = 16. Per 64-step chunk (last first) it restarts
// from the saved state, recomputes the tile starts, then per tile (last first) recomputes the
// tile's states into shared memory and runs the reverse scan. Sums over states use shuffles
// within a channel's lanes, sums over channels (B and C gradients) shuffles across them.
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

template <int NS, typename T, typename R = AccOf<T>>
__device__ void fwd(const T* __restrict__ x, const T* __restrict__ delta, const R* __restrict__ A,
                    const T* __restrict__ Bs, const T* __restrict__ Cs, const R* __restrict__ Ds,
                    const R* __restrict__ bias, R* __restrict__ out, R* __restrict__ states,
                    int D, int H, int W, int N, R* smem) {
    const int k = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int b = blockIdx.y, d0 = blockIdx.x * 32, d = d0 + lane;
    const int L = H * W, nchunks = (L + CHUNK - 1) / CHUNK;
    const int chans = min(32, D - d0);
    const bool valid = lane < chans;
    const size_t xrow0 = ((size_t) b * D + d0) * L;
    const size_t drow0 = (((size_t) b * ROUTES + k) * D + d0) * L;
    const size_t bcrow = ((size_t) b * ROUTES + k) * N * L;

    // The block owns out[b, d0 .. d0+chans): zero it, then the 4 routes add into it.
    for (int i = threadIdx.x; i < chans * L; i += THREADS) out[xrow0 + i] = R(0);
    __syncthreads();

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
            if (r < chans && i < tl) atomicAdd(out + xrow0 + (size_t) r * L + route_pos(k, l0 + i, L, H, W), sD[r * TP + i]);
        }
        __syncwarp();
    }
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
                    R* __restrict__ gx, R* __restrict__ gdelta, R* __restrict__ gA, R* __restrict__ gB,
                    R* __restrict__ gC, R* __restrict__ gD, R* __restrict__ gbias,
                    int D, int H, int W, int N, R* smem) {
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

    // The block owns gx[b, d0 .. d0+chans): zero it, then the 4 routes add into it.
    for (int i = threadIdx.x; i < chans * L; i += THREADS) gx[t.xrow0 + i] = R(0);
    __syncthreads();

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
                    atomicAdd(gx + t.xrow0 + (size_t) r * L + route_pos(k, l0 + i, L, H, W), t.sX[r * TP + i]);
                }
            }
            for (int idx = lane; idx < NP * TILE; idx += 32) {
                const int nn = idx / TILE, i = idx % TILE;
                if (nn < N && i < tl) {
                    atomicAdd(gB + t.bcrow + (size_t) nn * L + l0 + i, t.sGB[nn * TP + i]);
                    atomicAdd(gC + t.bcrow + (size_t) nn * L + l0 + i, t.sGC[nn * TP + i]);
                }
            }
            __syncwarp();
        }
    }
    if (valid) atomicAdd(gA + ((size_t) k * D + d) * N + n, acc_a);
    if (vd && n == 0) {
        atomicAdd(gD + k * D + d, acc_d);
        atomicAdd(gbias + k * D + d, acc_z);
    }
}

template <typename T, typename R = AccOf<T>>
__device__ void fwd_dispatch(const T* x, const T* delta, const R* A, const T* Bs, const T* Cs, const R* Ds,
                             const R* bias, R* out, R* states, int D, int H, int W, int N) {
    extern __shared__ double sscan_fwd_smem[];   // ROUTES * FWD_WARP_FLOATS values of R
    R* smem = reinterpret_cast<R*>(sscan_fwd_smem);
    if (N <= 1) fwd<1>(x, delta, A, Bs, Cs, Ds, bias, out, states, D, H, W, N, smem);
    else if (N <= 2) fwd<2>(x, delta, A, Bs, Cs, Ds, bias, out, states, D, H, W, N, smem);
    else if (N <= 4) fwd<4>(x, delta, A, Bs, Cs, Ds, bias, out, states, D, H, W, N, smem);
    else if (N <= 8) fwd<8>(x, delta, A, Bs, Cs, Ds, bias, out, states, D, H, W, N, smem);
    else fwd<16>(x, delta, A, Bs, Cs, Ds, bias, out, states, D, H, W, N, smem);
}

template <typename T, typename R = AccOf<T>>
__device__ void bwd_dispatch(const T* x, const T* delta, const R* A, const T* Bs, const T* Cs, const R* Ds,
                             const R* bias, const R* states, const R* gout, R* gx, R* gdelta,
                             R* gA, R* gB, R* gC, R* gD, R* gbias, int D, int H, int W, int N) {
    extern __shared__ double sscan_bwd_smem[];   // ROUTES * BWD_WARP_FLOATS values of R
    R* smem = reinterpret_cast<R*>(sscan_bwd_smem);
    if (N <= 1) bwd<1>(x, delta, A, Bs, Cs, Ds, bias, states, gout, gx, gdelta, gA, gB, gC, gD, gbias, D, H, W, N, smem);
    else if (N <= 2) bwd<2>(x, delta, A, Bs, Cs, Ds, bias, states, gout, gx, gdelta, gA, gB, gC, gD, gbias, D, H, W, N, smem);
    else if (N <= 4) bwd<4>(x, delta, A, Bs, Cs, Ds, bias, states, gout, gx, gdelta, gA, gB, gC, gD, gbias, D, H, W, N, smem);
    else if (N <= 8) bwd<8>(x, delta, A, Bs, Cs, Ds, bias, states, gout, gx, gdelta, gA, gB, gC, gD, gbias, D, H, W, N, smem);
    else bwd<16>(x, delta, A, Bs, Cs, Ds, bias, states, gout, gx, gdelta, gA, gB, gC, gD, gbias, D, H, W, N, smem);
}

}  // namespace lumen_sscan

// Zeroes the gradients the backward accumulates with atomics: gA [4D,N], gB and gC [B,4,N,L],
// gD and gbias [4D]. Any 1-D grid; grid-stride.
namespace lumen_sscan {
template <typename R>
__device__ void bwd_zero(R* gA, R* gB, R* gC, R* gD, R* gbias, long long n_a, long long n_bc, long long n_d) {
    const long long stride = (long long) gridDim.x * blockDim.x;
    const long long total = n_bc > n_a ? (n_bc > n_d ? n_bc : n_d) : (n_a > n_d ? n_a : n_d);
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        if (i < n_bc) {
            gB[i] = 0;
            gC[i] = 0;
        }
        if (i < n_a) gA[i] = 0;
        if (i < n_d) {
            gD[i] = 0;
            gbias[i] = 0;
        }
    }
}
}  // namespace lumen_sscan

// Entry points per storage type T; R is what A, D, bias, out, states and the gradients are.
#define LUMEN_SSCAN_ENTRIES(T, SUFFIX) LUMEN_SSCAN_ENTRIES_R(T, SUFFIX, lumen_sscan::AccOf<T>)
#define LUMEN_SSCAN_ENTRIES_R(T, SUFFIX, R)                                                                              \
    extern "C" __global__ void __launch_bounds__(lumen_sscan::THREADS) selective_scan_fwd_##SUFFIX(                      \
            const T* x, const T* delta, const R* A, const T* Bs, const T* Cs, const R* Ds, const R* bias,                \
            R* out, R* states, int D, int H, int W, int N) {                                                             \
        lumen_sscan::fwd_dispatch<T>(x, delta, A, Bs, Cs, Ds, bias, out, states, D, H, W, N);                            \
    }                                                                                                                    \
    extern "C" __global__ void __launch_bounds__(lumen_sscan::THREADS, 1) selective_scan_bwd_##SUFFIX(                      \
            const T* x, const T* delta, const R* A, const T* Bs, const T* Cs, const R* Ds, const R* bias,                \
            const R* states, const R* gout, R* gx, R* gdelta, R* gA, R* gB, R* gC,                                       \
            R* gD, R* gbias, int D, int H, int W, int N) {                                                               \
        lumen_sscan::bwd_dispatch<T>(x, delta, A, Bs, Cs, Ds, bias, states, gout, gx, gdelta, gA, gB, gC, gD, gbias,     \
                                     D, H, W, N);                                                                        \
    }

LUMEN_FOR_FLOAT_TYPES(LUMEN_SSCAN_ENTRIES)

extern "C" __global__ void selective_scan_bwd_zero_f32(float* gA, float* gB, float* gC, float* gD, float* gbias,
                                                       long long n_a, long long n_bc, long long n_d) {
    lumen_sscan::bwd_zero(gA, gB, gC, gD, gbias, n_a, n_bc, n_d);
}

extern "C" __global__ void selective_scan_bwd_zero_f64(double* gA, double* gB, double* gC, double* gD, double* gbias,
                                                       long long n_a, long long n_bc, long long n_d) {
    lumen_sscan::bwd_zero(gA, gB, gC, gD, gbias, n_a, n_bc, n_d);
}
