// Reductions over any set of dims of a strided tensor (ReductionKernels: reduce, variance,
// extremeAlongDim), top-k along a dim and the selections' backward (a gather, no atomics).
//
// A reduction is described by two views of x: `kept` walks the outputs (one element per output,
// x's offset included) and `red` walks the reduced elements of one output (offset 0). The Java
// side (CudaReduce) picks one of two pass kernels:
//   reduce_rows_*: one block per (output, split); its threads stride over the reduced elements
//                  (used when the reduced dims are innermost in memory: loads coalesce);
//   reduce_cols_*: one thread per (output, split); adjacent threads own adjacent outputs
//                  (used when a kept dim is innermost: each step loads a contiguous row).
// Each writes one partial per (output, split) into scratch; with more than one split,
// reduce_combine_* folds an output's partials with one block tree. The trees have a fixed shape
// (block size and splits depend only on the problem's sizes), so results are bit-identical run to
// run. Sums, means, variances and logsumexp accumulate in double for every dtype: the CPU adds F32
// in float only over runs of at most 1024 elements and then in double, and double on the device
// costs nothing that a memory-bound pass notices on sm_80/sm_90; exp is taken in the dtype's
// compute type (float for F32 and half types, as the CPU's F32 path, double for F64).
#include "lumen_tensor.cuh"

namespace lumen_reduce {

using lumen::View;

constexpr int MAX_THREADS = 256;  // CudaReduce.MAX_THREADS

// Element offset of the i-th element of v; a one-dim view needs no division.
__device__ __forceinline__ long long at(const View& v, long long i) {
    return v.ndim == 1 ? v.offset + i * v.stride[0] : lumen::offset_of(v, i);
}

// max and min as Java's Math.max/min (the CPU's): NaN wins, +0 is above -0.
__device__ __forceinline__ double nan_max(double a, double b) {
    if (a != a) return a;
    if (b != b) return b;
    if (a == b) return signbit(a) ? b : a;
    return a > b ? a : b;
}
__device__ __forceinline__ double nan_min(double a, double b) {
    if (a != a) return a;
    if (b != b) return b;
    if (a == b) return signbit(a) ? a : b;
    return a < b ? a : b;
}

// logsumexp's shift: the max, but an infinite max is not subtracted (it would give inf - inf).
__device__ __forceinline__ double finite_or_zero(double m) { return isinf(m) ? 0.0 : m; }

// A pass: identity, how an element joins a thread's accumulator (x at reduced index r, shifted
// by c), and how two accumulators combine (commutative and associative up to rounding, applied
// in a fixed order).
struct Sum {
    using Acc = double;
    static __device__ double identity() { return 0.0; }
    template <typename T> static __device__ double step(double acc, T x, long long, double) { return acc + (double)lumen::to_acc(x); }
    static __device__ double combine(double a, double b) { return a + b; }
};
struct Max {
    using Acc = double;
    static __device__ double identity() { return -INFINITY; }
    template <typename T> static __device__ double step(double acc, T x, long long, double) { return nan_max(acc, (double)lumen::to_acc(x)); }
    static __device__ double combine(double a, double b) { return nan_max(a, b); }
};
struct Min {
    using Acc = double;
    static __device__ double identity() { return INFINITY; }
    template <typename T> static __device__ double step(double acc, T x, long long, double) { return nan_min(acc, (double)lumen::to_acc(x)); }
    static __device__ double combine(double a, double b) { return nan_min(a, b); }
};
// sum exp(x - c), c the max (an infinite max is not subtracted, as torch and the CPU).
struct ExpSum {
    using Acc = double;
    static __device__ double identity() { return 0.0; }
    template <typename T> static __device__ double step(double acc, T x, long long, double c) {
        using A = typename lumen::Acc<T>::type;
        return acc + (double)exp(lumen::to_acc(x) - (A)finite_or_zero(c));
    }
    static __device__ double combine(double a, double b) { return a + b; }
};
// sum (x - c)^2, c the mean.
struct SqSum {
    using Acc = double;
    static __device__ double identity() { return 0.0; }
    template <typename T> static __device__ double step(double acc, T x, long long, double c) {
        const double d = (double)lumen::to_acc(x) - c;
        return fma(d, d, acc);
    }
    static __device__ double combine(double a, double b) { return a + b; }
};

// The extreme and its first index; NaN counts as the extreme (torch.max(dim)).
struct Arg {
    double v;
    long long i;
};
template <bool LARGEST>
struct Extreme {
    using Acc = Arg;
    static __device__ Arg identity() { return Arg{LARGEST ? -INFINITY : INFINITY, -1}; }
    // Whether a comes before b: NaN first, then the extreme value, then the lower index; an
    // empty accumulator (index -1) comes last.
    static __device__ bool before(const Arg& a, const Arg& b) {
        if (b.i < 0) return a.i >= 0;
        if (a.i < 0) return false;
        const bool an = a.v != a.v, bn = b.v != b.v;
        if (an != bn) return an;
        if (!an && a.v != b.v) return LARGEST ? a.v > b.v : a.v < b.v;
        return a.i < b.i;
    }
    template <typename T> static __device__ Arg step(Arg acc, T x, long long r, double) {
        const Arg e{(double)lumen::to_acc(x), r};
        return before(e, acc) ? e : acc;
    }
    static __device__ Arg combine(const Arg& a, const Arg& b) { return before(b, a) ? b : a; }
};

// Folds the blockDim.x (a power of two) accumulators of buf into buf[0] along a fixed tree.
template <typename Op>
__device__ void block_tree(typename Op::Acc* buf, typename Op::Acc acc) {
    const int t = threadIdx.x;
    buf[t] = acc;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s) buf[t] = Op::combine(buf[t], buf[t + s]);
        __syncthreads();
    }
}

