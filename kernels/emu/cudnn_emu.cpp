// Emulated cuDNN: the legacy (v7-style) convolution and batch-norm API that Lumen's binding calls,
// as plain CPU loops with double accumulation over emulated device memory (a device pointer is a
// host address, as in driver_emu.cpp). It is compiled against NVIDIA's own cudnn.h, so every
// signature, struct layout and enum value is the real one; it is a test double for CI machines
// without a GPU, never something users run.
//
// Coverage is exactly what Lumen's binding uses: 4-d NCHW tensors (any strides), NCHW filters,
// 2-d convolutions with padding, stride, dilation and groups, in FLOAT, DOUBLE, HALF and BFLOAT16.
// Bad arguments return the status real cuDNN documents for them (BAD_PARAM, NOT_SUPPORTED).
#include <cudnn.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#include "emulated_device.h"

struct cudnnContext {
    cudaStream_t stream = nullptr;
    int device = emulated_device::current();   // a handle belongs to the device current at cudnnCreate
};

struct cudnnTensorStruct {
    bool set = false;
    cudnnDataType_t type = CUDNN_DATA_FLOAT;
    int n = 0, c = 0, h = 0, w = 0;
    long ns = 0, cs = 0, hs = 0, ws = 0;
    long at(int i, int j, int y, int x) const { return i * ns + j * cs + y * hs + x * ws; }
};

struct cudnnFilterStruct {
    bool set = false;
    cudnnDataType_t type = CUDNN_DATA_FLOAT;
    cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW;
    int k = 0, c = 0, h = 0, w = 0;
    long at(int o, int i, int y, int x) const { return ((long) (o * c + i) * h + y) * w + x; }
};

struct cudnnConvolutionStruct {
    bool set = false;
    int ph = 0, pw = 0, sh = 1, sw = 1, dh = 1, dw = 1;
    cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    cudnnDataType_t compute = CUDNN_DATA_FLOAT;
    int groups = 1;
    cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

namespace {

// ---------------------------------------------------------------- element access
float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t) (h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (man << 13));
    if (exp == 0) return (sign ? -1.0f : 1.0f) * std::ldexp((float) man, -24);   // zero and subnormals
    return std::bit_cast<float>(sign | ((exp + 112) << 23) | (man << 13));
}

// Rounds d to a binary16-like format (mant stored mantissa bits, expBits exponent bits) in one
// step from double: nearest even, subnormals kept, overflow to infinity.
uint16_t narrow(double d, int mant, int expBits, uint16_t nan) {
    if (std::isnan(d)) return nan;
    const int bias = (1 << (expBits - 1)) - 1, emin = 1 - bias;
    uint16_t sign = std::signbit(d) ? (uint16_t) (1u << (mant + expBits)) : 0;
    double a = std::fabs(d);
    if (a < std::ldexp(1.0, emin)) return sign | (uint16_t) std::nearbyint(std::ldexp(a, mant - emin));   // may round up to the smallest normal
    int e;
    double m = std::frexp(a, &e);                                   // a = m * 2^e, m in [0.5, 1)
    double q = std::nearbyint(std::ldexp(m, mant + 1));             // mant + 1 significant bits
    int exp = e - 1;
    if (q == std::ldexp(1.0, mant + 1)) { q = std::ldexp(1.0, mant); exp++; }
    if (exp > bias) return sign | (uint16_t) (((1u << expBits) - 1) << mant);
    return sign | (uint16_t) (((unsigned) (exp + bias) << mant) | ((unsigned) q - (1u << mant)));
}

uint16_t half_from_double(double d) { return narrow(d, 10, 5, 0x7fff); }

float bf16_to_float(uint16_t b) { return std::bit_cast<float>((uint32_t) b << 16); }

uint16_t bf16_from_double(double d) { return narrow(d, 7, 8, 0x7fff); }

double load(const void* p, cudnnDataType_t t, long i) {
    switch (t) {
        case CUDNN_DATA_FLOAT: return static_cast<const float*>(p)[i];
        case CUDNN_DATA_DOUBLE: return static_cast<const double*>(p)[i];
        case CUDNN_DATA_HALF: return half_to_float(static_cast<const uint16_t*>(p)[i]);
        default: return bf16_to_float(static_cast<const uint16_t*>(p)[i]);
    }
}

void store(void* p, cudnnDataType_t t, long i, double v) {
    switch (t) {
        case CUDNN_DATA_FLOAT: static_cast<float*>(p)[i] = (float) v; break;
        case CUDNN_DATA_DOUBLE: static_cast<double*>(p)[i] = v; break;
        case CUDNN_DATA_HALF: static_cast<uint16_t*>(p)[i] = half_from_double(v); break;
        default: static_cast<uint16_t*>(p)[i] = bf16_from_double(v); break;
    }
}

