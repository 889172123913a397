// im2col / col2im (nn.Unfold / F.fold) for NCHW tensors, and the convolution bias gradient.
// cols is [N, C*kh*kw, OH*OW] with rows ordered (c, ky, kx), as nn.Unfold. col2im is a gather:
// one thread per image pixel sums the column entries whose windows cover it, in a fixed order,
// so it needs no atomics and gives the same bits every run. f32, f64, f16 and bf16 storage;
// f16 and bf16 accumulate in f32, f64 in f64.
#include "lumen_tensor.cuh"

// All .cu files are compiled as one translation unit for the fatbin: helpers live in a named namespace.
namespace lumen_im2col {

template <typename T> struct Acc { typedef float type; };
template <> struct Acc<double> { typedef double type; };

__device__ __forceinline__ float to_acc(float v) { return v; }
__device__ __forceinline__ double to_acc(double v) { return v; }
__device__ __forceinline__ float to_acc(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_acc(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ void put(float* p, long i, float v) { p[i] = v; }
__device__ __forceinline__ void put(double* p, long i, double v) { p[i] = v; }
__device__ __forceinline__ void put(__half* p, long i, float v) { p[i] = __float2half(v); }
__device__ __forceinline__ void put(__nv_bfloat16* p, long i, float v) { p[i] = __float2bfloat16(v); }

struct Window { int C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW; };

// cols[n, (c*kh + ky)*kw + kx, oy*OW + ox] = x[n, c, oy*sh - ph + ky*dh, ox*sw - pw + kx*dw], 0 outside.
// cols is row-major over [N, C, kh, kw, OH, OW]: `shape` is that shape with its multiply-shift
// divisors (built by CudaConv), so the five coordinates cost five multiply-highs, no division;
// the writes are contiguous and the reads hit each input kh*kw times through L1/L2: bound by the
// DRAM traffic of the columns.
template <typename T, typename I>
__device__ void im2col_as(const T* __restrict__ x, T* __restrict__ cols, const lumen::View& shape, const Window& w) {
    LUMEN_GRID_STRIDE(e, shape.numel) {
        I i = (I) e, q;
        q = lumen::quotient(shape, 5, i); const int ox = (int) (i - q * (I) w.OW); i = q;
        q = lumen::quotient(shape, 4, i); const int oy = (int) (i - q * (I) w.OH); i = q;
        q = lumen::quotient(shape, 3, i); const int kx = (int) (i - q * (I) w.kw); i = q;
        q = lumen::quotient(shape, 2, i); const int ky = (int) (i - q * (I) w.kh); i = q;
        q = lumen::quotient(shape, 1, i); const int c = (int) (i - q * (I) w.C);
        const long n = (long) q;
        const int iy = oy * w.sh - w.ph + ky * w.dh, ix = ox * w.sw - w.pw + kx * w.dw;
        const bool in = iy >= 0 && iy < w.H && ix >= 0 && ix < w.W;
        cols[e] = in ? x[((n * w.C + c) * w.H + iy) * (long) w.W + ix] : T(0);
    }
}

template <typename T>
__device__ void im2col(const T* __restrict__ x, T* __restrict__ cols, const lumen::View& shape, const Window& w) {
    if (lumen::fits32(shape.numel)) im2col_as<T, unsigned>(x, cols, shape, w);
    else im2col_as<T, unsigned long long>(x, cols, shape, w);
}

// x[n, c, iy, ix] = sum of the cols entries that im2col would read from (iy, ix).
template <typename T>
__device__ void col2im(const T* __restrict__ cols, T* __restrict__ x, int N, Window w) {
    typedef typename Acc<T>::type A;
    const long L = (long) w.OH * w.OW, rows = (long) w.C * w.kh * w.kw;
    const long total = (long) N * w.C * w.H * w.W;
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < total; i += (long) gridDim.x * blockDim.x) {
        const int ix = (int) (i % w.W), iy = (int) ((i / w.W) % w.H), c = (int) ((i / ((long) w.W * w.H)) % w.C);
        const long n = i / ((long) w.W * w.H * w.C);
        const T* img = cols + n * rows * L;
        A acc = 0;
        for (int ky = 0; ky < w.kh; ky++) {
            const int ty = iy + w.ph - ky * w.dh;
            if (ty < 0 || ty % w.sh) continue;
            const int oy = ty / w.sh;
            if (oy >= w.OH) continue;
            for (int kx = 0; kx < w.kw; kx++) {
                const int tx = ix + w.pw - kx * w.dw;
                if (tx < 0 || tx % w.sw) continue;
                const int ox = tx / w.sw;
                if (ox >= w.OW) continue;
                acc += to_acc(img[(((long) c * w.kh + ky) * w.kw + kx) * L + (long) oy * w.OW + ox]);
            }
        }
        put(x, i, acc);
    }
}

constexpr int BIAS_THREADS = 256;

// gradBias[o] = sum over n and the L output pixels of gradOut[n, o, :]: one block per channel,
// each thread a fixed strided share, then a fixed-shape tree in shared memory (deterministic).
template <typename T>
__device__ void bias_grad(const T* __restrict__ go, T* __restrict__ gb, int N, int O, long L) {
    __shared__ double part[BIAS_THREADS];
    const int o = blockIdx.x;
    double acc = 0;
    const long count = (long) N * L;
    for (long i = threadIdx.x; i < count; i += BIAS_THREADS) {
        const long n = i / L, l = i % L;
        acc += (double) to_acc(go[(n * O + o) * L + l]);
    }
    part[threadIdx.x] = acc;
    __syncthreads();
    for (int s = BIAS_THREADS / 2; s > 0; s >>= 1) {
        if ((int) threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) put(gb, o, (typename Acc<T>::type) part[0]);
}

}  // namespace lumen_im2col

#define LUMEN_IM2COL_KERNELS(SUFFIX, T)                                                                             \
    extern "C" __global__ void im2col_##SUFFIX(const T* x, T* cols, int N, int C, int H, int W, int kh, int kw,      \
                                               int sh, int sw, int ph, int pw, int dh, int dw, int OH, int OW,       \
                                               const __grid_constant__ lumen::View shape) {                          \
        lumen_im2col::im2col<T>(x, cols, shape, lumen_im2col::Window{C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW}); \
    }                                                                                                               \
    extern "C" __global__ void col2im_##SUFFIX(const T* cols, T* x, int N, int C, int H, int W, int kh, int kw,      \
                                               int sh, int sw, int ph, int pw, int dh, int dw, int OH, int OW) {     \
        lumen_im2col::col2im<T>(cols, x, N, lumen_im2col::Window{C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW}); \
    }                                                                                                               \
    extern "C" __global__ void __launch_bounds__(256) conv2d_bwd_bias_##SUFFIX(const T* go, T* gb, int N, int O, long long L) { \
        lumen_im2col::bias_grad<T>(go, gb, N, O, (long) L);                                                         \
    }

LUMEN_IM2COL_KERNELS(f32, float)
LUMEN_IM2COL_KERNELS(f64, double)
LUMEN_IM2COL_KERNELS(f16, __half)
LUMEN_IM2COL_KERNELS(bf16, __nv_bfloat16)
