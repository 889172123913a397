// The checking library's memory checker: linked into libcuda_emu_check.so, whose kernels are
// compiled with g++'s -fsanitize=thread instrumentation, so every load and store of kernel code
// calls __tsan_{read,write}N(address) here first (no TSan runtime is involved). It checks
//   - bounds: device allocations come from one arena, each at its exact size between
//     poisoned guard zones (shadow: addressable bytes per 8-byte granule, as ASan encodes it);
//     dynamic shared memory has guard zones and static __shared__ variables have poisoned
//     padding between them (cuda_emu.h adds it, the module's symbol table locates it);
//   - races: per byte the last writer (block, thread, barrier epoch, warp epoch); a
//     read or write by another thread of the same launch without a __syncthreads() (same
//     block) or a warp synchronisation (same warp) in between is a race; atomics are exempt;
//   - reads of __shared__ memory that no thread of the block has written;
// and makes each access a preemption point. The first error of a launch is reported on
// stderr, and the block is aborted so that the launch fails.
//
// Like emu_runtime.cpp this file must define no thread_local (see there).
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/mman.h>

#include <cxxabi.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cuda_emu.h"
#include "sanitizer.h"

namespace cuda_emu {
namespace {

// ---------------------------------------------------------------- device memory arena
constexpr size_t kArenaBytes = size_t(32) << 30;   // virtual, pages touched on use
constexpr size_t kGuard = 512;                    // poisoned bytes before each allocation
constexpr uint8_t kFreed = 0x80;                  // shadow of freed memory

struct Cell {            // race shadow of one byte (so that 2-byte and 1-byte elements written by
                         // neighbouring threads are no race)
    uint32_t scope;      // launch serial (global memory) or block serial (shared memory)
    uint32_t epoch;      // writer's block epoch
    uint64_t who;        // writer: block << 26 | thread << 16 | warp epoch; kAtomicWriter
};
constexpr uint64_t kAtomicWriter = ~uint64_t(0);

struct Arena {
    char* base = nullptr;
    uint8_t* shadow = nullptr;   // one byte per 8-byte granule: addressable bytes, 0, or kFreed
    Cell* cells = nullptr;       // one per byte
    size_t next = 0;             // bump offset
    std::mutex mu;
    std::map<uintptr_t, std::pair<size_t, uint64_t>> live;   // start -> (bytes, serial)
    std::map<uintptr_t, std::pair<size_t, uint64_t>> freed;
    uint64_t serial = 0;
};
Arena g_arena;
std::once_flag g_arena_once;

void* map_virtual(size_t bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) { std::perror("lumen-emu: mmap of the sanitizer arena"); std::abort(); }
    return p;
}

void arena_init() {
    g_arena.base = static_cast<char*>(map_virtual(kArenaBytes));
    g_arena.shadow = static_cast<uint8_t*>(map_virtual(kArenaBytes / 8));
    g_arena.cells = static_cast<Cell*>(map_virtual(kArenaBytes * sizeof(Cell)));
}

inline bool in_arena(uintptr_t a) { return a - uintptr_t(g_arena.base) < kArenaBytes; }

void set_shadow(size_t off, size_t bytes, bool addressable) {
    uint8_t* s = g_arena.shadow + off / 8;
    size_t full = bytes / 8;
    std::memset(s, addressable ? 8 : kFreed, full);
    if (bytes % 8) s[full] = addressable ? uint8_t(bytes % 8) : kFreed;
}

// ---------------------------------------------------------------- static __shared__ layout
// The module's TLS symbols: where each static __shared__ variable lies in the TLS block.
struct SharedVar { size_t off, size; std::string name; };
std::vector<SharedVar> g_shared_vars;     // sorted by offset; guards excluded
std::vector<uint8_t> g_shared_ok;         // one byte per TLS byte: 1 if inside a variable
std::once_flag g_vars_once;

void read_shared_vars() {
    Dl_info info;
    if (!dladdr(reinterpret_cast<void*>(&read_shared_vars), &info) || !info.dli_fname) return;
    FILE* f = std::fopen(info.dli_fname, "rb");
    if (!f) return;
    std::vector<char> img;
    char buf[1 << 16];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) img.insert(img.end(), buf, buf + n);
    std::fclose(f);
    if (img.size() < sizeof(Elf64_Ehdr)) return;
    auto* eh = reinterpret_cast<const Elf64_Ehdr*>(img.data());
    if (eh->e_shoff == 0 || eh->e_shoff + size_t(eh->e_shnum) * sizeof(Elf64_Shdr) > img.size()) return;
    auto* sh = reinterpret_cast<const Elf64_Shdr*>(img.data() + eh->e_shoff);
    size_t tls_size = 0;
    auto* ph = reinterpret_cast<const Elf64_Phdr*>(img.data() + eh->e_phoff);
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_TLS) tls_size = ph[i].p_memsz;
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_SYMTAB) continue;
        auto* sym = reinterpret_cast<const Elf64_Sym*>(img.data() + sh[i].sh_offset);
        const char* str = img.data() + sh[sh[i].sh_link].sh_offset;
        for (size_t k = 0; k < sh[i].sh_size / sizeof(Elf64_Sym); k++) {
            if (ELF64_ST_TYPE(sym[k].st_info) != STT_TLS || sym[k].st_size == 0) continue;
            std::string name = str + sym[k].st_name;
            if (name.find("lumen_emu_shared_guard_") != std::string::npos) continue;
            int status = 0;
            if (char* plain = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status)) {
                name = plain;   // "kernel::tile" rather than "_ZZ6kernelE4tile"
                std::free(plain);
            }
            g_shared_vars.push_back(SharedVar{size_t(sym[k].st_value), size_t(sym[k].st_size), name});
        }
    }
    std::sort(g_shared_vars.begin(), g_shared_vars.end(),
              [](const SharedVar& a, const SharedVar& b) { return a.off < b.off; });
    g_shared_ok.assign(tls_size, 0);
    for (const SharedVar& v : g_shared_vars)
        for (size_t b = v.off; b < v.off + v.size && b < tls_size; b++) g_shared_ok[b] = 1;
}

