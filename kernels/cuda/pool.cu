// Max, average and adaptive average pooling over NCHW planes, forward and backward (PoolKernels),
// with CpuPool's semantics. Forward kernels own one output each; backward kernels own one input
// pixel each and gather from the outputs whose windows may hold it, in output order, so no two
// threads write one element and the sums are the same bits run to run.
#include "lumen_tensor.cuh"

namespace lumen_pool {

template <typename T> using AccT = typename lumen::Acc<T>::type;

template <typename T> __device__ __forceinline__ T narrow(float v) { return lumen::from_accf<T>(v); }
template <typename T> __device__ __forceinline__ T narrow(double v) { return lumen::from_acc<T>(v); }

struct Window {
    int kh, kw, sh, sw, ph, pw, dh, dw;
};

// The first output whose window (start o*s - p, span) reaches position i: ceil((i + p - span + 1) / s), at least 0.
__device__ __forceinline__ int first_window(int i, int p, int span, int s) {
    const int a = i + p - span + 1;
    return a <= 0 ? 0 : (a + s - 1) / s;
}

// The last output whose window starts at or before position i, at most out - 1.
__device__ __forceinline__ int last_window(int i, int p, int s, int out) { return min((i + p) / s, out - 1); }

// out = max over the window, padding never wins, NaN wins; idx = h*W + w of the max in its plane
// (the first window element when none beats -inf, as CpuPool).
// `shape` is the output's [planes, oh, ow] with its multiply-shift divisors (CudaPool), so an
// output's coordinates cost two multiply-highs; the 3x3 reads overlap between neighbours and hit
// L1, so the kernel is bound by DRAM: the input once, the values and I64 indices written once.
template <typename T, typename I>
__device__ void max_fwd_as(const T* __restrict__ x, const lumen::View& shape, int h, int w, int oh, int ow, const Window& k,
                           T* __restrict__ out, long long* __restrict__ idx) {
    using A = AccT<T>;
    LUMEN_GRID_STRIDE(o, shape.numel) {
        const I rows = lumen::quotient(shape, 2, (I)o), plane = lumen::quotient(shape, 1, rows);
        const int c = (int)((I)o - rows * (I)ow), r = (int)(rows - plane * (I)oh);
        const T* xp = x + (long long)plane * h * w;
        int h0 = r * k.sh - k.ph, w0 = c * k.sw - k.pw;
        const int h1 = min(h0 + (k.kh - 1) * k.dh + 1, h), w1 = min(w0 + (k.kw - 1) * k.dw + 1, w);
        while (h0 < 0) h0 += k.dh;
        while (w0 < 0) w0 += k.dw;
        long long best = (long long)h0 * w + w0;
        A mx = -INFINITY;
        for (int ih = h0; ih < h1; ih += k.dh) {
            for (int iw = w0; iw < w1; iw += k.dw) {
                const A v = lumen::to_acc(xp[ih * w + iw]);
                if (v > mx || v != v) {
                    mx = v;
                    best = (long long)ih * w + iw;
                }
            }
        }
        out[o] = narrow<T>(mx);
        idx[o] = best;
    }
}

template <typename T>
__device__ void max_fwd(const T* __restrict__ x, const lumen::View& shape, int h, int w, int oh, int ow, const Window& k,
                        T* __restrict__ out, long long* __restrict__ idx) {
    if (lumen::fits32(shape.numel)) max_fwd_as<T, unsigned>(x, shape, h, w, oh, ow, k, out, idx);
    else max_fwd_as<T, unsigned long long>(x, shape, h, w, oh, ow, k, out, idx);
}

// gin[p] = sum of g[o] over the outputs o of p's plane whose index is p; only outputs whose
// window spans p can name it.
template <typename T>
__device__ void max_bwd(const T* __restrict__ g, const long long* __restrict__ idx, long long total, int h, int w, int oh,
                        int ow, Window k, T* __restrict__ gin) {
    using A = AccT<T>;
    LUMEN_GRID_STRIDE(p, total) {
        const long long plane = p / ((long long)h * w);
        const int at = (int)(p - plane * h * w), ih = at / w, iw = at - ih * w;
        const long long ob = plane * oh * ow;
        const int r0 = first_window(ih, k.ph, (k.kh - 1) * k.dh + 1, k.sh), r1 = last_window(ih, k.ph, k.sh, oh);
        const int c0 = first_window(iw, k.pw, (k.kw - 1) * k.dw + 1, k.sw), c1 = last_window(iw, k.pw, k.sw, ow);
        A sum = 0;
        for (int r = r0; r <= r1; r++) {
            for (int c = c0; c <= c1; c++) {
                const long long o = ob + (long long)r * ow + c;
                if (idx[o] == at) sum += lumen::to_acc(g[o]);
            }
        }
        gin[p] = narrow<T>(sum);
    }
}

// torch's average window along one dim: [lo, hi) before clamping (hi clamped to in + pad), and
// the clamped [clo, chi).
struct Span {
    int lo, hi, clo, chi;
};

__device__ __forceinline__ Span avg_span(int o, int k, int s, int p, int in) {
    Span sp;
    sp.lo = o * s - p;
    sp.hi = min(sp.lo + k, in + p);
    sp.clo = max(sp.lo, 0);
    sp.chi = min(sp.hi, in);
    return sp;
}

template <typename A>
__device__ __forceinline__ A avg_divisor(Span a, Span b, int include_pad) {
    return include_pad ? (A)((double)(a.hi - a.lo) * (b.hi - b.lo)) : (A)((double)(a.chi - a.clo) * (b.chi - b.clo));
}

template <typename T>
__device__ void avg_fwd(const T* __restrict__ x, long long total, int h, int w, int oh, int ow, Window k, int include_pad,
                        T* __restrict__ out) {
    using A = AccT<T>;
    LUMEN_GRID_STRIDE(o, total) {
        const long long plane = o / ((long long)oh * ow);
        const int q = (int)(o - plane * oh * ow), r = q / ow, c = q - r * ow;
        const T* xp = x + plane * h * w;
        const Span sr = avg_span(r, k.kh, k.sh, k.ph, h), sc = avg_span(c, k.kw, k.sw, k.pw, w);
        A v = 0;
        if (sr.clo < sr.chi && sc.clo < sc.chi) {
            A sum = 0;
            for (int ih = sr.clo; ih < sr.chi; ih++) {
                for (int iw = sc.clo; iw < sc.chi; iw++) sum += lumen::to_acc(xp[ih * w + iw]);
            }
            v = sum / avg_divisor<A>(sr, sc, include_pad);
        }
        out[o] = narrow<T>(v);
    }
}

template <typename T>
__device__ void avg_bwd(const T* __restrict__ g, long long total, int h, int w, int oh, int ow, Window k, int include_pad,
                        T* __restrict__ gin) {
    using A = AccT<T>;
    LUMEN_GRID_STRIDE(p, total) {
        const long long plane = p / ((long long)h * w);
        const int at = (int)(p - plane * h * w), ih = at / w, iw = at - ih * w;
        const T* gp = g + plane * oh * ow;
        const int r0 = first_window(ih, k.ph, k.kh, k.sh), r1 = last_window(ih, k.ph, k.sh, oh);
        const int c0 = first_window(iw, k.pw, k.kw, k.sw), c1 = last_window(iw, k.pw, k.sw, ow);
        A sum = 0;
        for (int r = r0; r <= r1; r++) {
            const Span sr = avg_span(r, k.kh, k.sh, k.ph, h);
            if (ih < sr.clo || ih >= sr.chi) continue;
            for (int c = c0; c <= c1; c++) {
                const Span sc = avg_span(c, k.kw, k.sw, k.pw, w);
                if (iw < sc.clo || iw >= sc.chi) continue;
                sum += lumen::to_acc(gp[r * ow + c]) / avg_divisor<A>(sr, sc, include_pad);
            }
        }
        gin[p] = narrow<T>(sum);
    }
}

// Adaptive windows: output o of out covers [floor(o*in/out), ceil((o+1)*in/out)).
__device__ __forceinline__ int adaptive_start(int o, int in, int out) { return (int)((long long)o * in / out); }
__device__ __forceinline__ int adaptive_end(int o, int in, int out) { return (int)(((long long)(o + 1) * in + out - 1) / out); }

template <typename T>
__device__ void adaptive_fwd(const T* __restrict__ x, long long total, int h, int w, int oh, int ow, T* __restrict__ out) {
    using A = AccT<T>;
    LUMEN_GRID_STRIDE(o, total) {
        const long long plane = o / ((long long)oh * ow);
        const int q = (int)(o - plane * oh * ow), r = q / ow, c = q - r * ow;
        const T* xp = x + plane * h * w;
        const int h0 = adaptive_start(r, h, oh), h1 = adaptive_end(r, h, oh);
        const int w0 = adaptive_start(c, w, ow), w1 = adaptive_end(c, w, ow);
        A sum = 0;
        for (int ih = h0; ih < h1; ih++) {
            for (int iw = w0; iw < w1; iw++) sum += lumen::to_acc(xp[ih * w + iw]);
        }
        out[o] = narrow<T>(sum / (A)((double)(h1 - h0) * (w1 - w0)));
    }
}

// The outputs whose windows hold input i start at floor(i*out/in) (earlier ones end at or before i).
template <typename T>
__device__ void adaptive_bwd(const T* __restrict__ g, long long total, int h, int w, int oh, int ow, T* __restrict__ gin) {
    using A = AccT<T>;
    LUMEN_GRID_STRIDE(p, total) {
        const long long plane = p / ((long long)h * w);
        const int at = (int)(p - plane * h * w), ih = at / w, iw = at - ih * w;
        const T* gp = g + plane * oh * ow;
        A sum = 0;
        for (int r = (int)((long long)ih * oh / h); r < oh && adaptive_start(r, h, oh) <= ih; r++) {
            const int h0 = adaptive_start(r, h, oh), h1 = adaptive_end(r, h, oh);
            if (ih >= h1) continue;
            for (int c = (int)((long long)iw * ow / w); c < ow && adaptive_start(c, w, ow) <= iw; c++) {
                const int w0 = adaptive_start(c, w, ow), w1 = adaptive_end(c, w, ow);
                if (iw >= w1) continue;
                sum += lumen::to_acc(gp[r * ow + c]) / (A)((double)(h1 - h0) * (w1 - w0));
            }
        }
        gin[p] = narrow<T>(sum);
    }
}

}  // namespace lumen_pool

