// Lumen CUDA emulation runtime: fibers, barriers, warp operations, the worker pool and the
// kernel registry. Linked into the same shared object as the emulated kernels.
//
// This file must not define any thread_local variable: in checking mode the whole static TLS
// block of this module is the blocks' static __shared__ memory and gets filled with NaN.
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cuda_emu.h"   // after the system headers: it defines __noinline__
#include "sanitizer.h"

#define HIDDEN __attribute__((visibility("hidden")))

// Under AddressSanitizer (`make emu-asan-test`) every stack switch is announced before it happens
// and confirmed after it, so that ASan knows which stack is running.
// The bytes around a block's dynamic shared memory are poisoned too, so that ASan sees an
// access past it (the ASAN_*_MEMORY_REGION macros do nothing without ASan).
#include <sanitizer/asan_interface.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define ASAN_LEAVE(fake, bottom, size) __sanitizer_start_switch_fiber((fake), (bottom), (size))
#define ASAN_ARRIVE(fake) __sanitizer_finish_switch_fiber((fake), nullptr, nullptr)
#else
#define ASAN_LEAVE(fake, bottom, size) ((void)0)
#define ASAN_ARRIVE(fake) ((void)0)
#endif

// ---------------------------------------------------------------- context switch (x86-64 SysV)
// emu_switch(save, to):      saves the callee-saved registers and %rsp to *save, resumes `to`.
// emu_start(save, top, f, e): saves like emu_switch, then calls e(f) on the fresh stack `top`.
// emu_restart(top, f, e):    abandons the current stack, calls e(f) on `top`.
// emu_resume(to):            abandons the current stack, resumes `to`.
// A saved context is the stack pointer after pushing rbp, rbx, r12-r15; MXCSR and the x87
// control word are left alone (kernels do not change them).
extern "C" {
HIDDEN void emu_switch(void** save, void* to);
HIDDEN void emu_start(void** save, void* top, void* fiber, void (*entry)(void*));
HIDDEN [[noreturn]] void emu_restart(void* top, void* fiber, void (*entry)(void*));
HIDDEN [[noreturn]] void emu_resume(void* to);
}
asm(R"(
    .text
    .p2align 4
    .globl emu_switch
    .hidden emu_switch
    .type emu_switch,@function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
.Lemu_pop:
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_switch, .-emu_switch

    .p2align 4
    .globl emu_resume
    .hidden emu_resume
    .type emu_resume,@function
emu_resume:
    movq %rdi, %rsp
    jmp .Lemu_pop
    .size emu_resume, .-emu_resume

    .p2align 4
    .globl emu_start
    .hidden emu_start
    .type emu_start,@function
emu_start:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    movq %rdx, %rdi
    xorl %ebp, %ebp
    callq *%rcx
    ud2
    .size emu_start, .-emu_start

    .p2align 4
    .globl emu_restart
    .hidden emu_restart
    .type emu_restart,@function
emu_restart:
    movq %rdi, %rsp
    movq %rsi, %rdi
    xorl %ebp, %ebp
    callq *%rdx
    ud2
    .size emu_restart, .-emu_restart
)");

namespace cuda_emu {
namespace {

constexpr int kMaxThreads = 1024;
constexpr int kGuardBytes = 3 * 4096;   // below the header page: overflow faults, not corrupts
constexpr size_t kSharedGuard = 1024;    // checking mode: reported bytes around dynamic shared memory

enum State : uint8_t { kUnstarted, kRunning, kReady, kBarWait, kWarpWait, kDone };

struct Worker;

struct Fiber {
    FiberPub pub;         // must be first: self() returns it
    Worker* w;
    void* sp;             // saved context while suspended
    int stack;            // stack index, -1 if none
    int lane, warp, index;
    State state;
    int bar_result;
    uint64_t warp_result;
    void* asan_fake = nullptr;   // ASan's fake stack while suspended
};

struct Warp {
    uint32_t present, alive, arrived;
    uint16_t epoch;             // completed warp synchronisations (for the race detector)
    uint32_t mask[32];
    uint8_t op[32];
    uint8_t width[32];
    int arg[32];
    uint64_t val[32];
    WarpCollectiveFn cfn[32];   // kCollective: the function and its name in messages
    const char* what[32];
};

struct Job {
    dim3 grid, block;
    size_t dyn;
    Thunk thunk;
    void* fn;
    void* args;
    uint64_t nblocks;
    std::atomic<uint64_t> next{0};
    std::atomic<int> error{0};
    int participants = 0;       // helper threads that work on this job
    std::atomic<int> busy{0};
    bool check = false;
    uint64_t seed = 0;
    uint32_t launch = 0;        // serial of this launch
};

struct Rng {
    uint64_t s;
    uint64_t next() {   // splitmix64
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    uint32_t below(uint32_t n) { return uint32_t((next() >> 32) * n >> 32); }
};

struct Worker {
    // stacks
    char* region = nullptr;     // kMaxThreads stacks of kStackBytes, aligned
    int nstacks = 0;            // stacks made usable so far
    int free_stacks[kMaxThreads];
    int nfree = 0;
    void* sched_sp = nullptr;   // the worker's own context while fibers run
    void* sched_asan_fake = nullptr;
    const void* sched_bottom = nullptr;   // the worker thread's own stack (for ASan)
    size_t sched_size = 0;

