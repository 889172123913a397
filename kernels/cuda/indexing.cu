// Gathers and scatters along a dim (IndexKernels): index_select, index_add, gather, scatter_add,
// over strided tensors of every dtype with I32 or I64 indices, and the range check CudaIndexing
// runs before each of them.
//
// Every kernel is a grid-stride walk over one iteration shape. Operands that move along dim by an
// index are passed "held" (stride 0 at dim) plus their stride along dim (`*_step`), and `where`
// is a virtual operand whose offset is the coordinate along dim. The scatters are written as
// gathers: a thread owns one destination element (a, d, b) and adds, in ascending j, every
// source element whose index is d. That is race-free and deterministic, and each add rounds to
// the dtype as the CPU's dst += src does, so results match the CPU bit for bit. Its cost is the
// index length per destination element: meant for the short index lists of the engine's ops.
#include "lumen_tensor.cuh"

namespace lumen_indexing {

using lumen::View;

__device__ __forceinline__ long long at(const View& v, long long i) {
    return v.ndim == 1 ? v.offset + i * v.stride[0] : lumen::offset_of(v, i);
}

// dst + src rounded to T, as the CPU's element-wise add.
template <typename T>
__device__ __forceinline__ T add(T dst, T src) { return lumen::from_acc<T>((double)(lumen::to_acc(dst) + lumen::to_acc(src))); }

// first_bad = the lowest logical position (row-major over v) whose index is outside [0, size).
// Integer atomicMin: the result does not depend on the order threads run in.
template <typename I>
__device__ void check(const I* __restrict__ idx, View v, long long size, long long* first_bad) {
    LUMEN_GRID_STRIDE(e, v.numel) {
        const long long k = idx[at(v, e)];
        if (k < 0 || k >= size) atomicMin(first_bad, e);
    }
}

// out[a, j, b] = x[a, index[j], b] over out's shape.
template <typename T, typename I>
__device__ void select(const T* __restrict__ x, View xv, long long x_step, const I* __restrict__ idx, long long idx_step, View where,
                       T* __restrict__ out, View ov) {
    LUMEN_GRID_STRIDE(e, ov.numel) {
        const long long k = idx[at(where, e) * idx_step];
        out[at(ov, e)] = x[at(xv, e) + k * x_step];
    }
}

// dst[a, d, b] += src[a, j, b] for every j with index[j] == d, over src's shape with dst's size at dim.
template <typename T, typename I>
__device__ void index_add(T* __restrict__ dst, View dv, const T* __restrict__ src, View sv, long long src_step, const I* __restrict__ idx,
                          long long idx_step, int n, View where) {
    LUMEN_GRID_STRIDE(e, dv.numel) {
        const long long d = at(where, e), sb = at(sv, e);
        const long long o = at(dv, e);
        T v = dst[o];
        bool hit = false;
        for (int j = 0; j < n; j++) {
            if (idx[j * idx_step] == d) {
                v = add(v, src[sb + j * src_step]);
                hit = true;
            }
        }
        if (hit) dst[o] = v;
    }
}

// out[.., j, ..] = x[.., index[.., j, ..], ..] over index's shape.
template <typename T, typename I>
__device__ void gather(const T* __restrict__ x, View xv, long long x_step, const I* __restrict__ idx, View iv, T* __restrict__ out, View ov) {
    LUMEN_GRID_STRIDE(e, ov.numel) { out[at(ov, e)] = x[at(xv, e) + (long long)idx[at(iv, e)] * x_step]; }
}

// dst[.., index[.., j, ..], ..] += src[.., j, ..] over index's shape: each thread owns dst[a, d, b]
// (index's extents in the other dims, dst's size at dim) and scans the n index entries of its line.
template <typename T, typename I>
__device__ void scatter_add(T* __restrict__ dst, View dv, const T* __restrict__ src, View sv, long long src_step, const I* __restrict__ idx,
                            View iv, long long idx_step, int n, View where) {
    LUMEN_GRID_STRIDE(e, dv.numel) {
        const long long d = at(where, e), sb = at(sv, e), ib = at(iv, e);
        const long long o = at(dv, e);
        T v = dst[o];
        bool hit = false;
        for (int j = 0; j < n; j++) {
            if (idx[ib + j * idx_step] == d) {
                v = add(v, src[sb + j * src_step]);
                hit = true;
            }
        }
        if (hit) dst[o] = v;
    }
}

}  // namespace lumen_indexing

#define LUMEN_INDEX_CHECK(I, i)                                                                                              \
    extern "C" __global__ void index_check_##i(const I* idx, lumen::View v, long long size, long long* first_bad) {          \
        lumen_indexing::check<I>(idx, v, size, first_bad);                                                                   \
    }
LUMEN_INDEX_CHECK(int, i32)
LUMEN_INDEX_CHECK(long long, i64)

#define LUMEN_INDEX_KERNELS(T, t, I, i)                                                                                                 \
    extern "C" __global__ void index_select_##t##_##i(const T* x, lumen::View xv, long long x_step, const I* idx, long long idx_step,  \
                                                      lumen::View where, T* out, lumen::View ov) {                                   \
        lumen_indexing::select<T, I>(x, xv, x_step, idx, idx_step, where, out, ov);                                                 \
    }                                                                                                                                   \
    extern "C" __global__ void index_add_##t##_##i(T* dst, lumen::View dv, const T* src, lumen::View sv, long long src_step,         \
                                                   const I* idx, long long idx_step, int n, lumen::View where) {                      \
        lumen_indexing::index_add<T, I>(dst, dv, src, sv, src_step, idx, idx_step, n, where);                                       \
    }                                                                                                                                   \
    extern "C" __global__ void gather_fwd_##t##_##i(const T* x, lumen::View xv, long long x_step, const I* idx, lumen::View iv, T* out, \
                                                    lumen::View ov) {                                                                  \
        lumen_indexing::gather<T, I>(x, xv, x_step, idx, iv, out, ov);                                                              \
    }                                                                                                                                   \
    extern "C" __global__ void scatter_add_##t##_##i(T* dst, lumen::View dv, const T* src, lumen::View sv, long long src_step,       \
                                                     const I* idx, lumen::View iv, long long idx_step, int n, lumen::View where) {    \
        lumen_indexing::scatter_add<T, I>(dst, dv, src, sv, src_step, idx, iv, idx_step, n, where);                                 \
    }
#define LUMEN_INDEX_KERNELS_BY_INDEX(T, t) LUMEN_INDEX_KERNELS(T, t, int, i32) LUMEN_INDEX_KERNELS(T, t, long long, i64)
LUMEN_FOR_ALL_TYPES(LUMEN_INDEX_KERNELS_BY_INDEX)