bool computable(cudnnDataType_t t) {
    return t == CUDNN_DATA_FLOAT || t == CUDNN_DATA_DOUBLE || t == CUDNN_DATA_HALF || t == CUDNN_DATA_BFLOAT16;
}

// alpha and beta are host scalars: double for DOUBLE data, float for everything else.
double scalar(const void* p, cudnnDataType_t data) {
    return data == CUDNN_DATA_DOUBLE ? *static_cast<const double*>(p) : *static_cast<const float*>(p);
}

// out = alpha * v + beta * out; with beta == 0 the destination is not read (it may hold NaN).
void blend(void* out, cudnnDataType_t t, long i, double alpha, double beta, double v) {
    double r = alpha * v;
    if (beta != 0) r += beta * load(out, t, i);
    store(out, t, i, r);
}

// ---------------------------------------------------------------- convolution geometry
struct Conv {
    const cudnnTensorStruct* x;
    const cudnnFilterStruct* f;
    const cudnnConvolutionStruct* cv;
    const cudnnTensorStruct* y;
    int cg() const { return f->c; }
    int og() const { return f->k / cv->groups; }
    // The filter tap that multiplies window offset (ky, kx): flipped for true convolution.
    int tapY(int ky) const { return cv->mode == CUDNN_CONVOLUTION ? f->h - 1 - ky : ky; }
    int tapX(int kx) const { return cv->mode == CUDNN_CONVOLUTION ? f->w - 1 - kx : kx; }
};

int outDim(int in, int pad, int k, int dil, int stride) { return (in + 2 * pad - ((k - 1) * dil + 1)) / stride + 1; }

// Checks that x, filter, conv and y describe one valid convolution.
cudnnStatus_t validate(const Conv& c) {
    if (!c.x || !c.f || !c.cv || !c.y) return CUDNN_STATUS_BAD_PARAM;
    if (!c.x->set || !c.f->set || !c.cv->set || !c.y->set) return CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED;
    if (c.x->type != c.f->type || c.x->type != c.y->type) return CUDNN_STATUS_BAD_PARAM;
    if (c.f->format != CUDNN_TENSOR_NCHW) return CUDNN_STATUS_NOT_SUPPORTED_LAYOUT;
    cudnnDataType_t t = c.x->type, ct = c.cv->compute;
    bool typesOk = (t == CUDNN_DATA_FLOAT && ct == CUDNN_DATA_FLOAT) || (t == CUDNN_DATA_DOUBLE && ct == CUDNN_DATA_DOUBLE)
            || (t == CUDNN_DATA_HALF && (ct == CUDNN_DATA_HALF || ct == CUDNN_DATA_FLOAT))
            || (t == CUDNN_DATA_BFLOAT16 && ct == CUDNN_DATA_FLOAT);
    if (!typesOk) return CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE;
    int g = c.cv->groups;
    if (c.x->c != c.f->c * g || c.f->k % g != 0) return CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH;
    int oh = outDim(c.x->h, c.cv->ph, c.f->h, c.cv->dh, c.cv->sh), ow = outDim(c.x->w, c.cv->pw, c.f->w, c.cv->dw, c.cv->sw);
    if (oh < 1 || ow < 1) return CUDNN_STATUS_BAD_PARAM;
    if (c.y->n != c.x->n || c.y->c != c.f->k || c.y->h != oh || c.y->w != ow) return CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH;
    return CUDNN_STATUS_SUCCESS;
}

// The algorithms the emulated heuristics offer, best first. Every algorithm runs the same loops
// here; the list exists so that the binding's choice is exercised: backward data and filter
// lead with ALGO_0, which real cuDNN documents as non-deterministic, and the deterministic ones
// ask for a workspace, which the emulator checks and writes.
constexpr size_t EMU_WORKSPACE = 4096;

struct Offer { int algo; cudnnDeterminism_t det; size_t ws; };
const Offer FWD_OFFERS[] = {{CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, CUDNN_DETERMINISTIC, EMU_WORKSPACE},
                            {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_DETERMINISTIC, 0}};
const Offer BWD_DATA_OFFERS[] = {{CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, CUDNN_NON_DETERMINISTIC, 0},
                                 {CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, CUDNN_DETERMINISTIC, EMU_WORKSPACE}};
const Offer BWD_FILTER_OFFERS[] = {{CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, CUDNN_NON_DETERMINISTIC, 0},
                                   {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, CUDNN_DETERMINISTIC, EMU_WORKSPACE}};

// Workspace bytes of algo among offers, or -1 when the emulator does not offer it.
template <size_t N>
long workspaceOf(const Offer (&offers)[N], int algo) {
    for (const Offer& o : offers) if (o.algo == algo) return (long) o.ws;
    return -1;
}

