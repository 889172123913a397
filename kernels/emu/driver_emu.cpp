// Lumen emulated CUDA driver: the driver-API subset the FFM binding calls, over host memory,
// launching the kernels compiled into this library by name (see emu-cc.sh).
//
// Compiled against the toolkit's own cuda.h, so every exported function has the exact
// signature and, through cuda.h's macros, the exact versioned symbol (cuMemAlloc_v2, ...) of
// the real libcuda.so.1.
//
// LUMEN_EMU_DEVICES=N (default 1) makes it N devices, each with its own primary context and
// memory accounting; the memory of all of them is host memory of this one process.
//
// Like emu_runtime.cpp this file defines no thread_local: the per-thread current context is a
// pthread key.
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>
#include <sanitizer/asan_interface.h>   // poisons the rounding of allocations under ASan

#pragma GCC visibility push(default)
#include <cuda.h>
#pragma GCC visibility pop

#include "cuda_emu.h"   // last: it defines __noinline__ and friends
#include "module_image.h"
#include "ptxas_report.h"
#include "sanitizer.h"

#define EXPORT extern "C" __attribute__((visibility("default")))

using cuda_emu::KernelReg;
using Clock = std::chrono::steady_clock;

struct CUctx_st { int device; };
struct CUmod_st {
    int device;                          // the context it was loaded into
    std::vector<CUfunc_st*> funcs;
    cuda_emu::ImageEntries archs;        // the image's entry points per architecture
    std::set<std::string> entries;       // those present for every architecture
};
struct CUfunc_st {
    const KernelReg* reg;
    CUmod_st* mod;
    int max_dynamic_shared;
};
struct CUstream_st { unsigned flags; int device; };
struct CUevent_st {
    unsigned flags;
    int device;
    bool recorded;
    Clock::time_point t;
};

namespace {

constexpr int kSharedDefault = 48 * 1024;      // dynamic shared memory without opt-in
constexpr int kSharedOptin = 232448;           // H100: 227 KiB per block with opt-in
constexpr int kSharedPerSm = 233472;

constexpr int kMaxDevices = 16;

std::atomic<bool> g_init{false};
int g_devices = 1;                                // LUMEN_EMU_DEVICES, read by cuInit
CUctx_st g_ctx[kMaxDevices];                      // the primary context of each device
int g_ctx_refs[kMaxDevices];
pthread_key_t g_current_key;
pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

std::mutex g_mu;                                  // guards everything below
struct Allocation { size_t bytes; int device; };
std::map<uintptr_t, Allocation> g_allocs;         // device allocations: start -> bytes, device
size_t g_allocated[kMaxDevices];
bool g_peer[kMaxDevices][kMaxDevices];            // [from][to]: cuCtxEnablePeerAccess made to's memory reachable
std::set<void*> g_host_allocs;
std::set<CUmod_st*> g_modules;
std::set<CUstream_st*> g_streams;
std::set<CUevent_st*> g_events;

// What a GPU profile would show, counted so that tests can assert it (lumen_emu_counters):
// device allocations and frees, launches, host waits, copies by direction, memsets, pinned allocations.
enum Counter { kAlloc, kFree, kLaunch, kHostWait, kCopyHtoD, kCopyDtoH, kCopyDtoD, kMemset, kHostAlloc, kCounters };
std::atomic<long long> g_count[kCounters];
inline void count(Counter c) { g_count[c].fetch_add(1, std::memory_order_relaxed); }

void make_key() { pthread_key_create(&g_current_key, nullptr); }

CUcontext current() {
    pthread_once(&g_key_once, make_key);
    return static_cast<CUcontext>(pthread_getspecific(g_current_key));
}
void set_current(CUcontext c) {
    pthread_once(&g_key_once, make_key);
    pthread_setspecific(g_current_key, c);
}

size_t total_memory() {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? size_t(pages) * size_t(page) : (size_t(16) << 30);
}

bool valid_device(CUdevice d) { return d >= 0 && d < g_devices; }

// The device of one of the primary contexts, or -1 for anything else.
int context_device(CUcontext c) {
    for (int d = 0; d < g_devices; d++)
        if (c == &g_ctx[d]) return d;
    return -1;
}

// Every call but the error-string ones needs cuInit; the memory, module and launch calls need
// a current context on the calling thread, like the real driver.
#define NEED_INIT() do { if (!g_init.load(std::memory_order_acquire)) return CUDA_ERROR_NOT_INITIALIZED; } while (0)
#define NEED_CTX() do { NEED_INIT(); if (!current()) return CUDA_ERROR_INVALID_CONTEXT; } while (0)

// A stream of the calling thread's current context (or a default stream): a real driver refuses
// a stream of another device's context with CUDA_ERROR_INVALID_HANDLE.
bool valid_stream(CUstream s) {
    if (s == nullptr || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD) return true;
    CUcontext c = current();
    std::lock_guard<std::mutex> lk(g_mu);
    if (!g_streams.count(s)) return false;
    if (c && s->device != c->device) {
        std::fprintf(stderr, "lumen-emu: a stream of device %d used while device %d's context is current\n", s->device,
                     c->device);
        return false;
    }
    return true;
}

// [p, p+n) must lie inside one device allocation.
bool in_device_memory(CUdeviceptr p, size_t n, const char* what) {
    std::lock_guard<std::mutex> lk(g_mu);
    auto it = g_allocs.upper_bound(uintptr_t(p));
    if (it != g_allocs.begin()) {
        --it;
        if (uintptr_t(p) >= it->first && uintptr_t(p) + n <= it->first + it->second.bytes) return true;
    }
    std::fprintf(stderr, "lumen-emu: %s: [0x%llx, +%zu) is not inside one cuMemAlloc allocation\n", what,
                 (unsigned long long)p, n);
    return false;
}

struct ErrorText { CUresult code; const char* name; const char* text; };
#define E(c, t) {c, #c, t}
const ErrorText kErrors[] = {
    E(CUDA_SUCCESS, "no error"),
    E(CUDA_ERROR_INVALID_VALUE, "invalid argument"),
    E(CUDA_ERROR_OUT_OF_MEMORY, "out of memory"),
    E(CUDA_ERROR_NOT_INITIALIZED, "initialization error"),
    E(CUDA_ERROR_DEINITIALIZED, "driver shutting down"),
    E(CUDA_ERROR_NO_DEVICE, "no CUDA-capable device is detected"),
    E(CUDA_ERROR_INVALID_DEVICE, "invalid device ordinal"),
    E(CUDA_ERROR_INVALID_IMAGE, "device kernel image is invalid"),
    E(CUDA_ERROR_INVALID_CONTEXT, "invalid device context"),
    E(CUDA_ERROR_NO_BINARY_FOR_GPU, "no kernel image is available for execution on the device"),
    E(CUDA_ERROR_INVALID_SOURCE, "device kernel image is invalid"),
    E(CUDA_ERROR_FILE_NOT_FOUND, "file not found"),
    E(CUDA_ERROR_INVALID_HANDLE, "invalid resource handle"),
    E(CUDA_ERROR_NOT_FOUND, "named symbol not found"),
    E(CUDA_ERROR_NOT_READY, "device not ready"),
    E(CUDA_ERROR_ILLEGAL_ADDRESS, "an illegal memory access was encountered"),
    E(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "too many resources requested for launch"),
    E(CUDA_ERROR_LAUNCH_TIMEOUT, "the launch timed out and was terminated"),
    E(CUDA_ERROR_LAUNCH_FAILED, "unspecified launch failure"),
    E(CUDA_ERROR_CONTEXT_IS_DESTROYED, "context is destroyed"),
    E(CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED, "peer access is already enabled"),
    E(CUDA_ERROR_PEER_ACCESS_NOT_ENABLED, "peer access has not been enabled"),
    E(CUDA_ERROR_NOT_SUPPORTED, "operation not supported"),
    E(CUDA_ERROR_UNKNOWN, "unknown error"),
};
#undef E

}  // namespace