#define LUMEN_POOL_WINDOW_PARAMS int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw
#define LUMEN_POOL_WINDOW lumen_pool::Window{kh, kw, sh, sw, ph, pw, dh, dw}

#define LUMEN_POOL_KERNELS(T, t)                                                                                         \
    extern "C" __global__ void max_pool2d_fwd_##t(const T* x, const __grid_constant__ lumen::View shape, int h, int w,  \
                                                  int oh, int ow, LUMEN_POOL_WINDOW_PARAMS, T* out, long long* idx) {    \
        lumen_pool::max_fwd<T>(x, shape, h, w, oh, ow, LUMEN_POOL_WINDOW, out, idx);                                     \
    }                                                                                                                   \
    extern "C" __global__ void max_pool2d_bwd_##t(const T* g, const long long* idx, long long total, int h, int w,      \
                                                  int oh, int ow, LUMEN_POOL_WINDOW_PARAMS, T* gin) {                    \
        lumen_pool::max_bwd<T>(g, idx, total, h, w, oh, ow, LUMEN_POOL_WINDOW, gin);                                     \
    }                                                                                                                   \
    extern "C" __global__ void avg_pool2d_fwd_##t(const T* x, long long total, int h, int w, int oh, int ow,            \
                                                  LUMEN_POOL_WINDOW_PARAMS, int include_pad, T* out) {                   \
        lumen_pool::avg_fwd<T>(x, total, h, w, oh, ow, LUMEN_POOL_WINDOW, include_pad, out);                            \
    }                                                                                                                   \
    extern "C" __global__ void avg_pool2d_bwd_##t(const T* g, long long total, int h, int w, int oh, int ow,            \
                                                  LUMEN_POOL_WINDOW_PARAMS, int include_pad, T* gin) {                   \
        lumen_pool::avg_bwd<T>(g, total, h, w, oh, ow, LUMEN_POOL_WINDOW, include_pad, gin);                            \
    }                                                                                                                   \
    extern "C" __global__ void adaptive_avg_pool2d_fwd_##t(const T* x, long long total, int h, int w, int oh, int ow,  \
                                                           T* out) {                                                    \
        lumen_pool::adaptive_fwd<T>(x, total, h, w, oh, ow, out);                                                       \
    }                                                                                                                   \
    extern "C" __global__ void adaptive_avg_pool2d_bwd_##t(const T* g, long long total, int h, int w, int oh, int ow,  \
                                                           T* gin) {                                                    \
        lumen_pool::adaptive_bwd<T>(g, total, h, w, oh, ow, gin);                                                       \
    }
LUMEN_FOR_FLOAT_TYPES(LUMEN_POOL_KERNELS)