__device__ __forceinline__ long long block_index() { return (long long)blockIdx.y * gridDim.x + blockIdx.x; }

// Elements [lo, hi) of the n reduced elements that split s of `splits` covers.
__device__ __forceinline__ void split_range(long long n, int splits, int s, long long* lo, long long* hi) {
    const long long chunk = (n + splits - 1) / splits;
    *lo = chunk * s;
    *hi = min(n, *lo + chunk);
}

// shift[o] / shift_div, or 0 without a shift.
__device__ __forceinline__ double shift_of(const double* shift, double shift_div, long long o) {
    return shift == nullptr ? 0.0 : shift[o] / shift_div;
}


template <typename Op, typename T>
__device__ void rows(const T* __restrict__ x, View kept, View red, int splits, const double* __restrict__ shift, double shift_div,
                     typename Op::Acc* __restrict__ partials) {
    __shared__ typename Op::Acc buf[MAX_THREADS];
    const long long b = block_index();
    const long long o = b / splits;
    long long lo, hi;
    split_range(red.numel, splits, (int)(b - o * splits), &lo, &hi);
    const long long base = at(kept, o);
    const double c = shift_of(shift, shift_div, o);
    typename Op::Acc acc = Op::identity();
    for (long long r = lo + threadIdx.x; r < hi; r += blockDim.x) acc = Op::template step<T>(acc, x[base + at(red, r)], r, c);
    block_tree<Op>(buf, acc);
    if (threadIdx.x == 0) partials[b] = buf[0];
}

template <typename Op, typename T>
__device__ void cols(const T* __restrict__ x, View kept, View red, int splits, const double* __restrict__ shift, double shift_div,
                     typename Op::Acc* __restrict__ partials) {
    const long long o = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= kept.numel) return;
    const int s = blockIdx.y;
    long long lo, hi;
    split_range(red.numel, splits, s, &lo, &hi);
    const long long base = at(kept, o);
    const double c = shift_of(shift, shift_div, o);
    typename Op::Acc acc = Op::identity();
    for (long long r = lo; r < hi; r++) acc = Op::template step<T>(acc, x[base + at(red, r)], r, c);
    partials[o * splits + s] = acc;
}

// One block per output: its `splits` partials, in one tree.
template <typename Op>
__device__ void combine(const typename Op::Acc* __restrict__ partials, int splits, typename Op::Acc* __restrict__ res) {
    __shared__ typename Op::Acc buf[MAX_THREADS];
    const long long o = block_index();
    typename Op::Acc acc = Op::identity();
    for (int s = threadIdx.x; s < splits; s += blockDim.x) acc = Op::combine(acc, partials[o * splits + s]);
    block_tree<Op>(buf, acc);
    if (threadIdx.x == 0) res[o] = buf[0];
}

