// Deferred range checks (DeferredChecks.java): is every value of an index tensor in [0, size)?
// A failure is recorded in a device error word that the host reads at its next wait, so a check
// never makes the host wait by itself.
//
// The word (layout shared with DeferredChecks.java, 24 bytes):
//   key     u64  (seq << 40) | position of the first failure; all ones while nothing failed.
//                The host numbers its checks in queue order, so the lowest key is the first bad
//                position of the first check that failed, whatever order threads run in.
//   value   i64  the index value at key's position.
//   done    u32  blocks of the running check that have finished; 0 between checks.
#include "lumen_tensor.cuh"

namespace lumen_checks {

struct ErrorWord {
    unsigned long long key;
    long long value;
    unsigned int done;
};

constexpr int kPositionBits = 40;
constexpr unsigned long long kPositionMask = (1ull << kPositionBits) - 1;

// Failing threads lower key with an integer atomicMin. The last block to finish (counted on
// `done`, after a fence) then holds the final key and, if this check owns it, records the value.
template <typename I>
__device__ void range_check(const I* __restrict__ idx, lumen::View v, long long size, unsigned long long seq, ErrorWord* w) {
    LUMEN_GRID_STRIDE(e, v.numel) {
        const long long k = (long long)idx[lumen::offset_of(v, e)];
        if (k < 0 || k >= size) atomicMin(&w->key, (seq << kPositionBits) | (unsigned long long)e);
    }
    __shared__ bool last;
    __syncthreads();
    if (threadIdx.x == 0) {
        __threadfence();
        last = atomicAdd(&w->done, 1u) == gridDim.x - 1;
    }
    __syncthreads();
    if (threadIdx.x == 0 && last) {
        __threadfence();
        const unsigned long long key = atomicOr(&w->key, 0ull);  // read at the device's coherence point
        if ((key >> kPositionBits) == seq) w->value = (long long)idx[lumen::offset_of(v, (long long)(key & kPositionMask))];
        w->done = 0;
    }
}

}  // namespace lumen_checks

#define LUMEN_RANGE_CHECK(I, i)                                                                                                      \
    extern "C" __global__ void range_check_##i(const I* idx, lumen::View v, long long size, unsigned long long seq, void* word) {     \
        lumen_checks::range_check<I>(idx, v, size, seq, static_cast<lumen_checks::ErrorWord*>(word));                                \
    }
LUMEN_RANGE_CHECK(int, i32)
LUMEN_RANGE_CHECK(long long, i64)
LUMEN_RANGE_CHECK(unsigned char, bool)
