// Softmax and log_softmax along one dim of strided tensors, and their backward
// (ReductionKernels.softmax, softmaxBackward). A line is every element along dim at one position
// of the other dims; `lines` views walk the line starts of each operand and `*_step` is the
// operand's stride along dim. Two shapes of launch (CudaSoftmax picks one):
//   *_rows_*: one block per line, for lines along the innermost dim: the threads stride over it
//             (coalesced) and fold max and sum with a fixed block tree;
//   *_cols_*: one thread per line, for lines across an inner dim: adjacent threads read adjacent
//             elements at every step.
// Max and exp are taken in the dtype's compute type (float for F32 and half types, as the CPU's
// F32 rows; double for F64), sums accumulate in double (the CPU sums F32 rows through double too).
#include "lumen_tensor.cuh"

namespace lumen_softmax {

using lumen::View;

constexpr int MAX_THREADS = 256;  // CudaSoftmax.MAX_THREADS

__device__ __forceinline__ long long at(const View& v, long long i) {
    return v.ndim == 1 ? v.offset + i * v.stride[0] : lumen::offset_of(v, i);
}

// Math.max's NaN rule: a NaN anywhere in the line makes the max NaN.
template <typename A>
__device__ __forceinline__ A nan_max(A a, A b) { return (a != a || a > b) ? a : b; }

// The max the CPU subtracts: a -inf max (an all -inf line) is taken as 0.
template <typename A>
__device__ __forceinline__ A usable_max(A m) { return (isinf(m) && m < 0) ? (A)0 : m; }

enum Fold { SUM, MAX };

// Folds each thread's v over the block (a power of two threads) along a fixed tree; every thread gets the result.
template <Fold F>
__device__ double block_fold(double* buf, double v) {
    const int t = threadIdx.x;
    buf[t] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s) buf[t] = F == SUM ? buf[t] + buf[t + s] : nan_max(buf[t], buf[t + s]);
        __syncthreads();
    }
    const double r = buf[0];
    __syncthreads();  // buf is reused by the next fold
    return r;
}

// The value written at one element, from x, the line's max m (already usable) and the sum s of exp(x - m).
template <typename A>
__device__ __forceinline__ A softmax_value(A x, A m, A inv_or_shift, bool log) {
    return log ? x - inv_or_shift : (A)exp(x - m) * inv_or_shift;
}

template <typename A>
__device__ __forceinline__ A scale_of(A m, double s, bool log) { return log ? (A)((double)m + ::log(s)) : (A)(1.0 / s); }

template <typename T>
__device__ void fwd_rows(const T* __restrict__ x, View xl, long long xs, T* __restrict__ out, View ol, long long os, int n, int log) {
    using A = typename lumen::Acc<T>::type;
    __shared__ double buf[MAX_THREADS];
    const long long line = (long long)blockIdx.y * gridDim.x + blockIdx.x;
    const long long xb = at(xl, line), ob = at(ol, line);
    A m = -INFINITY;
    for (int i = threadIdx.x; i < n; i += blockDim.x) m = nan_max(m, lumen::to_acc(x[xb + i * xs]));
    m = usable_max((A)block_fold<MAX>(buf, (double)m));
    double s = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += (double)(A)exp(lumen::to_acc(x[xb + i * xs]) - m);
    s = block_fold<SUM>(buf, s);
    const A k = scale_of(m, s, log != 0);
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        out[ob + i * os] = lumen::from_acc<T>((double)softmax_value(lumen::to_acc(x[xb + i * xs]), m, k, log != 0));
    }
}

template <typename T>
__device__ void fwd_cols(const T* __restrict__ x, View xl, long long xs, T* __restrict__ out, View ol, long long os, int n, int log) {
    using A = typename lumen::Acc<T>::type;
    LUMEN_GRID_STRIDE(line, xl.numel) {
        const long long xb = at(xl, line), ob = at(ol, line);
        A m = -INFINITY;
        for (int i = 0; i < n; i++) m = nan_max(m, lumen::to_acc(x[xb + i * xs]));
        m = usable_max(m);
        double s = 0;
        for (int i = 0; i < n; i++) s += (double)(A)exp(lumen::to_acc(x[xb + i * xs]) - m);
        const A k = scale_of(m, s, log != 0);
        for (int i = 0; i < n; i++) out[ob + i * os] = lumen::from_acc<T>((double)softmax_value(lumen::to_acc(x[xb + i * xs]), m, k, log != 0));
    }
}