    // the block being run
    BlockInfo info;
    Job* job = nullptr;
    Fiber fibers[kMaxThreads];
    int nthreads = 0, alive = 0, next_unstarted = 0;
    int* runq;                  // ring of fiber indices ready to resume
    int* barq;                  // fibers waiting at __syncthreads, in arrival order
    int rq_head = 0, rq_count = 0, bar_count = 0;
    int bar_accum_count = 0, bar_accum_and = 1, bar_accum_or = 0;
    int bar_op_result[3];
    Warp warps[kMaxThreads / 32];
    bool check = false;
    bool failed = false;
    int fail_code = 0;          // LaunchError of an aborted block
    uint32_t preempt_countdown = 1;
    Rng rng{0};
    std::vector<unsigned char> dyn_buf;
    int q_storage[2][kMaxThreads];
    int unst[kMaxThreads];      // checking mode: fibers not started yet
    int nunst = 0;
    std::atomic<Job*> mail{nullptr};   // helpers: the job handed to this worker

    Worker() : info() { runq = q_storage[0]; barq = q_storage[1]; }
};

std::atomic<int> g_check{-1};             // -1: not read from the environment yet
std::atomic<unsigned long long> g_seed{1};
std::atomic<uint32_t> g_launches{0};

// ---------------------------------------------------------------- module TLS = static __shared__
struct TlsInfo { size_t module = 0; size_t size = 0; bool ok = false; };
TlsInfo g_tls;
std::once_flag g_tls_once;

struct tls_index { unsigned long ti_module; unsigned long ti_offset; };
extern "C" void* __tls_get_addr(tls_index*);

int find_tls(struct dl_phdr_info* info, size_t, void* data) {
    auto* out = static_cast<TlsInfo*>(data);
    uintptr_t me = reinterpret_cast<uintptr_t>(&find_tls);
    bool mine = false;
    size_t tls_size = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type == PT_LOAD) {
            uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
            if (me >= lo && me < lo + ph.p_memsz) mine = true;
        } else if (ph.p_type == PT_TLS) {
            tls_size = ph.p_memsz;
        }
    }
    if (!mine) return 0;
    out->module = info->dlpi_tls_modid;
    out->size = tls_size;
    out->ok = true;
    return 1;
}

// This worker's static __shared__ memory: the module's TLS block, or null if it has none.
char* static_shared(size_t* bytes) {
    std::call_once(g_tls_once, [] { dl_iterate_phdr(find_tls, &g_tls); });
    *bytes = 0;
    if (!g_tls.ok || g_tls.size == 0 || g_tls.module == 0) return nullptr;
    tls_index ti{g_tls.module, 0};
    *bytes = g_tls.size;
    return static_cast<char*>(__tls_get_addr(&ti));
}

// ---------------------------------------------------------------- stacks
char* stack_base(Worker* w, int i) { return w->region + size_t(i) * kStackBytes; }

void* stack_top(Worker* w, int i) {
    // Stagger the tops by 512 bytes over a 64 KiB window: the regions are 2^k-aligned, so
    // equal tops would all map to the same cache sets and evict each other at every switch.
    uintptr_t top = reinterpret_cast<uintptr_t>(stack_base(w, i) + kStackBytes) - 512 * uintptr_t(i & 127) - 64;
    return reinterpret_cast<void*>(top & ~uintptr_t(15));
}

int take_stack(Worker* w) {
    if (w->nfree > 0) return w->free_stacks[--w->nfree];
    if (!w->region) {
        size_t bytes = size_t(kMaxThreads) * kStackBytes + kStackBytes;
        void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) { std::perror("lumen-emu: mmap of fiber stacks"); std::abort(); }
        uintptr_t a = (reinterpret_cast<uintptr_t>(p) + kStackBytes - 1) & ~(kStackBytes - 1);
        w->region = reinterpret_cast<char*>(a);
    }
    int i = w->nstacks++;
    // The guard splits the mapping; past vm.max_map_count mprotect fails and the stack goes
    // unguarded (said once).
    static std::atomic<bool> warned{false};
    if (mprotect(stack_base(w, i) + 4096, kGuardBytes, PROT_NONE) != 0 && !warned.exchange(true))
        std::perror("lumen-emu: mprotect of a fiber stack guard (continuing without guards)");
    return i;
}

