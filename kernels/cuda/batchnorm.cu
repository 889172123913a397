// Batch-norm helpers around cuDNN (dev.lumen.backend.cuda.CudnnBatchNorm). cuDNN keeps its
// per-channel parameters in f32 (f64 for f64 data) while Lumen keeps them in the data's dtype,
// weight and bias may be absent, and Lumen wants the biased batch variance where cuDNN writes the
// unbiased one: these kernels convert between the two. batchnorm_bwd_const is the backward pass
// with constant statistics (eval mode), which cuDNN does not offer.
// T is the storage type, P the parameter type (double for f64, else float).
#include <cuda_fp16.h>
#include <cuda_bf16.h>

// All .cu files are compiled as one translation unit for the fatbin: helpers live in a named namespace.
namespace lumen_batchnorm {

__device__ __forceinline__ double get(const float* p, long i) { return p[i]; }
__device__ __forceinline__ double get(const double* p, long i) { return p[i]; }
__device__ __forceinline__ double get(const __half* p, long i) { return __half2float(p[i]); }
__device__ __forceinline__ double get(const __nv_bfloat16* p, long i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ void set(float* p, long i, double v) { p[i] = (float) v; }
__device__ __forceinline__ void set(double* p, long i, double v) { p[i] = v; }
__device__ __forceinline__ void set(__half* p, long i, double v) { p[i] = __float2half((float) v); }
__device__ __forceinline__ void set(__nv_bfloat16* p, long i, double v) { p[i] = __float2bfloat16((float) v); }

// cuDNN's parameters from Lumen's: scale = weight or 1, shift = bias or 0, mean and var copied,
// inv = 1/sqrt(var + eps) (cuDNN's savedInvVariance). Each output may be null.
template <typename T, typename P>
__device__ void prepare(const T* w, const T* b, const T* mean, const T* var, double eps, P* scale, P* shift,
                        P* pmean, P* pvar, P* pinv, int C) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    if (scale) set(scale, c, w ? get(w, c) : 1.0);
    if (shift) set(shift, c, b ? get(b, c) : 0.0);
    if (pmean) set(pmean, c, get(mean, c));
    if (pvar) set(pvar, c, get(var, c));
    if (pinv) set(pinv, c, 1.0 / sqrt(get(var, c) + eps));
}

// Lumen's batch statistics from cuDNN's: the running outputs of a call with factor 1 hold the
// batch mean and the unbiased variance; var = unbiased * (count - 1) / count (0 for one value).
template <typename T, typename P>
__device__ void store_stats(const P* pmean, const P* punbiased, long count, T* mean, T* var, int C) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    set(mean, c, get(pmean, c));
    set(var, c, count > 1 ? get(punbiased, c) * (double) (count - 1) / (double) count : 0.0);
}

// Parameter gradients back to the storage type; either output may be null.
template <typename T, typename P>
__device__ void store_grads(const P* dscale, const P* dshift, T* gw, T* gb, int C) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    if (gw) set(gw, c, get(dscale, c));
    if (gb) set(gb, c, get(dshift, c));
}

constexpr int THREADS = 256;   // CudnnBatchNorm.THREADS

