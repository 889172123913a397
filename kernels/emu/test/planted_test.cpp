// The planted-bug suite: each deliberately broken kernel of planted_kernels.cu must be caught by
// the checking library (its launch fails and the report names the bug), each correct one must
// pass clean, and the module loader must refuse wrong images and names. Prints every report, so
// that what a user sees is on record.
//
//   planted_test         (linked against libcuda_emu_planted.so; no arguments)
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <cuda.h>

#include "cuda_emu.h"

extern "C" void planted_nonatomic_sum(float*);

static int g_pass = 0, g_fail = 0;

// Runs f with stderr sent to a temporary file, and returns what was written there.
static std::string capture_stderr(const std::function<void()>& f) {
    std::fflush(stderr);
    int saved = dup(2);
    FILE* tmp = std::tmpfile();
    dup2(fileno(tmp), 2);
    f();
    std::fflush(stderr);
    dup2(saved, 2);
    close(saved);
    std::rewind(tmp);
    std::string text;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, tmp)) > 0;) text.append(buf, n);
    std::fclose(tmp);
    return text;
}

static void expect(const char* name, bool ok, const std::string& report) {
    (ok ? g_pass : g_fail)++;
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", name);
    size_t at = 0;
    while (at < report.size()) {
        size_t nl = report.find('\n', at);
        if (nl == std::string::npos) nl = report.size();
        std::printf("      | %s\n", report.substr(at, nl - at).c_str());
        at = nl + 1;
    }
}

static CUmodule g_mod;

static CUfunction fn(const char* name) {
    CUfunction f = nullptr;
    if (cuModuleGetFunction(&f, g_mod, name) != CUDA_SUCCESS) std::printf("  cannot get %s\n", name);
    return f;
}

static CUdeviceptr dalloc(size_t bytes) {
    CUdeviceptr p = 0;
    cuMemAlloc(&p, bytes);
    cuMemsetD8(p, 0, bytes);
    return p;
}

struct Launch { CUresult rc; std::string report; };

static Launch launch(const char* name, dim3 grid, dim3 block, unsigned shared, std::vector<void*> args) {
    Launch l{CUDA_SUCCESS, ""};
    CUfunction f = fn(name);
    if (!f) return Launch{CUDA_ERROR_NOT_FOUND, "no such kernel"};
    l.report = capture_stderr([&] {
        l.rc = cuLaunchKernel(f, grid.x, grid.y, grid.z, block.x, block.y, block.z, shared, nullptr, args.data(), nullptr);
    });
    return l;
}