// ---------------------------------------------------------------- errors, init, version
EXPORT CUresult cuGetErrorString(CUresult error, const char** pStr) {
    if (!pStr) return CUDA_ERROR_INVALID_VALUE;
    for (const ErrorText& e : kErrors)
        if (e.code == error) { *pStr = e.text; return CUDA_SUCCESS; }
    *pStr = nullptr;
    return CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuGetErrorName(CUresult error, const char** pStr) {
    if (!pStr) return CUDA_ERROR_INVALID_VALUE;
    for (const ErrorText& e : kErrors)
        if (e.code == error) { *pStr = e.name; return CUDA_SUCCESS; }
    *pStr = nullptr;
    return CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuInit(unsigned int flags) {
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    if (g_init.load(std::memory_order_acquire)) return CUDA_SUCCESS;
    std::lock_guard<std::mutex> lk(g_mu);
    const char* env = std::getenv("LUMEN_EMU_DEVICES");
    if (env && *env) {
        char* end = nullptr;
        long n = std::strtol(env, &end, 10);
        if (*end != 0 || n < 1 || n > kMaxDevices) {
            std::fprintf(stderr, "lumen-emu: LUMEN_EMU_DEVICES=%s is not a device count from 1 to %d\n", env, kMaxDevices);
            return CUDA_ERROR_INVALID_VALUE;
        }
        g_devices = int(n);
    }
    for (int d = 0; d < kMaxDevices; d++) g_ctx[d].device = d;
    g_init.store(true, std::memory_order_release);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDriverGetVersion(int* v) {
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    *v = CUDA_VERSION;
    return CUDA_SUCCESS;
}

// ---------------------------------------------------------------- device
EXPORT CUresult cuDeviceGetCount(int* count) {
    NEED_INIT();
    if (!count) return CUDA_ERROR_INVALID_VALUE;
    *count = g_devices;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGet(CUdevice* dev, int ordinal) {
    NEED_INIT();
    if (!dev) return CUDA_ERROR_INVALID_VALUE;
    if (!valid_device(ordinal)) return CUDA_ERROR_INVALID_DEVICE;
    *dev = ordinal;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetName(char* name, int len, CUdevice dev) {
    NEED_INIT();
    if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    if (!valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
    std::snprintf(name, size_t(len), "Lumen CUDA emulator (CPU, %d threads)", cuda_emu::lumen_emu_threads());
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceTotalMem(size_t* bytes, CUdevice dev) {   // cuDeviceTotalMem_v2
    NEED_INIT();
    if (!bytes) return CUDA_ERROR_INVALID_VALUE;
    if (!valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
    *bytes = total_memory();
    return CUDA_SUCCESS;
}

// An H100 SXM as far as the attributes go, so that launch heuristics behave as on the GPU.
EXPORT CUresult cuDeviceGetAttribute(int* pi, CUdevice_attribute attrib, CUdevice dev) {
    NEED_INIT();
    if (!pi) return CUDA_ERROR_INVALID_VALUE;
    if (!valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
    int v = 0;
    switch (attrib) {
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: v = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: v = 64; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: v = 2147483647; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: v = 65535; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: v = 65535; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: v = kSharedDefault; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: v = kSharedOptin; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: v = kSharedPerSm; break;
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: v = 65536; break;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE: v = 32; break;
    case CU_DEVICE_ATTRIBUTE_MAX_PITCH: v = 2147483647; break;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: v = 65536; break;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR: v = 65536; break;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: v = 1980000; break;
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: v = 2619000; break;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: v = 5120; break;
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: v = 50 * 1024 * 1024; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: v = 132; break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: v = 2048; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR: v = 32; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: v = 9; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT: v = 2; break;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY: v = 1; break;
    case CU_DEVICE_ATTRIBUTE_INTEGRATED: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_ECC_ENABLED: v = 0; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_MODE: v = CU_COMPUTEMODE_DEFAULT; break;
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: v = dev; break;   // distinct per device, as on a real node
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID: case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID: v = 0; break;
    default:
        if (int(attrib) <= 0 || int(attrib) >= int(CU_DEVICE_ATTRIBUTE_MAX)) return CUDA_ERROR_INVALID_VALUE;
        v = 0;
    }
    *pi = v;
    return CUDA_SUCCESS;
}

// ---------------------------------------------------------------- contexts (one primary context per device)
EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
    NEED_INIT();
    if (!pctx) return CUDA_ERROR_INVALID_VALUE;
    if (!valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
    std::lock_guard<std::mutex> lk(g_mu);
    g_ctx_refs[dev]++;
    *pctx = &g_ctx[dev];
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRelease(CUdevice dev) {   // cuDevicePrimaryCtxRelease_v2
    NEED_INIT();
    if (!valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
    std::lock_guard<std::mutex> lk(g_mu);
    if (g_ctx_refs[dev] > 0) g_ctx_refs[dev]--;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int* flags, int* active) {
    NEED_INIT();
    if (!flags || !active) return CUDA_ERROR_INVALID_VALUE;
    if (!valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
    std::lock_guard<std::mutex> lk(g_mu);
    *flags = 0;
    *active = g_ctx_refs[dev] > 0;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxDestroy(CUcontext ctx) {   // cuCtxDestroy_v2
    NEED_INIT();
    if (context_device(ctx) < 0) return CUDA_ERROR_INVALID_CONTEXT;
    if (current() == ctx) set_current(nullptr);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSetCurrent(CUcontext ctx) {
    NEED_INIT();
    if (ctx != nullptr && context_device(ctx) < 0) return CUDA_ERROR_INVALID_CONTEXT;
    set_current(ctx);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetCurrent(CUcontext* pctx) {
    NEED_INIT();
    if (!pctx) return CUDA_ERROR_INVALID_VALUE;
    *pctx = current();
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxPushCurrent(CUcontext ctx) {   // cuCtxPushCurrent_v2 (a stack of depth 1)
    NEED_INIT();
    if (context_device(ctx) < 0) return CUDA_ERROR_INVALID_CONTEXT;
    set_current(ctx);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxPopCurrent(CUcontext* pctx) {   // cuCtxPopCurrent_v2
    NEED_INIT();
    CUcontext c = current();
    if (!c) return CUDA_ERROR_INVALID_CONTEXT;
    if (pctx) *pctx = c;
    set_current(nullptr);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetDevice(CUdevice* dev) {
    NEED_CTX();
    if (!dev) return CUDA_ERROR_INVALID_VALUE;
    *dev = current()->device;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSynchronize(void) {
    NEED_CTX();
    count(kHostWait);
    return CUDA_SUCCESS;   // every operation ran synchronously
}

// ---------------------------------------------------------------- memory
EXPORT CUresult cuMemAlloc(CUdeviceptr* dptr, size_t bytes) {   // cuMemAlloc_v2
    NEED_CTX();
    if (!dptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    size_t rounded = (bytes + 255) & ~size_t(255);
    bool check = cuda_emu::lumen_emu_get_check();
    // The checking library allocates at the exact size between guard zones (sanitizer.cpp).
    void* p = check && cuda_emu::san_alloc ? cuda_emu::san_alloc(bytes) : std::aligned_alloc(256, rounded);
    if (!p) return CUDA_ERROR_OUT_OF_MEMORY;
    if (check) std::memset(p, 0xff, bytes);   // NaN as float, fp16, bf16
    // Under ASan the rounding is poisoned: a kernel that reads or writes past `bytes` is reported.
    if (p != nullptr && !(check && cuda_emu::san_alloc)) ASAN_POISON_MEMORY_REGION(static_cast<char*>(p) + bytes, rounded - bytes);
    {
        std::lock_guard<std::mutex> lk(g_mu);
        int dev = current()->device;
        g_allocs[uintptr_t(p)] = Allocation{bytes, dev};
        g_allocated[dev] += rounded;
    }
    *dptr = CUdeviceptr(uintptr_t(p));
    count(kAlloc);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemFree(CUdeviceptr dptr) {   // cuMemFree_v2
    NEED_CTX();
    if (dptr == 0) return CUDA_SUCCESS;
    {
        std::lock_guard<std::mutex> lk(g_mu);
        auto it = g_allocs.find(uintptr_t(dptr));
        if (it == g_allocs.end()) return CUDA_ERROR_INVALID_VALUE;
        g_allocated[it->second.device] -= (it->second.bytes + 255) & ~size_t(255);
        g_allocs.erase(it);
    }
    void* p = reinterpret_cast<void*>(uintptr_t(dptr));
    if (!cuda_emu::san_free || !cuda_emu::san_free(p)) std::free(p);
    count(kFree);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemGetInfo(size_t* free_bytes, size_t* total_bytes) {   // cuMemGetInfo_v2
    NEED_CTX();
    if (!free_bytes || !total_bytes) return CUDA_ERROR_INVALID_VALUE;
    size_t total = total_memory();
    int dev = current()->device;   // each device counts its own allocations
    std::lock_guard<std::mutex> lk(g_mu);
    *total_bytes = total;
    *free_bytes = g_allocated[dev] < total ? total - g_allocated[dev] : 0;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAllocHost(void** pp, size_t bytes) {   // cuMemAllocHost_v2
    NEED_CTX();
    if (!pp || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    void* p = std::aligned_alloc(4096, (bytes + 4095) & ~size_t(4095));
    if (!p) return CUDA_ERROR_OUT_OF_MEMORY;
    std::lock_guard<std::mutex> lk(g_mu);
    g_host_allocs.insert(p);
    *pp = p;
    count(kHostAlloc);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemHostAlloc(void** pp, size_t bytes, unsigned int) { return cuMemAllocHost(pp, bytes); }

EXPORT CUresult cuMemFreeHost(void* p) {
    NEED_CTX();
    {
        std::lock_guard<std::mutex> lk(g_mu);
        if (!g_host_allocs.erase(p)) return CUDA_ERROR_INVALID_VALUE;
    }
    std::free(p);
    return CUDA_SUCCESS;
}

static CUresult copy_htod(CUdeviceptr dst, const void* src, size_t n) {
    NEED_CTX();
    count(kCopyHtoD);
    if (n == 0) return CUDA_SUCCESS;
    if (!src || !in_device_memory(dst, n, "cuMemcpyHtoD")) return CUDA_ERROR_INVALID_VALUE;
    std::memcpy(reinterpret_cast<void*>(uintptr_t(dst)), src, n);
    return CUDA_SUCCESS;
}

static CUresult copy_dtoh(void* dst, CUdeviceptr src, size_t n) {
    NEED_CTX();
    count(kCopyDtoH);
    if (n == 0) return CUDA_SUCCESS;
    if (!dst || !in_device_memory(src, n, "cuMemcpyDtoH")) return CUDA_ERROR_INVALID_VALUE;
    std::memcpy(dst, reinterpret_cast<const void*>(uintptr_t(src)), n);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyDtoD(CUdeviceptr dst, CUdeviceptr src, size_t n) {   // cuMemcpyDtoD_v2
    NEED_CTX();
    count(kCopyDtoD);
    if (n == 0) return CUDA_SUCCESS;
    if (!in_device_memory(dst, n, "cuMemcpyDtoD") || !in_device_memory(src, n, "cuMemcpyDtoD"))
        return CUDA_ERROR_INVALID_VALUE;
    std::memmove(reinterpret_cast<void*>(uintptr_t(dst)), reinterpret_cast<const void*>(uintptr_t(src)), n);
    return CUDA_SUCCESS;
}

// The synchronous copies to and from the host make the host wait, as on a GPU.
EXPORT CUresult cuMemcpyHtoD(CUdeviceptr dst, const void* src, size_t n) {   // cuMemcpyHtoD_v2
    count(kHostWait);
    return copy_htod(dst, src, n);
}

EXPORT CUresult cuMemcpyDtoH(void* dst, CUdeviceptr src, size_t n) {   // cuMemcpyDtoH_v2
    count(kHostWait);
    return copy_dtoh(dst, src, n);
}

EXPORT CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n) {   // unified addressing
    NEED_CTX();
    if (n == 0) return CUDA_SUCCESS;
    if (!dst || !src) return CUDA_ERROR_INVALID_VALUE;
    std::memmove(reinterpret_cast<void*>(uintptr_t(dst)), reinterpret_cast<const void*>(uintptr_t(src)), n);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyHtoDAsync(CUdeviceptr dst, const void* src, size_t n, CUstream s) {   // _v2
    if (!valid_stream(s)) return CUDA_ERROR_INVALID_HANDLE;
    return copy_htod(dst, src, n);
}
EXPORT CUresult cuMemcpyDtoHAsync(void* dst, CUdeviceptr src, size_t n, CUstream s) {   // _v2
    if (!valid_stream(s)) return CUDA_ERROR_INVALID_HANDLE;
    return copy_dtoh(dst, src, n);
}
EXPORT CUresult cuMemcpyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {   // _v2
    if (!valid_stream(s)) return CUDA_ERROR_INVALID_HANDLE;
    return cuMemcpyDtoD(dst, src, n);
}
EXPORT CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
    if (!valid_stream(s)) return CUDA_ERROR_INVALID_HANDLE;
    return cuMemcpy(dst, src, n);
}

// ---------------------------------------------------------------- between devices
// [p, p+n) must lie inside one allocation of device dev.
static bool on_device(CUdeviceptr p, size_t n, int dev, const char* what) {
    if (!in_device_memory(p, n, what)) return false;
    std::lock_guard<std::mutex> lk(g_mu);
    int owner = std::prev(g_allocs.upper_bound(uintptr_t(p)))->second.device;
    if (owner == dev) return true;
    std::fprintf(stderr, "lumen-emu: %s: 0x%llx is memory of device %d, not of the context's device %d\n", what,
                 (unsigned long long)p, owner, dev);
    return false;
}

EXPORT CUresult cuMemcpyPeer(CUdeviceptr dst, CUcontext dstCtx, CUdeviceptr src, CUcontext srcCtx, size_t n) {
    NEED_CTX();
    int dd = context_device(dstCtx), sd = context_device(srcCtx);
    if (dd < 0 || sd < 0) return CUDA_ERROR_INVALID_CONTEXT;
    count(kCopyDtoD);
    if (n == 0) return CUDA_SUCCESS;
    if (!on_device(dst, n, dd, "cuMemcpyPeer") || !on_device(src, n, sd, "cuMemcpyPeer")) return CUDA_ERROR_INVALID_VALUE;
    std::memmove(reinterpret_cast<void*>(uintptr_t(dst)), reinterpret_cast<const void*>(uintptr_t(src)), n);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyPeerAsync(CUdeviceptr dst, CUcontext dstCtx, CUdeviceptr src, CUcontext srcCtx, size_t n,
                                  CUstream s) {
    if (!valid_stream(s)) return CUDA_ERROR_INVALID_HANDLE;
    return cuMemcpyPeer(dst, dstCtx, src, srcCtx, n);
}

// Every pair of emulated devices can reach each other (host memory), once enabled.
EXPORT CUresult cuDeviceCanAccessPeer(int* can, CUdevice dev, CUdevice peer) {
    NEED_INIT();
    if (!can) return CUDA_ERROR_INVALID_VALUE;
    if (!valid_device(dev) || !valid_device(peer)) return CUDA_ERROR_INVALID_DEVICE;
    *can = dev != peer;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxEnablePeerAccess(CUcontext peer, unsigned int flags) {
    NEED_CTX();
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    int from = current()->device, to = context_device(peer);
    if (to < 0) return CUDA_ERROR_INVALID_CONTEXT;
    if (to == from) return CUDA_ERROR_INVALID_DEVICE;
    std::lock_guard<std::mutex> lk(g_mu);
    if (g_peer[from][to]) return CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED;
    g_peer[from][to] = true;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxDisablePeerAccess(CUcontext peer) {
    NEED_CTX();
    int from = current()->device, to = context_device(peer);
    if (to < 0) return CUDA_ERROR_INVALID_CONTEXT;
    std::lock_guard<std::mutex> lk(g_mu);
    if (!g_peer[from][to]) return CUDA_ERROR_PEER_ACCESS_NOT_ENABLED;
    g_peer[from][to] = false;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemsetD8(CUdeviceptr dst, unsigned char v, size_t n) {   // cuMemsetD8_v2
    NEED_CTX();
    count(kMemset);
    if (n == 0) return CUDA_SUCCESS;
    if (!in_device_memory(dst, n, "cuMemsetD8")) return CUDA_ERROR_INVALID_VALUE;
    std::memset(reinterpret_cast<void*>(uintptr_t(dst)), v, n);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemsetD16(CUdeviceptr dst, unsigned short v, size_t n) {   // cuMemsetD16_v2
    NEED_CTX();
    count(kMemset);
    if (n == 0) return CUDA_SUCCESS;
    if ((dst & 1) || !in_device_memory(dst, n * 2, "cuMemsetD16")) return CUDA_ERROR_INVALID_VALUE;
    unsigned short* p = reinterpret_cast<unsigned short*>(uintptr_t(dst));
    std::fill(p, p + n, v);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemsetD32(CUdeviceptr dst, unsigned int v, size_t n) {   // cuMemsetD32_v2
    NEED_CTX();
    count(kMemset);
    if (n == 0) return CUDA_SUCCESS;
    if ((dst & 3) || !in_device_memory(dst, n * 4, "cuMemsetD32")) return CUDA_ERROR_INVALID_VALUE;
    unsigned int* p = reinterpret_cast<unsigned int*>(uintptr_t(dst));
    std::fill(p, p + n, v);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char v, size_t n, CUstream s) {
    if (!valid_stream(s)) return CUDA_ERROR_INVALID_HANDLE;
    return cuMemsetD8(dst, v, n);
}
EXPORT CUresult cuMemsetD16Async(CUdeviceptr dst, unsigned short v, size_t n, CUstream s) {
    if (!valid_stream(s)) return CUDA_ERROR_INVALID_HANDLE;
    return cuMemsetD16(dst, v, n);
}
EXPORT CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned int v, size_t n, CUstream s) {
    if (!valid_stream(s)) return CUDA_ERROR_INVALID_HANDLE;
    return cuMemsetD32(dst, v, n);
}

// ---------------------------------------------------------------- modules and functions
// The image must be a fatbin, cubin or PTX, as on a GPU; its entry points decide which names
// cuModuleGetFunction finds, and the code that runs is the kernel compiled into this library.
EXPORT CUresult cuModuleLoadData(CUmodule* module, const void* image) {
    NEED_CTX();
    if (!module || !image) return CUDA_ERROR_INVALID_VALUE;
    CUmod_st* m = new CUmod_st();
    m->device = current()->device;
    std::string why = cuda_emu::read_module_image(image, &m->archs);
    if (!why.empty()) {
        std::fprintf(stderr, "lumen-emu: cuModuleLoadData: invalid module image: %s\n", why.c_str());
        delete m;
        return CUDA_ERROR_INVALID_IMAGE;
    }
    m->entries = cuda_emu::common_entries(m->archs);
    std::lock_guard<std::mutex> lk(g_mu);
    g_modules.insert(m);
    *module = m;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int, CUjit_option*, void**) {
    return cuModuleLoadData(module, image);
}

EXPORT CUresult cuModuleLoadFatBinary(CUmodule* module, const void* fatCubin) {
    return cuModuleLoadData(module, fatCubin);
}

EXPORT CUresult cuModuleUnload(CUmodule hmod) {
    NEED_CTX();
    std::lock_guard<std::mutex> lk(g_mu);
    if (!g_modules.erase(hmod)) return CUDA_ERROR_INVALID_HANDLE;
    for (CUfunc_st* f : hmod->funcs) delete f;
    delete hmod;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleGetFunction(CUfunction* hfunc, CUmodule hmod, const char* name) {
    NEED_CTX();
    if (!hfunc || !name) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> lk(g_mu);
    if (!g_modules.count(hmod)) return CUDA_ERROR_INVALID_HANDLE;
    if (hmod->device != current()->device) {
        std::fprintf(stderr, "lumen-emu: cuModuleGetFunction: the module was loaded into device %d's context, device %d's "
                     "is current\n", hmod->device, current()->device);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    for (CUfunc_st* f : hmod->funcs)
        if (std::strcmp(f->reg->name, name) == 0) { *hfunc = f; return CUDA_SUCCESS; }
    if (!hmod->entries.count(name)) {
        // A real driver cannot find it either; say which architectures lack it (a stale image).
        std::string lacking;
        for (const auto& [arch, names] : hmod->archs)
            if (!names.count(name)) lacking += (lacking.empty() ? "" : ", ") + arch;
        std::fprintf(stderr, "lumen-emu: cuModuleGetFunction: no kernel %s in the module image (missing for %s)\n", name,
                     lacking.c_str());
        return CUDA_ERROR_NOT_FOUND;
    }
    const KernelReg* r = cuda_emu::lumen_emu_find_kernel(name);
    if (!r) {
        std::fprintf(stderr, "lumen-emu: cuModuleGetFunction: kernel %s is in the module image but not compiled into "
                     "the emulator\n", name);
        return CUDA_ERROR_NOT_FOUND;
    }
    CUfunc_st* f = new CUfunc_st{r, hmod, kSharedDefault};
    hmod->funcs.push_back(f);
    *hfunc = f;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuFuncGetName(const char** name, CUfunction f) {
    NEED_INIT();
    if (!name || !f) return CUDA_ERROR_INVALID_VALUE;
    *name = f->reg->name;
    return CUDA_SUCCESS;
}

// Offsets follow the natural alignment of each parameter type, as the CUDA ABI lays them out.
EXPORT CUresult cuFuncGetParamInfo(CUfunction f, size_t index, size_t* offset, size_t* size) {
    NEED_INIT();
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    if (int(index) >= f->reg->nparams) return CUDA_ERROR_INVALID_VALUE;
    size_t off = 0;
    for (size_t i = 0;; i++) {
        size_t a = f->reg->param_align[i];
        off = (off + a - 1) / a * a;
        if (i == index) break;
        off += f->reg->param_size[i];
    }
    if (offset) *offset = off;
    if (size) *size = f->reg->param_size[index];
    return CUDA_SUCCESS;
}

EXPORT CUresult cuFuncSetAttribute(CUfunction f, CUfunction_attribute attrib, int value) {
    NEED_CTX();
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
        if (value < 0 || value > kSharedOptin) return CUDA_ERROR_INVALID_VALUE;
        f->max_dynamic_shared = value;
        return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
        return value >= -1 && value <= 100 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    default:
        return CUDA_SUCCESS;
    }
}

EXPORT CUresult cuFuncGetAttribute(int* pi, CUfunction_attribute attrib, CUfunction f) {
    NEED_CTX();
    if (!pi) return CUDA_ERROR_INVALID_VALUE;
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    const cuda_emu::PtxasInfo* info = cuda_emu::ptxas_info(f->reg->name);
    switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = cuda_emu::max_threads(f->reg->max_threads, info); break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *pi = info ? info->registers : 0; break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *pi = info ? info->shared_bytes : 0; break;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *pi = info ? info->stack_bytes : 0; break;
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: *pi = info ? info->const_bytes : 0; break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION: case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *pi = 90; break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *pi = f->max_dynamic_shared; break;
    default: *pi = 0; break;
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuFuncSetCacheConfig(CUfunction f, CUfunc_cache) {
    NEED_CTX();
    return f ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

// A GPU faults when a kernel of device d dereferences memory of device e whose peer access d has
// not enabled. Emulated devices share host memory, so the launch looks for it instead: every
// 8-byte-aligned word of the parameters that points into another device's allocation. Pointers
// stored in device memory (tables a kernel reads) are not seen.
static bool params_on_device(const KernelReg* r, void** params, int dev) {
    if (g_devices == 1) return true;
    std::lock_guard<std::mutex> lk(g_mu);
    for (int i = 0; i < r->nparams; i++) {
        for (size_t off = 0; off + 8 <= r->param_size[i]; off += 8) {
            uintptr_t a;
            std::memcpy(&a, static_cast<const char*>(params[i]) + off, 8);
            auto it = g_allocs.upper_bound(a);
            if (it == g_allocs.begin()) continue;
            --it;
            if (a >= it->first + it->second.bytes) continue;
            int owner = it->second.device;
            if (owner == dev || g_peer[dev][owner]) continue;
            std::fprintf(stderr, "lumen-emu: %s: parameter %d points into device %d's memory (0x%lx, %zu bytes into a "
                         "%zu-byte allocation) but the launch runs on device %d, which has no peer access to it "
                         "(cuCtxEnablePeerAccess)\n", r->name, i, owner, (unsigned long)a, size_t(a - it->first),
                         it->second.bytes, dev);
            return false;
        }
    }
    return true;
}

// Runs the grid to completion on the calling thread and the emulator's worker pool.
EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
                               unsigned int by, unsigned int bz, unsigned int sharedMemBytes, CUstream hStream,
                               void** kernelParams, void** extra) {
    NEED_CTX();
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    if (f->mod->device != current()->device) {
        std::fprintf(stderr, "lumen-emu: %s: a function of device %d's module launched while device %d's context is "
                     "current\n", f->reg->name, f->mod->device, current()->device);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    if (!valid_stream(hStream)) return CUDA_ERROR_INVALID_HANDLE;
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0) return CUDA_ERROR_INVALID_VALUE;
    if (gx > 2147483647u || gy > 65535u || gz > 65535u) return CUDA_ERROR_INVALID_VALUE;
    if (bx > 1024 || by > 1024 || bz > 64 || uint64_t(bx) * by * bz > 1024) return CUDA_ERROR_INVALID_VALUE;
    int limit = cuda_emu::max_threads(f->reg->max_threads, cuda_emu::ptxas_info(f->reg->name));
    if (uint64_t(bx) * by * bz > uint64_t(limit)) {
        std::fprintf(stderr, "lumen-emu: %s: %llu threads per block, above its limit of %d (%s)\n", f->reg->name,
                     (unsigned long long)bx * by * bz, limit,
                     f->reg->max_threads == limit ? "__launch_bounds__" : "registers per block");
        return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
    }
    if (int64_t(sharedMemBytes) > f->max_dynamic_shared) {
        std::fprintf(stderr,
                     "lumen-emu: %s: %u bytes of dynamic shared memory above the function's limit of %d "
                     "(raise CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)\n",
                     f->reg->name, sharedMemBytes, f->max_dynamic_shared);
        return CUDA_ERROR_INVALID_VALUE;
    }
    const KernelReg* r = f->reg;
    void** params = kernelParams;
    void* from_buffer[64];
    if (!params && extra) {
        // CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END
        char* buf = nullptr;
        size_t bufsize = 0;
        for (void** e = extra; *e != CU_LAUNCH_PARAM_END; e += 2) {
            if (e[0] == CU_LAUNCH_PARAM_BUFFER_POINTER) buf = static_cast<char*>(e[1]);
            else if (e[0] == CU_LAUNCH_PARAM_BUFFER_SIZE) bufsize = *static_cast<size_t*>(e[1]);
            else return CUDA_ERROR_INVALID_VALUE;
        }
        if (!buf || r->nparams > 64) return CUDA_ERROR_INVALID_VALUE;
        size_t off = 0;
        for (int i = 0; i < r->nparams; i++) {
            size_t a = r->param_align[i];
            off = (off + a - 1) / a * a;
            if (off + r->param_size[i] > bufsize) return CUDA_ERROR_INVALID_VALUE;
            from_buffer[i] = buf + off;
            off += r->param_size[i];
        }
        params = from_buffer;
    } else if (kernelParams && extra) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (r->nparams > 0 && !params) return CUDA_ERROR_INVALID_VALUE;
    if (!params_on_device(r, params, current()->device)) return CUDA_ERROR_ILLEGAL_ADDRESS;
    count(kLaunch);
    // One launch at a time, whichever thread (device) it comes from: the worker pool runs one grid
    // anyway, and in the checking library a kernel's instrumented argument unpacking, which runs on
    // the calling thread, must not run while another thread's launch is being checked.
    static std::mutex launch_mu;
    std::lock_guard<std::mutex> one_launch(launch_mu);
    int rc = r->run(r->fn, dim3(gx, gy, gz), dim3(bx, by, bz), sharedMemBytes, params);
    if (rc == 0) return CUDA_SUCCESS;
    return rc == cuda_emu::kIllegalAddress ? CUDA_ERROR_ILLEGAL_ADDRESS : CUDA_ERROR_LAUNCH_FAILED;
}

// ---------------------------------------------------------------- streams (synchronous)
EXPORT CUresult cuStreamCreate(CUstream* ph, unsigned int flags) {
    NEED_CTX();
    if (!ph) return CUDA_ERROR_INVALID_VALUE;
    CUstream_st* s = new CUstream_st{flags, current()->device};
    std::lock_guard<std::mutex> lk(g_mu);
    g_streams.insert(s);
    *ph = s;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamCreateWithPriority(CUstream* ph, unsigned int flags, int) { return cuStreamCreate(ph, flags); }

EXPORT CUresult cuStreamDestroy(CUstream s) {   // cuStreamDestroy_v2
    NEED_CTX();
    std::lock_guard<std::mutex> lk(g_mu);
    if (!g_streams.erase(s)) return CUDA_ERROR_INVALID_HANDLE;
    delete s;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamSynchronize(CUstream s) {
    NEED_CTX();
    count(kHostWait);
    return valid_stream(s) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EXPORT CUresult cuStreamQuery(CUstream s) {
    NEED_CTX();
    return valid_stream(s) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EXPORT CUresult cuStreamWaitEvent(CUstream s, CUevent e, unsigned int) {
    NEED_CTX();
    if (!valid_stream(s)) return CUDA_ERROR_INVALID_HANDLE;
    std::lock_guard<std::mutex> lk(g_mu);
    return g_events.count(e) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

// ---------------------------------------------------------------- events
EXPORT CUresult cuEventCreate(CUevent* ph, unsigned int flags) {
    NEED_CTX();
    if (!ph) return CUDA_ERROR_INVALID_VALUE;
    CUevent_st* e = new CUevent_st{flags, current()->device, false, Clock::time_point()};
    std::lock_guard<std::mutex> lk(g_mu);
    g_events.insert(e);
    *ph = e;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventRecord(CUevent e, CUstream s) {
    NEED_CTX();
    if (!valid_stream(s)) return CUDA_ERROR_INVALID_HANDLE;
    std::lock_guard<std::mutex> lk(g_mu);
    if (!g_events.count(e)) return CUDA_ERROR_INVALID_HANDLE;
    if (e->device != current()->device) {   // the event and the stream must share a context
        std::fprintf(stderr, "lumen-emu: cuEventRecord: an event of device %d recorded while device %d's context is "
                     "current\n", e->device, current()->device);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    e->recorded = true;
    e->t = Clock::now();
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventSynchronize(CUevent e) {
    NEED_CTX();
    count(kHostWait);
    std::lock_guard<std::mutex> lk(g_mu);
    return g_events.count(e) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EXPORT CUresult cuEventQuery(CUevent e) {
    NEED_CTX();
    std::lock_guard<std::mutex> lk(g_mu);
    return g_events.count(e) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EXPORT CUresult cuEventElapsedTime(float* ms, CUevent start, CUevent end) {   // cuEventElapsedTime_v2
    NEED_CTX();
    if (!ms) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> lk(g_mu);
    if (!g_events.count(start) || !g_events.count(end)) return CUDA_ERROR_INVALID_HANDLE;
    if ((start->flags | end->flags) & CU_EVENT_DISABLE_TIMING) return CUDA_ERROR_INVALID_HANDLE;
    if (!start->recorded || !end->recorded) return CUDA_ERROR_INVALID_HANDLE;
    *ms = std::chrono::duration<float, std::milli>(end->t - start->t).count();
    return CUDA_SUCCESS;
}

// The unversioned name too: drivers before 12.8 export only this one.
extern "C" __attribute__((visibility("default"))) CUresult lumen_emu_event_elapsed_v1(float*, CUevent, CUevent)
    __asm__("cuEventElapsedTime");
extern "C" CUresult lumen_emu_event_elapsed_v1(float* ms, CUevent start, CUevent end) {
    return cuEventElapsedTime(ms, start, end);
}

EXPORT CUresult cuEventDestroy(CUevent e) {   // cuEventDestroy_v2
    NEED_CTX();
    std::lock_guard<std::mutex> lk(g_mu);
    if (!g_events.erase(e)) return CUDA_ERROR_INVALID_HANDLE;
    delete e;
    return CUDA_SUCCESS;
}

// The device whose allocation holds p, or -1: the emulated cuBLAS and cuDNN check with it that
// a handle is given memory of its own device (emulated_device.h).
EXPORT int lumen_emu_pointer_device(CUdeviceptr p) {
    std::lock_guard<std::mutex> lk(g_mu);
    auto it = g_allocs.upper_bound(uintptr_t(p));
    if (it == g_allocs.begin()) return -1;
    --it;
    return uintptr_t(p) < it->first + it->second.bytes ? it->second.device : -1;
}

// ---------------------------------------------------------------- call counters
// Writes up to n counters, in the order of enum Counter (alloc, free, launch, host wait, HtoD,
// DtoH, DtoD, memset, host alloc), and returns how many there are.
EXPORT int lumen_emu_counters(long long* out, int n) {
    for (int i = 0; i < n && i < kCounters; i++) out[i] = g_count[i].load(std::memory_order_relaxed);
    return kCounters;
}
