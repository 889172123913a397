// Fused in-place optimizer updates (OptimizerKernels): SGD, Adam/AdamW, scale, clamp, EMA over
// flat F32/F64 arrays, SGD and Adam/AdamW over many parameters in one launch, and vector norms /
// gradient-norm clipping over many tensors at once.
//
// Every update is written with the CPU backend's operations in the CPU's order (CpuOptimizer):
// F32 computes in float with the scalars rounded to float as the host rounds them, F64 in
// double. The explicit _rn operations keep nvcc from contracting a*b+c into an FMA, which would
// round differently from the CPU.
//
// Norms: the host cuts every tensor into chunks of at most CHUNK elements (a Chunk table in
// device memory); optim_norm_partial_<t> writes one double per chunk (a block-wide fixed tree),
// optim_norm_total_f64 sums each tensor's chunks and combines the per-tensor norms into the
// total and the clip coefficient, and optim_clip_scale_<t> scales by that coefficient read from
// device memory. Nothing depends on timing, so results are identical run to run.
//
// Multi-tensor updates: the same host cut into chunks, as Slices of a table of per-parameter
// records (operand addresses and per-step scalars); one block per slice runs the per-tensor
// kernel's element code, so the bits equal those of one launch per parameter.
#include "lumen_tensor.cuh"

