// Lumen CUDA emulation: compiles the project's .cu kernels with g++ and runs them on the CPU.
//
//   g++ -std=c++17 -O2 -x c++ -I kernels/emu -I kernels/emu/shim -include cuda_emu.h foo.cu
//
// A block's threads run as fibers on one worker OS thread, so __syncthreads() is a real
// barrier; warp operations rendezvous the 32 lanes of a warp; blocks are spread over a pool of
// worker threads. Static __shared__ variables become thread_local (one worker runs one block at
// a time, so a worker's copy is the block's copy). `extern __shared__ T name[];` needs the
// one-line rewrite done by emu-cc.sh (see README.md). The runtime lives in emu_runtime.cpp.
#pragma once
#ifndef LUMEN_CUDA_EMU
#define LUMEN_CUDA_EMU 1

#if !defined(__x86_64__)
#error "the Lumen CUDA emulator needs x86-64 (fiber switch in assembly)"
#endif

// Everything a kernel file may include is pulled in here, before any kernel code: emu-cc.sh
// wraps each .cu in an anonymous namespace, where a first inclusion of a system header would
// break.
#include <algorithm>
#include <cassert>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <math.h>
#include <stdint.h>
#include <tuple>
#include <type_traits>
#include <utility>

// ---------------------------------------------------------------- qualifiers
#define __host__
#define __device__
#ifdef LUMEN_EMU_SCAN
#define __global__ __lumen_emu_global__   // marker the kernel scan looks for in `g++ -E` output
#else
#define __global__
#endif
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#ifdef LUMEN_EMU_SCAN
#define __launch_bounds__(...) __lumen_emu_bounds__(__VA_ARGS__)   // emu-cc.sh records the limit
#else
#define __launch_bounds__(...)
#endif
#ifdef LUMEN_EMU_SANITIZE
// Each static __shared__ declaration is preceded by 64 bytes of padding that nothing owns, so an
// access one past the end of a shared array lands in poisoned memory, not in its neighbour.
#define LUMEN_EMU_CAT2(a, b) a##b
#define LUMEN_EMU_CAT(a, b) LUMEN_EMU_CAT2(a, b)
#define __shared__ thread_local __attribute__((used)) char LUMEN_EMU_CAT(lumen_emu_shared_guard_, __COUNTER__)[64]; thread_local
#else
#define __shared__ thread_local
#endif
#define __constant__
#define __managed__
#define __grid_constant__
#define __align__(n) __attribute__((aligned(n)))
#define __builtin_align__(n) __attribute__((aligned(n)))
#define __CUDA_ALIGN__(n) __attribute__((aligned(n)))

#ifndef LUMEN_EMU_STACK_LOG2
#define LUMEN_EMU_STACK_LOG2 18   // 256 KiB per fiber stack region, >= 176 KiB usable (virtual;
                                  // pages are touched lazily)
#endif

#define LUMEN_EMU_API extern "C" __attribute__((visibility("default")))

// ---------------------------------------------------------------- vector types
struct uint3 { unsigned int x, y, z; };
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};

#define LUMEN_EMU_VEC2(T, N, A) struct __attribute__((aligned(A))) N##2 { T x, y; }; \
    inline N##2 make_##N##2(T x, T y) { return N##2{x, y}; }
#define LUMEN_EMU_VEC3(T, N) struct N##3 { T x, y, z; }; \
    inline N##3 make_##N##3(T x, T y, T z) { return N##3{x, y, z}; }
#define LUMEN_EMU_VEC4(T, N, A) struct __attribute__((aligned(A))) N##4 { T x, y, z, w; }; \
    inline N##4 make_##N##4(T x, T y, T z, T w) { return N##4{x, y, z, w}; }
LUMEN_EMU_VEC2(float, float, 8)   LUMEN_EMU_VEC3(float, float)   LUMEN_EMU_VEC4(float, float, 16)
LUMEN_EMU_VEC2(double, double, 16) LUMEN_EMU_VEC3(double, double) LUMEN_EMU_VEC4(double, double, 32)
LUMEN_EMU_VEC2(int, int, 8)       LUMEN_EMU_VEC3(int, int)       LUMEN_EMU_VEC4(int, int, 16)
LUMEN_EMU_VEC2(unsigned int, uint, 8) LUMEN_EMU_VEC4(unsigned int, uint, 16)
LUMEN_EMU_VEC2(short, short, 4)   LUMEN_EMU_VEC4(short, short, 8)
LUMEN_EMU_VEC2(unsigned short, ushort, 4) LUMEN_EMU_VEC4(unsigned short, ushort, 8)
LUMEN_EMU_VEC2(signed char, char, 2) LUMEN_EMU_VEC4(signed char, char, 4)
LUMEN_EMU_VEC2(unsigned char, uchar, 2) LUMEN_EMU_VEC4(unsigned char, uchar, 4)
LUMEN_EMU_VEC2(long long, longlong, 16) LUMEN_EMU_VEC2(unsigned long long, ulonglong, 16)
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return uint3{x, y, z}; }
#undef LUMEN_EMU_VEC2
#undef LUMEN_EMU_VEC3
#undef LUMEN_EMU_VEC4

