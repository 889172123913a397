// The emulated cuBLAS: the few cuBLAS entry points Lumen's binding (dev.lumen.cuda.Cublas) calls,
// computed on the CPU over the emulated driver's device memory, where a device pointer is a host
// address. It is compiled against NVIDIA's own cublas_v2.h (fetched by tools/nvidia-headers.sh),
// so every signature, enum value and versioned symbol name is the real library's.
//
// GEMM follows cuBLAS exactly: column-major matrices, op(A) is m x k, op(B) is k x n, C is m x n,
// C = alpha * op(A) op(B) + beta * C with alpha and beta on the host (CUBLAS_POINTER_MODE_HOST,
// the only pointer mode a handle here has), and C is not read when beta is 0. Argument checks and
// their statuses are those the cuBLAS documentation lists for cublasGemmEx. Products accumulate
// in double; the "fast" compute types first round the inputs to the format they allow (TF32,
// half, bfloat16), so a caller that asks for reduced precision sees reduced precision here too.
#include <cublas_v2.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "emulated_device.h"

#define CUBLAS_EMU_API extern "C" __attribute__((visibility("default")))

struct cublasContext {
  cudaStream_t stream = nullptr;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
  int device = emulated_device::current();   // a handle belongs to the device current at cublasCreate
};

namespace {

// ---------------------------------------------------------------- element formats

float bits_to_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
uint32_t float_to_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  if (exp == 0x1f) return bits_to_float(sign | 0x7f800000 | (man << 13));    // inf, nan
  if (exp == 0) return (sign ? -1.0f : 1.0f) * std::ldexp(float(man), -24);  // zero, subnormal
  return bits_to_float(sign | ((exp + 112) << 23) | (man << 13));
}

// Round to nearest even, overflow to infinity, subnormals kept: the hardware conversion.
uint16_t float_to_half(float f) {
  uint32_t u = float_to_bits(f), sign = (u >> 16) & 0x8000;
  if (std::isnan(f)) return 0x7fff;
  float a = std::fabs(f);
  if (a >= 65520.0f) return uint16_t(sign | 0x7c00);  // 65520 rounds up to infinity
  if (a < 6.103515625e-05f) {                           // below the smallest normal: units of 2^-24
    float q = std::nearbyint(a * 16777216.0f);           // the default rounding mode is to nearest even
    return uint16_t(sign | uint32_t(q));
  }
  uint32_t exp = ((u >> 23) & 0xff) - 112, man = u & 0x7fffff;
  uint32_t h = (exp << 10) | (man >> 13), rest = man & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;  // a carry into the exponent is still right
  return uint16_t(sign | h);
}

float bf16_to_float(uint16_t b) { return bits_to_float(uint32_t(b) << 16); }

uint16_t float_to_bf16(float f) {
  if (std::isnan(f)) return 0x7fff;
  uint32_t u = float_to_bits(f);
  u += 0x7fff + ((u >> 16) & 1);
  return uint16_t(u >> 16);
}

// TF32 keeps float's exponent and 10 mantissa bits.
float round_to_tf32(float f) {
  if (!std::isfinite(f)) return f;
  uint32_t u = float_to_bits(f);
  u += 0xfff + ((u >> 13) & 1);
  return bits_to_float(u & ~0x1fffu);
}

double load(cudaDataType t, const void* p, long long i) {
  switch (t) {
    case CUDA_R_32F: return static_cast<const float*>(p)[i];
    case CUDA_R_64F: return static_cast<const double*>(p)[i];
    case CUDA_R_16F: return half_to_float(static_cast<const uint16_t*>(p)[i]);
    case CUDA_R_16BF: return bf16_to_float(static_cast<const uint16_t*>(p)[i]);
    default: return NAN;  // excluded by check_types
  }
}

void store(cudaDataType t, void* p, long long i, double v) {
  switch (t) {
    case CUDA_R_32F: static_cast<float*>(p)[i] = float(v); break;
    case CUDA_R_64F: static_cast<double*>(p)[i] = v; break;
    case CUDA_R_16F: static_cast<uint16_t*>(p)[i] = float_to_half(float(v)); break;
    case CUDA_R_16BF: static_cast<uint16_t*>(p)[i] = float_to_bf16(float(v)); break;
    default: break;
  }
}

// ---------------------------------------------------------------- compute types