template <size_t N, typename Perf, typename Algo>
cudnnStatus_t offer(const Offer (&offers)[N], cudnnMathType_t math, int requested, int* returned, Perf* perf) {
    if (requested < 1 || !returned || !perf) return CUDNN_STATUS_BAD_PARAM;
    int n = 0;
    for (const Offer& o : offers) {
        if (n == requested) break;
        Perf p{};
        p.algo = (Algo) o.algo;
        p.status = CUDNN_STATUS_SUCCESS;
        p.time = -1.0f;   // heuristics, not measurements
        p.memory = o.ws;
        p.determinism = o.det;
        p.mathType = math;
        perf[n++] = p;
    }
    *returned = n;
    return CUDNN_STATUS_SUCCESS;
}

// Checks the algorithm and workspace of an execution call, then scribbles on the workspace, so
// that a workspace which is not real device memory fails here as it would on a GPU.
template <size_t N>
cudnnStatus_t useWorkspace(const Offer (&offers)[N], int algo, void* ws, size_t bytes) {
    long need = workspaceOf(offers, algo);
    if (need < 0) return CUDNN_STATUS_BAD_PARAM;
    if (bytes < (size_t) need || (need > 0 && !ws)) return CUDNN_STATUS_BAD_PARAM;
    if (need > 0) std::memset(ws, 0xA5, (size_t) need);
    return CUDNN_STATUS_SUCCESS;
}

// ---------------------------------------------------------------- batch norm helpers
cudnnDataType_t paramType(cudnnDataType_t data) { return data == CUDNN_DATA_DOUBLE ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT; }

bool sameShape(const cudnnTensorStruct* a, const cudnnTensorStruct* b) {
    return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w;
}

// x, y and the 1xCx1x1 parameter descriptor of a SPATIAL batch norm.
cudnnStatus_t validateBn(cudnnBatchNormMode_t mode, const cudnnTensorStruct* x, const cudnnTensorStruct* y,
                         const cudnnTensorStruct* p, double eps) {
    if (!x || !y || !p) return CUDNN_STATUS_BAD_PARAM;
    if (!x->set || !y->set || !p->set) return CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED;
    if (mode != CUDNN_BATCHNORM_SPATIAL) return CUDNN_STATUS_NOT_SUPPORTED;   // the emulator covers SPATIAL only
    if (x->type != y->type || !sameShape(x, y)) return CUDNN_STATUS_BAD_PARAM;
    if (p->type != paramType(x->type) || p->n != 1 || p->c != x->c || p->h != 1 || p->w != 1) return CUDNN_STATUS_BAD_PARAM;
    if (!(eps >= CUDNN_BN_MIN_EPSILON)) return CUDNN_STATUS_BAD_PARAM;
    return CUDNN_STATUS_SUCCESS;
}

// Mean and biased variance of channel ch, two passes in double.
void channelStats(const cudnnTensorStruct* d, const void* x, int ch, double* mean, double* var) {
    double s = 0, q = 0;
    long m = (long) d->n * d->h * d->w;
    for (int i = 0; i < d->n; i++)
        for (int y = 0; y < d->h; y++)
            for (int xx = 0; xx < d->w; xx++) s += load(x, d->type, d->at(i, ch, y, xx));
    double mu = s / m;
    for (int i = 0; i < d->n; i++)
        for (int y = 0; y < d->h; y++)
            for (int xx = 0; xx < d->w; xx++) {
                double v = load(x, d->type, d->at(i, ch, y, xx)) - mu;
                q += v * v;
            }
    *mean = mu;
    *var = q / m;
}

}  // namespace

// ---------------------------------------------------------------- library and handle
size_t cudnnGetVersion(void) { return CUDNN_VERSION; }

const char* cudnnGetErrorString(cudnnStatus_t status) {
    switch (status) {
        case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
        case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
        case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
        case CUDNN_STATUS_BAD_PARAM_NULL_POINTER: return "CUDNN_STATUS_BAD_PARAM_NULL_POINTER";
        case CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED: return "CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED";
        case CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH: return "CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH";
        case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
        case CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE: return "CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE";
        case CUDNN_STATUS_NOT_SUPPORTED_LAYOUT: return "CUDNN_STATUS_NOT_SUPPORTED_LAYOUT";
        case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
        case CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED: return "CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED";
        case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
        default: return "CUDNN_UNKNOWN_STATUS";
    }
}

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) {
    if (!handle) return CUDNN_STATUS_BAD_PARAM;
    *handle = new (std::nothrow) cudnnContext();
    return *handle ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED;
}

cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) {
    if (!handle) return CUDNN_STATUS_BAD_PARAM;
    delete handle;
    return CUDNN_STATUS_SUCCESS;
}

// Streams are synchronous in the emulated driver: the stream is kept, calls run at once.
cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream) {
    if (!handle) return CUDNN_STATUS_BAD_PARAM;
    handle->stream = stream;
    return CUDNN_STATUS_SUCCESS;
}

// ---------------------------------------------------------------- descriptors
cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* d) {
    if (!d) return CUDNN_STATUS_BAD_PARAM;
    *d = new (std::nothrow) cudnnTensorStruct();
    return *d ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED;
}