constexpr int warpSize = 32;

// ---------------------------------------------------------------- runtime interface
namespace cuda_emu {

constexpr uintptr_t kStackBytes = uintptr_t(1) << LUMEN_EMU_STACK_LOG2;

struct BlockInfo {
    uint3 bid;      // blockIdx
    dim3 bdim;      // blockDim
    dim3 gdim;      // gridDim
    void* dyn;      // dynamic shared memory of this block
    size_t dyn_bytes;
    // Read by the sanitizer (sanitizer.cpp), kept up to date by the runtime in checking mode.
    uint64_t linear;          // blockIdx as one number
    uint32_t launch;          // launch serial, from 1
    uint32_t epoch;           // __syncthreads() completed by this block so far
    uint32_t serial;          // block serial on this worker, from 1 (scopes shared-memory shadow)
    const void* fn;           // the kernel
    char* static_shared;      // this worker's static __shared__ (the module's TLS block)
    size_t static_bytes;
    void* san;                // the sanitizer's per-worker state
};

// The first bytes of every fiber; the runtime's Fiber starts with this.
struct FiberPub {
    uint3 tid;                 // threadIdx
    const BlockInfo* blk;
    uint32_t index;            // threadIdx as one number
    uint16_t warp_epoch;       // warp synchronisations (shuffles, __syncwarp) this lane took part in
};

// The lowest page of every fiber stack holds a pointer to the fiber running on it, so the
// current fiber is found from %rsp with a mask: no thread-local storage, no global.
struct StackHeader { FiberPub* fiber; };

__attribute__((always_inline)) inline FiberPub* self() {
    uintptr_t sp;
    asm("mov %%rsp, %0" : "=r"(sp));
    return reinterpret_cast<StackHeader*>(sp & ~(kStackBytes - 1))->fiber;
}

enum WarpOp : int {
    kShflIdx, kShflUp, kShflDown, kShflXor, kBallot, kAny, kAll, kSyncWarp,
    kReduceAdd, kReduceMinU, kReduceMaxU, kReduceMinI, kReduceMaxI, kReduceAnd, kReduceOr,
    kReduceXor, kMatchAny, kCollective
};

// Runtime entry points (emu_runtime.cpp).
LUMEN_EMU_API void lumen_emu_syncthreads(void);
LUMEN_EMU_API int lumen_emu_syncthreads_op(int pred, int op);   // op: 0 count, 1 and, 2 or
LUMEN_EMU_API uint64_t lumen_emu_warp_op(unsigned mask, uint64_t value, int op, int arg, int width);
LUMEN_EMU_API unsigned lumen_emu_activemask(void);

typedef void (*Thunk)(void* fn, void* args);   // runs one thread of the kernel
// Runs a whole grid; returns 0, or a nonzero code (and prints why) on a deadlock or a bad
// configuration. Blocks until the grid is done.
LUMEN_EMU_API int lumen_emu_run_grid(dim3 grid, dim3 block, size_t dyn_shared, Thunk thunk,
                                     void* fn, void* args);
LUMEN_EMU_API void lumen_emu_set_check(int enable, unsigned long long seed);
LUMEN_EMU_API int lumen_emu_get_check(void);
LUMEN_EMU_API int lumen_emu_threads(void);
// Checking mode: maybe switch to another thread of the block (a preemption point at a memory
// access), and abort the running block with a launch error code (after a sanitizer report).
LUMEN_EMU_API void lumen_emu_preempt(void);
LUMEN_EMU_API [[noreturn]] void lumen_emu_abort_block(int code);
enum LaunchError : int { kLaunchFailed = 1, kBadConfig = 2, kIllegalAddress = 3, kRace = 4 };
// The sanitizer's check of an atomic access: bounds only, exempt from race detection.
LUMEN_EMU_API void lumen_emu_atomic_access(const void* p, size_t n);

// Kernel registry (filled at load time by the LUMEN_EMU_REGISTER lines emu-cc.sh appends).
typedef int (*RunFn)(void* fn, dim3 grid, dim3 block, size_t dyn_shared, void** params);
struct KernelReg {
    const char* name;
    void* fn;
    RunFn run;
    int nparams;
    const size_t* param_size;
    const size_t* param_align;
    KernelReg* next;
    int max_threads;          // __launch_bounds__ limit, 0 if none
};
LUMEN_EMU_API void lumen_emu_register(KernelReg* reg);
LUMEN_EMU_API const KernelReg* lumen_emu_find_kernel(const char* name);
LUMEN_EMU_API const KernelReg* lumen_emu_kernels(void);   // linked list head

template <class T> inline T load_param(const void* p) {
    static_assert(std::is_trivially_copyable<T>::value, "kernel parameters must be trivially copyable");
    T v;
    std::memcpy(static_cast<void*>(&v), p, sizeof(T));
    return v;
}

template <class... P> struct Launch {
    using Fn = void (*)(P...);
    using Args = std::tuple<typename std::decay<P>::type...>;
    static void thunk(void* fn, void* args) {
        std::apply(reinterpret_cast<Fn>(fn), *static_cast<Args*>(args));   // copies per thread
    }
    template <size_t... I>
    static Args unpack(void** params, std::index_sequence<I...>) {
        return Args(load_param<typename std::decay<P>::type>(params[I])...);
    }
    static int run(void* fn, dim3 grid, dim3 block, size_t dyn, void** params) {
        Args args = unpack(params, std::index_sequence_for<P...>{});
        return lumen_emu_run_grid(grid, block, dyn, &thunk, fn, &args);
    }
    static constexpr size_t sizes[sizeof...(P) + 1] = {sizeof(typename std::decay<P>::type)..., 0};
    static constexpr size_t aligns[sizeof...(P) + 1] = {alignof(typename std::decay<P>::type)..., 0};
};

struct Registrar {
    KernelReg reg;
    template <class... P>
    Registrar(const char* name, void (*fn)(P...), int max_threads = 0) {
        reg = KernelReg{name, reinterpret_cast<void*>(fn), &Launch<P...>::run, int(sizeof...(P)),
                        Launch<P...>::sizes, Launch<P...>::aligns, nullptr, max_threads};
        lumen_emu_register(&reg);
    }
};

// Host-side launch, the emulator's `kernel<<<grid, block, shmem>>>(args...)`.
template <class... P, class... A>
int launch(void (*fn)(P...), dim3 grid, dim3 block, size_t dyn_shared, A&&... a) {
    typename Launch<P...>::Args args(std::forward<A>(a)...);
    return lumen_emu_run_grid(grid, block, dyn_shared, &Launch<P...>::thunk,
                              reinterpret_cast<void*>(fn), &args);
}

inline void* dyn_smem() { return self()->blk->dyn; }

template <class T> __attribute__((always_inline)) inline uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "warp op on a type wider than 8 bytes");
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}
template <class T> __attribute__((always_inline)) inline T from_bits(uint64_t b) {
    T v;
    std::memcpy(static_cast<void*>(&v), &b, sizeof(T));
    return v;
}
template <class T> inline T bitcast(const void* p) { T v; std::memcpy(&v, p, sizeof(T)); return v; }

}  // namespace cuda_emu

