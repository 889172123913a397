// Copies between strided views with a dtype conversion (Tensor.copy, .to(dtype), contiguous()),
// and fills. The Backend's copy and fill run here on the device: copy_<src>_to_<dst>, fill_<dtype>.
#include "lumen_tensor.cuh"

namespace lumen_copy {

// The launcher's layouts merge every dim both operands step through as one, so a contiguous (or
// evenly strided) copy arrives as one dim and its loop is a load and a store: bound by DRAM
// bandwidth. Other views split the index with the View's multiply-shift divisors, in 32 bits when
// the launch proves it fits; no division in any loop.
template <typename S, typename D>
__device__ void copy_view(const S* __restrict__ src, const lumen::View& sv, D* __restrict__ dst, const lumen::View& dv) {
    if (dv.ndim <= 1) {
        const long long ss = dv.ndim ? sv.stride[0] : 0, ds = dv.ndim ? dv.stride[0] : 0;
        const S* s = src + sv.offset;
        D* d = dst + dv.offset;
        LUMEN_GRID_STRIDE(i, dv.numel) { d[i * ds] = lumen::from_acc<D>((double)lumen::to_acc(s[i * ss])); }
        return;
    }
    auto walk = [&](auto zero) {
        using I = decltype(zero);
        LUMEN_GRID_STRIDE(i, dv.numel) {
            long long so = sv.offset, o = dv.offset;
            lumen::coordinates_of(dv, (I)i, [&](int k, long long c) { so += c * sv.stride[k]; o += c * dv.stride[k]; });
            dst[o] = lumen::from_acc<D>((double)lumen::to_acc(src[so]));
        }
    };
    if (lumen::fits32(dv.numel)) walk(0u);
    else walk(0ull);
}

template <typename T>
__device__ void fill_view(T* __restrict__ dst, const lumen::View& dv, double value) {
    const T v = lumen::from_acc<T>(value);
    if (dv.ndim <= 1) {
        const long long ds = dv.ndim ? dv.stride[0] : 0;
        T* d = dst + dv.offset;
        LUMEN_GRID_STRIDE(i, dv.numel) { d[i * ds] = v; }
        return;
    }
    if (lumen::fits32(dv.numel)) {
        LUMEN_GRID_STRIDE(i, dv.numel) { dst[lumen::offset_at(dv, (unsigned)i)] = v; }
    } else {
        LUMEN_GRID_STRIDE(i, dv.numel) { dst[lumen::offset_at(dv, (unsigned long long)i)] = v; }
    }
}

}  // namespace lumen_copy

// Views stay in the kernel's parameter space (__grid_constant__): the loops index them by dim.
#define COPY_VIEW const __grid_constant__ lumen::View
#define LUMEN_COPY_KERNEL(S, s, D, d) \
    extern "C" __global__ void copy_##s##_to_##d(const S* src, COPY_VIEW sv, D* dst, COPY_VIEW dv) { lumen_copy::copy_view<S, D>(src, sv, dst, dv); }
#define LUMEN_COPY_FROM(S, s) LUMEN_FOR_ALL_TYPES_B(LUMEN_COPY_KERNEL, S, s)
LUMEN_FOR_ALL_TYPES(LUMEN_COPY_FROM)

#define LUMEN_FILL_KERNEL(T, t) \
    extern "C" __global__ void fill_##t(T* dst, COPY_VIEW dv, double value) { lumen_copy::fill_view<T>(dst, dv, value); }
LUMEN_FOR_ALL_TYPES(LUMEN_FILL_KERNEL)
#undef COPY_VIEW