static bool has(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

// A PTX image listing the kernels of this library, the way nvcc's PTX lists entry points.
static std::string ptx_image(const std::vector<const char*>& kernels) {
    std::string s = "//\n// PTX for the planted-bug tests\n.version 8.0\n.target sm_90\n.address_size 64\n";
    for (const char* k : kernels) s += std::string(".visible .entry ") + k + "(\n)\n{\n\tret;\n}\n";
    return s;
}

// A ptxas -v report as `make fatbin` writes it, for the attributes and the register limit.
static void write_ptxas_report(const char* path) {
    FILE* f = std::fopen(path, "w");
    std::fprintf(f, "ptxas info    : Compiling entry function 'planted_clean_atomics' for 'sm_80'\n"
                    "ptxas info    : Used 40 registers, used 0 barriers, 368 bytes cmem[0]\n"
                    "ptxas info    : Compiling entry function 'planted_clean_atomics' for 'sm_90'\n"
                    "ptxas info    : Function properties for planted_clean_atomics\n"
                    "    16 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
                    "ptxas info    : Used 200 registers, used 1 barriers, 16 bytes cumulative stack size, "
                    "1024 bytes smem, 368 bytes cmem[0]\n");
    std::fclose(f);
}

int main() {
    char report_path[] = "/tmp/lumen-planted-ptxas-XXXXXX";
    close(mkstemp(report_path));
    write_ptxas_report(report_path);
    setenv("LUMEN_EMU_PTXAS_REPORT", report_path, 1);
    cuda_emu::lumen_emu_set_check(1, 3);
    CUdevice dev;
    CUcontext ctx;
    cuInit(0);
    cuDeviceGet(&dev, 0);
    cuDevicePrimaryCtxRetain(&ctx, dev);
    cuCtxSetCurrent(ctx);

    // ---- the module image
    std::string dummy_report;
    CUresult rc = CUDA_SUCCESS;
    const char dummy[12] = "not a image";
    dummy_report = capture_stderr([&] { rc = cuModuleLoadData(&g_mod, dummy); });
    expect("a 12-byte dummy file is not a module image", rc == CUDA_ERROR_INVALID_IMAGE && has(dummy_report, "invalid module image"), dummy_report);

    std::vector<const char*> all = {"planted_missing_barrier", "planted_global_write_past_end", "planted_global_read_past_end",
        "planted_shared_write_past_end", "planted_dynamic_shared_past_end", "planted_nonatomic_sum",
        "planted_uninitialized_shared", "planted_bounded", "planted_index_overflow", "planted_clean_warp_exchange",
        "planted_clean_atomics", "planted_wmma_divergent", "planted_wmma_load_past_end", "planted_wmma_misaligned",
        "planted_wmma_branches", "planted_wmma_nonuniform", "planted_fast_math"};
    std::vector<const char*> stale(all.begin(), all.end() - 1);   // an image from before planted_fast_math
    std::string old_image = ptx_image(stale);
    CUmodule old_mod;
    cuModuleLoadData(&old_mod, old_image.c_str());
    CUfunction f = nullptr;
    std::string stale_report = capture_stderr([&] { rc = cuModuleGetFunction(&f, old_mod, "planted_fast_math"); });
    expect("stale image: a kernel compiled into the emulator but missing from the image is not found",
           rc == CUDA_ERROR_NOT_FOUND && has(stale_report, "no kernel planted_fast_math"), stale_report);
    std::string image = ptx_image(all);
    cuModuleLoadData(&g_mod, image.c_str());
    std::string wrong_report = capture_stderr([&] { rc = cuModuleGetFunction(&f, g_mod, "planted_fast_mat"); });
    expect("wrong kernel name: CUDA_ERROR_NOT_FOUND", rc == CUDA_ERROR_NOT_FOUND, wrong_report);

    // ---- launch limits
    CUdeviceptr out = dalloc(1 << 20);
    void* a_out[] = {&out};
    Launch l = launch("planted_bounded", dim3(1), dim3(256), 0, {&out});
    expect("more threads than __launch_bounds__(128)", l.rc == CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES && has(l.report, "__launch_bounds__"), l.report);
    l = launch("planted_bounded", dim3(1, 65536), dim3(32), 0, {&out});
    expect("grid y of 65536 is over the limit", l.rc == CUDA_ERROR_INVALID_VALUE, l.report);
    l = launch("planted_bounded", dim3(1, 1, 65536), dim3(32), 0, {&out});
    expect("grid z of 65536 is over the limit", l.rc == CUDA_ERROR_INVALID_VALUE, l.report);
    l = launch("planted_bounded", dim3(0x80000000u), dim3(32), 0, {&out});
    expect("grid x of 2^31 is over the limit", l.rc == CUDA_ERROR_INVALID_VALUE, l.report);
    (void)a_out;

    // ---- what ptxas said: registers, shared memory, and the threads that 200 registers allow
    CUfunction atomics = fn("planted_clean_atomics");
    int regs = 0, smem = 0, local = 0, max_threads = 0;
    cuFuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, atomics);
    cuFuncGetAttribute(&smem, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, atomics);
    cuFuncGetAttribute(&local, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, atomics);
    cuFuncGetAttribute(&max_threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, atomics);
    CUdeviceptr s0 = dalloc(4), c0 = dalloc(4);
    l = launch("planted_clean_atomics", dim3(1), dim3(512), 0, {&s0, &c0});
    expect("cuFuncGetAttribute reports the ptxas figures; more threads than the registers allow fail",
           regs == 200 && smem == 1024 && local == 16 && max_threads == 320 && l.rc == CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES
               && has(l.report, "registers per block"),
           "registers " + std::to_string(regs) + ", shared " + std::to_string(smem) + ", local " + std::to_string(local) +
               ", max threads " + std::to_string(max_threads) + "\n" + l.report);
    unlink(report_path);

    // ---- bounds
    int n = 1000;
    CUdeviceptr buf = dalloc(n * sizeof(float)), in = dalloc(n * sizeof(float));
    l = launch("planted_global_write_past_end", dim3(4), dim3(256), 0, {&buf, &n});
    expect("global write one past the end", l.rc == CUDA_ERROR_ILLEGAL_ADDRESS && has(l.report, "invalid __global__ write of 4 bytes")
           && has(l.report, "0 bytes past the end") && has(l.report, "planted_global_write_past_end") && has(l.report, "thread (232,0,0)"), l.report);
    l = launch("planted_global_read_past_end", dim3(4), dim3(256), 0, {&in, &buf, &n});
    expect("global read one past the end", l.rc == CUDA_ERROR_ILLEGAL_ADDRESS && has(l.report, "invalid __global__ read of 4 bytes")
           && has(l.report, "0 bytes past the end"), l.report);
    l = launch("planted_shared_write_past_end", dim3(2), dim3(64), 0, {&out});
    expect("static shared write one past the end", l.rc == CUDA_ERROR_ILLEGAL_ADDRESS && has(l.report, "invalid __shared__ write")
           && has(l.report, "past the end of __shared__ planted_shared_write_past_end::slots (256 bytes)"), l.report);
    l = launch("planted_dynamic_shared_past_end", dim3(2), dim3(64), 64 * sizeof(float), {&out});
    expect("dynamic shared write one past the end", l.rc == CUDA_ERROR_ILLEGAL_ADDRESS && has(l.report, "invalid __shared__ write")
           && has(l.report, "0 bytes past the end of the block's 256 bytes of dynamic shared memory"), l.report);
    CUdeviceptr freed = dalloc(64 * sizeof(float));
    cuMemFree(freed);
    l = launch("planted_bounded", dim3(1), dim3(64), 0, {&freed});
    expect("use after cuMemFree", l.rc == CUDA_ERROR_ILLEGAL_ADDRESS && has(l.report, "use after cuMemFree"), l.report);

    // ---- races and uninitialized shared memory
    CUdeviceptr tile_in = dalloc(512 * sizeof(float));
    l = launch("planted_missing_barrier", dim3(2), dim3(256), 0, {&tile_in, &out});
    expect("missing __syncthreads()", l.rc != CUDA_SUCCESS && (has(l.report, "data race on __shared__") || has(l.report, "uninitialized __shared__")), l.report);
    CUdeviceptr sum = dalloc(sizeof(float));
    l = launch("planted_nonatomic_sum", dim3(1), dim3(1024), 0, {&sum});
    expect("non-atomic += by the threads of one block", l.rc == CUDA_ERROR_LAUNCH_FAILED && has(l.report, "data race on __global__")
           && has(l.report, "no __syncthreads() in between"), l.report);
    l = launch("planted_nonatomic_sum", dim3(64), dim3(1), 0, {&sum});
    expect("non-atomic += by 64 blocks", l.rc == CUDA_ERROR_LAUNCH_FAILED && has(l.report, "another block of the same launch"), l.report);
    int plane = 1 << 30;
    l = launch("planted_index_overflow", dim3(4), dim3(32), 0, {&out, &plane});
    // Blocks 2 and 3 both overflow; the blocks run on several workers, so either may be reported first.
    expect("signed overflow in index arithmetic (UBSan)", l.rc == CUDA_ERROR_ILLEGAL_ADDRESS
           && (has(l.report, "signed integer overflow: 2 * 1073741824 cannot be represented in type 'int'")
               || has(l.report, "signed integer overflow: 3 * 1073741824 cannot be represented in type 'int'")), l.report);
    l = launch("planted_uninitialized_shared", dim3(1), dim3(64), 0, {&out});
    expect("read of uninitialized shared memory", l.rc != CUDA_SUCCESS && has(l.report, "uninitialized __shared__"), l.report);

    // The preemption points make the lost updates real, even where nothing tracks the memory.
    float host_sum = 0.0f;
    cuda_emu::launch(planted_nonatomic_sum, dim3(1), dim3(1024), 0, &host_sum);
    expect("preemption at memory accesses loses updates of a non-atomic += (host memory, no detector)",
           host_sum < 1024.0f, "sum " + std::to_string(host_sum) + " of 1024\n");

    // ---- WMMA: warp-collective, bounds-checked, aligned
    CUdeviceptr tile16 = dalloc(256 * 2), tile255 = dalloc(255 * 2), cout = dalloc(256 * 4);
    l = launch("planted_wmma_divergent", dim3(1), dim3(32), 0, {&tile16, &cout});
    expect("wmma::mma_sync with half of the warp gone", l.rc == CUDA_ERROR_LAUNCH_FAILED && has(l.report, "wmma::mma_sync")
           && has(l.report, "lanes 0xffff0000 exited without calling it"), l.report);
    l = launch("planted_wmma_load_past_end", dim3(1), dim3(32), 0, {&tile255, &cout});
    expect("wmma::load_matrix_sync one element past the end", l.rc == CUDA_ERROR_ILLEGAL_ADDRESS
           && has(l.report, "invalid __global__ read of 2 bytes") && has(l.report, "0 bytes past the end"), l.report);
    l = launch("planted_wmma_misaligned", dim3(1), dim3(32), 0, {&tile16, &cout});
    expect("wmma::load_matrix_sync from a pointer that is not 256-bit aligned", l.rc == CUDA_ERROR_LAUNCH_FAILED
           && has(l.report, "not 256-bit aligned"), l.report);

    CUdeviceptr tiles2 = dalloc(512 * 4);
    l = launch("planted_wmma_branches", dim3(1), dim3(32), 0, {&tiles2});
    expect("wmma::store_matrix_sync in one half-warp, load_matrix_sync in the other", l.rc == CUDA_ERROR_LAUNCH_FAILED
           && has(l.report, "divergent warp-collective calls"), l.report);
    l = launch("planted_wmma_nonuniform", dim3(1), dim3(32), 0, {&tiles2});
    expect("wmma::store_matrix_sync with a different pointer per half-warp", l.rc == CUDA_ERROR_LAUNCH_FAILED
           && has(l.report, "lanes 0 and 16 disagree"), l.report);

    // ---- correct kernels stay clean
    l = launch("planted_clean_warp_exchange", dim3(3), dim3(64), 0, {&out});
    expect("warp-synchronous exchange through __syncwarp and shuffles is not a race", l.rc == CUDA_SUCCESS && l.report.empty(), l.report);
    CUdeviceptr count = dalloc(sizeof(int));
    cuMemsetD8(sum, 0, 4);
    l = launch("planted_clean_atomics", dim3(16), dim3(256), 0, {&sum, &count});
    float got = 0;
    cuMemcpyDtoH(&got, sum, 4);
    expect("atomics are exempt and exact", l.rc == CUDA_SUCCESS && l.report.empty() && got == 4096.0f, l.report);

    // ---- fast intrinsics carry their documented error
    int m = 256;
    std::vector<float> xs(m), ys(4 * m);
    for (int i = 0; i < m; i++) xs[i] = -8.0f + 16.0f * float(i) / float(m) + 0.013f;
    CUdeviceptr dx = dalloc(m * 4), dy = dalloc(4 * m * 4);
    cuMemcpyHtoD(dx, xs.data(), m * 4);
    l = launch("planted_fast_math", dim3(1), dim3(256), 0, {&dx, &dy, &m});
    cuMemcpyDtoH(ys.data(), dy, 4 * m * 4);
    int inexact = 0, outside = 0;
    auto ulps = [](float got, double exact) { return std::fabs(got - exact) / std::ldexp(1.0, std::ilogb(float(exact)) - 23); };
    for (int i = 0; i < m; i++) {
        double x = xs[i];
        double e[4] = {std::exp(x), std::log(x + 2.0), x / 3.0, 1.0 / std::sqrt(x + 2.0)};
        double bound[4] = {2 + std::floor(std::fabs(1.173 * x)), 3, 2, 2};
        for (int k = 0; k < 4; k++) {
            float r = ys[4 * i + k];
            if (r != float(e[k])) inexact++;
            bool near1 = k == 1 && x + 2.0 >= 0.5 && x + 2.0 <= 2.0;   // __logf: absolute error 2^-21.41 there
            if (k == 1 && x + 2.0 <= 0) continue;
            if (k == 3 && x + 2.0 <= 0) continue;
            double err = near1 ? std::fabs(r - e[k]) / std::ldexp(1.0, -21) : ulps(r, e[k]) / bound[k];
            if (err > 1.0 && ++outside <= 8) std::printf("  fast math %d at x=%.9g: %.9g, exact %.9g\n", k, x, r, e[k]);
        }
    }
    expect("__expf, __logf, __fdividef, rsqrtf differ from exact math, within their documented error",
           l.rc == CUDA_SUCCESS && inexact > m && outside == 0,
           std::to_string(inexact) + " inexact results, " + std::to_string(outside) + " outside the documented bounds\n");

    std::printf("planted-test: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail == 0 ? 0 : 1;
}