#define LUMEN_EMU_REGISTER(name) \
    static ::cuda_emu::Registrar lumen_emu_reg_##name(#name, &name);
#define LUMEN_EMU_REGISTER_BOUNDED(name, max_threads) \
    static ::cuda_emu::Registrar lumen_emu_reg_##name(#name, &name, int(max_threads));

// ---------------------------------------------------------------- built-in variables
#define threadIdx (::cuda_emu::self()->tid)
#define blockIdx (::cuda_emu::self()->blk->bid)
#define blockDim (::cuda_emu::self()->blk->bdim)
#define gridDim (::cuda_emu::self()->blk->gdim)

// ---------------------------------------------------------------- barriers and warp ops
inline void __syncthreads() { ::cuda_emu::lumen_emu_syncthreads(); }
inline int __syncthreads_count(int p) { return ::cuda_emu::lumen_emu_syncthreads_op(p, 0); }
inline int __syncthreads_and(int p) { return ::cuda_emu::lumen_emu_syncthreads_op(p, 1); }
inline int __syncthreads_or(int p) { return ::cuda_emu::lumen_emu_syncthreads_op(p, 2); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
    ::cuda_emu::lumen_emu_warp_op(mask, 0, ::cuda_emu::kSyncWarp, 0, 32);
}
inline unsigned __activemask() { return ::cuda_emu::lumen_emu_activemask(); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

template <class T> inline T __shfl_sync(unsigned mask, T var, int srcLane, int width = 32) {
    using namespace ::cuda_emu;
    return from_bits<T>(lumen_emu_warp_op(mask, to_bits(var), kShflIdx, srcLane, width));
}
template <class T> inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32) {
    using namespace ::cuda_emu;
    return from_bits<T>(lumen_emu_warp_op(mask, to_bits(var), kShflUp, int(delta), width));
}
template <class T> inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32) {
    using namespace ::cuda_emu;
    return from_bits<T>(lumen_emu_warp_op(mask, to_bits(var), kShflDown, int(delta), width));
}
template <class T> inline T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = 32) {
    using namespace ::cuda_emu;
    return from_bits<T>(lumen_emu_warp_op(mask, to_bits(var), kShflXor, laneMask, width));
}
inline unsigned __ballot_sync(unsigned mask, int pred) {
    return unsigned(::cuda_emu::lumen_emu_warp_op(mask, pred != 0, ::cuda_emu::kBallot, 0, 32));
}
inline int __any_sync(unsigned mask, int pred) {
    return int(::cuda_emu::lumen_emu_warp_op(mask, pred != 0, ::cuda_emu::kAny, 0, 32));
}
inline int __all_sync(unsigned mask, int pred) {
    return int(::cuda_emu::lumen_emu_warp_op(mask, pred != 0, ::cuda_emu::kAll, 0, 32));
}
#define LUMEN_EMU_REDUCE(NAME, T, OP) \
    inline T NAME(unsigned mask, T v) { \
        return T(::cuda_emu::lumen_emu_warp_op(mask, uint64_t(uint32_t(v)), ::cuda_emu::OP, 0, 32)); }
