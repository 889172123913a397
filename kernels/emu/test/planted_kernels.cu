// Deliberately broken kernels, one per bug class the checking library must catch (see
// planted_test.cpp). They are compiled only into the planted-bug test library, never into the
// emulated driver or the fatbin that users get. Plain CUDA: nvcc compiles them too.

#include <cuda_fp16.h>
#include <mma.h>

// Missing __syncthreads(): each thread reads its neighbour's slot right after writing its own.
extern "C" __global__ void planted_missing_barrier(const float* in, float* out) {
    __shared__ float tile[256];
    int t = threadIdx.x;
    tile[t] = in[blockIdx.x * blockDim.x + t];
    out[blockIdx.x * blockDim.x + t] = tile[(t + 1) % blockDim.x];
}

// Off by one in global memory: the bound check lets thread n through.
extern "C" __global__ void planted_global_write_past_end(float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) out[i] = 1.0f;
}

extern "C" __global__ void planted_global_read_past_end(const float* in, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = in[i + 1];
}

// Off by one in static shared memory: 64 threads shift their value one slot to the right.
extern "C" __global__ void planted_shared_write_past_end(float* out) {
    __shared__ float slots[64];
    slots[threadIdx.x + 1] = float(threadIdx.x);
    __syncthreads();
    if (threadIdx.x > 0) out[threadIdx.x] = slots[threadIdx.x];
}

// Off by one in dynamic shared memory.
extern "C" __global__ void planted_dynamic_shared_past_end(float* out) {
    extern __shared__ float dyn[];
    dyn[threadIdx.x + 1] = 1.0f;
    __syncthreads();
    out[threadIdx.x] = dyn[threadIdx.x];
}

// A non-atomic += by every thread of every block on one address.
extern "C" __global__ void planted_nonatomic_sum(float* sum) {
    *sum += 1.0f;
}

// Reads a shared slot that no thread wrote.
extern "C" __global__ void planted_uninitialized_shared(float* out) {
    __shared__ float partial[64];
    if (threadIdx.x < 32) partial[threadIdx.x] = 1.0f;
    __syncthreads();
    out[threadIdx.x] = partial[threadIdx.x];
}

// Launched with more threads than its bounds allow.
extern "C" __global__ void __launch_bounds__(128) planted_bounded(float* out) {
    out[blockIdx.x * blockDim.x + threadIdx.x] = 1.0f;
}

// Correct kernels the detectors must leave alone: a warp exchanging values through shared
// memory with __syncwarp() and shuffles, atomics from every thread, a barrier-separated reuse.
extern "C" __global__ void planted_clean_warp_exchange(float* out) {
    __shared__ float lane_vals[64];
    int t = threadIdx.x;
    lane_vals[t] = float(t);
    __syncwarp();
    float v = lane_vals[t ^ 1] + __shfl_xor_sync(0xffffffffu, float(t), 2);
    __syncwarp();
    lane_vals[t] = v;
    __syncthreads();
    out[blockIdx.x * blockDim.x + t] = lane_vals[(t + 32) % 64];
}

extern "C" __global__ void planted_clean_atomics(float* sum, int* count) {
    atomicAdd(sum, 1.0f);
    atomicAdd(count, 1);
}

extern "C" __global__ void planted_fast_math(const float* in, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float x = in[i];
        out[4 * i] = __expf(x);
        out[4 * i + 1] = __logf(x + 2.0f);
        out[4 * i + 2] = __fdividef(x, 3.0f);
        out[4 * i + 3] = rsqrtf(x + 2.0f);
    }
}

// Signed overflow in index arithmetic: fine for small tensors, wrong at real sizes.
extern "C" __global__ void planted_index_overflow(float* out, int plane) {
    int base = int(blockIdx.x) * plane;
    if (threadIdx.x == 0 && base >= 0) out[blockIdx.x] = float(base & 0xff);
}

// WMMA is warp-collective: half of the warp leaves before mma_sync.
extern "C" __global__ void planted_wmma_divergent(const __half* a, float* c) {
    using namespace nvcuda;
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    wmma::fill_fragment(acc, 0.0f);
    wmma::load_matrix_sync(fa, a, 16);
    wmma::load_matrix_sync(fb, a, 16);
    if (threadIdx.x >= 16) return;
    wmma::mma_sync(acc, fa, fb, acc);
    wmma::store_matrix_sync(c, acc, 16, wmma::mem_row_major);
}

// A 16x16 tile loaded from a buffer of 255 elements: one element past the end.
extern "C" __global__ void planted_wmma_load_past_end(const __half* a, float* c) {
    using namespace nvcuda;
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    wmma::fill_fragment(acc, 0.0f);
    wmma::load_matrix_sync(fa, a, 16);
    wmma::load_matrix_sync(fb, a, 16);
    wmma::mma_sync(acc, fa, fb, acc);
    wmma::store_matrix_sync(c, acc, 16, wmma::mem_row_major);
}

// The tile pointer one element off the required 256-bit alignment.
extern "C" __global__ void planted_wmma_misaligned(const __half* a, float* c) {
    using namespace nvcuda;
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
    wmma::load_matrix_sync(fa, a + 1, 16);
    c[threadIdx.x] = float(fa.x[0]);
}

// Divergent WMMA: the two half-warps take different branches, one storing and one loading.
extern "C" __global__ void planted_wmma_branches(float* c) {
    using namespace nvcuda;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    wmma::fill_fragment(acc, 1.0f);
    if (threadIdx.x < 16) wmma::store_matrix_sync(c, acc, 16, wmma::mem_row_major);
    else wmma::load_matrix_sync(acc, c, 16, wmma::mem_row_major);
}

// Each half-warp passes its own tile pointer: WMMA arguments must be warp-uniform.
extern "C" __global__ void planted_wmma_nonuniform(float* c) {
    using namespace nvcuda;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    wmma::fill_fragment(acc, 1.0f);
    wmma::store_matrix_sync(c + (threadIdx.x < 16 ? 0 : 256), acc, 16, wmma::mem_row_major);
}