// Backward: softmax gi = y (g - sum(g y)); log_softmax gi = g - exp(y) sum(g).
template <typename A>
__device__ __forceinline__ double bwd_term(A y, A g, bool log) { return log ? (double)g : (double)g * (double)y; }

template <typename A>
__device__ __forceinline__ A bwd_value(A y, A g, A s, bool log) { return log ? g - (A)exp(y) * s : y * (g - s); }

template <typename T>
__device__ void bwd_rows(const T* __restrict__ y, View yl, long long ys, const T* __restrict__ g, View gl, long long gs,
                         T* __restrict__ gi, View il, long long is, int n, int log) {
    using A = typename lumen::Acc<T>::type;
    __shared__ double buf[MAX_THREADS];
    const long long line = (long long)blockIdx.y * gridDim.x + blockIdx.x;
    const long long yb = at(yl, line), gb = at(gl, line), ib = at(il, line);
    double s = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += bwd_term(lumen::to_acc(y[yb + i * ys]), lumen::to_acc(g[gb + i * gs]), log != 0);
    const A sa = (A)block_fold<SUM>(buf, s);
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        gi[ib + i * is] = lumen::from_acc<T>((double)bwd_value(lumen::to_acc(y[yb + i * ys]), lumen::to_acc(g[gb + i * gs]), sa, log != 0));
    }
}

template <typename T>
__device__ void bwd_cols(const T* __restrict__ y, View yl, long long ys, const T* __restrict__ g, View gl, long long gs,
                         T* __restrict__ gi, View il, long long is, int n, int log) {
    using A = typename lumen::Acc<T>::type;
    LUMEN_GRID_STRIDE(line, yl.numel) {
        const long long yb = at(yl, line), gb = at(gl, line), ib = at(il, line);
        double s = 0;
        for (int i = 0; i < n; i++) s += bwd_term(lumen::to_acc(y[yb + i * ys]), lumen::to_acc(g[gb + i * gs]), log != 0);
        const A sa = (A)s;
        for (int i = 0; i < n; i++) {
            gi[ib + i * is] = lumen::from_acc<T>((double)bwd_value(lumen::to_acc(y[yb + i * ys]), lumen::to_acc(g[gb + i * gs]), sa, log != 0));
        }
    }
}

}  // namespace lumen_softmax

#define LUMEN_SOFTMAX_KERNELS(T, t)                                                                                                 \
    extern "C" __global__ void softmax_fwd_rows_##t(const T* x, lumen::View xl, long long xs, T* out, lumen::View ol, long long os, \
                                                    int n, int log) {                                                               \
        lumen_softmax::fwd_rows<T>(x, xl, xs, out, ol, os, n, log);                                                                 \
    }                                                                                                                               \
    extern "C" __global__ void softmax_fwd_cols_##t(const T* x, lumen::View xl, long long xs, T* out, lumen::View ol, long long os, \
                                                    int n, int log) {                                                               \
        lumen_softmax::fwd_cols<T>(x, xl, xs, out, ol, os, n, log);                                                                 \
    }                                                                                                                               \
    extern "C" __global__ void softmax_bwd_rows_##t(const T* y, lumen::View yl, long long ys, const T* g, lumen::View gl,           \
                                                    long long gs, T* gi, lumen::View il, long long is, int n, int log) {            \
        lumen_softmax::bwd_rows<T>(y, yl, ys, g, gl, gs, gi, il, is, n, log);                                                       \
    }                                                                                                                               \
    extern "C" __global__ void softmax_bwd_cols_##t(const T* y, lumen::View yl, long long ys, const T* g, lumen::View gl,           \
                                                    long long gs, T* gi, lumen::View il, long long is, int n, int log) {            \
        lumen_softmax::bwd_cols<T>(y, yl, ys, g, gl, gs, gi, il, is, n, log);                                                       \
    }
LUMEN_FOR_FLOAT_TYPES(LUMEN_SOFTMAX_KERNELS)