LUMEN_EMU_REDUCE(__reduce_add_sync, unsigned, kReduceAdd)
LUMEN_EMU_REDUCE(__reduce_add_sync, int, kReduceAdd)
LUMEN_EMU_REDUCE(__reduce_min_sync, unsigned, kReduceMinU)
LUMEN_EMU_REDUCE(__reduce_min_sync, int, kReduceMinI)
LUMEN_EMU_REDUCE(__reduce_max_sync, unsigned, kReduceMaxU)
LUMEN_EMU_REDUCE(__reduce_max_sync, int, kReduceMaxI)
LUMEN_EMU_REDUCE(__reduce_and_sync, unsigned, kReduceAnd)
LUMEN_EMU_REDUCE(__reduce_or_sync, unsigned, kReduceOr)
LUMEN_EMU_REDUCE(__reduce_xor_sync, unsigned, kReduceXor)
#undef LUMEN_EMU_REDUCE
template <class T> inline unsigned __match_any_sync(unsigned mask, T v) {
    return unsigned(::cuda_emu::lumen_emu_warp_op(mask, ::cuda_emu::to_bits(v), ::cuda_emu::kMatchAny, 0, 32));
}

// ---------------------------------------------------------------- atomics
// Blocks run on several OS threads, so these are real atomic read-modify-writes. Under the
// sanitizer they are checked for bounds but left out of the race detection (LUMEN_EMU_ATOMIC).
#ifdef LUMEN_EMU_SANITIZE
#define LUMEN_EMU_ATOMIC inline __attribute__((no_sanitize("thread"), noinline))
#define LUMEN_EMU_ATOMIC_CHECK(p) ::cuda_emu::lumen_emu_atomic_access((p), sizeof(*(p)))
#else
#define LUMEN_EMU_ATOMIC inline
#define LUMEN_EMU_ATOMIC_CHECK(p) ((void)0)
#endif
namespace cuda_emu {
template <class T, class U, class F> LUMEN_EMU_ATOMIC T atomic_rmw(T* addr, F f) {
    static_assert(sizeof(T) == sizeof(U), "");
    LUMEN_EMU_ATOMIC_CHECK(addr);
    U* p = reinterpret_cast<U*>(addr);
    U old = __atomic_load_n(p, __ATOMIC_RELAXED);
    for (;;) {
        T o = from_bits<T>(uint64_t(old));
        T n = f(o);
        U nb = U(to_bits(n));
        if (__atomic_compare_exchange_n(p, &old, nb, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) return o;
    }
}
}  // namespace cuda_emu

#define LUMEN_EMU_ATOMIC_INT(T) \
    LUMEN_EMU_ATOMIC T atomicAdd(T* a, T v) { LUMEN_EMU_ATOMIC_CHECK(a); return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); } \
    LUMEN_EMU_ATOMIC T atomicSub(T* a, T v) { LUMEN_EMU_ATOMIC_CHECK(a); return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); } \
    LUMEN_EMU_ATOMIC T atomicExch(T* a, T v) { LUMEN_EMU_ATOMIC_CHECK(a); return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); } \
    LUMEN_EMU_ATOMIC T atomicAnd(T* a, T v) { LUMEN_EMU_ATOMIC_CHECK(a); return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); } \
    LUMEN_EMU_ATOMIC T atomicOr(T* a, T v) { LUMEN_EMU_ATOMIC_CHECK(a); return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); } \
    LUMEN_EMU_ATOMIC T atomicXor(T* a, T v) { LUMEN_EMU_ATOMIC_CHECK(a); return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST); } \
    inline T atomicMax(T* a, T v) { return ::cuda_emu::atomic_rmw<T, T>(a, [v](T o) { return o < v ? v : o; }); } \
    inline T atomicMin(T* a, T v) { return ::cuda_emu::atomic_rmw<T, T>(a, [v](T o) { return v < o ? v : o; }); } \
    LUMEN_EMU_ATOMIC T atomicCAS(T* a, T cmp, T v) { LUMEN_EMU_ATOMIC_CHECK(a); \
        __atomic_compare_exchange_n(a, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); return cmp; }
