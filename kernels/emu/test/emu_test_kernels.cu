// Test kernels of the CUDA emulator. Plain CUDA: `make emu-test` also compiles this file with
// nvcc (when it is there), so that the emulated subset stays real CUDA.
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <mma.h>
#include "emu_test_kernels.cuh"

// File-scope dynamic shared memory (emu-cc.sh turns it into a macro).
extern __shared__ __align__(16) unsigned char et_dyn_raw[];

// Tree reduction through shared memory: 256 threads, 9 barriers per block.
extern "C" __global__ void __launch_bounds__(256) et_block_reduce(const float* __restrict__ in,
                                                                  float* __restrict__ out, int n) {
    __shared__ float s[256];
    const int t = threadIdx.x;
    const int i = blockIdx.x * 256 + t;
    s[t] = i < n ? in[i] : 0.0f;
    __syncthreads();
#pragma unroll
    for (int stride = 128; stride > 0; stride >>= 1) {
        if (t < stride) s[t] += s[t + stride];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = s[0];
}

// out (cols x rows) = transpose of in (rows x cols), through a padded 32x32 tile, 32x8 threads.
extern "C" __global__ void et_transpose(const float* __restrict__ in, float* __restrict__ out, int rows, int cols) {
    __shared__ float tile[32][33];
    int x = blockIdx.x * 32 + threadIdx.x;
    int y = blockIdx.y * 32 + threadIdx.y;
    for (int j = 0; j < 32; j += 8)
        if (x < cols && y + j < rows) tile[threadIdx.y + j][threadIdx.x] = in[(size_t)(y + j) * cols + x];
    __syncthreads();
    x = blockIdx.y * 32 + threadIdx.x;
    y = blockIdx.x * 32 + threadIdx.y;
    for (int j = 0; j < 32; j += 8)
        if (x < rows && y + j < cols) out[(size_t)(y + j) * rows + x] = tile[threadIdx.x][threadIdx.y + j];
}

// Per warp: xor-butterfly sum (every lane), shfl_down sum (lane 0), ballot of in > 0, inclusive
// scan with shfl_up, broadcast of lane 3 within segments of 8, and __reduce_add_sync.
extern "C" __global__ void et_warp_ops(const float* __restrict__ in, float* __restrict__ xor_sum,
                                       float* __restrict__ down_sum, unsigned* __restrict__ ballot,
                                       float* __restrict__ scan, float* __restrict__ bcast8, int* __restrict__ radd) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int lane = threadIdx.x & 31;
    const float v = in[i];
    float a = v;
#pragma unroll
    for (int m = 16; m > 0; m >>= 1) a += __shfl_xor_sync(0xffffffffu, a, m);
    xor_sum[i] = a;
    float b = v;
#pragma unroll
    for (int d = 16; d > 0; d >>= 1) b += __shfl_down_sync(0xffffffffu, b, d);
    if (lane == 0) down_sum[i / 32] = b;
    unsigned bal = __ballot_sync(0xffffffffu, v > 0.0f);
    if (lane == 0) ballot[i / 32] = bal;
    float s = v;
#pragma unroll
    for (int d = 1; d < 32; d <<= 1) {
        float o = __shfl_up_sync(0xffffffffu, s, d);
        if (lane >= d) s += o;
    }
    scan[i] = s;
    bcast8[i] = __shfl_sync(0xffffffffu, v, 3, 8);
    radd[i] = __reduce_add_sync(0xffffffffu, (int)(v * 10.0f));
}

// Many blocks add into one float, one int, one double, and take an int max.
extern "C" __global__ void et_atomics(const float* __restrict__ in, int n, float* fsum, int* icount,
                                      double* dsum, int* imax) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        atomicAdd(fsum, in[i]);
        atomicAdd(icount, 1);
        atomicAdd(dsum, (double)in[i]);
        atomicMax(imax, (int)(in[i] * 1000.0f));
    }
}

// Each block reverses its chunk through dynamic shared memory (size given at launch).
extern "C" __global__ void et_dyn_reverse(const float* __restrict__ in, float* __restrict__ out, int n) {
    extern __shared__ float buf[];
    const int t = threadIdx.x;
    const int base = blockIdx.x * blockDim.x;
    if (base + t < n) buf[t] = in[base + t];
    __syncthreads();
    const int m = min(n - base, (int)blockDim.x);
    if (t < m) out[base + t] = buf[m - 1 - t];
}

// The same through the file-scope declaration, as float4 (16-byte alignment of the buffer).
extern "C" __global__ void et_dyn_reverse4(const float4* __restrict__ in, float4* __restrict__ out) {
    float4* buf = reinterpret_cast<float4*>(et_dyn_raw);
    const int t = threadIdx.x;
    buf[t] = in[blockIdx.x * blockDim.x + t];
    __syncthreads();
    out[blockIdx.x * blockDim.x + t] = buf[blockDim.x - 1 - t];
}

// A planted race: thread t reads its left neighbour's shared value without a barrier.
// Sequential fibers happen to produce the right answer; the checking mode must not.
extern "C" __global__ void et_race_neighbour(const float* __restrict__ in, float* __restrict__ out) {
    __shared__ float s[256];
    const int t = threadIdx.x;
    s[t] = in[blockIdx.x * 256 + t];
    // missing __syncthreads() here
    out[blockIdx.x * 256 + t] = t > 0 ? s[t - 1] : 0.0f;
}

// 3-D blocks and grids: every thread writes its coordinates.
extern "C" __global__ void et_coords(int4* out) {
    const int bx = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    const int tx = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    const int i = bx * blockDim.x * blockDim.y * blockDim.z + tx;
    out[i] = make_int4(threadIdx.x + 100 * blockIdx.x, threadIdx.y + 100 * blockIdx.y,
                       threadIdx.z + 100 * blockIdx.z, blockDim.x * blockDim.y * blockDim.z);
}

