// Depth-wise 2-D convolution for large kernels (RepLKNet's 31x31, and the 3x3..7x7 depth-wise
// convs of VMamba and CAS-ViT): odd kernel K, stride 1 or 2, padding K/2 (any padding works),
// NCHW, optional bias. f32 and f16 storage, f32 accumulation.
//
// Every kernel stages what a 32x32 output tile needs in shared memory: the input window and
// the K*K taps for the forward pass, the grad-output window for the input gradient, and both
// windows for the weight gradient. A 31x31 tap loop then reads only shared memory.
#include <cuda_fp16.h>

// All .cu files are compiled as one translation unit for the fatbin: helpers live in a named namespace.
namespace lumen_dwconv {

constexpr int TILE_W = 32;        // outputs per tile row (one warp wide)
constexpr int TILE_H = 32;        // output rows per tile
constexpr int THREADS_Y = 8;      // block is 32 x 8; each thread owns 4 rows of its column
constexpr int ROWS_PER_THREAD = TILE_H / THREADS_Y;
constexpr int WGRAD_TILE_H = 8;   // output rows per step of the weight-gradient kernel

__device__ __forceinline__ float load(const float* p, long i) { return p[i]; }
__device__ __forceinline__ float load(const __half* p, long i) { return __half2float(p[i]); }
__device__ __forceinline__ void store(float* p, long i, float v) { p[i] = v; }
__device__ __forceinline__ void store(__half* p, long i, float v) { p[i] = __float2half(v); }

__device__ __forceinline__ int floor_div(int a, int b) { return (a >= 0) ? a / b : -((-a + b - 1) / b); }

// y[n,c] = x[n,c] (*) w[c] + bias[c]. Grid: (tiles along OW, tiles along OH, N*C).
template <typename T>
__device__ void dwconv_fwd(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                           T* __restrict__ y, int C, int H, int W, int K, int stride, int pad, int OH, int OW) {
    extern __shared__ float smem[];
    const int plane = blockIdx.z;
    const int c = plane % C;
    const int ox0 = blockIdx.x * TILE_W, oy0 = blockIdx.y * TILE_H;
    const int in_w = (TILE_W - 1) * stride + K, in_h = (TILE_H - 1) * stride + K;
    float* s_in = smem;
    float* s_w = smem + in_h * in_w;
    const int tid = threadIdx.y * blockDim.x + threadIdx.x;
    const int nthreads = blockDim.x * blockDim.y;
    const long xbase = (long) plane * H * W;
    const int iy0 = oy0 * stride - pad, ix0 = ox0 * stride - pad;

    for (int i = tid; i < K * K; i += nthreads) s_w[i] = load(w, (long) c * K * K + i);
    for (int i = tid; i < in_h * in_w; i += nthreads) {
        int r = i / in_w, q = i - r * in_w;
        int iy = iy0 + r, ix = ix0 + q;
        s_in[i] = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? load(x, xbase + (long) iy * W + ix) : 0.f;
    }
    __syncthreads();

    const float b = bias ? load(bias, c) : 0.f;
    const int ox = ox0 + threadIdx.x;
    float acc[ROWS_PER_THREAD];
#pragma unroll
    for (int j = 0; j < ROWS_PER_THREAD; j++) acc[j] = b;
    for (int ky = 0; ky < K; ky++) {
        for (int kx = 0; kx < K; kx++) {
            const float wv = s_w[ky * K + kx];
            const float* col = s_in + ky * in_w + threadIdx.x * stride + kx;
#pragma unroll
            for (int j = 0; j < ROWS_PER_THREAD; j++) {
                acc[j] += wv * col[(threadIdx.y + j * THREADS_Y) * stride * in_w];
            }
        }
    }
    if (ox < OW) {
#pragma unroll
        for (int j = 0; j < ROWS_PER_THREAD; j++) {
            int oy = oy0 + threadIdx.y + j * THREADS_Y;
            if (oy < OH) store(y, (long) plane * OH * OW + (long) oy * OW + ox, acc[j]);
        }
    }
}

// dx[n,c,iy,ix] = sum over taps (ky,kx) with iy = oy*stride - pad + ky of go[n,c,oy,ox] * w[c,ky,kx].
// Grid: (tiles along W, tiles along H, N*C); each block owns a 32x32 tile of dx.
template <typename T>
__device__ void dwconv_bwd_input(const T* __restrict__ go, const T* __restrict__ w, T* __restrict__ dx,
                                 int C, int H, int W, int K, int stride, int pad, int OH, int OW) {
    extern __shared__ float smem[];
    const int plane = blockIdx.z;
    const int c = plane % C;
    const int ix0 = blockIdx.x * TILE_W, iy0 = blockIdx.y * TILE_H;
    // Grad-output rows/cols that reach this tile.
    const int oy_min = floor_div(iy0 + pad - (K - 1), stride), oy_max = floor_div(iy0 + TILE_H - 1 + pad, stride);
    const int ox_min = floor_div(ix0 + pad - (K - 1), stride), ox_max = floor_div(ix0 + TILE_W - 1 + pad, stride);
    const int g_h = oy_max - oy_min + 1, g_w = ox_max - ox_min + 1;
    float* s_go = smem;
    float* s_w = smem + g_h * g_w;
    const int tid = threadIdx.y * blockDim.x + threadIdx.x;
    const int nthreads = blockDim.x * blockDim.y;
    const long gbase = (long) plane * OH * OW;

    for (int i = tid; i < K * K; i += nthreads) s_w[i] = load(w, (long) c * K * K + i);
    for (int i = tid; i < g_h * g_w; i += nthreads) {
        int r = i / g_w, q = i - r * g_w;
        int oy = oy_min + r, ox = ox_min + q;
        s_go[i] = (oy >= 0 && oy < OH && ox >= 0 && ox < OW) ? load(go, gbase + (long) oy * OW + ox) : 0.f;
    }
    __syncthreads();

    const int ix = ix0 + threadIdx.x;
    for (int j = 0; j < ROWS_PER_THREAD; j++) {
        const int iy = iy0 + threadIdx.y + j * THREADS_Y;
        float acc = 0.f;
        for (int ky = 0; ky < K; ky++) {
            const int ry = iy + pad - ky - oy_min * stride;   // >= 0 by the choice of oy_min
            if (ry % stride) continue;
            const float* grow = s_go + (ry / stride) * g_w;
            const float* wrow = s_w + ky * K;
            for (int kx = 0; kx < K; kx++) {
                const int rx = ix + pad - kx - ox_min * stride;
                if (rx % stride) continue;
                acc += grow[rx / stride] * wrow[kx];
            }
        }
        if (ix < W && iy < H) store(dx, (long) plane * H * W + (long) iy * W + ix, acc);
    }
}

// Partial weight and bias gradients of one channel over a slice of the batch.
// Grid: (C, splits). part_w: [splits, C, K*K], part_b: [splits, C] (f32).
template <typename T>
__device__ void dwconv_bwd_weight(const T* __restrict__ x, const T* __restrict__ go, float* __restrict__ part_w,
                                  float* __restrict__ part_b, int N, int C, int H, int W, int K, int stride, int pad,
                                  int OH, int OW) {
    extern __shared__ float smem[];
    const int c = blockIdx.x, split = blockIdx.y, splits = gridDim.y;
    const int n_begin = (int) ((long) N * split / splits), n_end = (int) ((long) N * (split + 1) / splits);
    const int in_w = (TILE_W - 1) * stride + K, in_h = (WGRAD_TILE_H - 1) * stride + K;
    float* s_x = smem;
    float* s_go = smem + in_h * in_w;
    float* s_red = s_go + WGRAD_TILE_H * TILE_W;
    const int tid = threadIdx.y * blockDim.x + threadIdx.x;
    const int nthreads = blockDim.x * blockDim.y;
    const int taps = K * K;
    constexpr int MAX_TAPS_PER_THREAD = 4;   // 31*31 = 961 <= 4 * 256
    float acc[MAX_TAPS_PER_THREAD] = {0.f, 0.f, 0.f, 0.f};
    float bacc = 0.f;

    for (int n = n_begin; n < n_end; n++) {
        const long xbase = ((long) n * C + c) * H * W, gbase = ((long) n * C + c) * OH * OW;
        for (int oy0 = 0; oy0 < OH; oy0 += WGRAD_TILE_H) {
            for (int ox0 = 0; ox0 < OW; ox0 += TILE_W) {
                __syncthreads();
                const int iy0 = oy0 * stride - pad, ix0 = ox0 * stride - pad;
                for (int i = tid; i < in_h * in_w; i += nthreads) {
                    int r = i / in_w, q = i - r * in_w;
                    int iy = iy0 + r, ix = ix0 + q;
                    s_x[i] = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? load(x, xbase + (long) iy * W + ix) : 0.f;
                }
                for (int i = tid; i < WGRAD_TILE_H * TILE_W; i += nthreads) {
                    int r = i / TILE_W, q = i - r * TILE_W;
                    int oy = oy0 + r, ox = ox0 + q;
                    float g = (oy < OH && ox < OW) ? load(go, gbase + (long) oy * OW + ox) : 0.f;
                    s_go[i] = g;
                    bacc += g;
                }
                __syncthreads();
#pragma unroll
                for (int t = 0; t < MAX_TAPS_PER_THREAD; t++) {
                    const int tap = tid + t * nthreads;
                    if (tap >= taps) break;
                    const int ky = tap / K, kx = tap - ky * K;
                    float a = 0.f;
                    for (int r = 0; r < WGRAD_TILE_H; r++) {
                        const float* grow = s_go + r * TILE_W;
                        const float* xrow = s_x + (r * stride + ky) * in_w + kx;
                        for (int q = 0; q < TILE_W; q++) a += grow[q] * xrow[q * stride];
                    }
                    acc[t] += a;
                }
            }
        }
    }
#pragma unroll
    for (int t = 0; t < MAX_TAPS_PER_THREAD; t++) {
        const int tap = tid + t * nthreads;
        if (tap < taps) part_w[((long) split * C + c) * taps + tap] = acc[t];
    }
    // Block reduction of the bias partial sums.
    __syncthreads();
    s_red[tid] = bacc;
    __syncthreads();
    for (int s = nthreads / 2; s > 0; s >>= 1) {
        if (tid < s) s_red[tid] += s_red[tid + s];
        __syncthreads();
    }
    if (tid == 0) part_b[(long) split * C + c] = s_red[0];
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

#define LUMEN_DWCONV_ENTRIES(SUFFIX, T)                                                                          \
    extern "C" __global__ void __launch_bounds__(256) dwconv2d_fwd_##SUFFIX(                                    \
        const T* x, const T* w, const T* bias, T* y, int C, int H, int W, int K, int stride, int pad, int OH,    \
        int OW) {                                                                                                \
        lumen_dwconv::dwconv_fwd<T>(x, w, bias, y, C, H, W, K, stride, pad, OH, OW);                                           \
    }                                                                                                            \
    extern "C" __global__ void __launch_bounds__(256) dwconv2d_bwd_input_##SUFFIX(                              \
        const T* go, const T* w, T* dx, int C, int H, int W, int K, int stride, int pad, int OH, int OW) {       \
        lumen_dwconv::dwconv_bwd_input<T>(go, w, dx, C, H, W, K, stride, pad, OH, OW);                                         \
    }                                                                                                            \
    extern "C" __global__ void __launch_bounds__(256) dwconv2d_bwd_weight_##SUFFIX(                             \
        const T* x, const T* go, float* part_w, float* part_b, int N, int C, int H, int W, int K, int stride,    \
        int pad, int OH, int OW) {                                                                               \
        lumen_dwconv::dwconv_bwd_weight<T>(x, go, part_w, part_b, N, C, H, W, K, stride, pad, OH, OW);                         \
    }                                                                                                            \
    extern "C" __global__ void dwconv2d_bwd_weight_reduce_##SUFFIX(const float* part_w, const float* part_b,    \
                                                                   T* dw, T* db, int C, int K, int splits) {     \
        lumen_dwconv::dwconv_bwd_weight_reduce<T>(part_w, part_b, dw, db, C, K, splits);                                       \
    }

LUMEN_DWCONV_ENTRIES(f32, float)
LUMEN_DWCONV_ENTRIES(f16, __half)