// ---------------------------------------------------------------- per-worker shared shadow
struct WorkerShadow {
    std::vector<Cell> stat, dyn;   // race shadow of static and dynamic shared memory
};

WorkerShadow& worker_shadow(BlockInfo* b) {
    if (!b->san) b->san = new WorkerShadow();   // one per worker, kept for the process
    auto* ws = static_cast<WorkerShadow*>(b->san);
    if (ws->stat.size() < b->static_bytes + 1) ws->stat.resize(b->static_bytes + 1, Cell{0, 0, 0});
    if (ws->dyn.size() < b->dyn_bytes + 1) ws->dyn.resize(b->dyn_bytes + 1, Cell{0, 0, 0});
    return *ws;
}

// ---------------------------------------------------------------- reports
std::atomic<uint32_t> g_reported_launch{0};
std::atomic<long> g_reports{0};

const char* kernel_name(const void* fn) {
    for (const KernelReg* r = lumen_emu_kernels(); r; r = r->next)
        if (r->fn == fn) return r->name;
    return "?";
}

uint3 coords(uint64_t linear, dim3 d) {
    return uint3{unsigned(linear % d.x), unsigned(linear / d.x % d.y), unsigned(linear / (uint64_t(d.x) * d.y))};
}

// "file:line" of a code address, through addr2line on the library (built with -g).
std::string source_line(const void* pc) {
    Dl_info info;
    if (!pc || !dladdr(pc, &info) || !info.dli_fname) return "";
    char cmd[1024];
    std::snprintf(cmd, sizeof cmd, "addr2line -e '%s' 0x%lx 2>/dev/null", info.dli_fname,
                  (unsigned long)(uintptr_t(pc) - 1 - uintptr_t(info.dli_fbase)));
    FILE* p = popen(cmd, "r");
    if (!p) return "";
    char line[1024] = {0};
    if (!std::fgets(line, sizeof line, p)) line[0] = 0;
    pclose(p);
    std::string s(line);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s.rfind("??", 0) == 0 ? "" : s;
}