// How a compute type treats its inputs and its scalars.
enum class Inputs { exact, tf32, half, bf16 };
struct Compute {
  bool f64;      // alpha, beta and the result's scaling in double; otherwise in float
  Inputs inputs; // the rounding the compute type allows on A and B before the products
};

bool is_real(cudaDataType t) { return t == CUDA_R_32F || t == CUDA_R_64F || t == CUDA_R_16F || t == CUDA_R_16BF; }

// The combinations of cuBLAS's cublasGemmEx table that the emulator computes. A compute type the
// header defines but the table pairs with other types (16F, 32I, the emulated BF16x9 and
// fixed-point ones) is CUBLAS_STATUS_NOT_SUPPORTED here; a value outside the enum is invalid.
cublasStatus_t check_types(cublasComputeType_t ct, cudaDataType a, cudaDataType b, cudaDataType c, Compute* out) {
  switch (ct) {
    case CUBLAS_COMPUTE_32F:
    case CUBLAS_COMPUTE_32F_PEDANTIC:
      *out = {false, Inputs::exact};
      if (a == CUDA_R_32F && b == CUDA_R_32F && c == CUDA_R_32F) return CUBLAS_STATUS_SUCCESS;
      if ((a == CUDA_R_16F || a == CUDA_R_16BF) && b == a && (c == a || c == CUDA_R_32F)) return CUBLAS_STATUS_SUCCESS;
      return CUBLAS_STATUS_NOT_SUPPORTED;
    case CUBLAS_COMPUTE_32F_FAST_TF32:
    case CUBLAS_COMPUTE_32F_FAST_16F:
    case CUBLAS_COMPUTE_32F_FAST_16BF:
      *out = {false, ct == CUBLAS_COMPUTE_32F_FAST_TF32 ? Inputs::tf32 : ct == CUBLAS_COMPUTE_32F_FAST_16F ? Inputs::half : Inputs::bf16};
      return a == CUDA_R_32F && b == CUDA_R_32F && c == CUDA_R_32F ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
    case CUBLAS_COMPUTE_64F:
    case CUBLAS_COMPUTE_64F_PEDANTIC:
      *out = {true, Inputs::exact};
      return a == CUDA_R_64F && b == CUDA_R_64F && c == CUDA_R_64F ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
    case CUBLAS_COMPUTE_16F:
    case CUBLAS_COMPUTE_16F_PEDANTIC:
    case CUBLAS_COMPUTE_32F_EMULATED_16BFX9:
    case CUBLAS_COMPUTE_64F_EMULATED_FIXEDPOINT:
    case CUBLAS_COMPUTE_32I:
    case CUBLAS_COMPUTE_32I_PEDANTIC:
      return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  return CUBLAS_STATUS_INVALID_VALUE;
}

double round_input(double v, Inputs r) {
  switch (r) {
    case Inputs::exact: return v;
    case Inputs::tf32: return round_to_tf32(float(v));
    case Inputs::half: return half_to_float(float_to_half(float(v)));
    case Inputs::bf16: return bf16_to_float(float_to_bf16(float(v)));
  }
  return v;
}

bool valid_op(cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; }

// Every algorithm enumerator is accepted (the emulator has one algorithm); other values are not.
bool valid_algo(cublasGemmAlgo_t algo) {
  return (algo >= CUBLAS_GEMM_DEFAULT && algo <= CUBLAS_GEMM_ALGO23)
      || (algo >= CUBLAS_GEMM_DEFAULT_TENSOR_OP && algo <= CUBLAS_GEMM_ALGO15_TENSOR_OP);
}

// ---------------------------------------------------------------- the product

int worker_count() {
  const char* env = std::getenv("LUMEN_EMU_THREADS");
  int n = env ? std::atoi(env) : int(std::thread::hardware_concurrency());
  return std::max(1, std::min(n, 64));
}

// Runs body(j) for j in [0, n), over a few threads when the work is large enough to pay for them.
void for_columns(int n, long long work, const std::function<void(int)>& body) {
  int threads = work < (1LL << 20) ? 1 : std::min(worker_count(), n);
  if (threads <= 1) {
    for (int j = 0; j < n; j++) body(j);
    return;
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; t++) {
    pool.emplace_back([&, t] {
      for (int j = t; j < n; j += threads) body(j);
    });
  }
  for (auto& th : pool) th.join();
}

struct Gemm {
  cublasOperation_t ta, tb;
  int m, n, k;
  const void *alpha, *beta;
  cudaDataType at, bt, ct;
  int lda, ldb, ldc;
  Compute compute;
};

// One matrix product: op(A) and op(B) are first unpacked to dense double rows (op(A) as m rows
// of k, op(B) as n rows of k), so every element of C is one contiguous dot product.
void gemm_one(const Gemm& g, const void* A, const void* B, void* C) {
  const int m = g.m, n = g.n, k = g.k;
  double alpha = g.compute.f64 ? *static_cast<const double*>(g.alpha) : *static_cast<const float*>(g.alpha);
  double beta = g.compute.f64 ? *static_cast<const double*>(g.beta) : *static_cast<const float*>(g.beta);
  bool products = k > 0 && alpha != 0.0;  // BLAS: with alpha 0, A and B are not read
  std::vector<double> a, b;
  if (products) {
    a.resize(size_t(m) * k);
    b.resize(size_t(n) * k);
    for (int i = 0; i < m; i++)
      for (int p = 0; p < k; p++) {
        long long idx = g.ta == CUBLAS_OP_N ? i + (long long)p * g.lda : p + (long long)i * g.lda;
        a[size_t(i) * k + p] = round_input(load(g.at, A, idx), g.compute.inputs);
      }
    for (int j = 0; j < n; j++)
      for (int p = 0; p < k; p++) {
        long long idx = g.tb == CUBLAS_OP_N ? p + (long long)j * g.ldb : j + (long long)p * g.ldb;
        b[size_t(j) * k + p] = round_input(load(g.bt, B, idx), g.compute.inputs);
      }
  }
  for_columns(n, (long long)m * n * std::max(k, 1), [&](int j) {
    for (int i = 0; i < m; i++) {
      double dot = 0;
      if (products) {
        const double* ar = a.data() + size_t(i) * k;
        const double* bc = b.data() + size_t(j) * k;
        for (int p = 0; p < k; p++) dot += ar[p] * bc[p];
      }
      long long ci = i + (long long)j * g.ldc;
      // BLAS: with beta 0, C is written, never read (it may hold NaN).
      double c = beta != 0.0 ? load(g.ct, C, ci) : 0.0;
      double r;
      if (g.compute.f64) {
        r = (products ? alpha * dot : 0.0) + (beta != 0.0 ? beta * c : 0.0);
      } else {  // a float scale type: scaling and the sum with C are float operations
        float s = products ? float(alpha) * float(dot) : 0.0f;
        if (beta != 0.0) s += float(beta) * float(c);
        r = s;
      }
      store(g.ct, C, ci, r);
    }
  });
}

cublasStatus_t gemm_checked(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                            const void* alpha, const void* A, cudaDataType Atype, int lda, long long strideA,
                            const void* B, cudaDataType Btype, int ldb, long long strideB, const void* beta, void* C,
                            cudaDataType Ctype, int ldc, long long strideC, int batchCount,
                            cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!valid_op(transa) || !valid_op(transb) || m < 0 || n < 0 || k < 0 || batchCount < 0) return CUBLAS_STATUS_INVALID_VALUE;
  if (lda < std::max(1, transa == CUBLAS_OP_N ? m : k)) return CUBLAS_STATUS_INVALID_VALUE;
  if (ldb < std::max(1, transb == CUBLAS_OP_N ? k : n)) return CUBLAS_STATUS_INVALID_VALUE;
  if (ldc < std::max(1, m)) return CUBLAS_STATUS_INVALID_VALUE;
  if (alpha == nullptr || beta == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  if (!is_real(Atype) || !is_real(Btype) || !is_real(Ctype)) return CUBLAS_STATUS_NOT_SUPPORTED;
  Compute compute;
  cublasStatus_t st = check_types(computeType, Atype, Btype, Ctype, &compute);
  if (st != CUBLAS_STATUS_SUCCESS) return st;
  if (!valid_algo(algo)) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (m == 0 || n == 0 || batchCount == 0) return CUBLAS_STATUS_SUCCESS;
  // A null matrix would fault on a GPU; here it becomes the status a failed kernel gives.
  if (C == nullptr || (k > 0 && (A == nullptr || B == nullptr))) return CUBLAS_STATUS_EXECUTION_FAILED;
  if (!emulated_device::usable("cuBLAS", "GEMM", handle->device, {A, B, C})) return CUBLAS_STATUS_EXECUTION_FAILED;

  Gemm g{transa, transb, m, n, k, alpha, beta, Atype, Btype, Ctype, lda, ldb, ldc, compute};
  size_t as = size_t(Atype == CUDA_R_64F ? 8 : Atype == CUDA_R_32F ? 4 : 2);
  size_t bs = size_t(Btype == CUDA_R_64F ? 8 : Btype == CUDA_R_32F ? 4 : 2);
  size_t cs = size_t(Ctype == CUDA_R_64F ? 8 : Ctype == CUDA_R_32F ? 4 : 2);
  for (int s = 0; s < batchCount; s++) {
    // Strides count elements and may be negative or 0 (a matrix shared by every batch entry).
    gemm_one(g, static_cast<const char*>(A) + (long long)as * strideA * s,
             static_cast<const char*>(B) + (long long)bs * strideB * s,
             static_cast<char*>(C) + (long long)cs * strideC * s);
  }
  return CUBLAS_STATUS_SUCCESS;
}

// Math modes are one of the base modes, optionally with the reduction flag.
bool valid_math_mode(int mode) {
  int base = mode & ~int(CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION);
  return base == CUBLAS_DEFAULT_MATH || base == CUBLAS_TENSOR_OP_MATH || base == CUBLAS_PEDANTIC_MATH
      || base == CUBLAS_TF32_TENSOR_OP_MATH || base == CUBLAS_FP32_EMULATED_BF16X9_MATH
      || base == CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH;
}

}  // namespace

