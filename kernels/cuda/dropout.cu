// Inverted dropout masks (NormKernels.dropoutForward). Draw i is Generator.bits(seed, first + i),
// the SplitMix64 finalizer in unsigned 64-bit arithmetic (Java's wrapping long multiply and >>>
// are the same operations), so the device keeps exactly the elements the CPU keeps.
#include "lumen_tensor.cuh"

namespace lumen_dropout {

typedef unsigned long long u64;

__device__ __forceinline__ u64 generator_bits(u64 seed, u64 c) {
    u64 z = seed * 0x9E3779B97F4A7C15ull + c * 0xBF58476D1CE4E5B9ull + 0x94D049BB133111EBull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    z = (z ^ (z >> 29)) * 0xBF58476D1CE4E5B9ull;
    return z ^ (z >> 32);
}

// Element i is kept when the top 53 bits of its draw are below threshold (= ceil(keep * 2^53)).
// The products round as CpuNorms does: in float for F32, in double then to the dtype otherwise.
template <typename T>
__device__ void dropout(const T* __restrict__ x, long long n, u64 seed, u64 first, u64 threshold, double scale,
                        T* __restrict__ mask, T* __restrict__ out) {
    LUMEN_GRID_STRIDE(i, n) {
        const bool kept = (generator_bits(seed, first + (u64)i) >> 11) < threshold;
        const double m = kept ? scale : 0.0;
        mask[i] = lumen::from_acc<T>(m);
        if (out) out[i] = lumen::from_acc<T>((double)lumen::to_acc(x[i]) * m);
    }
}

__device__ void dropout_f32(const float* __restrict__ x, long long n, u64 seed, u64 first, u64 threshold, double scale,
                            float* __restrict__ mask, float* __restrict__ out) {
    const float fs = (float)scale;
    LUMEN_GRID_STRIDE(i, n) {
        const float m = (generator_bits(seed, first + (u64)i) >> 11) < threshold ? fs : 0.f;
        mask[i] = m;
        if (out) out[i] = x[i] * m;
    }
}

}  // namespace lumen_dropout

extern "C" __global__ void dropout_fwd_f32(const float* x, long long n, unsigned long long seed, unsigned long long first,
                                           unsigned long long threshold, double scale, float* mask, float* out) {
    lumen_dropout::dropout_f32(x, n, seed, first, threshold, scale, mask, out);
}

#define LUMEN_DROPOUT_KERNEL(T, t)                                                                                     \
    extern "C" __global__ void dropout_fwd_##t(const T* x, long long n, unsigned long long seed, unsigned long long first, \
                                               unsigned long long threshold, double scale, T* mask, T* out) {         \
        lumen_dropout::dropout<T>(x, n, seed, first, threshold, scale, mask, out);                                    \
    }
LUMEN_DROPOUT_KERNEL(double, f64)
LUMEN_DROPOUT_KERNEL(__half, f16)
LUMEN_DROPOUT_KERNEL(__nv_bfloat16, bf16)