// True for the first report of the running launch (later errors of it stay silent).
bool first_report(const BlockInfo* b) {
    uint32_t prev = g_reported_launch.load();
    while (prev != b->launch)
        if (g_reported_launch.compare_exchange_weak(prev, b->launch)) return true;
    return false;
}

[[noreturn]] void fail(int code) {
    g_reports.fetch_add(1);
    lumen_emu_abort_block(code);
}

void print_where(const FiberPub* f, const void* pc) {
    const BlockInfo* b = f->blk;
    std::fprintf(stderr, "lumen-emu:   in kernel %s, block (%u,%u,%u), thread (%u,%u,%u)\n", kernel_name(b->fn),
                 b->bid.x, b->bid.y, b->bid.z, f->tid.x, f->tid.y, f->tid.z);
    std::string line = source_line(pc);
    if (!line.empty()) std::fprintf(stderr, "lumen-emu:   at %s\n", line.c_str());
}

// Describes where a global address lies relative to the nearest allocation.
void describe_global(uintptr_t a) {
    std::lock_guard<std::mutex> lk(g_arena.mu);
    auto nearest = [&](std::map<uintptr_t, std::pair<size_t, uint64_t>>& m, uintptr_t* start, size_t* bytes,
                       uint64_t* serial) {
        uintptr_t best = ~uintptr_t(0);
        auto it = m.upper_bound(a);
        auto consider = [&](decltype(it) i) {
            uintptr_t lo = i->first, hi = i->first + i->second.first;
            uintptr_t d = a < lo ? lo - a : a >= hi ? a - hi + 1 : 0;
            if (d < best) { best = d; *start = lo; *bytes = i->second.first; *serial = i->second.second; }
        };
        if (it != m.end()) consider(it);
        if (it != m.begin()) consider(std::prev(it));
        return best;
    };
    uintptr_t s1 = 0, s2 = 0;
    size_t n1 = 0, n2 = 0;
    uint64_t k1 = 0, k2 = 0;
    uintptr_t d1 = nearest(g_arena.live, &s1, &n1, &k1);
    uintptr_t d2 = nearest(g_arena.freed, &s2, &n2, &k2);
    if (d2 == 0 && d1 != 0) {
        std::fprintf(stderr, "lumen-emu:   the address is %zu bytes into a %zu-byte allocation at 0x%lx (cuMemAlloc #%lu) "
                     "that was freed (use after cuMemFree)\n", size_t(a - s2), n2, (unsigned long)s2, (unsigned long)k2);
    } else if (d1 != ~uintptr_t(0)) {
        if (a >= s1 + n1)
            std::fprintf(stderr, "lumen-emu:   the address is %zu bytes past the end of the nearest allocation, "
                         "%zu bytes at 0x%lx (cuMemAlloc #%lu)\n", size_t(a - (s1 + n1)), n1, (unsigned long)s1,
                         (unsigned long)k1);
        else
            std::fprintf(stderr, "lumen-emu:   the address is %zu bytes before the start of the nearest allocation, "
                         "%zu bytes at 0x%lx (cuMemAlloc #%lu)\n", size_t(s1 - a), n1, (unsigned long)s1,
                         (unsigned long)k1);
    } else {
        std::fprintf(stderr, "lumen-emu:   no device allocation is live\n");
    }
}

[[noreturn]] void report_global_oob(FiberPub* f, uintptr_t a, size_t n, bool write, const void* pc) {
    if (first_report(f->blk)) {
        std::fprintf(stderr, "lumen-emu: invalid __global__ %s of %zu bytes at 0x%lx\n", write ? "write" : "read", n,
                     (unsigned long)a);
        print_where(f, pc);
        describe_global(a);
    }
    fail(kIllegalAddress);
}