// ---------------------------------------------------------------- exported API

CUBLAS_EMU_API cublasStatus_t CUBLASWINAPI cublasCreate_v2(cublasHandle_t* handle) {
  if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *handle = new (std::nothrow) cublasContext();
  return *handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}

CUBLAS_EMU_API cublasStatus_t CUBLASWINAPI cublasDestroy_v2(cublasHandle_t handle) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

CUBLAS_EMU_API cublasStatus_t CUBLASWINAPI cublasGetVersion_v2(cublasHandle_t handle, int* version) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (version == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *version = CUBLAS_VERSION;  // the header the emulator was built against
  return CUBLAS_STATUS_SUCCESS;
}

// The emulated driver's streams are synchronous, so the stream is only remembered.
CUBLAS_EMU_API cublasStatus_t CUBLASWINAPI cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = streamId;
  return CUBLAS_STATUS_SUCCESS;
}

CUBLAS_EMU_API cublasStatus_t CUBLASWINAPI cublasGetStream_v2(cublasHandle_t handle, cudaStream_t* streamId) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (streamId == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *streamId = handle->stream;
  return CUBLAS_STATUS_SUCCESS;
}

CUBLAS_EMU_API cublasStatus_t CUBLASWINAPI cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!valid_math_mode(int(mode))) return CUBLAS_STATUS_INVALID_VALUE;
  handle->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