namespace lumen_optim {

constexpr int NORM_THREADS = 256;   // CudaOptimizer.CHUNK_THREADS

// One contiguous run of a tensor's elements (CudaOptimizer writes these as two longs).
struct Chunk {
    long long ptr;   // device address of the run's first element
    long long n;     // elements in the run
};

// One run of a multi-tensor update: at most CHUNK elements of tensor `tensor` from `start`
// (CudaOptimizer writes a long and two ints).
struct Slice {
    long long start;
    int n;
    int tensor;
};

// One parameter of a multi-tensor SGD launch: its operands (buf 0 without momentum) and
// whether this is its first step (four longs).
struct SgdTensor {
    long long p, g, buf;
    long long initBuffer;
};

// One parameter of a multi-tensor Adam launch: its operands (mx 0 without amsgrad) and its
// step's scalars, as the per-tensor launch gets them (seven longs).
struct AdamTensor {
    long long p, g, m1, m2, mx;
    double negStepSize, bc2Sqrt;
};

// Where one tensor's chunks are in the chunk table (two ints).
struct Range {
    int first;
    int count;
};

__device__ __forceinline__ float fmul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float fadd(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float fdiv(float a, float b) { return __fdiv_rn(a, b); }
#ifdef LUMEN_CUDA_EMU
// g++ for x86-64 without -mfma never contracts, so plain operators round each step.
__device__ __forceinline__ double dmul(double a, double b) { return a * b; }
__device__ __forceinline__ double dadd(double a, double b) { return a + b; }
#else
__device__ __forceinline__ double dmul(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ double dadd(double a, double b) { return __dadd_rn(a, b); }
#endif
__device__ __forceinline__ double ddiv(double a, double b) { return a / b; }   // IEEE division (-prec-div)
__device__ __forceinline__ float mul(float a, float b) { return fmul(a, b); }
__device__ __forceinline__ double mul(double a, double b) { return dmul(a, b); }
__device__ __forceinline__ float add(float a, float b) { return fadd(a, b); }
__device__ __forceinline__ double add(double a, double b) { return dadd(a, b); }
__device__ __forceinline__ float div(float a, float b) { return fdiv(a, b); }
__device__ __forceinline__ double div(double a, double b) { return ddiv(a, b); }
__device__ __forceinline__ float sqrt_rn(float a) { return __fsqrt_rn(a); }
__device__ __forceinline__ double sqrt_rn(double a) { return sqrt(a); }

// Java's Math.max / Math.min (and the Vector API's): NaN wins, and +0 > -0.
template <typename T>
__device__ __forceinline__ T jmax(T a, T b) {
    if (a != a) return a;
    if (b != b) return b;
    if (a == b) return signbit(a) ? b : a;
    return a > b ? a : b;
}
template <typename T>
__device__ __forceinline__ T jmin(T a, T b) {
    if (a != a) return a;
    if (b != b) return b;
    if (a == b) return signbit(a) ? a : b;
    return a < b ? a : b;
}

// T-typed scalars as the CPU makes them: (float) of the host double for F32.
template <typename T> __device__ __forceinline__ T sc(double v) { return (T)v; }

// CpuOptimizer.sgd for element i (buf null without momentum); the scalars are sgd's below.
template <typename T>
__device__ __forceinline__ void sgd_elem(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ buf, long long i,
                                         T nlr, T mom, T keep, T wd, bool decay, bool nesterov, bool initBuffer) {
    const T pv = p[i];
    T d = g[i];
    if (decay) d = add(d, mul(pv, wd));
    if (buf) {
        const T b = initBuffer ? d : add(mul(buf[i], mom), mul(d, keep));
        buf[i] = b;
        d = nesterov ? add(d, mul(b, mom)) : b;
    }
    p[i] = add(pv, mul(d, nlr));
}

// CpuOptimizer.sgd, element by element.
template <typename T>
__device__ void sgd(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ buf, long long n, double lr,
                    double momentum, double dampening, double weightDecay, int nesterov, int initBuffer) {
    const T nlr = sc<T>(-lr), mom = sc<T>(momentum), keep = sc<T>(1 - dampening), wd = sc<T>(weightDecay);
    LUMEN_GRID_STRIDE(i, n) { sgd_elem(p, g, buf, i, nlr, mom, keep, wd, weightDecay != 0, nesterov != 0, initBuffer != 0); }
}

// sgd over many parameters: one block per slice, each element as sgd computes it.
template <typename T>
__device__ void sgd_multi(const SgdTensor* __restrict__ tensors, const Slice* __restrict__ slices, double lr, double momentum,
                          double dampening, double weightDecay, int nesterov) {
    const T nlr = sc<T>(-lr), mom = sc<T>(momentum), keep = sc<T>(1 - dampening), wd = sc<T>(weightDecay);
    const Slice s = slices[blockIdx.x];
    const SgdTensor t = tensors[s.tensor];
    T* p = reinterpret_cast<T*>(t.p) + s.start;
    const T* g = reinterpret_cast<const T*>(t.g) + s.start;
    T* buf = t.buf ? reinterpret_cast<T*>(t.buf) + s.start : nullptr;
    for (long long i = threadIdx.x; i < s.n; i += blockDim.x) {
        sgd_elem(p, g, buf, i, nlr, mom, keep, wd, weightDecay != 0, nesterov != 0, t.initBuffer != 0);
    }
}

// CpuOptimizer.adam's F32 loop; F64 below keeps the CPU's F64 operand order.
__device__ __forceinline__ void adam_elem(float& pv, float gv, float& a, float& v, float* mx, long long i, bool l2, bool shrink,
                                          double beta1, double beta2, double eps, double weightDecay, double decay,
                                          double negStepSize, double bc2Sqrt) {
    const float b1 = (float)beta1, b2 = (float)beta2, c1 = (float)(1 - beta1), c2 = (float)(1 - beta2);
    if (l2) gv = fadd(gv, fmul(pv, (float)weightDecay));
    if (shrink) pv = fmul(pv, (float)decay);
    a = fadd(fmul(a, b1), fmul(gv, c1));
    v = fadd(fmul(v, b2), fmul(fmul(gv, c2), gv));
    float vv = v;
    if (mx) {
        vv = jmax(vv, mx[i]);
        mx[i] = vv;
    }
    const float denom = fadd(fdiv(__fsqrt_rn(vv), (float)bc2Sqrt), (float)eps);
    pv = fadd(pv, fdiv(fmul(a, (float)negStepSize), denom));
}
__device__ __forceinline__ void adam_elem(double& pv, double gv, double& a, double& v, double* mx, long long i, bool l2, bool shrink,
                                          double beta1, double beta2, double eps, double weightDecay, double decay,
                                          double negStepSize, double bc2Sqrt) {
    if (l2) gv = dadd(gv, dmul(weightDecay, pv));
    if (shrink) pv = dmul(pv, decay);
    a = dadd(dmul(a, beta1), dmul(1 - beta1, gv));
    v = dadd(dmul(v, beta2), dmul(dmul(1 - beta2, gv), gv));
    double vv = v;
    if (mx) {
        vv = jmax(vv, mx[i]);
        mx[i] = vv;
    }
    const double denom = dadd(ddiv(sqrt(vv), bc2Sqrt), eps);
    pv = dadd(pv, ddiv(dmul(negStepSize, a), denom));
}

template <typename T>
__device__ void adam(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m1, T* __restrict__ m2, T* __restrict__ mx,
                     long long n, double beta1, double beta2, double eps, double weightDecay, double decay,
                     double negStepSize, double bc2Sqrt, int l2, int shrink) {
    LUMEN_GRID_STRIDE(i, n) {
        T pv = p[i], a = m1[i], v = m2[i];
        adam_elem(pv, g[i], a, v, mx, i, l2 != 0, shrink != 0, beta1, beta2, eps, weightDecay, decay, negStepSize, bc2Sqrt);
        m1[i] = a;
        m2[i] = v;
        p[i] = pv;
    }
}

// adam over many parameters: one block per slice, each element as adam computes it.
template <typename T>
__device__ void adam_multi(const AdamTensor* __restrict__ tensors, const Slice* __restrict__ slices, double beta1, double beta2,
                           double eps, double weightDecay, double decay, int l2, int shrink) {
    const Slice s = slices[blockIdx.x];
    const AdamTensor t = tensors[s.tensor];
    T* p = reinterpret_cast<T*>(t.p) + s.start;
    const T* g = reinterpret_cast<const T*>(t.g) + s.start;
    T* m1 = reinterpret_cast<T*>(t.m1) + s.start;
    T* m2 = reinterpret_cast<T*>(t.m2) + s.start;
    T* mx = t.mx ? reinterpret_cast<T*>(t.mx) + s.start : nullptr;
    for (long long i = threadIdx.x; i < s.n; i += blockDim.x) {
        T pv = p[i], a = m1[i], v = m2[i];
        adam_elem(pv, g[i], a, v, mx, i, l2 != 0, shrink != 0, beta1, beta2, eps, weightDecay, decay, t.negStepSize, t.bc2Sqrt);
        m1[i] = a;
        m2[i] = v;
        p[i] = pv;
    }
}

template <typename T>
__device__ void scale(T* __restrict__ x, long long n, double factor) {
    const T s = sc<T>(factor);
    LUMEN_GRID_STRIDE(i, n) { x[i] = mul(x[i], s); }
}

template <typename T>
__device__ void clamp(T* __restrict__ x, long long n, double lo, double hi) {
    const T l = sc<T>(lo), h = sc<T>(hi);
    LUMEN_GRID_STRIDE(i, n) { x[i] = jmin(jmax(x[i], l), h); }
}

// F32: e * d + s * (1 - d) as the CPU's vector loop; F64: decay * e + (1 - decay) * s.
__device__ __forceinline__ float ema_elem(float e, float s, double decay) {
    return fadd(fmul(e, (float)decay), fmul(s, (float)(1 - decay)));
}
__device__ __forceinline__ double ema_elem(double e, double s, double decay) {
    return dadd(dmul(decay, e), dmul(1 - decay, s));
}

template <typename T>
__device__ void ema(T* __restrict__ e, const T* __restrict__ s, long long n, double decay) {
    LUMEN_GRID_STRIDE(i, n) { e[i] = ema_elem(e[i], s[i], decay); }
}

// The contribution of one element to a norm of order ord: |v|^ord, or |v| for the max (ord = inf).
__device__ __forceinline__ double norm_term(double v, double ord) {
    const double a = fabs(v);
    if (ord == 1 || isinf(ord)) return a;
    if (ord == 2) return a * a;
    return pow(a, ord);
}

__device__ __forceinline__ double norm_combine(double acc, double t, bool inf) { return inf ? jmax(acc, t) : acc + t; }

// One block per chunk: each thread folds a fixed stride of the chunk, then a shared-memory tree.
template <typename T>
__device__ void norm_partial(const Chunk* __restrict__ chunks, double ord, double* __restrict__ partial) {
    __shared__ double s[NORM_THREADS];
    const bool inf = isinf(ord);
    const Chunk c = chunks[blockIdx.x];
    const T* x = reinterpret_cast<const T*>(c.ptr);
    double acc = 0;
    for (long long i = threadIdx.x; i < c.n; i += NORM_THREADS) acc = norm_combine(acc, norm_term((double)x[i], ord), inf);
    s[threadIdx.x] = acc;
    __syncthreads();
    for (int w = NORM_THREADS / 2; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w) s[threadIdx.x] = norm_combine(s[threadIdx.x], s[threadIdx.x + w], inf);
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = s[0];
}

// The root that turns a sum of |v|^ord into the norm, as CpuOptimizer.vectorNorm and GradClip.
__device__ __forceinline__ double norm_root(double acc, double ord) {
    if (isinf(ord) || ord == 1) return acc;
    if (ord == 2) return sqrt(acc);
    return pow(acc, 1 / ord);
}

// One block. Warp w sums the chunk partials of tensors w, w + 8, ... (lanes over a fixed stride,
// then a shared tree) into that tensor's norm, out[2 + t]; then thread 0 combines the norms in
// tensor order exactly as the composite clipGradNorm does: out[0] = total, out[1] = the clip
// coefficient max_norm / (total + 1e-6).
__device__ void norm_total(const Range* __restrict__ ranges, int tensors, const double* __restrict__ partial, double ord,
                           double maxNorm, double* __restrict__ out) {
    __shared__ double s[NORM_THREADS];
    const bool inf = isinf(ord);
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = NORM_THREADS / 32;
    // Every warp runs the same number of rounds so that all of its lanes reach each __syncwarp.
    const int rounds = (tensors + warps - 1) / warps;
    for (int r = 0; r < rounds; r++) {
        const int t = r * warps + warp;
        double acc = 0;
        if (t < tensors) {
            const Range rg = ranges[t];
            for (int k = lane; k < rg.count; k += 32) acc = norm_combine(acc, partial[rg.first + k], inf);
        }
        s[threadIdx.x] = acc;
        __syncwarp();
        for (int w = 16; w > 0; w >>= 1) {
            if (lane < w) s[threadIdx.x] = norm_combine(s[threadIdx.x], s[threadIdx.x + w], inf);
            __syncwarp();
        }
        if (lane == 0 && t < tensors) out[2 + t] = norm_root(s[threadIdx.x], ord);
        __syncwarp();
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        double acc = 0;
        for (int t = 0; t < tensors; t++) {
            const double n = out[2 + t];
            acc = inf ? jmax(acc, n) : acc + pow(n, ord);
        }
        const double total = inf ? acc : ord == 2 ? sqrt(acc) : pow(acc, 1 / ord);
        out[0] = total;
        out[1] = maxNorm / (total + 1e-6);
    }
}

// Scales every chunk by *coef when it is below 1 (otherwise, NaN included, leaves it as it is).
template <typename T>
__device__ void clip_scale(const Chunk* __restrict__ chunks, const double* __restrict__ coef) {
    const double k = *coef;
    if (!(k < 1)) return;
    const T f = sc<T>(k);
    const Chunk c = chunks[blockIdx.x];
    T* x = reinterpret_cast<T*>(c.ptr);
    for (long long i = threadIdx.x; i < c.n; i += blockDim.x) x[i] = mul(x[i], f);
}

}  // namespace lumen_optim

#define LUMEN_OPTIM_TYPES(M) M(float, f32) M(double, f64)

#define LUMEN_OPTIM_KERNELS(T, t)                                                                                              \
    extern "C" __global__ void optim_sgd_##t(T* p, const T* g, T* buf, long long n, double lr, double momentum,                \
                                             double dampening, double weightDecay, int nesterov, int initBuffer) {             \
        lumen_optim::sgd<T>(p, g, buf, n, lr, momentum, dampening, weightDecay, nesterov, initBuffer);                         \
    }                                                                                                                          \
    extern "C" __global__ void optim_adam_##t(T* p, const T* g, T* m1, T* m2, T* mx, long long n, double beta1, double beta2,  \
                                              double eps, double weightDecay, double decay, double negStepSize,                \
                                              double bc2Sqrt, int l2, int shrink) {                                            \
        lumen_optim::adam<T>(p, g, m1, m2, mx, n, beta1, beta2, eps, weightDecay, decay, negStepSize, bc2Sqrt, l2, shrink);    \
    }                                                                                                                          \
    extern "C" __global__ void optim_sgd_multi_##t(const lumen_optim::SgdTensor* tensors, const lumen_optim::Slice* slices,    \
                                                   double lr, double momentum, double dampening, double weightDecay,           \
                                                   int nesterov) {                                                             \
        lumen_optim::sgd_multi<T>(tensors, slices, lr, momentum, dampening, weightDecay, nesterov);                            \
    }                                                                                                                          \
    extern "C" __global__ void optim_adam_multi_##t(const lumen_optim::AdamTensor* tensors, const lumen_optim::Slice* slices,  \
                                                    double beta1, double beta2, double eps, double weightDecay, double decay,  \
                                                    int l2, int shrink) {                                                      \
        lumen_optim::adam_multi<T>(tensors, slices, beta1, beta2, eps, weightDecay, decay, l2, shrink);                        \
    }                                                                                                                          \
    extern "C" __global__ void optim_scale_##t(T* x, long long n, double factor) { lumen_optim::scale<T>(x, n, factor); }      \
    extern "C" __global__ void optim_clamp_##t(T* x, long long n, double lo, double hi) { lumen_optim::clamp<T>(x, n, lo, hi); } \
    extern "C" __global__ void optim_ema_##t(T* e, const T* s, long long n, double decay) { lumen_optim::ema<T>(e, s, n, decay); } \
    extern "C" __global__ void optim_norm_partial_##t(const lumen_optim::Chunk* chunks, double ord, double* partial) {         \
        lumen_optim::norm_partial<T>(chunks, ord, partial);                                                                    \
    }                                                                                                                          \
    extern "C" __global__ void optim_clip_scale_##t(const lumen_optim::Chunk* chunks, const double* coef) {                    \
        lumen_optim::clip_scale<T>(chunks, coef);                                                                              \
    }
LUMEN_OPTIM_TYPES(LUMEN_OPTIM_KERNELS)

extern "C" __global__ void optim_norm_total_f64(const lumen_optim::Range* ranges, int tensors, const double* partial, double ord, double maxNorm, double* out) {
    lumen_optim::norm_total(ranges, tensors, partial, ord, maxNorm, out);
}