[[noreturn]] void report_shared_oob(FiberPub* f, uintptr_t a, size_t n, bool write, const void* pc, bool dynamic) {
    const BlockInfo* b = f->blk;
    if (first_report(b)) {
        std::fprintf(stderr, "lumen-emu: invalid __shared__ %s of %zu bytes at 0x%lx\n", write ? "write" : "read", n,
                     (unsigned long)a);
        print_where(f, pc);
        if (dynamic) {
            uintptr_t lo = uintptr_t(b->dyn), hi = lo + b->dyn_bytes;
            if (a >= hi)
                std::fprintf(stderr, "lumen-emu:   the address is %zu bytes past the end of the block's %zu bytes of "
                             "dynamic shared memory\n", size_t(a - hi), b->dyn_bytes);
            else
                std::fprintf(stderr, "lumen-emu:   the address is %zu bytes before the block's %zu bytes of dynamic "
                             "shared memory\n", size_t(lo - a), b->dyn_bytes);
        } else {
            size_t off = a - uintptr_t(b->static_shared);
            const SharedVar* best = nullptr;
            size_t bestd = ~size_t(0);
            for (const SharedVar& v : g_shared_vars) {
                size_t d = off < v.off ? v.off - off : off >= v.off + v.size ? off - (v.off + v.size) : 0;
                if (d < bestd) { bestd = d; best = &v; }
            }
            if (best && off >= best->off + best->size)
                std::fprintf(stderr, "lumen-emu:   the address is %zu bytes past the end of __shared__ %s (%zu bytes)\n",
                             off - (best->off + best->size), best->name.c_str(), best->size);
            else if (best)
                std::fprintf(stderr, "lumen-emu:   the address is %zu bytes before __shared__ %s (%zu bytes)\n",
                             best->off - off, best->name.c_str(), best->size);
        }
    }
    fail(kIllegalAddress);
}

void print_thread(const char* role, uint64_t block, uint32_t thread, const BlockInfo* b) {
    uint3 bb = coords(block, b->gdim), t = coords(thread, b->bdim);
    std::fprintf(stderr, "lumen-emu:   %s thread (%u,%u,%u) of block (%u,%u,%u)\n", role, t.x, t.y, t.z, bb.x, bb.y,
                 bb.z);
}

[[noreturn]] void report_race(FiberPub* f, uintptr_t a, bool write, const Cell& c, const char* space,
                              const void* pc) {
    const BlockInfo* b = f->blk;
    if (first_report(b)) {
        uint64_t wblock = c.who >> 26;
        uint32_t wthread = uint32_t(c.who >> 16) & 0x3ff;
        bool same_block = wblock == b->linear;
        std::fprintf(stderr, "lumen-emu: data race on __%s__ memory at 0x%lx: %s after a write by another thread %s\n",
                     space, (unsigned long)a, write ? "write" : "read",
                     same_block ? "with no __syncthreads() in between" : "of another block of the same launch");
        print_where(f, pc);
        print_thread("written by", wblock, wthread, b);
    }
    fail(kRace);
}

[[noreturn]] void report_uninit(FiberPub* f, uintptr_t a, size_t n, const void* pc) {
    if (first_report(f->blk)) {
        std::fprintf(stderr, "lumen-emu: read of %zu bytes of uninitialized __shared__ memory at 0x%lx (no thread of the "
                     "block wrote it)\n", n, (unsigned long)a);
        print_where(f, pc);
    }
    fail(kIllegalAddress);
}

// ---------------------------------------------------------------- the checks
// Race shadow update of the bytes [a, a+n) whose cells start at `cells` (cell 0 = byte at base).
void race_check(FiberPub* f, Cell* cells, uintptr_t base, uintptr_t a, size_t n, bool write, uint32_t scope,
                bool shared, const void* pc) {
    const BlockInfo* b = f->blk;
    uint64_t me = b->linear << 26 | uint64_t(f->index) << 16 | f->warp_epoch;
    for (uintptr_t w = a - base, end = a + n - base; w < end; w++) {
        Cell& c = cells[w];
        if (c.scope == scope) {
            if (c.who != kAtomicWriter && (c.who ^ me) >> 16 != 0) {
                bool same_block = c.who >> 26 == b->linear;
                bool ordered = same_block && c.epoch != b->epoch;
                if (same_block && !ordered && (uint32_t(c.who >> 16) & 0x3ff) >> 5 == f->index >> 5)
                    ordered = int16_t(uint16_t(f->warp_epoch - uint16_t(c.who))) > 0;
                if (!ordered) report_race(f, base + w, write, c, shared ? "shared" : "global", pc);
            }
        } else if (shared && !write) {
            report_uninit(f, a, n, pc);
        }
        if (write) c = Cell{scope, b->epoch, me};
    }
}