// ASan's view of a fiber stack: from above the guard pages to the region's end.
[[maybe_unused]] const void* stack_bottom(Worker* w, int i) { return stack_base(w, i) + 4096 + kGuardBytes; }
constexpr size_t kStackUsable = kStackBytes - 4096 - kGuardBytes;

void attach(Worker* w, Fiber* f, int stack) {
    f->stack = stack;
    reinterpret_cast<StackHeader*>(stack_base(w, stack))->fiber = &f->pub;
}

// ---------------------------------------------------------------- scheduling
void fiber_entry(void* arg);
void warp_exit_check(Worker* w, Warp& wp);

void rq_push(Worker* w, int i) {
    w->runq[(w->rq_head + w->rq_count) & (kMaxThreads - 1)] = i;
    w->rq_count++;
    w->fibers[i].state = kReady;
}

// Next fiber to run, or -1: the ready queue first (so warps finish before new ones start),
// then fibers not started yet, in thread order. In checking mode any candidate at random.
int pick(Worker* w) {
    if (w->check) {
        int total = w->rq_count + w->nunst;
        if (total == 0) return -1;
        int r = int(w->rng.below(uint32_t(total)));
        if (r < w->rq_count) {
            int pos = (w->rq_head + r) & (kMaxThreads - 1);
            int f = w->runq[pos];
            w->runq[pos] = w->runq[w->rq_head];
            w->rq_head = (w->rq_head + 1) & (kMaxThreads - 1);
            w->rq_count--;
            return f;
        }
        r -= w->rq_count;
        int f = w->unst[r];
        w->unst[r] = w->unst[--w->nunst];
        return f;
    }
    if (w->rq_count > 0) {
        int f = w->runq[w->rq_head];
        w->rq_head = (w->rq_head + 1) & (kMaxThreads - 1);
        w->rq_count--;
        return f;
    }
    if (w->next_unstarted < w->nthreads) return w->next_unstarted++;
    return -1;
}

[[noreturn]] void deadlock(Worker* w) {
    int bar = 0, warp = 0;
    for (int i = 0; i < w->nthreads; i++) {
        if (w->fibers[i].state == kBarWait) bar++;
        if (w->fibers[i].state == kWarpWait) warp++;
    }
    std::fprintf(stderr,
                 "lumen-emu: deadlock in block (%u,%u,%u): %d threads wait at __syncthreads, %d at warp "
                 "operations, %d exited\n",
                 w->info.bid.x, w->info.bid.y, w->info.bid.z, bar, warp, w->nthreads - w->alive);
    w->failed = true;
    ASAN_LEAVE(nullptr, w->sched_bottom, w->sched_size);
    emu_resume(w->sched_sp);
}

// Suspend the running fiber `me` (its state already set; if kReady it is in the ready queue)
// and run the next one. Returns when somebody resumes `me`.
void run_next(Worker* w, Fiber* me) {
    int n = pick(w);
    if (n < 0) deadlock(w);
    Fiber* f = &w->fibers[n];
    if (f == me) { me->state = kRunning; return; }
    bool fresh = f->state == kUnstarted;
    f->state = kRunning;
    if (fresh) {
        int s = take_stack(w);
        attach(w, f, s);
        ASAN_LEAVE(&me->asan_fake, stack_bottom(w, s), kStackUsable);
        emu_start(&me->sp, stack_top(w, s), f, fiber_entry);
    } else {
        ASAN_LEAVE(&me->asan_fake, stack_bottom(w, f->stack), kStackUsable);
        emu_switch(&me->sp, f->sp);
    }
    ASAN_ARRIVE(me->asan_fake);
}

void release_barrier(Worker* w) {
    int* t = w->runq; w->runq = w->barq; w->barq = t;
    w->rq_head = 0; w->rq_count = w->bar_count; w->bar_count = 0;
    for (int k = 0; k < w->rq_count; k++) w->fibers[w->runq[k]].state = kReady;
    w->bar_op_result[0] = w->bar_accum_count; w->bar_op_result[1] = w->bar_accum_and;
    w->bar_op_result[2] = w->bar_accum_or;
    w->bar_accum_count = 0; w->bar_accum_and = 1; w->bar_accum_or = 0;
    w->info.epoch++;
}

