// Gathers and scatters along a dim (IndexKernels): index_select, index_add, gather, scatter_add,
// over strided tensors of every dtype with I32 or I64 indices.
//
// CudaIndexing queues a range check (checks.cu) before each op and does not wait for it, so these
// kernels may run over bad indices; they stay inside their tensors anyway. The gathers write 0
// where an index is out of range. The scatters only ever match indices inside dst's dim, and they
// write nothing once a check has failed (`failed` is the error word's key: all ones while nothing
// failed), so a failed op leaves dst as it was, as the CPU's throw before writing does.
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

// The walk of the index ops. Layouts of at most two dims after merging (a row gather such as
// index_select of rows, or any op on contiguous tensors) under 2^31 elements take a loop with the
// sizes, divisor and strides in registers: one multiply-high per element, then loads and stores
// at DRAM speed. Other layouts take lumen::walk_views' general loop.
template <int K, typename F> __device__ __forceinline__ void walk(long long n, const View* const (&v)[K], F body) {
    if (v[0]->ndim > 2 || !lumen::fits32(n)) {
        lumen::walk_views(n, v, body);
        return;
    }
    const bool two = v[0]->ndim == 2;
    const unsigned inner = two ? (unsigned)v[0]->size[1] : 1u, magic = two ? v[0]->magic32[1] : 1u, shift = two ? v[0]->shift[1] : 0u;
    long long base[K], outer[K], step[K];
#pragma unroll
    for (int k = 0; k < K; k++) {
        base[k] = v[k]->offset;
        outer[k] = v[0]->ndim >= 1 ? v[k]->stride[0] : 0;
        step[k] = two ? v[k]->stride[1] : 0;
    }
    LUMEN_GRID_STRIDE(e, n) {
        const unsigned i = (unsigned)e, q = (__umulhi(i, magic) + i) >> shift, r = i - q * inner;
        long long off[K];
#pragma unroll
        for (int k = 0; k < K; k++) off[k] = base[k] + (long long)q * outer[k] + (long long)r * step[k];
        body(e, off);
    }
}

// dst + src rounded to T, as the CPU's element-wise add.
template <typename T>
__device__ __forceinline__ T add(T dst, T src) { return lumen::from_acc<T>((double)(lumen::to_acc(dst) + lumen::to_acc(src))); }

constexpr unsigned long long kNoFailure = ~0ull;

// out[a, j, b] = x[a, index[j], b] over out's shape (x's size at dim is `size`).
template <typename T, typename I>
__device__ void select(const T* __restrict__ x, const View& xv, long long x_step, long long size, const I* __restrict__ idx, long long idx_step,
                       const View& where, T* __restrict__ out, const View& ov) {
    const View* v[] = {&ov, &where, &xv};
    walk(ov.numel, v, [&](long long, const long long* o) {
        const long long k = idx[o[1] * idx_step];
        out[o[0]] = k >= 0 && k < size ? x[o[2] + k * x_step] : lumen::from_acc<T>(0.0);
    });
}

// dst[a, d, b] += src[a, j, b] for every j with index[j] == d, over src's shape with dst's size at dim.
template <typename T, typename I>
__device__ void index_add(T* __restrict__ dst, const View& dv, const T* __restrict__ src, const View& sv, long long src_step, const I* __restrict__ idx,
                          long long idx_step, int n, const View& where, const unsigned long long* __restrict__ failed) {
    if (*failed != kNoFailure) return;
    const View* views[] = {&dv, &sv, &where};
    walk(dv.numel, views, [&](long long, const long long* off) {
        const long long o = off[0], sb = off[1], d = off[2];
        T v = dst[o];
        bool hit = false;
        for (int j = 0; j < n; j++) {
            if (idx[j * idx_step] == d) {
                v = add(v, src[sb + j * src_step]);
                hit = true;
            }
        }
        if (hit) dst[o] = v;
    });
}