cudnnStatus_t cudnnSetTensor4dDescriptorEx(cudnnTensorDescriptor_t d, cudnnDataType_t type, int n, int c, int h, int w,
                                           int ns, int cs, int hs, int ws) {
    if (!d) return CUDNN_STATUS_BAD_PARAM;
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || ns <= 0 || cs <= 0 || hs <= 0 || ws <= 0) return CUDNN_STATUS_BAD_PARAM;
    if (!computable(type)) return CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE;   // the emulator computes these four types
    *d = cudnnTensorStruct{true, type, n, c, h, w, ns, cs, hs, ws};
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetTensor4dDescriptor(const cudnnTensorDescriptor_t d, cudnnDataType_t* type, int* n, int* c, int* h,
                                         int* w, int* ns, int* cs, int* hs, int* ws) {
    if (!d || !type || !n || !c || !h || !w || !ns || !cs || !hs || !ws) return CUDNN_STATUS_BAD_PARAM;
    *type = d->type;
    *n = d->n; *c = d->c; *h = d->h; *w = d->w;
    *ns = (int) d->ns; *cs = (int) d->cs; *hs = (int) d->hs; *ws = (int) d->ws;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) {
    delete d;   // cuDNN accepts NULL here
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* d) {
    if (!d) return CUDNN_STATUS_BAD_PARAM;
    *d = new (std::nothrow) cudnnFilterStruct();
    return *d ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED;
}

cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t type, cudnnTensorFormat_t format,
                                         int k, int c, int h, int w) {
    if (!d || k <= 0 || c <= 0 || h <= 0 || w <= 0) return CUDNN_STATUS_BAD_PARAM;
    if (format != CUDNN_TENSOR_NCHW && format != CUDNN_TENSOR_NHWC) return CUDNN_STATUS_BAD_PARAM;
    if (!computable(type)) return CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE;
    *d = cudnnFilterStruct{true, type, format, k, c, h, w};
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetFilter4dDescriptor(const cudnnFilterDescriptor_t d, cudnnDataType_t* type, cudnnTensorFormat_t* format,
                                         int* k, int* c, int* h, int* w) {
    if (!d || !type || !format || !k || !c || !h || !w) return CUDNN_STATUS_BAD_PARAM;
    *type = d->type; *format = d->format;
    *k = d->k; *c = d->c; *h = d->h; *w = d->w;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d) {
    delete d;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* d) {
    if (!d) return CUDNN_STATUS_BAD_PARAM;
    *d = new (std::nothrow) cudnnConvolutionStruct();
    return *d ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED;
}

cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int ph, int pw, int sh, int sw, int dh, int dw,
                                              cudnnConvolutionMode_t mode, cudnnDataType_t compute) {
    if (!d || ph < 0 || pw < 0 || sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0) return CUDNN_STATUS_BAD_PARAM;
    if (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION) return CUDNN_STATUS_BAD_PARAM;
    if (!computable(compute)) return CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE;
    d->set = true;
    d->ph = ph; d->pw = pw; d->sh = sh; d->sw = sw; d->dh = dh; d->dw = dw;
    d->mode = mode;
    d->compute = compute;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t d, int groups) {
    if (!d || groups < 1) return CUDNN_STATUS_BAD_PARAM;
    d->groups = groups;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t math) {
    if (!d) return CUDNN_STATUS_BAD_PARAM;
    if (math != CUDNN_DEFAULT_MATH && math != CUDNN_TENSOR_OP_MATH && math != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION
            && math != CUDNN_FMA_MATH) return CUDNN_STATUS_BAD_PARAM;
    d->math = math;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(const cudnnConvolutionDescriptor_t cv, const cudnnTensorDescriptor_t x,
                                                    const cudnnFilterDescriptor_t f, int* n, int* c, int* h, int* w) {
    if (!cv || !x || !f || !n || !c || !h || !w) return CUDNN_STATUS_BAD_PARAM;
    if (!cv->set || !x->set || !f->set) return CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED;
    if (x->c != f->c * cv->groups) return CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH;
    int oh = outDim(x->h, cv->ph, f->h, cv->dh, cv->sh), ow = outDim(x->w, cv->pw, f->w, cv->dw, cv->sw);
    if (oh < 1 || ow < 1) return CUDNN_STATUS_BAD_PARAM;
    *n = x->n; *c = f->k; *h = oh; *w = ow;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) {
    delete d;
    return CUDNN_STATUS_SUCCESS;
}

// ---------------------------------------------------------------- algorithm choice and workspace
cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t handle, const cudnnTensorDescriptor_t x,
                                                     const cudnnFilterDescriptor_t f, const cudnnConvolutionDescriptor_t cv,
                                                     const cudnnTensorDescriptor_t y, const int requested, int* returned,
                                                     cudnnConvolutionFwdAlgoPerf_t* perf) {
    if (!handle) return CUDNN_STATUS_BAD_PARAM;
    if (cudnnStatus_t s = validate({x, f, cv, y})) return s;
    return offer<2, cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(FWD_OFFERS, cv->math, requested, returned, perf);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t handle, const cudnnFilterDescriptor_t f,
                                                          const cudnnTensorDescriptor_t dy, const cudnnConvolutionDescriptor_t cv,
                                                          const cudnnTensorDescriptor_t dx, const int requested, int* returned,
                                                          cudnnConvolutionBwdDataAlgoPerf_t* perf) {
    if (!handle) return CUDNN_STATUS_BAD_PARAM;
    if (cudnnStatus_t s = validate({dx, f, cv, dy})) return s;
    return offer<2, cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(BWD_DATA_OFFERS, cv->math, requested, returned, perf);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t handle, const cudnnTensorDescriptor_t x,
                                                            const cudnnTensorDescriptor_t dy, const cudnnConvolutionDescriptor_t cv,
                                                            const cudnnFilterDescriptor_t dw, const int requested, int* returned,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t* perf) {
    if (!handle) return CUDNN_STATUS_BAD_PARAM;
    if (cudnnStatus_t s = validate({x, dw, cv, dy})) return s;
    return offer<2, cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t>(BWD_FILTER_OFFERS, cv->math, requested, returned, perf);
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t handle, const cudnnTensorDescriptor_t x,
                                                      const cudnnFilterDescriptor_t f, const cudnnConvolutionDescriptor_t cv,
                                                      const cudnnTensorDescriptor_t y, cudnnConvolutionFwdAlgo_t algo, size_t* bytes) {
    if (!handle || !bytes) return CUDNN_STATUS_BAD_PARAM;
    if (cudnnStatus_t s = validate({x, f, cv, y})) return s;
    long ws = workspaceOf(FWD_OFFERS, algo);
    if (ws < 0) return CUDNN_STATUS_NOT_SUPPORTED;
    *bytes = (size_t) ws;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t handle, const cudnnFilterDescriptor_t f,
                                                           const cudnnTensorDescriptor_t dy, const cudnnConvolutionDescriptor_t cv,
                                                           const cudnnTensorDescriptor_t dx, cudnnConvolutionBwdDataAlgo_t algo,
                                                           size_t* bytes) {
    if (!handle || !bytes) return CUDNN_STATUS_BAD_PARAM;
    if (cudnnStatus_t s = validate({dx, f, cv, dy})) return s;
    long ws = workspaceOf(BWD_DATA_OFFERS, algo);
    if (ws < 0) return CUDNN_STATUS_NOT_SUPPORTED;
    *bytes = (size_t) ws;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t handle, const cudnnTensorDescriptor_t x,
                                                             const cudnnTensorDescriptor_t dy, const cudnnConvolutionDescriptor_t cv,
                                                             const cudnnFilterDescriptor_t dw, cudnnConvolutionBwdFilterAlgo_t algo,
                                                             size_t* bytes) {
    if (!handle || !bytes) return CUDNN_STATUS_BAD_PARAM;
    if (cudnnStatus_t s = validate({x, dw, cv, dy})) return s;
    long ws = workspaceOf(BWD_FILTER_OFFERS, algo);
    if (ws < 0) return CUDNN_STATUS_NOT_SUPPORTED;
    *bytes = (size_t) ws;
    return CUDNN_STATUS_SUCCESS;
}

