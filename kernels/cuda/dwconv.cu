// Depth-wise 2-D convolution for large kernels (RepLKNet's 31x31, and the 3x3..7x7 depth-wise
// convs of VMamba and CAS-ViT): odd kernel K, stride 1 or 2, any padding, NCHW, optional bias.
// f32 and f16 storage, f32 accumulation, deterministic (no atomics).
//
// Register blocking. A thread owns a strip of V x R outputs (7 columns, 4 rows). For every input
// row of its window it loads the row segment once into registers, then for each of its R output
// rows that the input row reaches it loads that filter row (float4 broadcasts: every thread of a
// block reads the same taps) and does V*K FMAs from registers. At K = 31 that is 868 FMAs per
// 37 input loads and 32 float4 weight loads, so the hot loop is FMA-bound (FP32 issue), not bound
// by shared-memory bandwidth; the floor is then K*K FMAs per output at the FP32 peak.
//
// Kernel size is a template parameter for the sizes the models use (3, 5, 7, 13, 27, 29, 31; 3, 5
// and 7 at stride 2) so the row loops unroll into registers; other sizes take a runtime-K kernel
// (suffix kany) that slides a V-wide register window along the row instead.
//
// The input gradient is the forward conv of the upstream gradient with the flipped filter. At
// stride 2 it splits into the four parity phases of dx: each phase is a stride-1 conv with every
// other tap, so no division or per-tap branch is left in the inner loops.
//
// Tiles: V = 7 divides 56, 28, 14 and 7, so a row of <= 8 threads covers those maps exactly; small
// maps put several planes (blockDim.z) in one block. Planes go on gridDim.x (2^31 - 1), tiles on
// y and z, so any N*C fits.
#include <cuda_fp16.h>