// What a finished result becomes: res / div (sum, mean, amax, amin, variance), or
// log(res) + the unsubtracted max (logsumexp).
enum Post { DIVIDE = 0, LOG_PLUS_SHIFT = 1 };

template <typename T>
__device__ void finish(const double* __restrict__ res, const double* __restrict__ shift, int post, double div, T* __restrict__ out, View ov) {
    LUMEN_GRID_STRIDE(o, ov.numel) {
        double v = res[o];
        v = post == LOG_PLUS_SHIFT ? log(v) + finite_or_zero(shift[o]) : v / div;
        out[at(ov, o)] = lumen::from_acc<T>(v);
    }
}

template <typename T>
__device__ void finish_arg(const Arg* __restrict__ res, T* __restrict__ values, View vv, long long* __restrict__ indices, View iv) {
    LUMEN_GRID_STRIDE(o, iv.numel) {
        if (values != nullptr) values[at(vv, o)] = lumen::from_acc<T>(res[o].v);
        indices[at(iv, o)] = res[o].i;
    }
}

// -------------------------------------------------------------------------------------- top-k

// Whether (a, ia) comes before (b, ib) in top-k order: the CPU's stable sort by Double.compare
// (NaN above everything, -0 equal to +0), descending when largest, ties by the lower index.
__device__ __forceinline__ bool topk_before(double a, long long ia, double b, long long ib, bool largest) {
    const bool an = a != a, bn = b != b;
    int c;
    if (an || bn) c = an == bn ? 0 : (an ? 1 : -1);
    else c = a < b ? -1 : (a > b ? 1 : 0);
    if (largest) c = -c;
    return c < 0 || (c == 0 && ia < ib);
}

// One thread per line (every position but dim): k selection scans, each taking the first
// element after the previous pick in top-k order. O(k * n) per line: k is small.
template <typename T>
__device__ void topk(const T* __restrict__ x, View lines, long long x_step, int n, int k, int largest,
                     T* __restrict__ values, View vlines, long long v_step, long long* __restrict__ indices, View ilines, long long i_step) {
    LUMEN_GRID_STRIDE(line, lines.numel) {
        const long long xb = at(lines, line);
        double prev = 0.0;
        long long prev_i = -1;
        for (int q = 0; q < k; q++) {
            double best = 0.0;
            long long best_i = -1;
            for (int d = 0; d < n; d++) {
                const double e = (double)lumen::to_acc(x[xb + d * x_step]);
                if (prev_i >= 0 && !topk_before(prev, prev_i, e, d, largest)) continue;
                if (best_i < 0 || topk_before(e, d, best, best_i, largest)) {
                    best = e;
                    best_i = d;
                }
            }
            values[at(vlines, line) + q * v_step] = x[xb + best_i * x_step];
            indices[at(ilines, line) + q * i_step] = best_i;
            prev = best;
            prev_i = best_i;
        }
    }
}

// --------------------------------------------------------------------- selections' backward

// gradIn[.., d, ..] = sum of gradValues[.., j, ..] over the j < k whose index is d, in
// ascending j: each thread owns one element of gradIn (a gather, no atomics). `where` is the
// coordinate along dim of each element (a view with stride 1 at dim, 0 elsewhere).
template <typename T>
__device__ void selection_bwd(const T* __restrict__ gv, View gvv, long long gv_step, const long long* __restrict__ idx, View iv, long long i_step,
                              int k, View where, T* __restrict__ gi, View giv) {
    using A = typename lumen::Acc<T>::type;
    LUMEN_GRID_STRIDE(e, giv.numel) {
        const long long d = at(where, e), gb = at(gvv, e), ib = at(iv, e);
        A acc = 0;
        for (int j = 0; j < k; j++) {
            if (idx[ib + j * i_step] == d) acc += lumen::to_acc(gv[gb + j * gv_step]);
        }
        gi[at(giv, e)] = lumen::from_acc<T>((double)acc);
    }
}

}  // namespace lumen_reduce