[[noreturn]] void fiber_exit(Worker* w, Fiber* me) {
    me->state = kDone;
    w->alive--;
    Warp& wp = w->warps[me->warp];
    wp.alive &= ~(1u << me->lane);
    if (wp.arrived) warp_exit_check(w, wp);
    if (w->bar_count > 0 && w->bar_count == w->alive) release_barrier(w);   // the rest all wait there
    int n = pick(w);
    if (n < 0) {
        if (w->alive > 0) { w->free_stacks[w->nfree++] = me->stack; deadlock(w); }
        w->free_stacks[w->nfree++] = me->stack;
        ASAN_LEAVE(nullptr, w->sched_bottom, w->sched_size);
        emu_resume(w->sched_sp);
    }
    Fiber* f = &w->fibers[n];
    if (f->state == kUnstarted) {
        f->state = kRunning;
        int s = me->stack;
        attach(w, f, s);
        ASAN_LEAVE(nullptr, stack_bottom(w, s), kStackUsable);
        emu_restart(stack_top(w, s), f, fiber_entry);
    }
    w->free_stacks[w->nfree++] = me->stack;
    f->state = kRunning;
    ASAN_LEAVE(nullptr, stack_bottom(w, f->stack), kStackUsable);
    emu_resume(f->sp);
}

void fiber_entry(void* arg) {
    ASAN_ARRIVE(nullptr);
    Fiber* f = static_cast<Fiber*>(arg);
    Worker* w = f->w;
    w->job->thunk(w->job->fn, w->job->args);
    fiber_exit(w, f);
}

inline Fiber* current() { return reinterpret_cast<Fiber*>(self()); }

// ---------------------------------------------------------------- __syncthreads
void block_barrier(Fiber* me, int pred) {
    Worker* w = me->w;
    w->bar_accum_count += pred != 0;
    w->bar_accum_and &= pred != 0;
    w->bar_accum_or |= pred != 0;
    w->barq[w->bar_count++] = me->index;
    if (w->bar_count == w->alive) {
        // last to arrive: everybody becomes ready (the ready queue is empty now, since every
        // live fiber was waiting here)
        release_barrier(w);
        if (!w->check) {
            w->rq_count--;              // we are the last entry: just continue
            me->state = kRunning;
            return;
        }
        run_next(w, me);                // checking mode: take part in the shuffle
        return;
    }
    me->state = kBarWait;
    run_next(w, me);
}

// ---------------------------------------------------------------- warp operations
[[noreturn]] void warp_collective_failed(Worker* w, int warp_index, const char* what, const char* why) {
    const char* kernel = "?";
    for (const KernelReg* r = lumen_emu_kernels(); r; r = r->next)
        if (r->fn == w->info.fn) kernel = r->name;
    std::fprintf(stderr, "lumen-emu: %s in kernel %s, block (%u,%u,%u), warp %d: %s\n", what, kernel, w->info.bid.x,
                 w->info.bid.y, w->info.bid.z, warp_index, why);
    w->failed = true;
    w->fail_code = kLaunchFailed;
    ASAN_LEAVE(nullptr, w->sched_bottom, w->sched_size);
    emu_resume(w->sched_sp);
}

// A warp collective (the WMMA calls) needs all 32 lanes of the warp at the same call; the lane
// that completes the group runs it for everyone while the others are parked.
void warp_collective(Worker* w, Warp& wp, int warp_index, uint32_t group) {
    int first = -1;
    for (uint32_t g = group; g; g &= g - 1)
        if (wp.op[__builtin_ctz(g)] == kCollective) { first = __builtin_ctz(g); break; }
    if (first < 0) return;
    const char* what = wp.what[first];
    char why[256];
    if (wp.present != 0xffffffffu) {
        std::snprintf(why, sizeof why, "the warp has only %d threads; all 32 lanes must take part",
                      __builtin_popcount(wp.present));
        warp_collective_failed(w, warp_index, what, why);
    }
    if (group != 0xffffffffu) {
        std::snprintf(why, sizeof why, "lanes 0x%08x exited without calling it; all 32 lanes must take part",
                      ~group & ~wp.alive);
        warp_collective_failed(w, warp_index, what, why);
    }
    for (int l = 0; l < 32; l++) {
        if (wp.op[l] != kCollective || wp.cfn[l] != wp.cfn[first] || std::strcmp(wp.what[l], what) != 0) {
            std::snprintf(why, sizeof why, "lane %d called %s instead (divergent warp-collective calls)", l,
                          wp.op[l] == kCollective ? wp.what[l] : "a different warp operation");
            warp_collective_failed(w, warp_index, what, why);
        }
    }
    void* args[32];
    for (int l = 0; l < 32; l++) args[l] = reinterpret_cast<void*>(uintptr_t(wp.val[l]));
    if (wp.cfn[first](args, why, sizeof why) != 0) warp_collective_failed(w, warp_index, what, why);
}