// All .cu files are compiled as one translation unit for the fatbin: helpers live in a named namespace.
namespace lumen_dwconv {

constexpr int V = 7;              // outputs per thread along a row (7 | 56, 28, 14, 7)
constexpr int R = 4;              // output rows per thread
constexpr int WG_THREADS = 256;   // weight-gradient block: 8 warps
constexpr int WG_TILE_H = 56;     // grad-output rows staged per weight-gradient step (stride 1; 28 at stride 2)
constexpr int WG_TILE_W = 56;     // grad-output columns staged per step (4 chunks)
constexpr int WG_CHUNK = 14;      // grad-output columns a thread multiplies per register pass (14 | 56, 28, 14)

// Row pitch of the weight gradient's input window: its (TILE_W - 1) * S + 4 * VW columns rounded
// up to 4 mod 8, so lanes ty = 0..7 of a row step land on different banks. DepthwiseConvCuda.wgPitch.
__host__ __device__ constexpr int wg_window_pitch(int s, int vw) {
    return ((WG_TILE_W - 1) * s + 4 * vw) + ((4 - ((WG_TILE_W - 1) * s + 4 * vw)) & 7);
}

__device__ __forceinline__ float load(const float* p, long i) { return p[i]; }
__device__ __forceinline__ float load(const __half* p, long i) { return __half2float(p[i]); }
__device__ __forceinline__ void store(float* p, long i, float v) { p[i] = v; }
__device__ __forceinline__ void store(__half* p, long i, float v) { p[i] = __float2half(v); }

// Row pitch of a staged window in floats. Threads of a warp read it at tx * V * S + ty * R * S * pitch:
// with 8 threads per row a pitch of 2 mod 4 spreads the 32 lanes over all banks, otherwise an odd one.
__device__ __forceinline__ int window_pitch(int cols, int threads_x, int stride) {
    if (threads_x == 8 && stride == 1) return cols + ((2 - cols) & 3);
    return cols | 1;
}

// Floats of shared memory one plane of a conv block takes: its (kh + 1) x round4(kw) taps (the
// extra row is zeros) and its input window; a multiple of 4 so every plane's taps stay 16-byte
// aligned. DepthwiseConvCuda.planeFloats computes the same.
__device__ __forceinline__ int weight_pitch(int kw) { return (kw + 3) & ~3; }
__device__ __forceinline__ int plane_floats(int tx, int ty, int stride, int kh, int kw) {
    const int cols = (tx * V - 1) * stride + kw, rows = (ty * R - 1) * stride + kh;
    return ((kh + 1) * weight_pitch(kw) + rows * window_pitch(cols, tx, stride) + 3) & ~3;
}

// s[r * pitch + q] = src[(iy0 + r) * w + ix0 + q] for r < rows, q < cols; zero outside the h x w map.
template <typename T>
__device__ void stage_window(const T* __restrict__ src, int h, int w, int iy0, int ix0, int rows, int cols, float* s,
                             int pitch, int tid, int nthreads) {
    for (int r = 0; r < rows; r++) {
        const int iy = iy0 + r;
        const bool row_in = iy >= 0 && iy < h;
        for (int q = tid; q < cols; q += nthreads) {
            const int ix = ix0 + q;
            s[r * pitch + q] = (row_in && ix >= 0 && ix < w) ? load(src, (long) iy * w + ix) : 0.f;
        }
    }
}

// s[ky * wp + kx] = w[first + ky * row_step + kx * col_step] for ky < kh, kx < kw; the padding
// columns and one extra row (kh) are zeros.
template <typename T>
__device__ void stage_taps(const T* __restrict__ w, int first, int row_step, int col_step, int kh, int kw, float* s,
                           int tid, int nthreads) {
    const int wp = weight_pitch(kw);
    for (int ky = 0; ky <= kh; ky++) {
        for (int kx = tid; kx < wp; kx += nthreads) {
            s[ky * wp + kx] = (ky < kh && kx < kw) ? load(w, first + ky * row_step + kx * col_step) : 0.f;
        }
    }
}

// acc[r][v] += sum over (ky, kx) of taps[ky][kx] * win[(ty*R + r)*S + ky][(tx*V + v)*S + kx]: the
// thread's V x R outputs. KH, KW > 0 unroll the taps; 0 takes kh, kw at run time.
template <int KH, int KW, int S>
__device__ __forceinline__ void conv_strip(const float* __restrict__ win, int pitch, const float* __restrict__ taps,
                                           int kh_rt, int kw_rt, int tx, int ty, float (&acc)[R][V]) {
    const int kh = KH > 0 ? KH : kh_rt;
    const int wp = weight_pitch(KW > 0 ? KW : kw_rt);
    const float* base = win + ty * R * S * pitch + tx * V * S;
    const int rows = (R - 1) * S + kh;
#pragma unroll 1
    for (int i = 0; i < rows; i++) {
        const float* row = base + i * pitch;
        if constexpr (KW > 0) {
            constexpr int SEG = (V - 1) * S + KW;
            constexpr int WP = (KW + 3) & ~3;
            float seg[SEG];
#pragma unroll
            for (int e = 0; e < SEG; e++) seg[e] = row[e];
#pragma unroll
            for (int r = 0; r < R; r++) {
                const int ky = i - r * S;
                // Input row i is the same for the whole block, so this branch is uniform.
                if (ky < 0 || ky >= kh) continue;
                float t[WP];
                const float4* tr = reinterpret_cast<const float4*>(taps + ky * WP);
#pragma unroll
                for (int q = 0; q < WP / 4; q++) {
                    const float4 f = tr[q];
                    t[4 * q] = f.x; t[4 * q + 1] = f.y; t[4 * q + 2] = f.z; t[4 * q + 3] = f.w;
                }
#pragma unroll
                for (int kx = 0; kx < KW; kx++) {
#pragma unroll
                    for (int v = 0; v < V; v++) acc[r][v] = fmaf(t[kx], seg[v * S + kx], acc[r][v]);
                }
            }
        } else {
            // Runtime kw: a register window of the V inputs of tap kx, slid one column per tap.
            constexpr int WIN = (V - 1) * S + 1;
            const float* trow[R];
#pragma unroll
            for (int r = 0; r < R; r++) {
                const int ky = i - r * S;
                trow[r] = taps + ((ky >= 0 && ky < kh) ? ky : kh) * wp;   // row kh is zeros
            }
            float w[WIN];
#pragma unroll
            for (int e = 0; e < WIN - 1; e++) w[e] = row[e];
#pragma unroll 1
            for (int kx = 0; kx < kw_rt; kx++) {
                w[WIN - 1] = row[kx + WIN - 1];
#pragma unroll
                for (int r = 0; r < R; r++) {
                    const float t = trow[r][kx];
#pragma unroll
                    for (int v = 0; v < V; v++) acc[r][v] = fmaf(t, w[v * S], acc[r][v]);
                }
#pragma unroll
                for (int e = 0; e < WIN - 1; e++) w[e] = w[e + 1];
            }
        }
    }
}

// One conv pass over a tile of a plane: out[(oy*osy + oy_off) * out_w + ox*osx + ox_off] =
// bias + sum of taps * in, where output (oy, ox) reads input (oy*S - pad_y + ky, ox*S - pad_x + kx),
// for oy < oh, ox < ow. The taps are w[first + ky*row_step + kx*col_step] (a flipped or phase
// sub-sampled filter for the input gradient). Block (TX, TY, P): TX*V x TY*R outputs of P planes.
struct Pass {
    int ih, iw, pad_y, pad_x, oh, ow;
    int kh, kw, filter, first, row_step, col_step;   // filter: floats per channel of w (K*K)
    int out_h, out_w, osy, osx, oy_off, ox_off;
    int plane_stride;   // floats of shared memory per plane
};

template <int KH, int KW, int S, typename T>
__device__ void conv_pass(const T* __restrict__ in, const T* __restrict__ w, const T* __restrict__ bias,
                          T* __restrict__ out, int planes, int C, int tile_y, int tile_x, const Pass p) {
    extern __shared__ float smem[];
    const int tx = threadIdx.x, ty = threadIdx.y, TX = blockDim.x, TY = blockDim.y;
    const int plane = blockIdx.x * blockDim.z + threadIdx.z;
    const bool live = plane < planes;
    const int kh = KH > 0 ? KH : p.kh, kw = KW > 0 ? KW : p.kw;
    const int oy0 = tile_y * TY * R, ox0 = tile_x * TX * V;
    const int cols = (TX * V - 1) * S + kw, rows = (TY * R - 1) * S + kh;
    const int pitch = window_pitch(cols, TX, S);
    float* taps = smem + threadIdx.z * p.plane_stride;
    float* win = taps + (kh + 1) * weight_pitch(kw);
    const int c = live ? plane % C : 0;
    if (live) {
        const int tid = ty * TX + tx, nthreads = TX * TY;
        stage_taps(w + (long) c * p.filter, p.first, p.row_step, p.col_step, kh, kw, taps, tid, nthreads);
        stage_window(in + (long) plane * p.ih * p.iw, p.ih, p.iw, oy0 * S - p.pad_y, ox0 * S - p.pad_x, rows, cols, win,
                     pitch, tid, nthreads);
    }
    __syncthreads();
    if (!live) return;   // after the block's only barrier

    const float b = bias ? load(bias, c) : 0.f;
    float acc[R][V];
#pragma unroll
    for (int r = 0; r < R; r++) {
#pragma unroll
        for (int v = 0; v < V; v++) acc[r][v] = b;
    }
    conv_strip<KH, KW, S>(win, pitch, taps, kh, kw, tx, ty, acc);

    T* oplane = out + (long) plane * p.out_h * p.out_w;
#pragma unroll
    for (int r = 0; r < R; r++) {
        const int oy = oy0 + ty * R + r;
        if (oy >= p.oh) break;
        T* orow = oplane + ((long) oy * p.osy + p.oy_off) * p.out_w + p.ox_off;
#pragma unroll
        for (int v = 0; v < V; v++) {
            const int ox = ox0 + tx * V + v;
            if (ox < p.ow) store(orow, (long) ox * p.osx, acc[r][v]);
        }
    }
}

// y[n,c] = x[n,c] (*) w[c] + bias[c]. Grid: (ceil(N*C / P), tiles along OH, tiles along OW).
template <int K, int S, typename T>
__device__ void dwconv_fwd(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                           T* __restrict__ y, int planes, int C, int H, int W, int k, int pad, int OH, int OW) {
    const int kk = K > 0 ? K : k;
    const Pass p{H, W, pad, pad, OH, OW, kk, kk, kk * kk, 0, kk, 1, OH, OW, 1, 1, 0, 0,
                 plane_floats(blockDim.x, blockDim.y, S, kk, kk)};
    conv_pass<K, K, S>(x, w, bias, y, planes, C, blockIdx.y, blockIdx.z, p);
}

// dx = go (*) flipped w. Stride 1: one conv with padding K-1-pad over the OH x OW grad-output map.
// Stride 2: dx row iy = 2a + py only takes taps ky = (py + pad) mod 2 + 2t, at grad-output row
// a + (py + pad - ky) / 2: a stride-1 conv with every other (flipped) tap. The four phases (py, px)
// are the low bits of grid y and z; each writes every other row and column of dx.
template <int K, int S, typename T>
__device__ void dwconv_bwd_input(const T* __restrict__ go, const T* __restrict__ w, T* __restrict__ dx, int planes,
                                 int C, int H, int W, int k, int pad, int OH, int OW) {
    const int kk = K > 0 ? K : k;
    if constexpr (S == 1) {
        const Pass p{OH, OW, kk - 1 - pad, kk - 1 - pad, H, W, kk, kk, kk * kk, kk * kk - 1, -kk, -1, H, W, 1, 1, 0, 0,
                     plane_floats(blockDim.x, blockDim.y, 1, kk, kk)};
        conv_pass<K, K, 1>(go, w, (const T*) nullptr, dx, planes, C, blockIdx.y, blockIdx.z, p);
    } else {
        const int py = blockIdx.y & 1, px = blockIdx.z & 1;
        const int kyp = (py + pad) & 1, kxp = (px + pad) & 1;            // parity of the taps this phase takes
        const int kpy = (kk - kyp + 1) >> 1, kpx = (kk - kxp + 1) >> 1;  // how many there are
        const int cy = (py + pad - kyp) >> 1, cx = (px + pad - kxp) >> 1;
        const Pass p{OH, OW, kpy - 1 - cy, kpx - 1 - cx, (H - py + 1) >> 1, (W - px + 1) >> 1, kpy, kpx, kk * kk,
                     (kyp + 2 * (kpy - 1)) * kk + kxp + 2 * (kpx - 1), -2 * kk, -2, H, W, 2, 2, py, px,
                     plane_floats(blockDim.x, blockDim.y, 1, (kk + 1) >> 1, (kk + 1) >> 1)};
        const int ty = blockIdx.y >> 1, tx = blockIdx.z >> 1;
        if constexpr (K > 0) {
            constexpr int KA = (K + 1) / 2, KB = (K - 1) / 2;   // taps of even and odd parity
            switch ((kyp << 1) | kxp) {
                case 0: conv_pass<KA, KA, 1>(go, w, (const T*) nullptr, dx, planes, C, ty, tx, p); break;
                case 1: conv_pass<KA, KB, 1>(go, w, (const T*) nullptr, dx, planes, C, ty, tx, p); break;
                case 2: conv_pass<KB, KA, 1>(go, w, (const T*) nullptr, dx, planes, C, ty, tx, p); break;
                default: conv_pass<KB, KB, 1>(go, w, (const T*) nullptr, dx, planes, C, ty, tx, p); break;
            }
        } else {
            conv_pass<0, 0, 1>(go, w, (const T*) nullptr, dx, planes, C, ty, tx, p);
        }
    }
}

// Partial weight and bias gradients of one channel over a slice of the batch.
// Grid: (C, splits), 256 threads. part_w: [splits, C, K*K], part_b: [splits, C] (f32).
// dw[ky][kx] = sum over (n, oy, ox) of go[oy][ox] * x[oy*S - pad + ky][ox*S - pad + kx]. Lane
// (tx, ty) of every warp owns the taps ky = ty + 8r, kx = tx + 4v (RW x VW of them, 32 at K = 31);
// the 8 warps split the staged rows and are summed in a fixed order at the end. Interleaved taps
// keep the lanes' input loads on 32 different banks (row pitch 4 mod 8).
//
// Stride 1: tap row ky = ty + 8r meets grad-output row t - 8r at input row t + ty, the same for
// all r. So a warp walks t (warp w takes t = w, w + 8, ...): per chunk of 14 grad-output columns
// it loads the input row segment once (42 values at K = 31) and, for each r whose grad-output
// row lies in the tile (a warp-uniform test), that row's 14 values (float2 broadcasts) and does
// 14 * VW FMAs from registers: 448 FMAs per 42 + 28 shared loads, so the loop is bound by FP32
// issue, not by shared-memory bandwidth. The tile is the whole 56-row height where the map has
// it: t runs 24 rows past the tile, and those edge rows load a segment for fewer than RW rows.
// Stride 2 (K <= 7 in the models: RW = 1) takes the input segment per grad-output row and r.
// What bounds it: FP32 issue, about 1.3x the floor at K = 31 (535 issue slots per 448 FMAs, of
// which 961 of 1,024 tap slots are useful; the edge rows' segments add ~3%).
template <int K, int S, typename T>
__device__ void dwconv_bwd_weight(const T* __restrict__ x, const T* __restrict__ go, float* __restrict__ part_w,
                                  float* __restrict__ part_b, int N, int C, int H, int W, int k, int pad, int OH, int OW) {
    constexpr int RW = K > 0 ? (K + 7) / 8 : 4, VW = K > 0 ? (K + 3) / 4 : 8;
    // Stride 2 halves the chunk: its input segments are twice as long (registers).
    constexpr int CH = WG_CHUNK / S;
    constexpr int SEG = (CH - 1) * S + 4 * (VW - 1) + 1;
    constexpr int TH = WG_TILE_H / S;   // stride 2: its input window is twice as tall
    extern __shared__ float smem[];
    const int kk = K > 0 ? K : k;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, tx = lane & 3, ty = lane >> 2;
    const int c = blockIdx.x, split = blockIdx.y, splits = gridDim.y;
    const int n_begin = (int) ((long) N * split / splits), n_end = (int) ((long) N * (split + 1) / splits);
    const int xpitch = wg_window_pitch(S, VW);
    float* s_go = smem;
    float* s_x = smem + TH * WG_TILE_W;
    float acc[RW][VW];
#pragma unroll
    for (int r = 0; r < RW; r++) {
#pragma unroll
        for (int v = 0; v < VW; v++) acc[r][v] = 0.f;
    }
    float bacc = 0.f;

    for (int n = n_begin; n < n_end; n++) {
        const T* xp = x + ((long) n * C + c) * H * W;
        const T* gp = go + ((long) n * C + c) * OH * OW;
        for (int oy0 = 0; oy0 < OH; oy0 += TH) {
            for (int ox0 = 0; ox0 < OW; ox0 += WG_TILE_W) {
                // Only the part of the tile the map has is staged: th rows, tw columns (whole chunks).
                const int th = min(TH, OH - oy0), ow_here = min(WG_TILE_W, OW - ox0);
                const int tw = (ow_here + CH - 1) / CH * CH;
                __syncthreads();
                for (int r = 0; r < th; r++) {
                    for (int q = tid; q < tw; q += WG_THREADS) {
                        const float g = q < ow_here ? load(gp, (long) (oy0 + r) * OW + ox0 + q) : 0.f;
                        s_go[r * WG_TILE_W + q] = g;
                        bacc += g;
                    }
                }
                stage_window(xp, H, W, oy0 * S - pad, ox0 * S - pad, (th - 1) * S + 8 * RW, (tw - 1) * S + 4 * VW, s_x,
                             xpitch, tid, WG_THREADS);
                __syncthreads();
                if constexpr (S == 1) {
                    for (int t = warp; t < th + 8 * (RW - 1); t += WG_THREADS / 32) {
                        for (int c0 = 0; c0 < tw; c0 += CH) {
                            // The hot loop: one input segment, then per tap row r a grad-output row.
                            const float* row = s_x + (t + ty) * xpitch + c0 + tx;
                            float seg[SEG];
#pragma unroll
                            for (int e = 0; e < SEG; e++) seg[e] = row[e];
#pragma unroll
                            for (int r = 0; r < RW; r++) {
                                const int gy = t - 8 * r;
                                if (gy < 0 || gy >= th) continue;   // uniform: t is the warp's
                                float g[CH];
                                const float2* gr = reinterpret_cast<const float2*>(s_go + gy * WG_TILE_W + c0);
#pragma unroll
                                for (int u = 0; u < CH / 2; u++) {
                                    const float2 f = gr[u];
                                    g[2 * u] = f.x; g[2 * u + 1] = f.y;
                                }
#pragma unroll
                                for (int u = 0; u < CH; u++) {
#pragma unroll
                                    for (int v = 0; v < VW; v++) acc[r][v] = fmaf(g[u], seg[u + 4 * v], acc[r][v]);
                                }
                            }
                        }
                    }
                } else {
                    for (int oy = warp; oy < th; oy += WG_THREADS / 32) {
                        for (int c0 = 0; c0 < tw; c0 += CH) {
                            float g[CH];
#pragma unroll
                            for (int u = 0; u < CH; u++) g[u] = s_go[oy * WG_TILE_W + c0 + u];
#pragma unroll
                            for (int r = 0; r < RW; r++) {
                                const float* row = s_x + (oy * S + ty + 8 * r) * xpitch + c0 * S + tx;
                                float seg[SEG];
#pragma unroll
                                for (int e = 0; e < SEG; e++) seg[e] = row[e];
#pragma unroll
                                for (int u = 0; u < CH; u++) {
#pragma unroll
                                    for (int v = 0; v < VW; v++) acc[r][v] = fmaf(g[u], seg[u * S + 4 * v], acc[r][v]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    // Sum the 8 warps' partials per tap in warp order, and the bias partials by a tree.
    __syncthreads();
    float* s_red = smem;
    float* s_b = smem + (WG_THREADS / 32) * RW * VW * 32;
#pragma unroll
    for (int r = 0; r < RW; r++) {
#pragma unroll
        for (int v = 0; v < VW; v++) s_red[((warp * RW + r) * VW + v) * 32 + lane] = acc[r][v];
    }
    s_b[tid] = bacc;
    __syncthreads();
    constexpr int TW = 4 * VW;
    for (int t = tid; t < 8 * RW * TW; t += WG_THREADS) {
        const int ky = t / TW, kx = t - ky * TW;   // constant divisor
        if (ky >= kk || kx >= kk) continue;
        const int slot = ((ky >> 3) * VW + (kx >> 2)) * 32 + (ky & 7) * 4 + (kx & 3);
        float s = 0.f;
        for (int wi = 0; wi < WG_THREADS / 32; wi++) s += s_red[wi * RW * VW * 32 + slot];
        part_w[((long) split * C + c) * kk * kk + ky * kk + kx] = s;
    }
    for (int s = WG_THREADS / 2; s > 0; s >>= 1) {
        if (tid < s) s_b[tid] += s_b[tid + s];
        __syncthreads();
    }
    if (tid == 0) part_b[(long) split * C + c] = s_b[0];
}

// dw[c, tap] = sum over splits of part_w; db[c] likewise (db may be null).
template <typename T>
__device__ void dwconv_bwd_weight_reduce(const float* __restrict__ part_w, const float* __restrict__ part_b,
                                         T* __restrict__ dw, T* __restrict__ db, int C, int K, int splits) {
    const int taps = K * K;
    const long i = (long) blockIdx.x * blockDim.x + threadIdx.x;
    if (i < (long) C * taps) {
        float s = 0.f;
        for (int p = 0; p < splits; p++) s += part_w[(long) p * C * taps + i];
        store(dw, i, s);
    }
    if (db && i < C) {
        float s = 0.f;
        for (int p = 0; p < splits; p++) s += part_b[(long) p * C + i];
        store(db, i, s);
    }
}

}  // namespace lumen_dwconv

// The entry points of one (kernel size, stride): NAME is k<K> or kany (K = 0: the runtime-K kernels).
// __launch_bounds__(256, 1) for the convs: with the bare 256, nvcc 13's ptxas spilled a few small-K
// kernels at 40 registers; one block per SM as the minimum lets it take the registers it needs.
// The weight gradient asks for 2 (<= 128 registers), which its launcher's splits count on.
#define LUMEN_DWCONV_KS(K, S, NAME, SUFFIX, T)                                                                  \
    extern "C" __global__ void __launch_bounds__(256, 1) dwconv2d_fwd_##NAME##_s##S##_##SUFFIX(                    \
        const T* x, const T* w, const T* bias, T* y, int planes, int C, int H, int W, int k, int pad, int OH,    \
        int OW) {                                                                                                \
        lumen_dwconv::dwconv_fwd<K, S, T>(x, w, bias, y, planes, C, H, W, k, pad, OH, OW);                       \
    }                                                                                                            \
    extern "C" __global__ void __launch_bounds__(256, 1) dwconv2d_bwd_input_##NAME##_s##S##_##SUFFIX(              \
        const T* go, const T* w, T* dx, int planes, int C, int H, int W, int k, int pad, int OH, int OW) {       \
        lumen_dwconv::dwconv_bwd_input<K, S, T>(go, w, dx, planes, C, H, W, k, pad, OH, OW);                     \
    }                                                                                                            \
    extern "C" __global__ void __launch_bounds__(256, 2) dwconv2d_bwd_weight_##NAME##_s##S##_##SUFFIX(             \
        const T* x, const T* go, float* part_w, float* part_b, int N, int C, int H, int W, int k, int pad,       \
        int OH, int OW) {                                                                                        \
        lumen_dwconv::dwconv_bwd_weight<K, S, T>(x, go, part_w, part_b, N, C, H, W, k, pad, OH, OW);             \
    }

// The kernel sizes the models use (RepLKNet 31/29/27/13 with 5, VMamba and CAS-ViT 3..7; stride 2
// only at 3x3), and the runtime-K kernels for every other size. DepthwiseConvCuda.TEMPLATED matches.
#define LUMEN_DWCONV_ENTRIES(SUFFIX, T)                                                                          \
    LUMEN_DWCONV_KS(3, 1, k3, SUFFIX, T)                                                                         \
    LUMEN_DWCONV_KS(5, 1, k5, SUFFIX, T)                                                                         \
    LUMEN_DWCONV_KS(7, 1, k7, SUFFIX, T)                                                                         \
    LUMEN_DWCONV_KS(13, 1, k13, SUFFIX, T)                                                                       \
    LUMEN_DWCONV_KS(27, 1, k27, SUFFIX, T)                                                                       \
    LUMEN_DWCONV_KS(29, 1, k29, SUFFIX, T)                                                                       \
    LUMEN_DWCONV_KS(31, 1, k31, SUFFIX, T)                                                                       \
    LUMEN_DWCONV_KS(3, 2, k3, SUFFIX, T)                                                                         \
    LUMEN_DWCONV_KS(5, 2, k5, SUFFIX, T)                                                                         \
    LUMEN_DWCONV_KS(7, 2, k7, SUFFIX, T)                                                                         \
    LUMEN_DWCONV_KS(0, 1, kany, SUFFIX, T)                                                                       \
    LUMEN_DWCONV_KS(0, 2, kany, SUFFIX, T)                                                                       \
    extern "C" __global__ void dwconv2d_bwd_weight_reduce_##SUFFIX(const float* part_w, const float* part_b,    \
                                                                   T* dw, T* db, int C, int K, int splits) {     \
        lumen_dwconv::dwconv_bwd_weight_reduce<T>(part_w, part_b, dw, db, C, K, splits);                         \
    }

LUMEN_DWCONV_ENTRIES(f32, float)
LUMEN_DWCONV_ENTRIES(f16, __half)
