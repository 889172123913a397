// Copies between strided views with a dtype conversion (Tensor.copy, .to(dtype), contiguous()),
// and fills. The Backend's copy and fill run here on the device: copy_<src>_to_<dst>, fill_<dtype>.
#include "lumen_tensor.cuh"

namespace lumen_copy {

template <typename S, typename D>
__device__ void copy_view(const S* __restrict__ src, lumen::View sv, D* __restrict__ dst, lumen::View dv) {
    LUMEN_GRID_STRIDE(i, dv.numel) {
        dst[lumen::offset_of(dv, i)] = lumen::from_acc<D>((double)lumen::to_acc(src[lumen::offset_of(sv, i)]));
    }
}

template <typename T>
__device__ void fill_view(T* __restrict__ dst, lumen::View dv, double value) {
    const T v = lumen::from_acc<T>(value);
    LUMEN_GRID_STRIDE(i, dv.numel) { dst[lumen::offset_of(dv, i)] = v; }
}

}  // namespace lumen_copy

#define LUMEN_COPY_KERNEL(S, s, D, d) \
    extern "C" __global__ void copy_##s##_to_##d(const S* src, lumen::View sv, D* dst, lumen::View dv) { lumen_copy::copy_view<S, D>(src, sv, dst, dv); }
#define LUMEN_COPY_FROM(S, s) LUMEN_FOR_ALL_TYPES_B(LUMEN_COPY_KERNEL, S, s)
LUMEN_FOR_ALL_TYPES(LUMEN_COPY_FROM)

#define LUMEN_FILL_KERNEL(T, t) \
    extern "C" __global__ void fill_##t(T* dst, lumen::View dv, double value) { lumen_copy::fill_view<T>(dst, dv, value); }
LUMEN_FOR_ALL_TYPES(LUMEN_FILL_KERNEL)