void warp_compute(Worker* w, Warp& wp, int warp_index, uint32_t group) {
    warp_collective(w, wp, warp_index, group);
    int first = __builtin_ctz(group);
    int op = wp.op[first];
    uint64_t common = 0;
    switch (op) {
    case kBallot: case kAny: case kAll: {
        uint32_t b = 0;
        for (uint32_t g = group; g; g &= g - 1) { int j = __builtin_ctz(g); if (wp.val[j]) b |= 1u << j; }
        common = op == kBallot ? b : op == kAny ? (b != 0) : (b == group);
        break;
    }
    case kReduceAdd: case kReduceMinU: case kReduceMaxU: case kReduceMinI: case kReduceMaxI:
    case kReduceAnd: case kReduceOr: case kReduceXor: {
        uint32_t acc = uint32_t(wp.val[first]);
        for (uint32_t g = group & (group - 1); g; g &= g - 1) {
            uint32_t v = uint32_t(wp.val[__builtin_ctz(g)]);
            switch (op) {
            case kReduceAdd: acc += v; break;
            case kReduceMinU: acc = v < acc ? v : acc; break;
            case kReduceMaxU: acc = v > acc ? v : acc; break;
            case kReduceMinI: acc = int32_t(v) < int32_t(acc) ? v : acc; break;
            case kReduceMaxI: acc = int32_t(v) > int32_t(acc) ? v : acc; break;
            case kReduceAnd: acc &= v; break;
            case kReduceOr: acc |= v; break;
            default: acc ^= v; break;
            }
        }
        common = acc;
        break;
    }
    default: break;
    }
    Fiber* base = &w->fibers[warp_index * 32];
    for (uint32_t g = group; g; g &= g - 1) {
        int i = __builtin_ctz(g);
        uint64_t r = common;
        int lop = wp.op[i];
        if (lop <= kShflXor) {
            int width = wp.width[i];
            int seg = i & ~(width - 1);
            int arg = wp.arg[i];
            int src;
            switch (lop) {
            case kShflIdx: src = seg + (arg & (width - 1)); break;
            case kShflUp: src = (i - seg) >= arg ? i - arg : i; break;
            case kShflDown: src = (i - seg) + arg < width ? i + arg : i; break;
            default: src = i ^ arg; if (src >= seg + width || src > 31) src = i; break;
            }
            if (src == i || (group >> src & 1)) r = wp.val[src];
            else r = w->check ? ~uint64_t(0) : wp.val[i];   // source lane inactive: undefined
        } else if (lop == kMatchAny) {
            uint32_t m = 0;
            for (uint32_t h = group; h; h &= h - 1) { int j = __builtin_ctz(h); if (wp.val[j] == wp.val[i]) m |= 1u << j; }
            r = m;
        }
        base[i].warp_result = r;
    }
}

// A group is complete when every live lane of the arriving lane's mask has arrived.
uint32_t complete_group(Warp& wp, int lane) {
    uint32_t need = (wp.mask[lane] & wp.present & wp.alive) | (1u << lane);
    return (wp.arrived & need) == need ? need : 0;
}

void warp_release(Worker* w, Warp& wp, int warp_index, uint32_t group, int keep) {
    warp_compute(w, wp, warp_index, group);
    wp.arrived &= ~group;
    wp.epoch++;
    for (uint32_t g = group; g; g &= g - 1) {
        int i = __builtin_ctz(g);
        w->fibers[warp_index * 32 + i].pub.warp_epoch = wp.epoch;
        if (i != keep) rq_push(w, warp_index * 32 + i);
    }
}

void warp_exit_check(Worker* w, Warp& wp) {
    int warp_index = int(&wp - w->warps);
    for (uint32_t a = wp.arrived; a; a &= a - 1) {
        int lane = __builtin_ctz(a);
        if (!(wp.arrived >> lane & 1)) continue;
        uint32_t g = complete_group(wp, lane);
        if (g) warp_release(w, wp, warp_index, g, -1);
    }
}