// ---------------------------------------------------------------- convolutions
cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t xd, const void* x,
                                      const cudnnFilterDescriptor_t fd, const void* w, const cudnnConvolutionDescriptor_t cv,
                                      cudnnConvolutionFwdAlgo_t algo, void* ws, size_t wsBytes, const void* beta,
                                      const cudnnTensorDescriptor_t yd, void* y) {
    if (!handle || !alpha || !beta || !x || !w || !y) return CUDNN_STATUS_BAD_PARAM;
    if (!emulated_device::usable("cuDNN", "cudnnConvolutionForward", handle->device, {x, w, y, ws})) return CUDNN_STATUS_EXECUTION_FAILED;
    Conv c{xd, fd, cv, yd};
    if (cudnnStatus_t s = validate(c)) return s;
    if (cudnnStatus_t s = useWorkspace(FWD_OFFERS, algo, ws, wsBytes)) return s;
    cudnnDataType_t t = xd->type;
    double a = scalar(alpha, t), b = scalar(beta, t);
    for (int n = 0; n < yd->n; n++)
        for (int o = 0; o < yd->c; o++) {
            int g = o / c.og();
            for (int oy = 0; oy < yd->h; oy++)
                for (int ox = 0; ox < yd->w; ox++) {
                    double acc = 0;
                    for (int ic = 0; ic < c.cg(); ic++)
                        for (int ky = 0; ky < fd->h; ky++) {
                            int iy = oy * cv->sh - cv->ph + ky * cv->dh;
                            if (iy < 0 || iy >= xd->h) continue;
                            for (int kx = 0; kx < fd->w; kx++) {
                                int ix = ox * cv->sw - cv->pw + kx * cv->dw;
                                if (ix < 0 || ix >= xd->w) continue;
                                acc += load(x, t, xd->at(n, g * c.cg() + ic, iy, ix)) * load(w, t, fd->at(o, ic, c.tapY(ky), c.tapX(kx)));
                            }
                        }
                    blend(y, t, yd->at(n, o, oy, ox), a, b, acc);
                }
        }
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void* alpha, const cudnnFilterDescriptor_t fd, const void* w,
                                           const cudnnTensorDescriptor_t dyd, const void* dy, const cudnnConvolutionDescriptor_t cv,
                                           cudnnConvolutionBwdDataAlgo_t algo, void* ws, size_t wsBytes, const void* beta,
                                           const cudnnTensorDescriptor_t dxd, void* dx) {
    if (!handle || !alpha || !beta || !w || !dy || !dx) return CUDNN_STATUS_BAD_PARAM;
    if (!emulated_device::usable("cuDNN", "cudnnConvolutionBackwardData", handle->device, {w, dy, dx, ws})) return CUDNN_STATUS_EXECUTION_FAILED;
    Conv c{dxd, fd, cv, dyd};
    if (cudnnStatus_t s = validate(c)) return s;
    if (cudnnStatus_t s = useWorkspace(BWD_DATA_OFFERS, algo, ws, wsBytes)) return s;
    cudnnDataType_t t = dxd->type;
    double a = scalar(alpha, t), b = scalar(beta, t);
    for (int n = 0; n < dxd->n; n++)
        for (int ch = 0; ch < dxd->c; ch++) {
            int g = ch / c.cg(), ic = ch % c.cg();
            for (int iy = 0; iy < dxd->h; iy++)
                for (int ix = 0; ix < dxd->w; ix++) {
                    // Gather: every (output pixel, tap) whose window puts that tap on (iy, ix).
                    double acc = 0;
                    for (int ky = 0; ky < fd->h; ky++) {
                        int ty = iy + cv->ph - ky * cv->dh;
                        if (ty < 0 || ty % cv->sh) continue;
                        int oy = ty / cv->sh;
                        if (oy >= dyd->h) continue;
                        for (int kx = 0; kx < fd->w; kx++) {
                            int tx = ix + cv->pw - kx * cv->dw;
                            if (tx < 0 || tx % cv->sw) continue;
                            int ox = tx / cv->sw;
                            if (ox >= dyd->w) continue;
                            for (int oc = 0; oc < c.og(); oc++) {
                                int o = g * c.og() + oc;
                                acc += load(dy, t, dyd->at(n, o, oy, ox)) * load(w, t, fd->at(o, ic, c.tapY(ky), c.tapX(kx)));
                            }
                        }
                    }
                    blend(dx, t, dxd->at(n, ch, iy, ix), a, b, acc);
                }
        }
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t xd, const void* x,
                                             const cudnnTensorDescriptor_t dyd, const void* dy, const cudnnConvolutionDescriptor_t cv,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void* ws, size_t wsBytes, const void* beta,
                                             const cudnnFilterDescriptor_t fd, void* dw) {
    if (!handle || !alpha || !beta || !x || !dy || !dw) return CUDNN_STATUS_BAD_PARAM;
    if (!emulated_device::usable("cuDNN", "cudnnConvolutionBackwardFilter", handle->device, {x, dy, dw, ws})) return CUDNN_STATUS_EXECUTION_FAILED;
    Conv c{xd, fd, cv, dyd};
    if (cudnnStatus_t s = validate(c)) return s;
    if (cudnnStatus_t s = useWorkspace(BWD_FILTER_OFFERS, algo, ws, wsBytes)) return s;
    cudnnDataType_t t = xd->type;
    double a = scalar(alpha, t), b = scalar(beta, t);
    for (int o = 0; o < fd->k; o++) {
        int g = o / c.og();
        for (int ic = 0; ic < c.cg(); ic++)
            for (int ky = 0; ky < fd->h; ky++)
                for (int kx = 0; kx < fd->w; kx++) {
                    double acc = 0;
                    for (int n = 0; n < xd->n; n++)
                        for (int oy = 0; oy < dyd->h; oy++) {
                            int iy = oy * cv->sh - cv->ph + ky * cv->dh;
                            if (iy < 0 || iy >= xd->h) continue;
                            for (int ox = 0; ox < dyd->w; ox++) {
                                int ix = ox * cv->sw - cv->pw + kx * cv->dw;
                                if (ix < 0 || ix >= xd->w) continue;
                                acc += load(dy, t, dyd->at(n, o, oy, ox)) * load(x, t, xd->at(n, g * c.cg() + ic, iy, ix));
                            }
                        }
                    blend(dw, t, fd->at(o, ic, c.tapY(ky), c.tapX(kx)), a, b, acc);
                }
    }
    return CUDNN_STATUS_SUCCESS;
}