LUMEN_EMU_ATOMIC_INT(int)
LUMEN_EMU_ATOMIC_INT(unsigned int)
LUMEN_EMU_ATOMIC_INT(long long)
LUMEN_EMU_ATOMIC_INT(unsigned long long)
#undef LUMEN_EMU_ATOMIC_INT
LUMEN_EMU_ATOMIC unsigned short atomicCAS(unsigned short* a, unsigned short cmp, unsigned short v) {
    LUMEN_EMU_ATOMIC_CHECK(a);
    __atomic_compare_exchange_n(a, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return cmp;
}
inline float atomicAdd(float* a, float v) {
    return ::cuda_emu::atomic_rmw<float, uint32_t>(a, [v](float o) { return o + v; });
}
inline double atomicAdd(double* a, double v) {
    return ::cuda_emu::atomic_rmw<double, uint64_t>(a, [v](double o) { return o + v; });
}
inline float atomicExch(float* a, float v) {
    return ::cuda_emu::atomic_rmw<float, uint32_t>(a, [v](float) { return v; });
}
inline float atomicMax(float* a, float v) {   // sm_90 has no float atomicMax; handy for tests
    return ::cuda_emu::atomic_rmw<float, uint32_t>(a, [v](float o) { return fmaxf(o, v); });
}
inline unsigned atomicInc(unsigned* a, unsigned lim) {
    return ::cuda_emu::atomic_rmw<unsigned, unsigned>(a, [lim](unsigned o) { return o >= lim ? 0u : o + 1; });
}
inline unsigned atomicDec(unsigned* a, unsigned lim) {
    return ::cuda_emu::atomic_rmw<unsigned, unsigned>(a, [lim](unsigned o) { return (o == 0 || o > lim) ? lim : o - 1; });
}
#define atomicAdd_block atomicAdd
#define atomicAdd_system atomicAdd

// ---------------------------------------------------------------- loads and stores
template <class T> inline T __ldg(const T* p) { return *p; }
template <class T> inline T __ldcg(const T* p) { return *p; }
template <class T> inline T __ldca(const T* p) { return *p; }
template <class T> inline T __ldcs(const T* p) { return *p; }
template <class T> inline T __ldlu(const T* p) { return *p; }
template <class T> inline T __ldcv(const T* p) { return *p; }
template <class T> inline void __stcg(T* p, T v) { *p = v; }
template <class T> inline void __stcs(T* p, T v) { *p = v; }
template <class T> inline void __stwb(T* p, T v) { *p = v; }
template <class T> inline void __stwt(T* p, T v) { *p = v; }

// ---------------------------------------------------------------- math
// The fast intrinsics compute what the hardware's approximations compute, with the error the
// CUDA Programming Guide documents, not the correctly rounded value: __expf is ex2.approx of a
// rounded x*log2(e) (2 + 1.173|x| ulp), __logf is lg2.approx times ln 2, __fdividef multiplies
// by an approximate reciprocal (and gives 0 for 2^126 < |y| < 2^128), __sinf/__cosf have an
// absolute error up to 2^-21.41. approx() stands for one approximate hardware instruction: the
// exact result moved by one ulp toward zero (within the 2 ulp of ex2/lg2/rcp/rsqrt.approx), so a
// tolerance that only holds for exact math fails in the emulator too.
namespace cuda_emu {
inline float approx(float r) { return std::isfinite(r) && r != 0.0f ? std::nextafter(r, 0.0f) : r; }
inline float sin_approx(float r) { return std::nearbyint(r * 4194304.0f) / 4194304.0f; }   // 2^-23 abs error
}  // namespace cuda_emu
inline float __log2f(float x) { return ::cuda_emu::approx(log2f(x)); }
inline float __expf(float x) { return ::cuda_emu::approx(exp2f(x * 1.44269504f)); }
inline float __exp10f(float x) { return ::cuda_emu::approx(exp2f(x * 3.32192809f)); }
inline float __logf(float x) { return __log2f(x) * 0.693147182f; }
inline float __log10f(float x) { return __log2f(x) * 0.301029996f; }
inline float __powf(float x, float y) { return ::cuda_emu::approx(exp2f(y * __log2f(x))); }
inline float __sinf(float x) { return ::cuda_emu::sin_approx(sinf(x)); }
inline float __cosf(float x) { return ::cuda_emu::sin_approx(cosf(x)); }
inline float __tanf(float x) { return __sinf(x) * ::cuda_emu::approx(1.0f / __cosf(x)); }
inline void __sincosf(float x, float* s, float* c) { *s = __sinf(x); *c = __cosf(x); }
inline float __fdividef(float x, float y) {
    float ay = std::fabs(y);
    if (ay > 8.50705917e37f && ay < INFINITY && std::isfinite(x)) return 0.0f;   // 2^126 < |y| < 2^128
    return x * ::cuda_emu::approx(1.0f / y);
}
inline float fdividef(float x, float y) { return x / y; }
inline float rsqrtf(float x) { return ::cuda_emu::approx(float(1.0 / std::sqrt(double(x)))); }   // 2 ulp documented
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline float __saturatef(float x) { return x != x ? 0.0f : (x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x)); }
inline float normcdff(float x) { return 0.5f * erfcf(-x * 0.70710678118654752f); }
inline double normcdf(double x) { return 0.5 * erfc(-x * 0.70710678118654752); }
inline float sinpif(float x) { return float(sin(3.14159265358979323846 * double(x))); }
inline float cospif(float x) { return float(cos(3.14159265358979323846 * double(x))); }
inline void sincospif(float x, float* s, float* c) { *s = sinpif(x); *c = cospif(x); }
inline float rcbrtf(float x) { return 1.0f / cbrtf(x); }