uint64_t warp_op(Fiber* me, unsigned mask, uint64_t value, int op, int arg, int width) {
    Worker* w = me->w;
    Warp& wp = w->warps[me->warp];
    int lane = me->lane;
    if (width <= 0 || width > 32 || (width & (width - 1))) width = 32;
    wp.mask[lane] = mask;
    wp.op[lane] = uint8_t(op);
    wp.width[lane] = uint8_t(width);
    wp.arg[lane] = arg;
    wp.val[lane] = value;
    wp.arrived |= 1u << lane;
    uint32_t g = complete_group(wp, lane);
    if (g && !w->check) {
        warp_release(w, wp, me->warp, g, lane);
        return me->warp_result;
    }
    if (g) {
        warp_release(w, wp, me->warp, g, -1);   // checking mode: we queue like the others
        me->state = kReady;
        w->fibers[me->index].state = kReady;
    } else {
        me->state = kWarpWait;
    }
    run_next(w, me);
    return me->warp_result;
}

// ---------------------------------------------------------------- blocks
void run_block(Worker* w, Job* job, uint64_t linear) {
    dim3 g = job->grid, b = job->block;
    w->info.bid.x = unsigned(linear % g.x);
    w->info.bid.y = unsigned(linear / g.x % g.y);
    w->info.bid.z = unsigned(linear / (uint64_t(g.x) * g.y));
    w->info.bdim = b;
    w->info.gdim = g;
    w->info.linear = linear;
    w->info.epoch = 0;
    w->info.serial++;
    int n = int(b.x * b.y * b.z);
    w->nthreads = n;
    w->alive = n;
    w->next_unstarted = 0;
    w->rq_head = w->rq_count = w->bar_count = 0;
    w->bar_accum_count = 0; w->bar_accum_and = 1; w->bar_accum_or = 0;
    w->failed = false;
    w->fail_code = 0;
    w->check = job->check;
    if (w->check) {
        w->rng.s = job->seed * 0x2545f4914f6cdd1dull + linear;
        w->preempt_countdown = 1 + w->rng.below(16);
        if (w->info.static_shared) std::memset(w->info.static_shared, 0xff, w->info.static_bytes);
        if (job->dyn) std::memset(w->info.dyn, 0xff, job->dyn);
    }
    int nwarps = (n + 31) / 32;
    for (int i = 0; i < nwarps; i++) {
        Warp& wp = w->warps[i];
        int lanes = n - 32 * i < 32 ? n - 32 * i : 32;
        wp.present = wp.alive = lanes == 32 ? 0xffffffffu : ((1u << lanes) - 1);
        wp.arrived = 0;
        wp.epoch = 0;
    }
    unsigned x = 0, y = 0, z = 0;
    for (int i = 0; i < n; i++) {
        Fiber& f = w->fibers[i];
        f.pub.tid = uint3{x, y, z};
        f.pub.blk = &w->info;
        f.w = w;
        f.stack = -1;
        f.index = i;
        f.lane = i & 31;
        f.warp = i >> 5;
        f.pub.index = unsigned(i);
        f.pub.warp_epoch = 0;
        f.state = kUnstarted;
        if (++x == b.x) { x = 0; if (++y == b.y) { y = 0; ++z; } }
    }
    if (w->check) {
        for (int i = 0; i < n; i++) w->unst[i] = i;
        w->nunst = n;
    }
    int first = pick(w);
    Fiber* f = &w->fibers[first];
    f->state = kRunning;
    int s = take_stack(w);
    attach(w, f, s);
    if (!w->sched_bottom) {   // the worker thread's stack, for ASan's switch annotations
        pthread_attr_t attr;
        void* lo = nullptr;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            pthread_attr_getstack(&attr, &lo, &w->sched_size);
            pthread_attr_destroy(&attr);
        }
        w->sched_bottom = lo;
    }
    ASAN_LEAVE(&w->sched_asan_fake, stack_bottom(w, s), kStackUsable);
    emu_start(&w->sched_sp, stack_top(w, s), f, fiber_entry);
    ASAN_ARRIVE(w->sched_asan_fake);
    if (w->failed) {
        w->nfree = 0;
        for (int i = 0; i < w->nstacks; i++) w->free_stacks[w->nfree++] = i;
        int expected = 0;
        job->error.compare_exchange_strong(expected, w->fail_code ? w->fail_code : int(kLaunchFailed));
    }
}