CUBLAS_EMU_API cublasStatus_t CUBLASWINAPI cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = handle->math;
  return CUBLAS_STATUS_SUCCESS;
}

CUBLAS_EMU_API const char* CUBLASWINAPI cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "<unknown>";
}

CUBLAS_EMU_API const char* CUBLASWINAPI cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "an absent device architectural feature is required";
    case CUBLAS_STATUS_MAPPING_ERROR: return "an access to GPU memory space failed";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "an internal operation failed";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    case CUBLAS_STATUS_LICENSE_ERROR: return "license error";
  }
  return "<unknown>";
}

CUBLAS_EMU_API cublasStatus_t CUBLASWINAPI cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                                                        cublasOperation_t transb, int m, int n, int k,
                                                        const void* alpha, const void* A, cudaDataType Atype, int lda,
                                                        const void* B, cudaDataType Btype, int ldb, const void* beta,
                                                        void* C, cudaDataType Ctype, int ldc,
                                                        cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
  return gemm_checked(handle, transa, transb, m, n, k, alpha, A, Atype, lda, 0, B, Btype, ldb, 0, beta, C, Ctype, ldc, 0,
                      1, computeType, algo);
}

CUBLAS_EMU_API cublasStatus_t CUBLASWINAPI cublasGemmStridedBatchedEx(
    cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k, const void* alpha,
    const void* A, cudaDataType Atype, int lda, long long int strideA, const void* B, cudaDataType Btype, int ldb,
    long long int strideB, const void* beta, void* C, cudaDataType Ctype, int ldc, long long int strideC, int batchCount,
    cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
  return gemm_checked(handle, transa, transb, m, n, k, alpha, A, Atype, lda, strideA, B, Btype, ldb, strideB, beta, C,
                      Ctype, ldc, strideC, batchCount, computeType, algo);
}