// out[.., j, ..] = x[.., index[.., j, ..], ..] over index's shape (x's size at dim is `size`).
template <typename T, typename I>
__device__ void gather(const T* __restrict__ x, const View& xv, long long x_step, long long size, const I* __restrict__ idx, const View& iv,
                       T* __restrict__ out, const View& ov) {
    const View* v[] = {&ov, &iv, &xv};
    walk(ov.numel, v, [&](long long, const long long* o) {
        const long long k = idx[o[1]];
        out[o[0]] = k >= 0 && k < size ? x[o[2] + k * x_step] : lumen::from_acc<T>(0.0);
    });
}

// dst[.., index[.., j, ..], ..] += src[.., j, ..] over index's shape: each thread owns dst[a, d, b]
// (index's extents in the other dims, dst's size at dim) and scans the n index entries of its line.
template <typename T, typename I>
__device__ void scatter_add(T* __restrict__ dst, const View& dv, const T* __restrict__ src, const View& sv, long long src_step, const I* __restrict__ idx,
                            const View& iv, long long idx_step, int n, const View& where, const unsigned long long* __restrict__ failed) {
    if (*failed != kNoFailure) return;
    const View* views[] = {&dv, &sv, &iv, &where};
    walk(dv.numel, views, [&](long long, const long long* off) {
        const long long o = off[0], sb = off[1], ib = off[2], d = off[3];
        T v = dst[o];
        bool hit = false;
        for (int j = 0; j < n; j++) {
            if (idx[ib + j * idx_step] == d) {
                v = add(v, src[sb + j * src_step]);
                hit = true;
            }
        }
        if (hit) dst[o] = v;
    });
}

}  // namespace lumen_indexing

// Views stay in the kernel's parameter space (__grid_constant__): the loops index them by dim.
#define IX_VIEW const __grid_constant__ lumen::View
#define LUMEN_INDEX_KERNELS(T, t, I, i)                                                                                                    \
    extern "C" __global__ void index_select_##t##_##i(const T* x, IX_VIEW xv, long long x_step, long long size, const I* idx,         \
                                                      long long idx_step, IX_VIEW where, T* out, IX_VIEW ov) {                  \
        lumen_indexing::select<T, I>(x, xv, x_step, size, idx, idx_step, where, out, ov);                                              \
    }                                                                                                                                      \
    extern "C" __global__ void index_add_##t##_##i(T* dst, IX_VIEW dv, const T* src, IX_VIEW sv, long long src_step,            \
                                                   const I* idx, long long idx_step, int n, IX_VIEW where,                          \
                                                   const unsigned long long* failed) {                                                   \
        lumen_indexing::index_add<T, I>(dst, dv, src, sv, src_step, idx, idx_step, n, where, failed);                                  \
    }                                                                                                                                      \
    extern "C" __global__ void gather_fwd_##t##_##i(const T* x, IX_VIEW xv, long long x_step, long long size, const I* idx,          \
                                                    IX_VIEW iv, T* out, IX_VIEW ov) {                                             \
        lumen_indexing::gather<T, I>(x, xv, x_step, size, idx, iv, out, ov);                                                           \
    }                                                                                                                                      \
    extern "C" __global__ void scatter_add_##t##_##i(T* dst, IX_VIEW dv, const T* src, IX_VIEW sv, long long src_step,          \
                                                     const I* idx, IX_VIEW iv, long long idx_step, int n, IX_VIEW where,        \
                                                     const unsigned long long* failed) {                                                 \
        lumen_indexing::scatter_add<T, I>(dst, dv, src, sv, src_step, idx, iv, idx_step, n, where, failed);                           \
    }
#define LUMEN_INDEX_KERNELS_BY_INDEX(T, t) LUMEN_INDEX_KERNELS(T, t, int, i32) LUMEN_INDEX_KERNELS(T, t, long long, i64)
LUMEN_FOR_ALL_TYPES(LUMEN_INDEX_KERNELS_BY_INDEX)
#undef IX_VIEW