inline int __float_as_int(float x) { return ::cuda_emu::bitcast<int>(&x); }
inline unsigned __float_as_uint(float x) { return ::cuda_emu::bitcast<unsigned>(&x); }
inline float __int_as_float(int x) { return ::cuda_emu::bitcast<float>(&x); }
inline float __uint_as_float(unsigned x) { return ::cuda_emu::bitcast<float>(&x); }
inline long long __double_as_longlong(double x) { return ::cuda_emu::bitcast<long long>(&x); }
inline double __longlong_as_double(long long x) { return ::cuda_emu::bitcast<double>(&x); }
inline int __float2int_rn(float x) { return int(nearbyintf(x)); }
inline int __float2int_rz(float x) { return int(truncf(x)); }
inline int __float2int_rd(float x) { return int(floorf(x)); }
inline int __float2int_ru(float x) { return int(ceilf(x)); }
inline unsigned __float2uint_rn(float x) { return unsigned(nearbyintf(x)); }
inline float __int2float_rn(int x) { return float(x); }
inline float __uint2float_rn(unsigned x) { return float(x); }

inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(unsigned(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    return __builtin_bswap32(x);
}
inline int __mul24(int a, int b) { return (a << 8 >> 8) * (b << 8 >> 8); }
inline unsigned __umul24(unsigned a, unsigned b) { return (a & 0xffffffu) * (b & 0xffffffu); }
inline int __mulhi(int a, int b) { return int((long long)a * b >> 32); }
inline unsigned __umulhi(unsigned a, unsigned b) { return unsigned((unsigned long long)a * b >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}

// CUDA's global min/max overloads: float arguments follow fminf/fmaxf, integers compare in
// the common type.
template <class A, class B>
inline typename std::common_type<A, B>::type min(A a, B b) {
    using C = typename std::common_type<A, B>::type;
    if constexpr (std::is_floating_point<C>::value) return std::fmin(C(a), C(b));
    else return C(b) < C(a) ? C(b) : C(a);
}
template <class A, class B>
inline typename std::common_type<A, B>::type max(A a, B b) {
    using C = typename std::common_type<A, B>::type;
    if constexpr (std::is_floating_point<C>::value) return std::fmax(C(a), C(b));
    else return C(a) < C(b) ? C(b) : C(a);
}

inline long long clock64() {
    unsigned lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (long long)(((unsigned long long)hi << 32) | lo);
}
inline void __nanosleep(unsigned) {}
[[noreturn]] inline void __trap() { std::fprintf(stderr, "lumen-emu: __trap()\n"); std::abort(); }
inline void __brkpt() { __trap(); }

// ---------------------------------------------------------------- __half and __nv_bfloat16
namespace cuda_emu {
// Round a double to binary16, nearest-even; NaN becomes the canonical 0x7fff like the CUDA
// conversion. A float fits in a double exactly, so this is also the float conversion.
inline unsigned short half_bits_from_double(double d) {
    uint64_t b;
    std::memcpy(&b, &d, 8);
    unsigned short sign = (unsigned short)((b >> 48) & 0x8000u);
    double a = std::fabs(d);
    if (a != a) return 0x7fff;
    if (a >= 65520.0) return (unsigned short)(sign | 0x7c00u);       // rounds to infinity
    if (a < 6.103515625e-05) {                                        // below 2^-14: subnormal
        double q = std::nearbyint(a * 16777216.0);                    // units of 2^-24, ties even
        return (unsigned short)(sign | (unsigned short)q);            // 1024 is the smallest normal
    }
    int e;
    std::frexp(a, &e);                                                // a = m * 2^e, m in [0.5, 1)
    double m = std::nearbyint(std::ldexp(a, 11 - e));                 // 11 significant bits
    if (m >= 2048.0) { m = 1024.0; ++e; }
    if (e + 14 >= 31) return (unsigned short)(sign | 0x7c00u);
    return (unsigned short)(sign | (unsigned short)((e + 14) << 10) | (unsigned short)(m - 1024.0));
}
inline float half_bits_to_float(unsigned short h) {
    unsigned sign = (h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f) {
        if (m) { unsigned u = 0x7fffffffu; return bitcast<float>(&u); }   // canonical NaN
        unsigned u = sign | 0x7f800000u;
        return bitcast<float>(&u);
    }
    float v = e == 0 ? std::ldexp(float(m), -24) : std::ldexp(float(m | 0x400u), int(e) - 25);
    return sign ? -v : v;
}
inline unsigned short bf16_bits_from_float(float f) {
    unsigned u = bitcast<unsigned>(&f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fff;
    u += 0x7fffu + ((u >> 16) & 1u);                                   // nearest, ties to even
    return (unsigned short)(u >> 16);
}
inline float bf16_bits_to_float(unsigned short h) {
    unsigned u = unsigned(h) << 16;
    return bitcast<float>(&u);
}
}  // namespace cuda_emu

struct __half {
    unsigned short __x;
    __half() = default;
    __half(float f) : __x(::cuda_emu::half_bits_from_double(f)) {}
    __half(double d) : __x(::cuda_emu::half_bits_from_double(d)) {}
    __half(int i) : __x(::cuda_emu::half_bits_from_double(double(i))) {}
    operator float() const { return ::cuda_emu::half_bits_to_float(__x); }
};
typedef __half half;
struct __nv_bfloat16 {
    unsigned short __x;
    __nv_bfloat16() = default;
    __nv_bfloat16(float f) : __x(::cuda_emu::bf16_bits_from_float(f)) {}
    __nv_bfloat16(int i) : __x(::cuda_emu::bf16_bits_from_float(float(i))) {}
    operator float() const { return ::cuda_emu::bf16_bits_to_float(__x); }
};
typedef __nv_bfloat16 nv_bfloat16;
struct __attribute__((aligned(4))) __half2 { __half x, y; };
struct __attribute__((aligned(4))) __nv_bfloat162 { __nv_bfloat16 x, y; };
typedef __half2 half2;
typedef __nv_bfloat162 nv_bfloat162;

inline __half __ushort_as_half(unsigned short b) { __half h; h.__x = b; return h; }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short b) { __nv_bfloat16 h; h.__x = b; return h; }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }
inline __half __float2half(float f) { return __ushort_as_half(::cuda_emu::half_bits_from_double(f)); }
inline __half __float2half_rn(float f) { return __float2half(f); }
inline __half __double2half(double d) { return __ushort_as_half(::cuda_emu::half_bits_from_double(d)); }
inline float __half2float(__half h) { return ::cuda_emu::half_bits_to_float(h.__x); }
inline __nv_bfloat16 __float2bfloat16(float f) { return __ushort_as_bfloat16(::cuda_emu::bf16_bits_from_float(f)); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __float2bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 h) { return ::cuda_emu::bf16_bits_to_float(h.__x); }
inline __half2 __floats2half2_rn(float a, float b) { return __half2{__float2half(a), __float2half(b)}; }
inline __half2 __float2half2_rn(float a) { return __half2{__float2half(a), __float2half(a)}; }
inline __half2 __float22half2_rn(float2 v) { return __floats2half2_rn(v.x, v.y); }
inline __half2 __halves2half2(__half a, __half b) { return __half2{a, b}; }
inline float2 __half22float2(__half2 v) { return make_float2(__half2float(v.x), __half2float(v.y)); }
inline float __low2float(__half2 v) { return __half2float(v.x); }
inline float __high2float(__half2 v) { return __half2float(v.y); }
inline __half __low2half(__half2 v) { return v.x; }
inline __half __high2half(__half2 v) { return v.y; }
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) {
    return __nv_bfloat162{__float2bfloat16(a), __float2bfloat16(b)};
}
inline __nv_bfloat162 __float22bfloat162_rn(float2 v) { return __floats2bfloat162_rn(v.x, v.y); }
inline float2 __bfloat1622float2(__nv_bfloat162 v) {
    return make_float2(__bfloat162float(v.x), __bfloat162float(v.y));
}
inline float __low2float(__nv_bfloat162 v) { return __bfloat162float(v.x); }
inline float __high2float(__nv_bfloat162 v) { return __bfloat162float(v.y); }