void work(Worker* w, Job* job) {
    w->job = job;
    // In checking mode the dynamic shared memory has kSharedGuard bytes around it, which the
    // sanitizer reports when touched (it exists even when the launch asked for none).
    size_t guard = job->check ? kSharedGuard : 0;
    if (job->dyn || guard) {
        ASAN_UNPOISON_MEMORY_REGION(w->dyn_buf.data(), w->dyn_buf.size());   // resize copies it
        if (w->dyn_buf.size() < job->dyn + 2 * guard + 256) w->dyn_buf.resize(job->dyn + 2 * guard + 256);
        uintptr_t p = (reinterpret_cast<uintptr_t>(w->dyn_buf.data()) + guard + 255) & ~uintptr_t(255);
        w->info.dyn = reinterpret_cast<void*>(p);
        unsigned char* buf = w->dyn_buf.data();
        unsigned char* end = reinterpret_cast<unsigned char*>(p) + job->dyn;
        ASAN_POISON_MEMORY_REGION(buf, reinterpret_cast<unsigned char*>(p) - buf);
        ASAN_POISON_MEMORY_REGION(end, buf + w->dyn_buf.size() - end);
    } else {
        w->info.dyn = nullptr;
    }
    w->info.dyn_bytes = job->dyn;
    w->info.launch = job->launch;
    w->info.fn = job->fn;
    w->info.static_shared = job->check ? static_shared(&w->info.static_bytes) : nullptr;
    if (!w->info.static_shared) w->info.static_bytes = 0;
    for (;;) {
        if (job->error.load(std::memory_order_relaxed)) return;
        uint64_t i = job->next.fetch_add(1, std::memory_order_relaxed);
        if (i >= job->nblocks) return;
        run_block(w, job, i);
    }
}

// ---------------------------------------------------------------- worker pool
using Clock = std::chrono::steady_clock;

struct Pool {
    int nthreads = 1;           // the launching thread plus helpers
    std::vector<Worker*> helpers;
    Worker* caller = nullptr;
    std::mutex launch_mu;       // one grid at a time
    std::mutex mu;
    std::condition_variable cv, done_cv;

    // Helpers spin a little after a job (launches often come back to back), then sleep.
    void helper_loop(Worker* w) {
        for (;;) {
            Job* j = w->mail.load(std::memory_order_acquire);
            if (!j) {
                auto until = Clock::now() + std::chrono::microseconds(100);
                for (int k = 0; !j; k++) {
                    __builtin_ia32_pause();
                    j = w->mail.load(std::memory_order_acquire);
                    if ((k & 63) == 63 && Clock::now() > until) break;
                }
            }
            if (!j) {
                std::unique_lock<std::mutex> lk(mu);
                cv.wait(lk, [&] { return (j = w->mail.load(std::memory_order_acquire)) != nullptr; });
            }
            w->mail.store(nullptr, std::memory_order_relaxed);
            work(w, j);
            if (j->busy.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                std::lock_guard<std::mutex> lk(mu);
                done_cv.notify_all();
            }
        }
    }

    Pool() {
        const char* env = std::getenv("LUMEN_EMU_THREADS");
        int n = env && *env ? std::atoi(env) : int(std::thread::hardware_concurrency());
        if (n < 1) n = 1;
        if (n > 256) n = 256;
        nthreads = n;
        caller = new Worker();
        for (int i = 1; i < n; i++) helpers.push_back(new Worker());
        for (Worker* w : helpers) std::thread([this, w] { helper_loop(w); }).detach();
    }

    int run(Job* j) {
        std::lock_guard<std::mutex> launch(launch_mu);
        j->participants = int(std::min<uint64_t>(helpers.size(), j->nblocks - 1));
        j->busy.store(j->participants);
        if (j->participants > 0) {
            for (int i = 0; i < j->participants; i++) helpers[i]->mail.store(j, std::memory_order_release);
            { std::lock_guard<std::mutex> lk(mu); }
            cv.notify_all();
        }
        work(caller, j);
        if (j->participants > 0) {
            auto until = Clock::now() + std::chrono::microseconds(200);
            for (int k = 0; j->busy.load(std::memory_order_acquire) != 0; k++) {
                __builtin_ia32_pause();
                if ((k & 63) == 63 && Clock::now() > until) break;
            }
            if (j->busy.load(std::memory_order_acquire) != 0) {
                std::unique_lock<std::mutex> lk(mu);
                done_cv.wait(lk, [&] { return j->busy.load(std::memory_order_acquire) == 0; });
            }
        }
        return j->error.load();
    }
};

Pool& pool() {
    static Pool* p = new Pool();   // never destroyed: helpers are detached
    return *p;
}