inline bool granule_ok(uintptr_t a) {
    uint8_t s = g_arena.shadow[(a - uintptr_t(g_arena.base)) >> 3];
    return s != kFreed && (a & 7) < s;
}

void check_global(FiberPub* f, uintptr_t a, size_t n, bool write, bool atomic, const void* pc) {
    for (uintptr_t g = a; g < a + n; g = (g | 7) + 1)
        if (!granule_ok(g)) report_global_oob(f, g, n, write, pc);
    if (!granule_ok(a + n - 1)) report_global_oob(f, a + n - 1, n, write, pc);
    const BlockInfo* b = f->blk;
    uintptr_t base = uintptr_t(g_arena.base);
    if (atomic) {
        for (uintptr_t w = a - base, end = a + n - base; w < end; w++)
            g_arena.cells[w] = Cell{b->launch, b->epoch, kAtomicWriter};
        return;
    }
    race_check(f, g_arena.cells, base, a, n, write, b->launch, false, pc);
}

void check_shared(FiberPub* f, uintptr_t a, size_t n, bool write, bool atomic, bool dynamic, const void* pc) {
    BlockInfo* b = const_cast<BlockInfo*>(f->blk);
    uintptr_t lo = dynamic ? uintptr_t(b->dyn) : uintptr_t(b->static_shared);
    size_t bytes = dynamic ? b->dyn_bytes : b->static_bytes;
    if (a < lo || a + n > lo + bytes) report_shared_oob(f, a < lo ? a : a + n - 1 < lo + bytes ? a : std::max(a, lo + bytes), n, write, pc, dynamic);
    if (!dynamic) {
        std::call_once(g_vars_once, read_shared_vars);
        size_t off = a - lo;
        if (!g_shared_ok.empty())
            for (size_t k = 0; k < n; k++)
                if (off + k >= g_shared_ok.size() || !g_shared_ok[off + k]) report_shared_oob(f, a + k, n, write, pc, false);
    }
    WorkerShadow& ws = worker_shadow(b);
    Cell* cells = dynamic ? ws.dyn.data() : ws.stat.data();
    if (atomic) {
        for (uintptr_t w = a - lo, end = a + n - lo; w < end; w++)
            cells[w] = Cell{b->serial, b->epoch, kAtomicWriter};
        return;
    }
    race_check(f, cells, lo, a, n, write, b->serial, true, pc);
}

std::atomic<int> g_active{0};   // checked launches running

__attribute__((always_inline)) inline void check(uintptr_t a, size_t n, bool write, bool atomic, const void* pc) {
    if (g_active.load(std::memory_order_relaxed) == 0 || n == 0) return;
    uintptr_t sp;
    asm("mov %%rsp, %0" : "=r"(sp));
    if (((a ^ sp) & ~(kStackBytes - 1)) == 0) return;   // the thread's own stack
    FiberPub* f = self();
    const BlockInfo* b = f->blk;
    constexpr size_t kDynGuard = 1024;   // emu_runtime.cpp's kSharedGuard
    if (in_arena(a)) {
        check_global(f, a, n, write, atomic, pc);
    } else if (b->dyn && a + kDynGuard >= uintptr_t(b->dyn) && a < uintptr_t(b->dyn) + b->dyn_bytes + kDynGuard) {
        check_shared(f, a, n, write, atomic, true, pc);
    } else if (b->static_shared && a >= uintptr_t(b->static_shared) && a < uintptr_t(b->static_shared) + b->static_bytes) {
        check_shared(f, a, n, write, atomic, false, pc);
    }   // else host memory or the module's constants: not memory the emulator tracks
    lumen_emu_preempt();
}

}  // namespace

// ---------------------------------------------------------------- the sanitizer's interface
void* san_alloc(size_t bytes) {
    std::call_once(g_arena_once, arena_init);
    std::lock_guard<std::mutex> lk(g_arena.mu);
    size_t start = (g_arena.next + kGuard + 255) & ~size_t(255);
    if (start + bytes + kGuard > kArenaBytes) return nullptr;
    g_arena.next = start + bytes;
    set_shadow(start, bytes, true);
    uintptr_t p = uintptr_t(g_arena.base) + start;
    g_arena.live[p] = {bytes, ++g_arena.serial};
    return reinterpret_cast<void*>(p);
}

