// Depth-wise 2-D convolution on tensor cores (f16 / bf16 storage, f32 accumulation), stride 1,
// any kernel size K <= 33 and padding 0..K-1, NCHW, optional bias. The input gradient of a
// stride-1 depth-wise conv is this forward run on the output gradient with the filter rotated by
// 180 degrees and padding K-1-pad (flip = 1), so it has no per-tap division or branch.
//
// Implicit GEMM per channel, one per filter column kx: a warp's output tile of 16*MB rows and
// 16*NB columns is
//     Y[m, n] += sum_j T_kx[m, j] * X[j, n + kx],   T_kx[m, j] = w[j - m, kx] (0 outside 0..K-1),
// a Toeplitz matrix of the filter column times the input window shifted by kx columns. In
// 16x16x16 WMMA steps, output row block mb and window row block r = mb + s meet the Toeplitz block
// s = 0..S-1, S = ceil((K + 15) / 16), the same S blocks for every row block. The window is kept
// transposed in shared memory (column-major B), so the shift by kx is a shift by kx * LD elements,
// which keeps every fragment pointer 256-bit aligned as WMMA requires.
//
// Useful work: a 16-row block needs K taps per output but the band of the Toeplitz spans 15 + K
// window rows, rounded up to 16 * S: K / (16 * S) of the MMA work is useful, 65% at K = 31
// (31/48), 41% at K = 13, 22% at K = 7, 9% at K = 3. It still wins over SIMT f32: an H100 does
// about 990 dense f16 TFLOP/s on tensor cores against 67 TFLOP/s of f32 FMA, so 65% useful is
// ~10x the SIMT ceiling at K = 31 and 22% still ~3x at K = 7. Zeros of the Toeplitz multiply
// finite window values only (padding rows and columns are stored as zeros), so nothing invents a
// NaN; a NaN or Inf in the input does reach all outputs of its 16-row band, not only its K window.
//
// Blocks of 12 warps, one per SM (the Toeplitz of a channel, 47 KB at K = 31, plus the input
// windows fill its shared memory). The warps of a block go in slots of WX: a slot stages the
// input window of one unit (an image's band of 16*MB output rows by WX tiles of 16*NB columns,
// the whole 56x56 map at K = 31), transposed, once, and each of its warps computes one tile of it,
// so an input value is staged once per band rather than once per warp tile.
//
// What bounds it: per filter column a warp loads S Toeplitz fragments and (MB + S - 1) * NB
// window fragments from shared memory for MB * NB * S MMAs (MB = 4, NB = 2 at K = 31: 15 loads
// for 24 MMAs; WMMA loads each fragment with its own instruction, so the loop is about half MMA by
// instruction count). A fragment is 512 bytes, 4 clocks of an SM's shared-memory bandwidth against
// about 2 clocks of MMA, so shared memory binds at ~2.3x the 16-bit floor, the tensor cores at
// ~2x: only 31/48 of the Toeplitz band and 56/64 of each tile side are useful multiply-adds, which
// no 16x16x16 tiling of a 56x56 map avoids. The window's leading dimension LD is an odd multiple of
// 16 elements so that the 8 rows of a fragment load fall into at most two bank groups. DRAM moves
// each input and output once.
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <mma.h>