#define LUMEN_REDUCE_PASS(OP, op, T, t)                                                                                          \
    extern "C" __global__ void reduce_rows_##op##_##t(const T* x, lumen::View kept, lumen::View red, int splits,                 \
                                                      const double* shift, double shift_div, lumen_reduce::OP::Acc* partials) { \
        lumen_reduce::rows<lumen_reduce::OP, T>(x, kept, red, splits, shift, shift_div, partials);                               \
    }                                                                                                                            \
    extern "C" __global__ void reduce_cols_##op##_##t(const T* x, lumen::View kept, lumen::View red, int splits,                 \
                                                      const double* shift, double shift_div, lumen_reduce::OP::Acc* partials) { \
        lumen_reduce::cols<lumen_reduce::OP, T>(x, kept, red, splits, shift, shift_div, partials);                               \
    }
#define LUMEN_REDUCE_PASSES(T, t)                  \
    LUMEN_REDUCE_PASS(Sum, sum, T, t)              \
    LUMEN_REDUCE_PASS(Max, max, T, t)              \
    LUMEN_REDUCE_PASS(Min, min, T, t)              \
    LUMEN_REDUCE_PASS(ExpSum, expsum, T, t)        \
    LUMEN_REDUCE_PASS(SqSum, sqsum, T, t)          \
    LUMEN_REDUCE_PASS(Extreme<true>, argmax, T, t) \
    LUMEN_REDUCE_PASS(Extreme<false>, argmin, T, t)
LUMEN_FOR_ALL_TYPES(LUMEN_REDUCE_PASSES)

#define LUMEN_REDUCE_COMBINE(OP, op)                                                                                    \
    extern "C" __global__ void reduce_combine_##op(const lumen_reduce::OP::Acc* partials, int splits, lumen_reduce::OP::Acc* res) { \
        lumen_reduce::combine<lumen_reduce::OP>(partials, splits, res);                                                \
    }
LUMEN_REDUCE_COMBINE(Sum, sum)
LUMEN_REDUCE_COMBINE(Max, max)
LUMEN_REDUCE_COMBINE(Min, min)
LUMEN_REDUCE_COMBINE(ExpSum, expsum)
LUMEN_REDUCE_COMBINE(SqSum, sqsum)
LUMEN_REDUCE_COMBINE(Extreme<true>, argmax)
LUMEN_REDUCE_COMBINE(Extreme<false>, argmin)

#define LUMEN_REDUCE_TAIL(T, t)                                                                                                     \
    extern "C" __global__ void reduce_finish_##t(const double* res, const double* shift, int post, double div, T* out, lumen::View ov) { \
        lumen_reduce::finish<T>(res, shift, post, div, out, ov);                                                                    \
    }                                                                                                                               \
    extern "C" __global__ void reduce_finish_arg_##t(const lumen_reduce::Arg* res, T* values, lumen::View vv, long long* indices,  \
                                                     lumen::View iv) {                                                              \
        lumen_reduce::finish_arg<T>(res, values, vv, indices, iv);                                                                  \
    }                                                                                                                               \
    extern "C" __global__ void topk_fwd_##t(const T* x, lumen::View lines, long long x_step, int n, int k, int largest, T* values,  \
                                            lumen::View vlines, long long v_step, long long* indices, lumen::View ilines,          \
                                            long long i_step) {                                                                     \
        lumen_reduce::topk<T>(x, lines, x_step, n, k, largest, values, vlines, v_step, indices, ilines, i_step);                  \
    }
LUMEN_FOR_ALL_TYPES(LUMEN_REDUCE_TAIL)

#define LUMEN_SELECTION_BWD(T, t)                                                                                                   \
    extern "C" __global__ void selection_bwd_##t(const T* gv, lumen::View gvv, long long gv_step, const long long* idx,            \
                                                 lumen::View iv, long long i_step, int k, lumen::View where, T* gi,                \
                                                 lumen::View giv) {                                                                 \
        lumen_reduce::selection_bwd<T>(gv, gvv, gv_step, idx, iv, i_step, k, where, gi, giv);                                      \
    }
LUMEN_FOR_FLOAT_TYPES(LUMEN_SELECTION_BWD)