bool san_free(void* p) {
    std::lock_guard<std::mutex> lk(g_arena.mu);
    auto it = g_arena.live.find(uintptr_t(p));
    if (it == g_arena.live.end()) return false;
    size_t bytes = it->second.first;
    size_t off = uintptr_t(p) - uintptr_t(g_arena.base);
    set_shadow(off, bytes, false);
    // Give the pages back; the addresses are never reused, so a late access is a use after free.
    uintptr_t lo = (uintptr_t(p) + 4095) & ~uintptr_t(4095), hi = (uintptr_t(p) + bytes) & ~uintptr_t(4095);
    if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
    g_arena.freed[it->first] = it->second;
    g_arena.live.erase(it);
    return true;
}

void san_launch(int begin) { g_active.fetch_add(begin ? 1 : -1); }

long san_reports() { return g_reports.load(); }

LUMEN_EMU_API void lumen_emu_atomic_access(const void* p, size_t n) {
    check(uintptr_t(p), n, true, true, __builtin_return_address(0));
}

}  // namespace cuda_emu

// ---------------------------------------------------------------- compiler callbacks
// g++ -fsanitize=thread calls these before each access of instrumented code (ThreadSanitizer's
// ABI, chosen over AddressSanitizer's because it reports the read and the write of a `+=`
// separately, so that the preemption point falls between them). No TSan runtime is linked.
#define LUMEN_SAN_HIDDEN extern "C" __attribute__((visibility("hidden")))
#define LUMEN_SAN_CB(N)                                                                                        \
    LUMEN_SAN_HIDDEN void __tsan_read##N(void* a) { cuda_emu::check(uintptr_t(a), N, false, false, __builtin_return_address(0)); } \
    LUMEN_SAN_HIDDEN void __tsan_write##N(void* a) { cuda_emu::check(uintptr_t(a), N, true, false, __builtin_return_address(0)); } \
    LUMEN_SAN_HIDDEN void __tsan_unaligned_read##N(void* a) { cuda_emu::check(uintptr_t(a), N, false, false, __builtin_return_address(0)); } \
    LUMEN_SAN_HIDDEN void __tsan_unaligned_write##N(void* a) { cuda_emu::check(uintptr_t(a), N, true, false, __builtin_return_address(0)); }
LUMEN_SAN_CB(1)
LUMEN_SAN_CB(2)
LUMEN_SAN_CB(4)
LUMEN_SAN_CB(8)
LUMEN_SAN_CB(16)
#undef LUMEN_SAN_CB
LUMEN_SAN_HIDDEN void __tsan_read_range(void* a, size_t n) {
    cuda_emu::check(uintptr_t(a), n, false, false, __builtin_return_address(0));
}
LUMEN_SAN_HIDDEN void __tsan_write_range(void* a, size_t n) {
    cuda_emu::check(uintptr_t(a), n, true, false, __builtin_return_address(0));
}
LUMEN_SAN_HIDDEN void __tsan_init(void) {}
LUMEN_SAN_HIDDEN void __tsan_func_entry(void*) {}
LUMEN_SAN_HIDDEN void __tsan_func_exit(void) {}
LUMEN_SAN_HIDDEN void __tsan_vptr_update(void**, void*) {}
LUMEN_SAN_HIDDEN void __tsan_vptr_read(void**) {}
// __threadfence() and friends (the atomics themselves are not instrumented: LUMEN_EMU_ATOMIC).
LUMEN_SAN_HIDDEN void __tsan_atomic_thread_fence(int) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
LUMEN_SAN_HIDDEN void __tsan_atomic_signal_fence(int) { __atomic_signal_fence(__ATOMIC_SEQ_CST); }

