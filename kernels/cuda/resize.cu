// Interpolation of [N, C, H, W] images (ResizeKernels): nearest, bilinear and bicubic (A = -0.75,
// border taps clamped), forward and backward, with PyTorch's source-index formulas exactly as
// CpuResize computes them: for F32 the scale and the source coordinate are rounded to float,
// every other dtype keeps them in double; sums are in double and stored once.
//
// Each axis is separable: output position o reads a few source taps (idx, w). The forward is
// one thread per output element. The backward is a gather, one thread per input element, so it
// needs no atomics and is deterministic: the taps' lowest and highest indices never decrease
// with o, so the outputs that touch input i form one range, found by bisection over the same
// tap function, and the thread sums those outputs' gradients times the weights of the taps that
// land on i.
#include "lumen_tensor.cuh"

namespace lumen_resize {

enum Mode { NEAREST = 0, BILINEAR = 1, BICUBIC = 2 };   // ResizeKernels.Mode ordinals

constexpr double CUBIC_A = -0.75;

#ifdef LUMEN_CUDA_EMU
// g++ for x86-64 without -mfma never contracts, so plain operators round each step.
__device__ __forceinline__ double dmul(double a, double b) { return a * b; }
__device__ __forceinline__ double dadd(double a, double b) { return a + b; }
#else
// No FMA contraction: the coordinates must round as the CPU's do, or a tap can move by one.
__device__ __forceinline__ double dmul(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ double dadd(double a, double b) { return __dadd_rn(a, b); }
#endif

struct Taps {
    int n;
    int idx[4];
    double w[4];
};

__device__ __forceinline__ double round_if(double v, bool f32) { return f32 ? (double)(float)v : v; }

__device__ __forceinline__ double scale_of(int in, int out, bool alignCorners, bool f32) {
    const double s = alignCorners ? (out > 1 ? (in - 1) / (double)(out - 1) : 0.0) : in / (double)out;
    return round_if(s, f32);
}

__device__ __forceinline__ double source_of(double scale, int o, bool alignCorners, bool f32) {
    const double s = alignCorners ? dmul(scale, (double)o) : dadd(dmul(scale, dadd((double)o, 0.5)), -0.5);
    return round_if(s, f32);
}

// Keys' cubic convolution for |x| <= 1 and for 1 < |x| < 2, in CpuResize's operation order.
__device__ __forceinline__ double cubic1(double x) {
    return dadd(dmul(dmul(dadd(dmul(CUBIC_A + 2, x), -(CUBIC_A + 3)), x), x), 1.0);
}
__device__ __forceinline__ double cubic2(double x) {
    return dadd(dmul(dadd(dmul(dadd(dmul(CUBIC_A, x), -5 * CUBIC_A), x), 8 * CUBIC_A), x), -4 * CUBIC_A);
}

// The taps of output position o on an axis of in source and out output positions (CpuResize.taps).
__device__ Taps taps(int mode, int in, int out, bool alignCorners, bool f32, int o) {
    Taps t;
    if (mode == NEAREST) {
        const float scale = (float)in / (float)out;
        t.n = 1;
        t.idx[0] = out == in ? o : min((int)floorf(__fmul_rn((float)o, scale)), in - 1);
        t.w[0] = 1;
        return t;
    }
    const double scale = scale_of(in, out, alignCorners, f32);
    if (mode == BILINEAR) {
        t.n = 2;
        if (in == out) {
            t.idx[0] = t.idx[1] = o;
            t.w[0] = 1;
            t.w[1] = 0;
            return t;
        }
        double src = source_of(scale, o, alignCorners, f32);
        if (src < 0) src = 0;
        const int i0 = min((int)src, in - 1);
        const double l1 = round_if(fmin(fmax(src - i0, 0.0), 1.0), f32);
        t.idx[0] = i0;
        t.idx[1] = i0 < in - 1 ? i0 + 1 : i0;
        t.w[0] = 1 - l1;
        t.w[1] = l1;
        return t;
    }
    const double src = source_of(scale, o, alignCorners, f32);
    const int i = (int)floor(src);
    const double f = round_if(src - i, f32);
    t.n = 4;
    t.w[0] = cubic2(f + 1);
    t.w[1] = cubic1(f);
    t.w[2] = cubic1(1 - f);
    t.w[3] = cubic2(2 - f);
    for (int k = 0; k < 4; k++) t.idx[k] = min(max(i - 1 + k, 0), in - 1);
    return t;
}

// The sum of the weights with which output o reads source index i (0 when none of its taps does).
__device__ __forceinline__ double weight_at(const Taps& t, int i) {
    double w = 0;
    for (int k = 0; k < t.n; k++)
        if (t.idx[k] == i) w += t.w[k];
    return w;
}

// The outputs [lo, hi) of an axis whose taps reach source index i: the taps' first index and last
// index are non-decreasing in o, so bisect for the first o whose last tap is >= i and the first
// o whose first tap is > i.
__device__ void reach(int mode, int in, int out, bool alignCorners, bool f32, int i, int& lo, int& hi) {
    int a = 0, b = out;
    while (a < b) {
        const int m = (a + b) >> 1;
        const Taps t = taps(mode, in, out, alignCorners, f32, m);
        if (t.idx[t.n - 1] >= i) b = m; else a = m + 1;
    }
    lo = a;
    b = out;
    while (a < b) {
        const int m = (a + b) >> 1;
        const Taps t = taps(mode, in, out, alignCorners, f32, m);
        if (t.idx[0] > i) b = m; else a = m + 1;
    }
    hi = a;
}

// Strides of a 4-D tensor, in elements.
struct Strides4 {
    long long n, c, h, w;
};

// F32 rounds its coordinates to float (CpuResize's f32 flag); every other dtype keeps double.
template <typename T> struct FloatCoords { static constexpr bool value = false; };
template <> struct FloatCoords<float> { static constexpr bool value = true; };

template <typename T>
__device__ void forward(const T* __restrict__ x, Strides4 xs, T* __restrict__ out, Strides4 os, int channels, int inH, int inW,
                        int outH, int outW, long long total, int mode, int alignCorners) {
    const bool f32 = FloatCoords<T>::value;
    LUMEN_GRID_STRIDE(e, total) {
        const int ox = (int)(e % outW);
        const int oy = (int)((e / outW) % outH);
        const long long plane = e / ((long long)outW * outH);
        const long long n = plane / channels, c = plane % channels;
        const Taps ty = taps(mode, inH, outH, alignCorners != 0, f32, oy);
        const Taps tx = taps(mode, inW, outW, alignCorners != 0, f32, ox);
        const T* xb = x + n * xs.n + c * xs.c;
        double acc = 0;
        for (int i = 0; i < ty.n; i++) {
            const T* row = xb + (long long)ty.idx[i] * xs.h;
            double r = 0;
            for (int j = 0; j < tx.n; j++) r += tx.w[j] * (double)lumen::to_acc(row[(long long)tx.idx[j] * xs.w]);
            acc += ty.w[i] * r;
        }
        out[n * os.n + c * os.c + (long long)oy * os.h + (long long)ox * os.w] = lumen::from_acc<T>(acc);
    }
}

template <typename T>
__device__ void backward(const T* __restrict__ gradOut, Strides4 gs, T* __restrict__ gradX, Strides4 xs, int channels, int inH,
                         int inW, int outH, int outW, long long total, int mode, int alignCorners) {
    const bool f32 = FloatCoords<T>::value;
    const bool ac = alignCorners != 0;
    LUMEN_GRID_STRIDE(e, total) {
        const int ix = (int)(e % inW);
        const int iy = (int)((e / inW) % inH);
        const long long plane = e / ((long long)inW * inH);
        const long long n = plane / channels, c = plane % channels;
        int y0, y1, x0, x1;
        reach(mode, inH, outH, ac, f32, iy, y0, y1);
        reach(mode, inW, outW, ac, f32, ix, x0, x1);
        const T* gb = gradOut + n * gs.n + c * gs.c;
        double acc = 0;
        for (int y = y0; y < y1; y++) {
            const double wy = weight_at(taps(mode, inH, outH, ac, f32, y), iy);
            const T* row = gb + (long long)y * gs.h;
            double r = 0;
            for (int xo = x0; xo < x1; xo++) r += weight_at(taps(mode, inW, outW, ac, f32, xo), ix) * (double)lumen::to_acc(row[(long long)xo * gs.w]);
            acc += wy * r;
        }
        gradX[n * xs.n + c * xs.c + (long long)iy * xs.h + (long long)ix * xs.w] = lumen::from_acc<T>(acc);
    }
}

}  // namespace lumen_resize

// Strides come as four longs per tensor (n, c, h, w), in elements; x and out point at element 0.
#define LUMEN_RESIZE_KERNELS(T, t)                                                                                             \
    extern "C" __global__ void resize_fwd_##t(const T* x, long long xn, long long xc, long long xh, long long xw, T* out,      \
                                              long long on, long long oc, long long oh, long long ow, int channels, int inH,   \
                                              int inW, int outH, int outW, long long total, int mode, int alignCorners) {      \
        lumen_resize::forward<T>(x, {xn, xc, xh, xw}, out, {on, oc, oh, ow}, channels, inH, inW, outH, outW, total, mode,      \
                                 alignCorners);                                                                                \
    }                                                                                                                          \
    extern "C" __global__ void resize_bwd_##t(const T* gradOut, long long gn, long long gc, long long gh, long long gw,       \
                                              T* gradX, long long xn, long long xc, long long xh, long long xw, int channels,  \
                                              int inH, int inW, int outH, int outW, long long total, int mode,                 \
                                              int alignCorners) {                                                              \
        lumen_resize::backward<T>(gradOut, {gn, gc, gh, gw}, gradX, {xn, xc, xh, xw}, channels, inH, inW, outH, outW, total,   \
                                  mode, alignCorners);                                                                         \
    }
LUMEN_FOR_FLOAT_TYPES(LUMEN_RESIZE_KERNELS)