// All .cu files are compiled as one translation unit for the fatbin: helpers live in a named namespace.
namespace lumen_dwconv_tc {

// Warps per block; each owns whole output tiles. 12, not 16: at 16 the 64 accumulator registers of
// a 64x32 tile plus its fragments spill on sm_80 within the 128 registers a thread may then have.
constexpr int WARPS = 12;
constexpr int THREADS = WARPS * 32;
constexpr int FRAG = 16;            // the 16x16x16 WMMA shape

// Window rows (the leading dimension of the transposed window): 16 * q with q odd.
__host__ __device__ constexpr int window_ld(int mb, int s) { return 16 * ((mb + s - 1) | 1); }

template <typename T> __device__ __forceinline__ float to_f32(T v);
template <> __device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> __device__ __forceinline__ T from_f32(float v);
template <> __device__ __forceinline__ __half from_f32(float v) { return __float2half(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32(float v) { return __float2bfloat16(v); }

struct Dims {
    int N, C, IH, IW, K, pad, OH, OW, flip, per_block;
};

// One block: channel c, images [n0, n1); the Toeplitz of the channel's filter once, then rounds in
// which every slot of WX warps stages one unit's window and its warps compute one tile each.
template <typename T, int S, int MB, int NB, int WX>
__device__ void conv_tc(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                        T* __restrict__ y, const Dims d) {
    using namespace nvcuda;
    constexpr int SLOTS = WARPS / WX, TM = FRAG * MB, TN = FRAG * NB;
    constexpr int LD = window_ld(MB, S);
    extern __shared__ __align__(128) unsigned char smem_raw[];
    T* toeplitz = reinterpret_cast<T*>(smem_raw);
    const int K = d.K;
    const int c = (int) (blockIdx.x % (unsigned) d.C);
    const int n0 = (int) (blockIdx.x / (unsigned) d.C) * d.per_block;
    const int n1 = min(d.N, n0 + d.per_block);
    const int ncols = TN * WX + K - 1;
    const int region = max(ncols * LD, WX * 2 * FRAG * FRAG);   // halves; also holds WX 16x16 float tiles
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int slot = warp / WX, part = warp % WX;              // WX is 1 or 2: shifts
    T* window = toeplitz + K * S * FRAG * FRAG + slot * region;

    // Toeplitz blocks [kx][s] (16x16 row-major): entry (m, j) = w[16 s + j - m, kx].
    const T* wc = w + (long) c * K * K;
    for (int i = threadIdx.x; i < K * S * FRAG * FRAG; i += THREADS) {
        const int kx = i / (S * FRAG * FRAG), rem = i - kx * (S * FRAG * FRAG);
        const int s = rem >> 8, m = (rem >> 4) & 15, j = rem & 15;
        const int ky = FRAG * s + j - m;
        T v = from_f32<T>(0.f);
        if (ky >= 0 && ky < K) v = d.flip ? wc[(K - 1 - ky) * K + (K - 1 - kx)] : wc[ky * K + kx];
        toeplitz[i] = v;
    }

    const int tiles_y = (d.OH + TM - 1) / TM, tiles_x = (d.OW + TN - 1) / TN, groups_x = (tiles_x + WX - 1) / WX;
    const int units = tiles_y * groups_x, items = (n1 - n0) * units;
    const int rows_used = TM + K - 1;   // window rows the Toeplitz band reaches
    for (int round = 0; round < items; round += SLOTS) {   // the same trips for every warp of the block
        const int item = round + slot;
        if (item < items) {
            // The unit's window, transposed: window[col * LD + row], 8 rows per 16-byte store; zeros
            // outside the image and below the band.
            const int n = n0 + item / units, u = item % units, ty = u / groups_x, gx = u % groups_x;
            const T* xp = x + ((long) n * d.C + c) * d.IH * d.IW;
            const int iy0 = ty * TM - d.pad, ix0 = gx * WX * TN - d.pad;
            for (int r8 = 0; r8 < LD; r8 += 8) {
                for (int col = part * 32 + lane; col < ncols; col += WX * 32) {
                    const int ix = ix0 + col;
                    union { uint4 u; T h[8]; } pack;
#pragma unroll
                    for (int i = 0; i < 8; i++) {
                        const int r = r8 + i, iy = iy0 + r;
                        const bool in = r < rows_used && iy >= 0 && iy < d.IH && ix >= 0 && ix < d.IW;
                        pack.h[i] = in ? xp[(long) iy * d.IW + ix] : from_f32<T>(0.f);
                    }
                    *reinterpret_cast<uint4*>(window + col * LD + r8) = pack.u;
                }
            }
        }
        __syncthreads();   // the Toeplitz (first round) and the windows are staged

        // Whether this warp has a tile of the unit (uniform per warp); its place is decoded again
        // after the hot loop, so that little but the accumulators stays live through it.
        const bool computes = item < items && (item % units % groups_x) * WX + part < tiles_x;
        wmma::fragment<wmma::accumulator, FRAG, FRAG, FRAG, float> acc[MB][NB];
        if (computes) {
            const float b = bias ? to_f32(bias[c]) : 0.f;
#pragma unroll
            for (int mb = 0; mb < MB; mb++)
#pragma unroll
                for (int nb = 0; nb < NB; nb++) wmma::fill_fragment(acc[mb][nb], b);   // uniform: any layout
            // The hot loop: per filter column S Toeplitz fragments, (MB+S-1)*NB window fragments, MB*NB*S
            // MMAs; both pointers advance by a constant per column, the fragments sit at constant offsets.
            const T* tp = toeplitz;
            const T* wp = window + part * TN * LD;
#pragma unroll 1
            for (int kx = 0; kx < K; kx++, tp += S * FRAG * FRAG, wp += LD) {
                wmma::fragment<wmma::matrix_a, FRAG, FRAG, FRAG, T, wmma::row_major> a[S];
#pragma unroll
                for (int s = 0; s < S; s++) wmma::load_matrix_sync(a[s], tp + s * FRAG * FRAG, FRAG);
#pragma unroll
                for (int r = 0; r < MB + S - 1; r++) {
#pragma unroll
                    for (int nb = 0; nb < NB; nb++) {
                        wmma::fragment<wmma::matrix_b, FRAG, FRAG, FRAG, T, wmma::col_major> bf;
                        wmma::load_matrix_sync(bf, wp + FRAG * nb * LD + FRAG * r, LD);
#pragma unroll
                        for (int mb = 0; mb < MB; mb++) {
                            const int s = r - mb;
                            if (s >= 0 && s < S) wmma::mma_sync(acc[mb][nb], a[s], bf, acc[mb][nb]);
                        }
                    }
                }
            }
        }
        __syncthreads();   // every warp of the slot is done with the window: it now stages the output

        // Through a 16x16 f32 tile in the warp's part of the region to 16-bit y.
        if (computes) {
            const int n = n0 + item / units, u = item % units, ty = u / groups_x, tx = u % groups_x * WX + part;
            T* yp = y + ((long) n * d.C + c) * d.OH * d.OW;
            float* stage = reinterpret_cast<float*>(window) + part * FRAG * FRAG;
#pragma unroll
            for (int mb = 0; mb < MB; mb++) {
#pragma unroll
                for (int nb = 0; nb < NB; nb++) {
                    __syncwarp();
                    wmma::store_matrix_sync(stage, acc[mb][nb], FRAG, wmma::mem_row_major);
                    __syncwarp();
                    for (int e = lane; e < FRAG * FRAG; e += 32) {
                        const int oy = ty * TM + FRAG * mb + (e >> 4), ox = tx * TN + FRAG * nb + (e & 15);
                        if (oy < d.OH && ox < d.OW) yp[(long) oy * d.OW + ox] = from_f32<T>(stage[e]);
                    }
                }
            }
        }
        __syncthreads();   // the next round's windows overwrite the output tiles
    }
}

// The tiling of a map (DepthwiseConvTensorCoreCuda.tiling): 2 for maps over 32x32 (64x32 warp
// tiles, two per unit), 1 for maps over 16x16 (32x32), 0 otherwise (16x16); S (Toeplitz blocks per
// filter column) from K.
template <typename T>
__device__ void dispatch(const T* x, const T* w, const T* bias, T* y, const Dims& d, int tiling) {
    const int S = (d.K + 30) / 16;
    if (tiling == 0) {
        if (S == 1) conv_tc<T, 1, 1, 1, 1>(x, w, bias, y, d);
        else if (S == 2) conv_tc<T, 2, 1, 1, 1>(x, w, bias, y, d);
        else conv_tc<T, 3, 1, 1, 1>(x, w, bias, y, d);
    } else if (tiling == 1) {
        if (S == 1) conv_tc<T, 1, 2, 2, 1>(x, w, bias, y, d);
        else if (S == 2) conv_tc<T, 2, 2, 2, 1>(x, w, bias, y, d);
        else conv_tc<T, 3, 2, 2, 1>(x, w, bias, y, d);
    } else {
        if (S == 1) conv_tc<T, 1, 4, 2, 2>(x, w, bias, y, d);
        else if (S == 2) conv_tc<T, 2, 4, 2, 2>(x, w, bias, y, d);
        else conv_tc<T, 3, 4, 2, 2>(x, w, bias, y, d);
    }
}

}  // namespace lumen_dwconv_tc

// y = dwconv(x, w) + bias (flip 0), or dx = dwconv(go, rot180(w)) (flip 1, bias null, pad K-1-pad).
// Grid: (C * ceil(N / per_block)); block 384 threads; dynamic shared memory as
// DepthwiseConvTensorCoreCuda.sharedBytes computes it.
#define LUMEN_DWCONV_TC(SUFFIX, T)                                                                                  \
    extern "C" __global__ void __launch_bounds__(384) dwconv2d_tc_##SUFFIX(                                        \
            const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias, T* __restrict__ y, int N, \
            int C, int IH, int IW, int K, int pad, int OH, int OW, int flip, int per_block, int tiling) {          \
        lumen_dwconv_tc::dispatch<T>(x, w, bias, y,                                                                \
                                     lumen_dwconv_tc::Dims{N, C, IH, IW, K, pad, OH, OW, flip, per_block}, tiling); \
    }
LUMEN_DWCONV_TC(f16, __half)
LUMEN_DWCONV_TC(bf16, __nv_bfloat16)
#undef LUMEN_DWCONV_TC