// C = alpha * A + beta * C, where each dimension of A equals C's or is 1 (broadcast).
cudnnStatus_t cudnnAddTensor(cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t ad, const void* A,
                             const void* beta, const cudnnTensorDescriptor_t cd, void* C) {
    if (!handle || !alpha || !beta || !ad || !cd || !A || !C) return CUDNN_STATUS_BAD_PARAM;
    if (!emulated_device::usable("cuDNN", "cudnnAddTensor", handle->device, {A, C})) return CUDNN_STATUS_EXECUTION_FAILED;
    if (!ad->set || !cd->set) return CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED;
    if (ad->type != cd->type) return CUDNN_STATUS_BAD_PARAM;
    if ((ad->n != cd->n && ad->n != 1) || (ad->c != cd->c && ad->c != 1) || (ad->h != cd->h && ad->h != 1)
            || (ad->w != cd->w && ad->w != 1)) return CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH;
    cudnnDataType_t t = cd->type;
    double a = scalar(alpha, t), b = scalar(beta, t);
    for (int n = 0; n < cd->n; n++)
        for (int ch = 0; ch < cd->c; ch++)
            for (int y = 0; y < cd->h; y++)
                for (int x = 0; x < cd->w; x++) {
                    double v = load(A, t, ad->at(ad->n == 1 ? 0 : n, ad->c == 1 ? 0 : ch, ad->h == 1 ? 0 : y, ad->w == 1 ? 0 : x));
                    blend(C, t, cd->at(n, ch, y, x), a, b, v);
                }
    return CUDNN_STATUS_SUCCESS;
}

