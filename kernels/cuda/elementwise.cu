// Element-wise maps over broadcast, strided views (ElementwiseKernels): binary arithmetic and its
// partial derivatives, the unary math and activation functions and their derivatives,
// comparisons, selection, affine maps and in-place updates. Every entry point takes the op as an
// int (the Java enum's ordinal) and runs one grid-stride pass; for the float types the op switch
// sits outside the element loop, so each op's loop is compiled with its math inlined.
//
// Semantics follow the CPU backend (CpuElementwise, UnaryMath): Java's Math.max/min (NaN wins,
// -0 < +0), Math.pow's special cases, integer results cast as Java casts (saturating, NaN -> 0),
// integer DIV as Math.floorDiv. F32 and half types compute in float, everything else in double.
#include "lumen_tensor.cuh"

namespace lumen_ew {

// The ordinals of ElementwiseKernels.Binary, .Unary and .Compare.
enum Binary { ADD, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM, BINARY_OPS };
enum Unary {
    NEG, EXP, LOG, SQRT, RSQRT, ABS, SQUARE, RECIPROCAL, UPOW, CLAMP,
    RELU, GELU, GELU_TANH, SILU, SIGMOID, TANH, SOFTPLUS, LEAKY_RELU, HARD_SIGMOID, HARD_SWISH, UNARY_OPS
};
enum Compare { EQ, NE, LT, LE, GT, GE, COMPARE_OPS };

// The type an element computes in. Unlike lumen::Acc, bool computes in double: the CPU does,
// and a float result can round to 0 where the double one does not (an affine map to a mask).
template <typename T> struct Math { using type = double; };
template <> struct Math<float> { using type = float; };
template <> struct Math<__half> { using type = float; };
template <> struct Math<__nv_bfloat16> { using type = float; };

template <typename T> struct IsInteger { static constexpr bool value = false; };
template <> struct IsInteger<int> { static constexpr bool value = true; };
template <> struct IsInteger<long long> { static constexpr bool value = true; };
template <> struct IsInteger<unsigned char> { static constexpr bool value = true; };

template <typename T> __device__ __forceinline__ typename Math<T>::type load(const T* p, long long i) {
    return (typename Math<T>::type)lumen::to_acc(p[i]);
}

// Java's (int) and (long) casts of a double: NaN -> 0, out of range -> the nearest bound.
template <typename I> __device__ __forceinline__ I java_cast(double v, I lo, I hi) {
    if (v != v) return 0;
    if (v <= (double)lo) return lo;
    if (v >= (double)hi) return hi;
    return (I)v;
}

__device__ __forceinline__ void put(float* p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ void put(double* p, long long i, double v) { p[i] = v; }
__device__ __forceinline__ void put(__half* p, long long i, float v) { p[i] = __float2half_rn(v); }
__device__ __forceinline__ void put(__nv_bfloat16* p, long long i, float v) { p[i] = __float2bfloat16_rn(v); }
__device__ __forceinline__ void put(int* p, long long i, double v) { p[i] = java_cast<int>(v, -2147483647 - 1, 2147483647); }
__device__ __forceinline__ void put(long long* p, long long i, double v) {
    p[i] = java_cast<long long>(v, -9223372036854775807LL - 1, 9223372036854775807LL);
}
__device__ __forceinline__ void put(unsigned char* p, long long i, double v) { p[i] = v != 0.0 ? 1 : 0; }

// Overloads, so one template computes in float or double without a round trip.
__device__ __forceinline__ float m_exp(float x) { return expf(x); }
__device__ __forceinline__ double m_exp(double x) { return exp(x); }
__device__ __forceinline__ float m_log(float x) { return logf(x); }
__device__ __forceinline__ double m_log(double x) { return log(x); }
__device__ __forceinline__ float m_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ double m_log1p(double x) { return log1p(x); }
__device__ __forceinline__ float m_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double m_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float m_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double m_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float m_erf(float x) { return erff(x); }
__device__ __forceinline__ double m_erf(double x) { return erf(x); }
__device__ __forceinline__ float m_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double m_abs(double x) { return fabs(x); }
__device__ __forceinline__ float m_pow(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double m_pow(double x, double y) { return pow(x, y); }
__device__ __forceinline__ bool sign_bit(float x) { return __float_as_int(x) < 0; }
__device__ __forceinline__ bool sign_bit(double x) { return __double_as_longlong(x) < 0; }

// Math.max and Math.min: NaN if either is NaN, and -0 below +0 (fmax/fmin drop a NaN).
template <typename C> __device__ __forceinline__ C java_max(C a, C b) {
    if (a != a) return a;
    if (a == 0 && b == 0 && sign_bit(a)) return b;
    return a >= b ? a : b;
}
template <typename C> __device__ __forceinline__ C java_min(C a, C b) {
    if (a != a) return a;
    if (a == 0 && b == 0 && sign_bit(b)) return b;
    return a <= b ? a : b;
}

// Math.pow: as C's pow except that a NaN exponent, and +-1 to an infinite power, give NaN (C says 1).
template <typename C> __device__ __forceinline__ C java_pow(C a, C b) {
    if (b != b || (m_abs(a) == 1 && m_abs(b) == (C)INFINITY)) return (C)NAN;
    return m_pow(a, b);
}

// Math.signum: +-1, or x itself at +-0 and NaN.
template <typename C> __device__ __forceinline__ C signum(C x) { return x > 0 ? (C)1 : x < 0 ? (C)-1 : x; }

// Math.floorDiv of the operands cast to long. Java throws on a zero divisor; a kernel cannot,
// and writes 0 there.
__device__ __forceinline__ double floor_div(double a, double b) {
    const long long lo = -9223372036854775807LL - 1, hi = 9223372036854775807LL;
    const long long x = java_cast<long long>(a, lo, hi), y = java_cast<long long>(b, lo, hi);
    if (y == 0) return 0;
    if (y == -1) return (double)(long long)(0ULL - (unsigned long long)x);   // MIN / -1 wraps, as in Java
    long long q = x / y;
    if ((x % y != 0) && ((x < 0) != (y < 0))) q--;
    return (double)q;
}

template <bool INTEGER, typename C> __device__ __forceinline__ C binary_value(int op, C a, C b) {
    switch (op) {
        case ADD: return a + b;
        case SUB: return a - b;
        case MUL: return a * b;
        case DIV: if (INTEGER) return (C)floor_div(a, b); return a / b;
        case POW: return java_pow(a, b);
        case MAXIMUM: return java_max(a, b);
        default: return java_min(a, b);
    }
}

// d(a op b)/da and d(a op b)/db; ties of MAXIMUM and MINIMUM split the gradient in half.
template <typename C> __device__ __forceinline__ C partial_a(int op, C a, C b) {
    switch (op) {
        case ADD: case SUB: return 1;
        case MUL: return b;
        case DIV: return 1 / b;
        case POW: return b == 0 ? (C)0 : b * java_pow(a, b - 1);
        case MAXIMUM: return a > b ? (C)1 : a == b ? (C)0.5 : (C)0;
        default: return a < b ? (C)1 : a == b ? (C)0.5 : (C)0;
    }
}
template <typename C> __device__ __forceinline__ C partial_b(int op, C a, C b) {
    switch (op) {
        case ADD: return 1;
        case SUB: return -1;
        case MUL: return a;
        case DIV: return -a / (b * b);
        case POW: return a == 0 && b >= 0 ? (C)0 : java_pow(a, b) * m_log(a);
        case MAXIMUM: return b > a ? (C)1 : a == b ? (C)0.5 : (C)0;
        default: return b < a ? (C)1 : a == b ? (C)0.5 : (C)0;
    }
}

constexpr double SQRT1_2 = 0.7071067811865476;
constexpr double INV_SQRT_2PI = 0.3989422804014327;
constexpr double K_BETA = 0.7978845608028654, K_KAPPA = 0.044715;   // GELU's tanh approximation

// x clamped to [lo, hi] where a NaN bound is absent; a NaN x stays NaN (torch.clamp).
template <typename C> __device__ __forceinline__ C clamp(C x, C lo, C hi) {
    if (x != x) return x;
    const C r = lo != lo ? x : java_max(x, lo);
    return hi != hi ? r : java_min(r, hi);
}

// min(max(x + 3, 0), 6): HARD_SIGMOID divides it by 6, HARD_SWISH multiplies it by x first.
template <typename C> __device__ __forceinline__ C hard_ramp(C x) { return java_min(java_max(x + 3, (C)0), (C)6); }

template <typename C> __device__ __forceinline__ C unary_value(int op, C x, C p0, C p1) {
    switch (op) {
        case NEG: return -x;
        case EXP: return m_exp(x);
        case LOG: return m_log(x);
        case SQRT: return m_sqrt(x);
        case RSQRT: return 1 / m_sqrt(x);
        case ABS: return m_abs(x);
        case SQUARE: return x * x;
        case RECIPROCAL: return 1 / x;
        case UPOW: return p0 == 2 ? x * x : java_pow(x, p0);
        case CLAMP: return clamp(x, p0, p1);
        case RELU: return x > 0 || x != x ? x : (C)0;
        case GELU: return (C)0.5 * x * (1 + m_erf(x * (C)SQRT1_2));
        case GELU_TANH: return (C)0.5 * x * (1 + m_tanh((C)K_BETA * (x + (C)K_KAPPA * x * x * x)));
        case SILU: return x / (1 + m_exp(-x));
        case SIGMOID: return 1 / (1 + m_exp(-x));
        case TANH: return m_tanh(x);
        case SOFTPLUS: return x * p0 > p1 ? x : m_log1p(m_exp(x * p0)) / p0;
        case LEAKY_RELU: return x > 0 ? x : x * p0;
        case HARD_SIGMOID: return hard_ramp(x) / 6;
        default: return x * hard_ramp(x) / 6;   // HARD_SWISH
    }
}

template <typename C> __device__ __forceinline__ C unary_derivative(int op, C x, C p0, C p1) {
    switch (op) {
        case NEG: return -1;
        case EXP: return m_exp(x);
        case LOG: return 1 / x;
        case SQRT: return (C)0.5 / m_sqrt(x);
        case RSQRT: return (C)-0.5 / (x * m_sqrt(x));
        case ABS: return signum(x);
        case SQUARE: return 2 * x;
        case RECIPROCAL: return -1 / (x * x);
        case UPOW: return p0 == 0 ? (C)0 : p0 * java_pow(x, p0 - 1);
        case CLAMP: return (p0 != p0 || x >= p0) && (p1 != p1 || x <= p1) ? (C)1 : (C)0;
        case RELU: return x > 0 ? (C)1 : (C)0;
        case GELU: return (C)0.5 * (1 + m_erf(x * (C)SQRT1_2)) + x * (C)INV_SQRT_2PI * m_exp((C)-0.5 * x * x);
        case GELU_TANH: {
            const C t = m_tanh((C)K_BETA * (x + (C)K_KAPPA * x * x * x));
            return (C)0.5 * (1 + t) + (C)0.5 * x * (1 - t * t) * (C)K_BETA * (1 + 3 * (C)K_KAPPA * x * x);
        }
        case SILU: {
            const C s = 1 / (1 + m_exp(-x));
            return s * (1 + x * (1 - s));
        }
        case SIGMOID: {
            const C s = 1 / (1 + m_exp(-x));
            return s * (1 - s);
        }
        case TANH: {
            const C t = m_tanh(x);
            return 1 - t * t;
        }
        case SOFTPLUS: {
            if (x * p0 > p1) return 1;
            const C z = m_exp(x * p0);
            return z / (z + 1);
        }
        case LEAKY_RELU: return x > 0 ? (C)1 : p0;
        case HARD_SIGMOID: return x > -3 && x < 3 ? (C)1 / 6 : (C)0;
        // torch's vectorized CPU kernel: 1 from x >= 3 on (UnaryMath.derivative).
        default: return x < -3 ? (C)0 : x < 3 ? x / 3 + (C)0.5 : (C)1;   // HARD_SWISH
    }
}

template <typename C> __device__ __forceinline__ bool compare_value(int op, C a, C b) {
    switch (op) {
        case EQ: return a == b;
        case NE: return a != b;
        case LT: return a < b;
        case LE: return a <= b;
        case GT: return a > b;
        default: return a >= b;
    }
}

// alpha x + beta and d + alpha s rounded as the CPU rounds them: unfused in F32 and F64 (Java
// never contracts; nvcc would, so the _rn intrinsics keep the multiply and add apart), and the
// F32 accumulation as the CPU's vector fma.
__device__ __forceinline__ float affine_value(float x, double alpha, double beta) {
    return __fadd_rn(__fmul_rn((float)alpha, x), (float)beta);
}
__device__ __forceinline__ double affine_value(double x, double alpha, double beta) {
    return __dadd_rn(__dmul_rn(alpha, x), beta);
}
__device__ __forceinline__ float accumulate(float d, float s, double alpha) { return __fmaf_rn(s, (float)alpha, d); }
__device__ __forceinline__ double accumulate(double d, double s, double alpha) { return __dadd_rn(d, __dmul_rn(alpha, s)); }

// The op as a compile-time constant: the value functions take an int, and after inlining their
// switch folds away, leaving one loop per op with that op's math alone.
template <int K> struct Op {
    __device__ constexpr operator int() const { return K; }
};

// Calls f(Op<op>{}) for the runtime op in [K, N).
template <int N, int K = 0, typename F> __device__ __forceinline__ void with_op(int op, F f) {
    if constexpr (K < N) {
        if (op == K) f(Op<K>{});
        else with_op<N, K + 1>(op, f);
    }
}

// Float types get one loop per op. Integer and bool maps are rare (labels and masks), so they
// share one loop that switches per element, which keeps the fatbin's compile time in bounds.
template <int N, typename T, typename F> __device__ __forceinline__ void dispatch(int op, F f) {
    if constexpr (IsInteger<T>::value) f(op);
    else with_op<N>(op, f);
}

// Splits element i (row-major over shape's sizes, which every view of a layout shares) into
// coordinates, calling add(d, coordinate) per dim; the caller adds coordinate * stride[d] to
// each operand's offset. Divisions run in 32 bits while the index fits; dim 0 needs none.
template <typename F> __device__ __forceinline__ void coordinates(const lumen::View& shape, long long i, F add) {
    for (int d = shape.ndim - 1; d > 0; d--) {
        const long long s = shape.size[d];
        const long long q = i <= 0xffffffffLL ? (long long)((unsigned)i / (unsigned)s) : i / s;
        add(d, i - q * s);
        i = q;
    }
    if (shape.ndim > 0) add(0, i);
}

template <typename T>
__device__ void binary_fwd(int op, const T* a, const lumen::View& av, const T* b, const lumen::View& bv, T* out, const lumen::View& ov) {
    dispatch<BINARY_OPS, T>(op, [&](auto o) {
        LUMEN_GRID_STRIDE(i, ov.numel) {
            long long ia = av.offset, ib = bv.offset, io = ov.offset;
            coordinates(ov, i, [&](int d, long long c) { ia += c * av.stride[d]; ib += c * bv.stride[d]; io += c * ov.stride[d]; });
            put(out, io, binary_value<IsInteger<T>::value>(o, load(a, ia), load(b, ib)));
        }
    });
}

template <typename T>
__device__ void binary_bwd(int op, const T* a, const lumen::View& av, const T* b, const lumen::View& bv, const T* g, const lumen::View& gv,
                           T* ga, const lumen::View& gav, T* gb, const lumen::View& gbv) {
    using C = typename Math<T>::type;
    dispatch<BINARY_OPS, T>(op, [&](auto o) {
        LUMEN_GRID_STRIDE(i, gv.numel) {
            long long ia = av.offset, ib = bv.offset, ig = gv.offset, ja = gav.offset, jb = gbv.offset;
            coordinates(gv, i, [&](int d, long long c) {
                ia += c * av.stride[d]; ib += c * bv.stride[d]; ig += c * gv.stride[d]; ja += c * gav.stride[d]; jb += c * gbv.stride[d];
            });
            const C x = load(a, ia), y = load(b, ib), go = load(g, ig);
            if (ga) put(ga, ja, go * partial_a(o, x, y));
            if (gb) put(gb, jb, go * partial_b(o, x, y));
        }
    });
}

template <typename T>
__device__ void unary_fwd(int op, const T* x, const lumen::View& xv, T* out, const lumen::View& ov, double p0, double p1) {
    using C = typename Math<T>::type;
    const C q0 = (C)p0, q1 = (C)p1;
    dispatch<UNARY_OPS, T>(op, [&](auto o) {
        LUMEN_GRID_STRIDE(i, ov.numel) {
            long long ix = xv.offset, io = ov.offset;
            coordinates(ov, i, [&](int d, long long c) { ix += c * xv.stride[d]; io += c * ov.stride[d]; });
            put(out, io, unary_value(o, load(x, ix), q0, q1));
        }
    });
}

template <typename T>
__device__ void unary_bwd(int op, const T* x, const lumen::View& xv, const T* g, const lumen::View& gv, T* gi, const lumen::View& giv,
                          double p0, double p1) {
    using C = typename Math<T>::type;
    const C q0 = (C)p0, q1 = (C)p1;
    dispatch<UNARY_OPS, T>(op, [&](auto o) {
        LUMEN_GRID_STRIDE(i, giv.numel) {
            long long ix = xv.offset, ig = gv.offset, ii = giv.offset;
            coordinates(giv, i, [&](int d, long long c) { ix += c * xv.stride[d]; ig += c * gv.stride[d]; ii += c * giv.stride[d]; });
            put(gi, ii, load(g, ig) * unary_derivative(o, load(x, ix), q0, q1));
        }
    });
}

// I64 compares exactly, as the CPU's compareLong; every other dtype compares its values.
template <typename T> __device__ __forceinline__ typename Math<T>::type compare_operand(const T* p, long long i) { return load(p, i); }
__device__ __forceinline__ long long compare_operand(const long long* p, long long i) { return p[i]; }

template <typename T>
__device__ void compare_fwd(int op, const T* a, const lumen::View& av, const T* b, const lumen::View& bv, unsigned char* out, const lumen::View& ov) {
    with_op<COMPARE_OPS>(op, [&](auto o) {
        LUMEN_GRID_STRIDE(i, ov.numel) {
            long long ia = av.offset, ib = bv.offset, io = ov.offset;
            coordinates(ov, i, [&](int d, long long c) { ia += c * av.stride[d]; ib += c * bv.stride[d]; io += c * ov.stride[d]; });
            out[io] = compare_value(o, compare_operand(a, ia), compare_operand(b, ib)) ? 1 : 0;
        }
    });
}

// Against a double scalar the element widens to double, as on the CPU (0.1f != 0.1).
template <typename T>
__device__ void compare_scalar_fwd(int op, const T* a, const lumen::View& av, double s, unsigned char* out, const lumen::View& ov) {
    with_op<COMPARE_OPS>(op, [&](auto o) {
        LUMEN_GRID_STRIDE(i, ov.numel) {
            long long ia = av.offset, io = ov.offset;
            coordinates(ov, i, [&](int d, long long c) { ia += c * av.stride[d]; io += c * ov.stride[d]; });
            out[io] = compare_value(o, (double)load(a, ia), s) ? 1 : 0;
        }
    });
}

// Elements are copied as they are stored (NaN payloads included), as the CPU copies bytes.
template <typename T>
__device__ void where_fwd(const unsigned char* c, const lumen::View& cv, const T* a, const lumen::View& av, const T* b, const lumen::View& bv,
                          T* out, const lumen::View& ov) {
    LUMEN_GRID_STRIDE(i, ov.numel) {
        long long ic = cv.offset, ia = av.offset, ib = bv.offset, io = ov.offset;
        coordinates(ov, i, [&](int d, long long k) { ic += k * cv.stride[d]; ia += k * av.stride[d]; ib += k * bv.stride[d]; io += k * ov.stride[d]; });
        out[io] = c[ic] ? a[ia] : b[ib];
    }
}

template <typename T>
__device__ void affine_fwd(const T* x, const lumen::View& xv, T* out, const lumen::View& ov, double alpha, double beta) {
    LUMEN_GRID_STRIDE(i, ov.numel) {
        long long ix = xv.offset, io = ov.offset;
        coordinates(ov, i, [&](int d, long long c) { ix += c * xv.stride[d]; io += c * ov.stride[d]; });
        put(out, io, affine_value(load(x, ix), alpha, beta));
    }
}

template <typename T>
__device__ void add_in_place_fwd(const T* src, const lumen::View& sv, T* dst, const lumen::View& dv, double alpha) {
    LUMEN_GRID_STRIDE(i, dv.numel) {
        long long is = sv.offset, id = dv.offset;
        coordinates(dv, i, [&](int d, long long c) { is += c * sv.stride[d]; id += c * dv.stride[d]; });
        put(dst, id, accumulate(load(dst, id), load(src, is), alpha));
    }
}

}  // namespace lumen_ew

// Views stay in the kernel's parameter space (__grid_constant__): the element loops take their
// address, which would otherwise copy every view to a local-memory stack frame.
#define EW_VIEW const __grid_constant__ lumen::View
#define LUMEN_EW_KERNELS(T, t) \
    extern "C" __global__ void binary_fwd_##t(int op, const T* a, EW_VIEW av, const T* b, EW_VIEW bv, T* out, EW_VIEW ov) { \
        lumen_ew::binary_fwd<T>(op, a, av, b, bv, out, ov); } \
    extern "C" __global__ void binary_bwd_##t(int op, const T* a, EW_VIEW av, const T* b, EW_VIEW bv, const T* g, EW_VIEW gv, \
                                              T* ga, EW_VIEW gav, T* gb, EW_VIEW gbv) { \
        lumen_ew::binary_bwd<T>(op, a, av, b, bv, g, gv, ga, gav, gb, gbv); } \
    extern "C" __global__ void unary_fwd_##t(int op, const T* x, EW_VIEW xv, T* out, EW_VIEW ov, double p0, double p1) { \
        lumen_ew::unary_fwd<T>(op, x, xv, out, ov, p0, p1); } \
    extern "C" __global__ void unary_bwd_##t(int op, const T* x, EW_VIEW xv, const T* g, EW_VIEW gv, T* gi, EW_VIEW giv, \
                                             double p0, double p1) { \
        lumen_ew::unary_bwd<T>(op, x, xv, g, gv, gi, giv, p0, p1); } \
    extern "C" __global__ void compare_fwd_##t(int op, const T* a, EW_VIEW av, const T* b, EW_VIEW bv, unsigned char* out, EW_VIEW ov) { \
        lumen_ew::compare_fwd<T>(op, a, av, b, bv, out, ov); } \
    extern "C" __global__ void compare_scalar_fwd_##t(int op, const T* a, EW_VIEW av, double s, unsigned char* out, EW_VIEW ov) { \
        lumen_ew::compare_scalar_fwd<T>(op, a, av, s, out, ov); } \
    extern "C" __global__ void where_fwd_##t(const unsigned char* c, EW_VIEW cv, const T* a, EW_VIEW av, const T* b, EW_VIEW bv, \
                                             T* out, EW_VIEW ov) { \
        lumen_ew::where_fwd<T>(c, cv, a, av, b, bv, out, ov); } \
    extern "C" __global__ void affine_fwd_##t(const T* x, EW_VIEW xv, T* out, EW_VIEW ov, double alpha, double beta) { \
        lumen_ew::affine_fwd<T>(x, xv, out, ov, alpha, beta); } \
    extern "C" __global__ void add_in_place_fwd_##t(const T* src, EW_VIEW sv, T* dst, EW_VIEW dv, double alpha) { \
        lumen_ew::add_in_place_fwd<T>(src, sv, dst, dv, alpha); }
LUMEN_FOR_ALL_TYPES(LUMEN_EW_KERNELS)
#undef EW_VIEW
