// What every Lumen kernel shares: strided views of tensors as Tensor holds them, and loads and
// stores of every storage dtype through one accumulation type. All .cu files are included into
// one nvcc translation unit for the fatbin, so this header is guarded and everything lives in
// namespace lumen.
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>

namespace lumen {

constexpr int MAX_DIMS = 8;   // CudaTensors.MAX_DIMS

// A tensor walked over an iteration shape (CudaTensors.Layout): sizes shared by every operand of
// a launch, this operand's strides (0 where it broadcasts) and element offset, all in elements,
// and each size's multiply-shift divisor (MagicDivisor.java, computed on the host once per launch),
// so splitting an index into coordinates costs a multiply-high per dim instead of a ~25-instruction
// division. The layout must match KernelArgs.view.
struct View {
    int ndim;
    int size[MAX_DIMS];
    long long stride[MAX_DIMS];
    long long offset;
    long long numel;
    unsigned long long magic64[MAX_DIMS];   // exact for dividends below 2^63
    unsigned magic32[MAX_DIMS];             // exact for dividends below 2^31
    unsigned char shift[MAX_DIMS];          // ceil(log2 size)
};

// n / size[d] of a View without a division (Granlund-Montgomery, round-up variant):
// q = (mulhi(n, magic) + n) >> shift. The 32-bit form needs n < 2^31 so the add cannot carry out.
__device__ __forceinline__ unsigned quotient(const View& v, int d, unsigned n) {
    return (__umulhi(n, v.magic32[d]) + n) >> v.shift[d];
}
__device__ __forceinline__ unsigned long long quotient(const View& v, int d, unsigned long long n) {
    return (__umul64hi(n, v.magic64[d]) + n) >> v.shift[d];
}

// Splits element i (row-major over shape's sizes, which every view of a layout shares) into
// coordinates, calling add(d, coordinate) per dim. I is unsigned (the launch's numel < 2^31) or
// unsigned long long; dim 0 needs no division.
template <typename I, typename F> __device__ __forceinline__ void coordinates_of(const View& shape, I i, F add) {
    for (int d = shape.ndim - 1; d > 0; d--) {
        const I q = quotient(shape, d, i);
        add(d, (long long)(i - q * (I)shape.size[d]));
        i = q;
    }
    if (shape.ndim > 0) add(0, (long long)i);
}

// The element offset of the i-th element (row-major over size) of v.
template <typename I> __device__ __forceinline__ long long offset_at(const View& v, I i) {
    long long off = v.offset;
    coordinates_of(v, i, [&](int d, long long c) { off += c * v.stride[d]; });
    return off;
}

// offset_at for any 64-bit index: the 32-bit quotient while i fits.
__device__ __forceinline__ long long offset_of(const View& v, long long i) {
    return i < 0x80000000LL ? offset_at(v, (unsigned)i) : offset_at(v, (unsigned long long)i);
}

// Whether every index of a launch over n elements takes the 32-bit quotient.
__device__ __forceinline__ bool fits32(long long n) { return n <= 0x80000000LL; }

// Grid-stride loop over n elements: any grid size covers any n.
#define LUMEN_GRID_STRIDE(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

// A grid-stride walk over the n elements of K views of one layout (they share sizes), calling
// body(e, off) with off[k] the offset of element e in view k: one coordinate split per element
// serves every view. 32-bit quotients where n proves they fit.
template <typename I, int K, typename F>
__device__ __forceinline__ void walk_views_as(long long n, const View* const (&v)[K], F body) {
    LUMEN_GRID_STRIDE(e, n) {
        long long off[K];
#pragma unroll
        for (int k = 0; k < K; k++) off[k] = v[k]->offset;
        coordinates_of(*v[0], (I)e, [&](int d, long long c) {
#pragma unroll
            for (int k = 0; k < K; k++) off[k] += c * v[k]->stride[d];
        });
        body(e, off);
    }
}

template <int K, typename F> __device__ __forceinline__ void walk_views(long long n, const View* const (&v)[K], F body) {
    if (fits32(n)) walk_views_as<unsigned>(n, v, body);
    else walk_views_as<unsigned long long>(n, v, body);
}

// Storage types and the type they compute in: half precision computes in float.
template <typename T> struct Acc { using type = float; };
template <> struct Acc<double> { using type = double; };
template <> struct Acc<long long> { using type = double; };
template <> struct Acc<int> { using type = double; };

__device__ __forceinline__ float to_acc(float v) { return v; }
__device__ __forceinline__ double to_acc(double v) { return v; }
__device__ __forceinline__ float to_acc(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_acc(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ double to_acc(int v) { return (double)v; }
__device__ __forceinline__ double to_acc(long long v) { return (double)v; }
__device__ __forceinline__ float to_acc(unsigned char v) { return v ? 1.f : 0.f; }

// Conversions from a computed value to a storage type (round to nearest even, as PyTorch casts;
// integers truncate toward zero, bool is nonzero).
template <typename T> __device__ __forceinline__ T from_acc(double v);
template <> __device__ __forceinline__ float from_acc<float>(double v) { return (float)v; }
template <> __device__ __forceinline__ double from_acc<double>(double v) { return v; }
template <> __device__ __forceinline__ __half from_acc<__half>(double v) { return __float2half_rn((float)v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_acc<__nv_bfloat16>(double v) { return __float2bfloat16_rn((float)v); }
template <> __device__ __forceinline__ int from_acc<int>(double v) { return (int)v; }
template <> __device__ __forceinline__ long long from_acc<long long>(double v) { return (long long)v; }
template <> __device__ __forceinline__ unsigned char from_acc<unsigned char>(double v) { return v != 0.0 ? 1 : 0; }

// Float-only overloads, so float math never round-trips through double.
template <typename T> __device__ __forceinline__ T from_accf(float v) { return from_acc<T>((double)v); }
template <> __device__ __forceinline__ float from_accf<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_accf<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_accf<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

}  // namespace lumen

// The suffix of a kernel name per storage type (DType's names): name_f32, name_f64 ...
// LUMEN_FOR_FLOAT_TYPES(M) expands M(ctype, suffix) for the floating storage dtypes,
// LUMEN_FOR_ALL_TYPES(M) for every dtype Lumen stores.
#define LUMEN_FOR_FLOAT_TYPES(M) M(float, f32) M(double, f64) M(__half, f16) M(__nv_bfloat16, bf16)
#define LUMEN_FOR_ALL_TYPES(M) LUMEN_FOR_FLOAT_TYPES(M) M(int, i32) M(long long, i64) M(unsigned char, bool)
// The same list again, for kernels instantiated over pairs of types (a macro cannot expand itself).
#define LUMEN_FOR_ALL_TYPES_B(M, S, s) M(S, s, float, f32) M(S, s, double, f64) M(S, s, __half, f16) \
    M(S, s, __nv_bfloat16, bf16) M(S, s, int, i32) M(S, s, long long, i64) M(S, s, unsigned char, bool)