// ---------------------------------------------------------------- batch norm (SPATIAL)
cudnnStatus_t cudnnDeriveBNTensorDescriptor(cudnnTensorDescriptor_t derived, const cudnnTensorDescriptor_t x, cudnnBatchNormMode_t mode) {
    if (!derived || !x) return CUDNN_STATUS_BAD_PARAM;
    if (!x->set) return CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED;
    if (mode != CUDNN_BATCHNORM_SPATIAL) return CUDNN_STATUS_NOT_SUPPORTED;
    *derived = cudnnTensorStruct{true, paramType(x->type), 1, x->c, 1, 1, x->c, 1, 1, 1};
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBatchNormalizationForwardTraining(cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alpha, const void* beta,
                                                     const cudnnTensorDescriptor_t xd, const void* x, const cudnnTensorDescriptor_t yd, void* y,
                                                     const cudnnTensorDescriptor_t pd, const void* scale, const void* bias, double factor,
                                                     void* runningMean, void* runningVar, double eps, void* saveMean, void* saveInvVar) {
    if (!handle || !alpha || !beta || !x || !y || !scale || !bias) return CUDNN_STATUS_BAD_PARAM;
    if (!emulated_device::usable("cuDNN", "cudnnBatchNormalizationForwardTraining", handle->device, {x, y, scale, bias, runningMean, runningVar, saveMean, saveInvVar})) return CUDNN_STATUS_EXECUTION_FAILED;
    if (cudnnStatus_t s = validateBn(mode, xd, yd, pd, eps)) return s;
    if ((runningMean == nullptr) != (runningVar == nullptr) || (saveMean == nullptr) != (saveInvVar == nullptr)) return CUDNN_STATUS_BAD_PARAM;
    cudnnDataType_t t = xd->type, pt = pd->type;
    double a = scalar(alpha, t), b = scalar(beta, t);
    long m = (long) xd->n * xd->h * xd->w;
    for (int ch = 0; ch < xd->c; ch++) {
        double mean, var;
        channelStats(xd, x, ch, &mean, &var);
        double inv = 1.0 / std::sqrt(var + eps);
        double g = load(scale, pt, ch), sh = load(bias, pt, ch);
        for (int n = 0; n < xd->n; n++)
            for (int yy = 0; yy < xd->h; yy++)
                for (int xx = 0; xx < xd->w; xx++) {
                    double v = (load(x, t, xd->at(n, ch, yy, xx)) - mean) * inv * g + sh;
                    blend(y, t, yd->at(n, ch, yy, xx), a, b, v);
                }
        if (runningMean) {
            // The running variance takes the unbiased estimate, as cuDNN documents.
            double unbiased = var * (double) m / (double) (m - 1);
            store(runningMean, pt, ch, (1 - factor) * load(runningMean, pt, ch) + factor * mean);
            store(runningVar, pt, ch, (1 - factor) * load(runningVar, pt, ch) + factor * unbiased);
        }
        if (saveMean) {
            store(saveMean, pt, ch, mean);
            store(saveInvVar, pt, ch, inv);
        }
    }
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBatchNormalizationForwardInference(cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alpha, const void* beta,
                                                      const cudnnTensorDescriptor_t xd, const void* x, const cudnnTensorDescriptor_t yd, void* y,
                                                      const cudnnTensorDescriptor_t pd, const void* scale, const void* bias,
                                                      const void* estMean, const void* estVar, double eps) {
    if (!handle || !alpha || !beta || !x || !y || !scale || !bias || !estMean || !estVar) return CUDNN_STATUS_BAD_PARAM;
    if (!emulated_device::usable("cuDNN", "cudnnBatchNormalizationForwardInference", handle->device, {x, y, scale, bias, estMean, estVar})) return CUDNN_STATUS_EXECUTION_FAILED;
    if (cudnnStatus_t s = validateBn(mode, xd, yd, pd, eps)) return s;
    cudnnDataType_t t = xd->type, pt = pd->type;
    double a = scalar(alpha, t), b = scalar(beta, t);
    for (int ch = 0; ch < xd->c; ch++) {
        double mean = load(estMean, pt, ch), inv = 1.0 / std::sqrt(load(estVar, pt, ch) + eps);
        double g = load(scale, pt, ch), sh = load(bias, pt, ch);
        for (int n = 0; n < xd->n; n++)
            for (int yy = 0; yy < xd->h; yy++)
                for (int xx = 0; xx < xd->w; xx++) {
                    double v = (load(x, t, xd->at(n, ch, yy, xx)) - mean) * inv * g + sh;
                    blend(y, t, yd->at(n, ch, yy, xx), a, b, v);
                }
    }
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBatchNormalizationBackward(cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alphaData, const void* betaData,
                                              const void* alphaParam, const void* betaParam, const cudnnTensorDescriptor_t xd, const void* x,
                                              const cudnnTensorDescriptor_t dyd, const void* dy, const cudnnTensorDescriptor_t dxd, void* dx,
                                              const cudnnTensorDescriptor_t pd, const void* scale, void* dScale, void* dBias, double eps,
                                              const void* savedMean, const void* savedInvVar) {
    if (!handle || !alphaData || !betaData || !alphaParam || !betaParam) return CUDNN_STATUS_BAD_PARAM;
    if (!x || !dy || !dx || !scale || !dScale || !dBias) return CUDNN_STATUS_BAD_PARAM;
    if (!emulated_device::usable("cuDNN", "cudnnBatchNormalizationBackward", handle->device, {x, dy, dx, scale, dScale, dBias, savedMean, savedInvVar})) return CUDNN_STATUS_EXECUTION_FAILED;
    if (cudnnStatus_t s = validateBn(mode, xd, dyd, pd, eps)) return s;
    if (!dxd || !dxd->set || dxd->type != xd->type || !sameShape(dxd, xd)) return CUDNN_STATUS_BAD_PARAM;
    if ((savedMean == nullptr) != (savedInvVar == nullptr)) return CUDNN_STATUS_BAD_PARAM;
    cudnnDataType_t t = xd->type, pt = pd->type;
    double ad = scalar(alphaData, t), bd = scalar(betaData, t), ap = scalar(alphaParam, t), bp = scalar(betaParam, t);
    double m = (double) xd->n * xd->h * xd->w;
    for (int ch = 0; ch < xd->c; ch++) {
        double mean, inv;
        if (savedMean) {
            mean = load(savedMean, pt, ch);
            inv = load(savedInvVar, pt, ch);
        } else {
            double var;
            channelStats(xd, x, ch, &mean, &var);
            inv = 1.0 / std::sqrt(var + eps);
        }
        double sumDy = 0, sumDyXhat = 0;
        for (int n = 0; n < xd->n; n++)
            for (int yy = 0; yy < xd->h; yy++)
                for (int xx = 0; xx < xd->w; xx++) {
                    double g = load(dy, t, dyd->at(n, ch, yy, xx));
                    sumDy += g;
                    sumDyXhat += g * (load(x, t, xd->at(n, ch, yy, xx)) - mean) * inv;
                }
        double gamma = load(scale, pt, ch);
        for (int n = 0; n < xd->n; n++)
            for (int yy = 0; yy < xd->h; yy++)
                for (int xx = 0; xx < xd->w; xx++) {
                    double xhat = (load(x, t, xd->at(n, ch, yy, xx)) - mean) * inv;
                    double g = load(dy, t, dyd->at(n, ch, yy, xx));
                    double v = gamma * inv / m * (m * g - sumDy - xhat * sumDyXhat);
                    blend(dx, t, dxd->at(n, ch, yy, xx), ad, bd, v);
                }
        blend(dScale, pt, ch, ap, bp, sumDyXhat);
        blend(dBias, pt, ch, ap, bp, sumDy);
    }
    return CUDNN_STATUS_SUCCESS;
}