// Backward with constant mean and var (x [N, C, S]): gx = g * w * rstd, gw = sum g * (x - mean) * rstd,
// gb = sum g. Each channel's N*S elements are cut into `splits` equal runs, one block per
// (channel, run), so the grid fills the GPU even for few channels; one pass reads g and x once and
// writes gx (DRAM-bound: 3 tensors moved once). A block sums its run through a fixed-shape tree into
// partial[(c*splits + s)*2 + {0, 1}]; bwd_const_sum adds a channel's runs in order. splits depends
// only on the shape, so the result is the same bits every run.
template <typename T>
__device__ void bwd_const(const T* go, const T* x, const T* w, const T* mean, const T* var, double eps,
                          T* gx, int N, int C, long S, int splits, double* partial) {
    __shared__ double sg[THREADS], sgx[THREADS];
    const int c = blockIdx.x / splits, run = blockIdx.x - c * splits;
    const double m = get(mean, c), k = (w ? get(w, c) : 1.0) * (1.0 / sqrt(get(var, c) + eps));
    const long count = (long) N * S, len = (count + splits - 1) / splits;
    const long lo = run * len, hi = min(count, lo + len);
    // (n, j) of this thread's element, carried forward by THREADS = q*S + r without dividing again.
    const long q = THREADS / S, r = THREADS - q * S;
    long n = (lo + threadIdx.x) / S, j = lo + threadIdx.x - n * S;
    double a = 0, ax = 0;
    for (long i = lo + threadIdx.x; i < hi; i += THREADS) {
        const long at = (n * C + c) * S + j;
        const double g = get(go, at);
        if (gx) set(gx, at, g * k);
        a += g;
        ax += g * (get(x, at) - m);
        n += q;
        j += r;
        if (j >= S) {
            j -= S;
            n++;
        }
    }
    sg[threadIdx.x] = a;
    sgx[threadIdx.x] = ax;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if ((int) threadIdx.x < s) {
            sg[threadIdx.x] += sg[threadIdx.x + s];
            sgx[threadIdx.x] += sgx[threadIdx.x + s];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        partial[2 * (long) blockIdx.x] = sg[0];
        partial[2 * (long) blockIdx.x + 1] = sgx[0];
    }
}

// gw and gb of each channel from its runs' partial sums, added in run order; either may be null.
template <typename T>
__device__ void bwd_const_sum(const double* partial, int splits, const T* var, double eps, T* gw, T* gb, int C) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double a = 0, ax = 0;
    for (int s = 0; s < splits; s++) {
        a += partial[2 * ((long) c * splits + s)];
        ax += partial[2 * ((long) c * splits + s) + 1];
    }
    if (gw) set(gw, c, ax * (1.0 / sqrt(get(var, c) + eps)));
    if (gb) set(gb, c, a);
}

}  // namespace lumen_batchnorm

#define LUMEN_BATCHNORM_KERNELS(SUFFIX, T, P)                                                                       \
    extern "C" __global__ void batchnorm_prepare_##SUFFIX(const T* w, const T* b, const T* mean, const T* var,       \
                                                          double eps, P* scale, P* shift, P* pmean, P* pvar, \
                                                          P* pinv, int C) {                                         \
        lumen_batchnorm::prepare<T, P>(w, b, mean, var, eps, scale, shift, pmean, pvar,  \
                                       pinv, C);                                                                    \
    }                                                                                                               \
    extern "C" __global__ void batchnorm_store_stats_##SUFFIX(const P* pmean, const P* punbiased, long long count,  \
                                                              T* mean, T* var, int C) {                             \
        lumen_batchnorm::store_stats<T, P>(pmean, punbiased, (long) count, mean, var, C);                           \
    }                                                                                                               \
    extern "C" __global__ void batchnorm_store_grads_##SUFFIX(const P* dscale, const P* dshift, T* gw, T* gb, int C) { \
        lumen_batchnorm::store_grads<T, P>(dscale, dshift, gw, gb, C);                                              \
    }                                                                                                               \
    extern "C" __global__ void __launch_bounds__(256) batchnorm_bwd_const_##SUFFIX(const T* go, const T* x,         \
            const T* w, const T* mean, const T* var, double eps, T* gx, int N, int C, long long S, int splits,       \
            double* partial) {                                                                                      \
        lumen_batchnorm::bwd_const<T>(go, x, w, mean, var, eps, gx, N, C, (long) S, splits, partial);               \
    }                                                                                                               \
    extern "C" __global__ void batchnorm_bwd_const_sum_##SUFFIX(const double* partial, int splits, const T* var,    \
                                                                double eps, T* gw, T* gb, int C) {                  \
        lumen_batchnorm::bwd_const_sum<T>(partial, splits, var, eps, gw, gb, C);                                    \
    }

LUMEN_BATCHNORM_KERNELS(f32, float, float)
LUMEN_BATCHNORM_KERNELS(f64, double, double)
LUMEN_BATCHNORM_KERNELS(f16, __half, float)
LUMEN_BATCHNORM_KERNELS(bf16, __nv_bfloat16, float)