bool check_enabled() {
    int c = g_check.load(std::memory_order_relaxed);
    if (c < 0) {
        const char* e = std::getenv("LUMEN_EMU_CHECK");
        c = (e && *e && std::strcmp(e, "0") != 0) ? 1 : 0;
        const char* s = std::getenv("LUMEN_EMU_SEED");
        if (s && *s) g_seed.store(std::strtoull(s, nullptr, 0));
        int expected = -1;
        g_check.compare_exchange_strong(expected, c);
        c = g_check.load();
    }
    return c != 0;
}

KernelReg* g_kernels = nullptr;

}  // namespace

// ---------------------------------------------------------------- exported entry points
LUMEN_EMU_API void lumen_emu_syncthreads(void) { block_barrier(current(), 1); }

LUMEN_EMU_API int lumen_emu_syncthreads_op(int pred, int op) {
    Fiber* me = current();
    block_barrier(me, pred);
    return me->w->bar_op_result[op];
}

LUMEN_EMU_API uint64_t lumen_emu_warp_op(unsigned mask, uint64_t value, int op, int arg, int width) {
    return warp_op(current(), mask, value, op, arg, width);
}

LUMEN_EMU_API void lumen_emu_warp_collective(WarpCollectiveFn fn, const char* what, void* arg) {
    Fiber* me = current();
    Warp& wp = me->w->warps[me->warp];
    wp.cfn[me->lane] = fn;
    wp.what[me->lane] = what;
    warp_op(me, 0xffffffffu, uint64_t(reinterpret_cast<uintptr_t>(arg)), kCollective, 0, 32);
}

LUMEN_EMU_API unsigned lumen_emu_activemask(void) {
    Fiber* me = current();
    Warp& wp = me->w->warps[me->warp];
    return wp.present & wp.alive;
}

LUMEN_EMU_API int lumen_emu_run_grid(dim3 grid, dim3 block, size_t dyn_shared, Thunk thunk, void* fn,
                                     void* args) {
    uint64_t nthreads = uint64_t(block.x) * block.y * block.z;
    if (nthreads == 0 || nthreads > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0) {
        std::fprintf(stderr, "lumen-emu: bad launch configuration grid (%u,%u,%u) block (%u,%u,%u)\n", grid.x,
                     grid.y, grid.z, block.x, block.y, block.z);
        return 2;
    }
    Job job;
    job.grid = grid;
    job.block = block;
    job.dyn = dyn_shared;
    job.thunk = thunk;
    job.fn = fn;
    job.args = args;
    job.nblocks = uint64_t(grid.x) * grid.y * grid.z;
    job.check = check_enabled();
    job.seed = g_seed.load();
    job.launch = g_launches.fetch_add(1) + 1;
    bool sanitized = job.check && san_launch;
    if (sanitized) san_launch(1);
    int rc = pool().run(&job);
    if (sanitized) san_launch(0);
    return rc;
}

LUMEN_EMU_API void lumen_emu_set_check(int enable, unsigned long long seed) {
    g_seed.store(seed);
    g_check.store(enable ? 1 : 0);
}

LUMEN_EMU_API int lumen_emu_get_check(void) { return check_enabled() ? 1 : 0; }

LUMEN_EMU_API int lumen_emu_threads(void) { return pool().nthreads; }

// A preemption point: every few memory accesses (a seeded random count) the running thread
// yields to a random other one, so that a load and its store can be split by another thread.
LUMEN_EMU_API void lumen_emu_preempt(void) {
    Fiber* me = current();
    Worker* w = me->w;
    if (!w->check || --w->preempt_countdown != 0) return;
    w->preempt_countdown = 1 + w->rng.below(16);
    rq_push(w, me->index);
    run_next(w, me);
}

LUMEN_EMU_API void lumen_emu_abort_block(int code) {
    Worker* w = current()->w;
    w->failed = true;
    w->fail_code = code;
    ASAN_LEAVE(nullptr, w->sched_bottom, w->sched_size);
    emu_resume(w->sched_sp);
}

LUMEN_EMU_API void lumen_emu_register(KernelReg* reg) {
    reg->next = g_kernels;   // static constructors run one at a time at load
    g_kernels = reg;
}

LUMEN_EMU_API const KernelReg* lumen_emu_find_kernel(const char* name) {
    for (const KernelReg* r = g_kernels; r; r = r->next)
        if (std::strcmp(r->name, name) == 0) return r;
    return nullptr;
}

LUMEN_EMU_API const KernelReg* lumen_emu_kernels(void) { return g_kernels; }

}  // namespace cuda_emu