// fp16/bf16 arithmetic: computing in float and rounding once is exact for + - * / (24 >= 2*11+2),
// so these match the hardware's single rounding. fma goes through double (exact product and sum).
#define LUMEN_EMU_LOWP_OPS(T, TO) \
    inline T operator+(T a, T b) { return TO(float(a) + float(b)); } \
    inline T operator-(T a, T b) { return TO(float(a) - float(b)); } \
    inline T operator*(T a, T b) { return TO(float(a) * float(b)); } \
    inline T operator/(T a, T b) { return TO(float(a) / float(b)); } \
    inline T operator-(T a) { T r = a; r.__x ^= 0x8000u; return r; } \
    inline T& operator+=(T& a, T b) { return a = a + b; } \
    inline T& operator-=(T& a, T b) { return a = a - b; } \
    inline T& operator*=(T& a, T b) { return a = a * b; } \
    inline T& operator/=(T& a, T b) { return a = a / b; } \
    inline bool operator==(T a, T b) { return float(a) == float(b); } \
    inline bool operator!=(T a, T b) { return float(a) != float(b); } \
    inline bool operator<(T a, T b) { return float(a) < float(b); } \
    inline bool operator>(T a, T b) { return float(a) > float(b); } \
    inline bool operator<=(T a, T b) { return float(a) <= float(b); } \
    inline bool operator>=(T a, T b) { return float(a) >= float(b); }