// A partial last warp (48 threads), __syncthreads_count and an early exit before a barrier.
extern "C" __global__ void et_partial(const int* __restrict__ flags, int* __restrict__ out) {
    const int t = threadIdx.x;
    const unsigned act = __activemask();   // nobody has exited yet
    const int c = __syncthreads_count(flags[t]);
    if (t == 0) { out[0] = c; }
    if (t == 40) out[1] = (int)act;
    if (t >= 44) return;   // exited threads no longer count at the barrier
    __syncthreads();
    const int anyv = __any_sync(__activemask(), flags[t]);
    if (t == 33) out[2] = anyv;
}

// fp16 and bf16 conversions (round to nearest even) and arithmetic.
extern "C" __global__ void et_lowp(const float* __restrict__ in, unsigned short* __restrict__ h,
                                   unsigned short* __restrict__ b, float* __restrict__ back, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    __half hv = __float2half(in[i]);
    __nv_bfloat16 bv = __float2bfloat16(in[i]);
    h[i] = __half_as_ushort(hv);
    b[i] = __bfloat16_as_ushort(bv);
    back[i] = __half2float(hv) + __bfloat162float(bv);
}

// A kernel parameter struct passed by value (alignment 8 after an int: offsets 0, 8, 16).
extern "C" __global__ void et_params(EtParams p, const double* __restrict__ x, float* __restrict__ y) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < p.n) y[i] = (float)(p.scale * x[i]) + p.bias;
}

// c = a + b: the kernel the driver-API test launches through cuLaunchKernel.
extern "C" __global__ void et_vec_add(const float* __restrict__ a, const float* __restrict__ b,
                                      float* __restrict__ c, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) c[i] = a[i] + b[i];
}

// Reads memory it never wrote (fresh cuMemAlloc), for the checking-mode fill test.
extern "C" __global__ void et_copy(const float* __restrict__ a, float* __restrict__ c, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) c[i] = a[i];
}

// A deadlock: lane 0 waits at a warp shuffle for lanes that wait at __syncthreads.
extern "C" __global__ void et_deadlock(float* out) {
    float v = threadIdx.x;
    if (threadIdx.x == 0) v = __shfl_down_sync(0xffffffffu, v, 1);
    else __syncthreads();
    out[threadIdx.x] = v;
}

// Macro-made kernels are found too (the scan reads the preprocessed source).
#define ET_SCALE_KERNEL(NAME, T, K) \
    extern "C" __global__ void NAME(T* x, int n) { \
        const int i = blockIdx.x * blockDim.x + threadIdx.x; \
        if (i < n) x[i] = x[i] * (T)(K); \
    }
ET_SCALE_KERNEL(et_scale2_f32, float, 2)
ET_SCALE_KERNEL(et_scale3_f64, double, 3)

// Tensor cores through WMMA: C[M,N] = alpha * A[M,K] * B[K,N] with A row-major and B column-major
// in global memory, one 16x16 output tile per warp (blockDim.x = 32 * tiles along N), the K loop
// in steps of 16, alpha applied element-wise to the fragment, the result stored row-major.
template <typename T>
__device__ void et_wmma_gemm(const T* a, const T* b, float* c, int M, int N, int K, float alpha) {
    using namespace nvcuda;
    const int warp = threadIdx.x / 32;
    const int m0 = blockIdx.y * 16, n0 = (blockIdx.x * (blockDim.x / 32) + warp) * 16;
    if (n0 >= N || m0 >= M) return;   // warp-uniform
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    wmma::fill_fragment(acc, 0.0f);
    for (int k0 = 0; k0 < K; k0 += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> fb;
        wmma::load_matrix_sync(fa, a + (long) m0 * K + k0, K);
        wmma::load_matrix_sync(fb, b + (long) n0 * K + k0, K);
        wmma::mma_sync(acc, fa, fb, acc);
    }
    for (int i = 0; i < acc.num_elements; i++) acc.x[i] *= alpha;
    wmma::store_matrix_sync(c + (long) m0 * N + n0, acc, N, wmma::mem_row_major);
}
extern "C" __global__ void et_wmma_gemm_f16(const __half* a, const __half* b, float* c, int M, int N, int K, float alpha) {
    et_wmma_gemm(a, b, c, M, N, K, alpha);
}
extern "C" __global__ void et_wmma_gemm_bf16(const __nv_bfloat16* a, const __nv_bfloat16* b, float* c, int M, int N,
                                             int K, float alpha) {
    et_wmma_gemm(a, b, c, M, N, K, alpha);
}

// Each lane writes its own number into its share of an accumulator, which is stored
// column-major: every element of the tile must come from exactly one lane, 8 per lane. The
// fragment is then loaded back from shared memory (written by other lanes: the load waits for
// the warp) and stored again row-major.
extern "C" __global__ void et_wmma_shares(float* col, float* row, int* num) {
    using namespace nvcuda;
    __shared__ __align__(32) float tile[256];
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> f;
    for (int i = 0; i < f.num_elements; i++) f.x[i] = float(threadIdx.x);
    num[threadIdx.x] = f.num_elements;
    wmma::store_matrix_sync(col, f, 16, wmma::mem_col_major);
    wmma::store_matrix_sync(tile, f, 16, wmma::mem_row_major);
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> g;
    wmma::load_matrix_sync(g, tile, 16, wmma::mem_row_major);
    wmma::store_matrix_sync(row, g, 16, wmma::mem_row_major);
}