// ---------------------------------------------------------------- undefined behaviour
// g++ -fsanitize=signed-integer-overflow,shift,integer-divide-by-zero -fno-sanitize-recover calls
// these (UndefinedBehaviorSanitizer's ABI) where kernel arithmetic is undefined; no UBSan runtime
// is linked: the report goes the same way as the memory checks and the launch fails.
namespace cuda_emu {
namespace {
struct UbLocation { const char* file; uint32_t line, column; };
struct UbType { uint16_t kind, info; char name[1]; };
struct UbData { UbLocation loc; const UbType* type; };
struct UbShiftData { UbLocation loc; const UbType* lhs; const UbType* rhs; };

long long ub_value(const UbType* t, uintptr_t v) {
    unsigned bits = 1u << (t->info >> 1);
    if (bits >= 64) return (long long)v;
    bool is_signed = t->info & 1;
    uint64_t m = (uint64_t(1) << bits) - 1;
    uint64_t u = v & m;
    if (is_signed && (u >> (bits - 1))) return (long long)(u | ~m);
    return (long long)u;
}

[[noreturn]] void ub_report(const UbLocation& loc, const std::string& what) {
    if (g_active.load(std::memory_order_relaxed) == 0) {   // not in a checked launch: just say it
        std::fprintf(stderr, "lumen-emu: undefined behaviour: %s at %s:%u\n", what.c_str(), loc.file, loc.line);
        std::abort();
    }
    FiberPub* f = self();
    if (first_report(f->blk)) {
        std::fprintf(stderr, "lumen-emu: undefined behaviour: %s\n", what.c_str());
        const BlockInfo* b = f->blk;
        std::fprintf(stderr, "lumen-emu:   in kernel %s, block (%u,%u,%u), thread (%u,%u,%u)\n", kernel_name(b->fn),
                     b->bid.x, b->bid.y, b->bid.z, f->tid.x, f->tid.y, f->tid.z);
        std::fprintf(stderr, "lumen-emu:   at %s:%u:%u\n", loc.file, loc.line, loc.column);
    }
    fail(kIllegalAddress);
}

[[noreturn]] void ub_overflow(const UbData* d, const char* op, uintptr_t l, uintptr_t r) {
    ub_report(d->loc, "signed integer overflow: " + std::to_string(ub_value(d->type, l)) + " " + op + " " +
                          std::to_string(ub_value(d->type, r)) + " cannot be represented in type " + d->type->name);
}
}  // namespace
}  // namespace cuda_emu

LUMEN_SAN_HIDDEN void __ubsan_handle_add_overflow_abort(cuda_emu::UbData* d, uintptr_t l, uintptr_t r) { cuda_emu::ub_overflow(d, "+", l, r); }
LUMEN_SAN_HIDDEN void __ubsan_handle_sub_overflow_abort(cuda_emu::UbData* d, uintptr_t l, uintptr_t r) { cuda_emu::ub_overflow(d, "-", l, r); }
LUMEN_SAN_HIDDEN void __ubsan_handle_mul_overflow_abort(cuda_emu::UbData* d, uintptr_t l, uintptr_t r) { cuda_emu::ub_overflow(d, "*", l, r); }
LUMEN_SAN_HIDDEN void __ubsan_handle_negate_overflow_abort(cuda_emu::UbData* d, uintptr_t v) {
    cuda_emu::ub_report(d->loc, "negation of " + std::to_string(cuda_emu::ub_value(d->type, v)) + " cannot be represented in type " + d->type->name);
}
LUMEN_SAN_HIDDEN void __ubsan_handle_divrem_overflow_abort(cuda_emu::UbData* d, uintptr_t l, uintptr_t r) {
    long long rv = cuda_emu::ub_value(d->type, r);
    cuda_emu::ub_report(d->loc, rv == 0 ? std::string("integer division by zero")
                                       : "division of " + std::to_string(cuda_emu::ub_value(d->type, l)) + " by -1 overflows type " + d->type->name);
}
LUMEN_SAN_HIDDEN void __ubsan_handle_shift_out_of_bounds_abort(cuda_emu::UbShiftData* d, uintptr_t l, uintptr_t r) {
    cuda_emu::ub_report(d->loc, "shift of " + std::to_string(cuda_emu::ub_value(d->lhs, l)) + " by " +
                                    std::to_string(cuda_emu::ub_value(d->rhs, r)) + " bits is out of range for type " + d->lhs->name);
}