LUMEN_EMU_LOWP_OPS(__half, __float2half)
LUMEN_EMU_LOWP_OPS(__nv_bfloat16, __float2bfloat16)
#undef LUMEN_EMU_LOWP_OPS
inline __half __hadd(__half a, __half b) { return a + b; }
inline __half __hsub(__half a, __half b) { return a - b; }
inline __half __hmul(__half a, __half b) { return a * b; }
inline __half __hdiv(__half a, __half b) { return a / b; }
inline __half __hneg(__half a) { return -a; }
inline __half __hfma(__half a, __half b, __half c) {
    return __double2half(double(float(a)) * double(float(b)) + double(float(c)));
}
inline __half __hmax(__half a, __half b) { return __float2half(fmaxf(float(a), float(b))); }
inline __half __hmin(__half a, __half b) { return __float2half(fminf(float(a), float(b))); }
inline __nv_bfloat16 __hadd(__nv_bfloat16 a, __nv_bfloat16 b) { return a + b; }
inline __nv_bfloat16 __hmul(__nv_bfloat16 a, __nv_bfloat16 b) { return a * b; }
inline __nv_bfloat16 __hmax(__nv_bfloat16 a, __nv_bfloat16 b) { return __float2bfloat16(fmaxf(float(a), float(b))); }
inline __nv_bfloat16 __hmin(__nv_bfloat16 a, __nv_bfloat16 b) { return __float2bfloat16(fminf(float(a), float(b))); }
inline bool __hisnan(__half a) { return (a.__x & 0x7fffu) > 0x7c00u; }
inline bool __hisnan(__nv_bfloat16 a) { return (a.__x & 0x7fffu) > 0x7f80u; }

#include "cuda_emu_wmma.h"

#endif  // LUMEN_CUDA_EMU
