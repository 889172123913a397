// Tests of the CUDA emulator: kernels launched directly, the same in checking mode, the
// planted race caught by the checking mode, and the emulated driver API used the way the Java
// binding uses it (dlopen + dlsym of the versioned names, packed kernelParams).
//
//   emu_test LIBRARY.so [CUBIN]  run the tests, print "emu-test: N passed, M failed"; the driver
//                                API test loads CUBIN (the test kernels by nvcc) as its module
//   emu_test LIBRARY.so --bench  print per-block costs (LUMEN_EMU_THREADS picks the workers)
#include <dlfcn.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <cuda.h>

#include "cuda_emu.h"
#include "emu_test_kernels.cuh"

extern "C" {
void et_block_reduce(const float*, float*, int);
void et_transpose(const float*, float*, int, int);
void et_warp_ops(const float*, float*, float*, unsigned*, float*, float*, int*);
void et_atomics(const float*, int, float*, int*, double*, int*);
void et_dyn_reverse(const float*, float*, int);
void et_dyn_reverse4(const float4*, float4*);
void et_race_neighbour(const float*, float*);
void et_coords(int4*);
void et_partial(const int*, int*);
void et_lowp(const float*, unsigned short*, unsigned short*, float*, int);
void et_params(EtParams, const double*, float*);
void et_vec_add(const float*, const float*, float*, int);
void et_deadlock(float*);
void et_wmma_gemm_f16(const __half*, const __half*, float*, int, int, int, float);
void et_wmma_gemm_bf16(const __nv_bfloat16*, const __nv_bfloat16*, float*, int, int, int, float);
void et_wmma_shares(float*, float*, int*);
}

static int g_pass = 0, g_fail = 0;
static const char* g_mode = "normal";

#define EXPECT(cond, ...)                                                       \
    do {                                                                        \
        if (!(cond)) {                                                          \
            std::printf("  FAIL [%s] %s:%d: %s: ", g_mode, __func__, __LINE__, #cond); \
            std::printf(__VA_ARGS__);                                           \
            std::printf("\n");                                                  \
            ok = false;                                                         \
        }                                                                       \
    } while (0)

static void report(const char* name, bool ok) {
    (ok ? g_pass : g_fail)++;
    std::printf("%s %s (%s)\n", ok ? "ok  " : "FAIL", name, g_mode);
}

static std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

// ---------------------------------------------------------------- kernels, launched directly
static bool test_block_reduce() {
    bool ok = true;
    const int n = 256 * 37 + 101;   // odd size: the last block is partial
    const int blocks = (n + 255) / 256;
    auto in = random_floats(n, 1);
    std::vector<float> out(blocks, -1.0f);
    EXPECT(cuda_emu::launch(et_block_reduce, dim3(blocks), dim3(256), 0, in.data(), out.data(), n) == 0, "launch");
    for (int b = 0; b < blocks; b++) {
        double ref = 0;
        for (int i = b * 256; i < std::min(n, b * 256 + 256); i++) ref += in[i];
        EXPECT(std::fabs(out[b] - ref) < 1e-4, "block %d: %f vs %f", b, out[b], ref);
        if (!ok) break;
    }
    return ok;
}

static bool test_transpose() {
    bool ok = true;
    const int rows = 70, cols = 45;
    auto in = random_floats(size_t(rows) * cols, 2);
    std::vector<float> out(size_t(rows) * cols, -7.0f);
    dim3 grid((cols + 31) / 32, (rows + 31) / 32);
    EXPECT(cuda_emu::launch(et_transpose, grid, dim3(32, 8), 0, in.data(), out.data(), rows, cols) == 0, "launch");
    for (int r = 0; r < rows && ok; r++)
        for (int c = 0; c < cols && ok; c++)
            EXPECT(out[size_t(c) * rows + r] == in[size_t(r) * cols + c], "(%d,%d)", r, c);
    return ok;
}

static bool test_warp_ops() {
    bool ok = true;
    const int blocks = 3, threads = 128, n = blocks * threads, warps = n / 32;
    auto in = random_floats(n, 3);
    std::vector<float> xs(n), ds(warps), scan(n), b8(n);
    std::vector<unsigned> bal(warps);
    std::vector<int> radd(n);
    EXPECT(cuda_emu::launch(et_warp_ops, dim3(blocks), dim3(threads), 0, in.data(), xs.data(), ds.data(), bal.data(),
                            scan.data(), b8.data(), radd.data()) == 0,
           "launch");
    for (int w = 0; w < warps; w++) {
        double sum = 0;
        unsigned ballot = 0;
        int isum = 0;
        for (int l = 0; l < 32; l++) {
            sum += in[w * 32 + l];
            if (in[w * 32 + l] > 0) ballot |= 1u << l;
            isum += int(in[w * 32 + l] * 10.0f);
        }
        EXPECT(std::fabs(ds[w] - sum) < 1e-5, "shfl_down warp %d: %f vs %f", w, ds[w], sum);
        EXPECT(bal[w] == ballot, "ballot warp %d: %08x vs %08x", w, bal[w], ballot);
        double run = 0;
        for (int l = 0; l < 32; l++) {
            int i = w * 32 + l;
            run += in[i];
            EXPECT(std::fabs(xs[i] - sum) < 1e-5, "xor lane %d: %f vs %f", l, xs[i], sum);
            EXPECT(std::fabs(scan[i] - run) < 1e-5, "scan lane %d: %f vs %f", l, scan[i], run);
            EXPECT(b8[i] == in[w * 32 + (l & ~7) + 3], "width-8 shfl lane %d", l);
            EXPECT(radd[i] == isum, "reduce_add lane %d: %d vs %d", l, radd[i], isum);
            if (!ok) return ok;
        }
    }
    return ok;
}

static bool test_atomics() {
    bool ok = true;
    const int n = 100000;
    auto in = random_floats(n, 4, 0.0f, 1.0f);
    float fsum = 0;
    int count = 0, imax = -1;
    double dsum = 0, ref = 0;
    int refmax = -1;
    for (float v : in) { ref += v; refmax = std::max(refmax, int(v * 1000.0f)); }
    EXPECT(cuda_emu::launch(et_atomics, dim3(64), dim3(128), 0, in.data(), n, &fsum, &count, &dsum, &imax) == 0,
           "launch");
    EXPECT(count == n, "count %d", count);
    EXPECT(std::fabs(dsum - ref) < 1e-6 * ref, "double sum %f vs %f", dsum, ref);
    EXPECT(std::fabs(fsum - ref) < 1e-3 * ref, "float sum %f vs %f", fsum, ref);
    EXPECT(imax == refmax, "max %d vs %d", imax, refmax);
    return ok;
}

static bool test_dynamic_shared() {
    bool ok = true;
    const int n = 1000, threads = 96;
    auto in = random_floats(n, 5);
    std::vector<float> out(n, -9.0f);
    int blocks = (n + threads - 1) / threads;
    EXPECT(cuda_emu::launch(et_dyn_reverse, dim3(blocks), dim3(threads), threads * sizeof(float), in.data(),
                            out.data(), n) == 0,
           "launch");
    for (int b = 0; b < blocks && ok; b++) {
        int base = b * threads, m = std::min(n - base, threads);
        for (int t = 0; t < m && ok; t++) EXPECT(out[base + t] == in[base + m - 1 - t], "block %d t %d", b, t);
    }
    const int t4 = 64, b4 = 5;
    std::vector<float4> in4(t4 * b4), out4(t4 * b4);
    for (int i = 0; i < t4 * b4; i++) in4[i] = make_float4(i, i + 0.25f, i + 0.5f, i + 0.75f);
    EXPECT(cuda_emu::launch(et_dyn_reverse4, dim3(b4), dim3(t4), t4 * sizeof(float4), in4.data(), out4.data()) == 0,
           "launch");
    for (int b = 0; b < b4 && ok; b++)
        for (int t = 0; t < t4 && ok; t++) {
            const float4& o = out4[b * t4 + t];
            const float4& e = in4[b * t4 + t4 - 1 - t];
            EXPECT(o.x == e.x && o.y == e.y && o.z == e.z && o.w == e.w, "float4 block %d t %d", b, t);
        }
    return ok;
}

static bool test_coords() {
    bool ok = true;
    dim3 grid(3, 2, 2), block(4, 3, 2);
    int nb = 12, nt = 24;
    std::vector<int4> out(size_t(nb) * nt);
    EXPECT(cuda_emu::launch(et_coords, grid, block, 0, out.data()) == 0, "launch");
    for (unsigned bz = 0; bz < 2; bz++)
        for (unsigned by = 0; by < 2; by++)
            for (unsigned bx = 0; bx < 3; bx++)
                for (unsigned tz = 0; tz < 2; tz++)
                    for (unsigned ty = 0; ty < 3; ty++)
                        for (unsigned tx = 0; tx < 4; tx++) {
                            int b = bx + 3 * (by + 2 * bz), t = tx + 4 * (ty + 3 * tz);
                            const int4& o = out[size_t(b) * nt + t];
                            EXPECT(o.x == int(tx + 100 * bx) && o.y == int(ty + 100 * by) &&
                                       o.z == int(tz + 100 * bz) && o.w == 24,
                                   "block %d thread %d", b, t);
                            if (!ok) return ok;
                        }
    return ok;
}

static bool test_partial_warp() {
    bool ok = true;
    std::vector<int> flags(48, 0);
    for (int i = 0; i < 48; i += 3) flags[i] = 1;   // 16 set, thread 33 is 0, 36 and 39 are 1
    int out[3] = {-1, -1, -1};
    EXPECT(cuda_emu::launch(et_partial, dim3(1), dim3(48), 0, flags.data(), out) == 0, "launch");
    EXPECT(out[0] == 16, "syncthreads_count %d", out[0]);
    EXPECT(out[1] == 0xffff, "activemask %x", out[1]);
    EXPECT(out[2] == 1, "any %d", out[2]);
    return ok;
}

// Independent references: nearest of the two neighbours, ties to the even one.
static unsigned short ref_half(float f) {
    if (std::isnan(f)) return 0x7fff;
    _Float16 h = (_Float16)f;   // GCC's conversion rounds to nearest even
    unsigned short b;
    std::memcpy(&b, &h, 2);
    return b;
}
static unsigned short ref_bf16(float f) {
    if (std::isnan(f)) return 0x7fff;
    uint32_t u;
    std::memcpy(&u, &f, 4);
    uint32_t lo = u & 0xffff0000u, hi = lo + 0x10000u;
    float flo, fhi;
    std::memcpy(&flo, &lo, 4);
    std::memcpy(&fhi, &hi, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return (unsigned short)(u >> 16);   // inf
    double dlo = std::fabs(double(f) - double(flo));
    double dhi = std::isinf(fhi) ? std::fabs(double(f) - std::ldexp(1.0, 128) * (f < 0 ? -1 : 1))
                                 : std::fabs(double(f) - double(fhi));
    if (dlo < dhi) return (unsigned short)(lo >> 16);
    if (dhi < dlo) return (unsigned short)(hi >> 16);
    return (unsigned short)(((lo >> 16) & 1) ? hi >> 16 : lo >> 16);
}

static bool test_lowp() {
    bool ok = true;
    std::vector<float> in = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65519.99f, 65520.0f, 1e6f, -1e6f,
                             1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 5.960464477539063e-08f, 2.98e-08f, 2.9802322387695312e-08f,
                             8.940696716308594e-08f, 6.097555160522461e-05f, 1.0f + 1.0f / 256, 1.0f + 3.0f / 256,
                             3.3895314e38f, 3.4028235e38f, INFINITY, -INFINITY, NAN, 1e-40f, -1e-45f};
    auto r = random_floats(5000, 6, -70000.0f, 70000.0f);
    in.insert(in.end(), r.begin(), r.end());
    auto r2 = random_floats(5000, 7, -1e-4f, 1e-4f);
    in.insert(in.end(), r2.begin(), r2.end());
    std::mt19937 rng(8);
    for (int i = 0; i < 20000; i++) {   // random bit patterns, ties included
        uint32_t u = rng();
        if (i % 4 == 0) u = (u & 0xffff0000u) | 0x8000u;   // bf16 ties
        if (i % 4 == 1) u = (u & 0xffffe000u) | 0x1000u;   // fp16 ties
        float f;
        std::memcpy(&f, &u, 4);
        in.push_back(f);
    }
    int n = int(in.size());
    std::vector<unsigned short> h(n), b(n);
    std::vector<float> back(n);
    EXPECT(cuda_emu::launch(et_lowp, dim3((n + 127) / 128), dim3(128), 0, in.data(), h.data(), b.data(), back.data(),
                            n) == 0,
           "launch");
    int bad = 0;
    for (int i = 0; i < n && bad < 5; i++) {
        if (h[i] != ref_half(in[i])) { bad++; EXPECT(false, "half(%a) = %04x, want %04x", in[i], h[i], ref_half(in[i])); }
        if (b[i] != ref_bf16(in[i])) { bad++; EXPECT(false, "bf16(%a) = %04x, want %04x", in[i], b[i], ref_bf16(in[i])); }
        _Float16 hh;
        std::memcpy(&hh, &h[i], 2);
        uint32_t bu = uint32_t(b[i]) << 16;
        float bf;
        std::memcpy(&bf, &bu, 4);
        float want = float(hh) + bf;
        if (!(back[i] == want || (std::isnan(back[i]) && std::isnan(want)))) {
            bad++;
            EXPECT(false, "back(%a) = %a, want %a", in[i], back[i], want);
        }
    }
    // half -> float of a NaN is the canonical NaN, like the CUDA conversion
    EXPECT(__half_as_ushort(__float2half(NAN)) == 0x7fff, "nan");
    float hn = __half2float(__ushort_as_half(0xfe01));
    uint32_t hnu;
    std::memcpy(&hnu, &hn, 4);
    EXPECT(hnu == 0x7fffffffu, "half nan to float %08x", hnu);
    EXPECT(float(__half(1.0f) + __half(0.000244140625f)) == 1.0f, "half add rounds to even");
    return ok;
}

static bool test_params() {
    bool ok = true;
    const int n = 77;
    std::vector<double> x(n);
    for (int i = 0; i < n; i++) x[i] = i * 0.5;
    std::vector<float> y(n, 0);
    EtParams p{n, 3.0, 0.25f};
    EXPECT(cuda_emu::launch(et_params, dim3(2), dim3(64), 0, p, x.data(), y.data()) == 0, "launch");
    for (int i = 0; i < n && ok; i++) EXPECT(y[i] == float(3.0 * x[i]) + 0.25f, "y[%d]=%f", i, y[i]);
    return ok;
}

static bool test_deadlock_reported() {
    bool ok = true;
    std::vector<float> out(64);
    std::fprintf(stdout, "  (a deadlock message is expected next)\n");
    std::fflush(stdout);
    EXPECT(cuda_emu::launch(et_deadlock, dim3(2), dim3(64), 0, out.data()) != 0, "deadlock not reported");
    // and the emulator still works afterwards
    std::vector<float> a(100, 1.0f), b(100, 2.0f), c(100, 0.0f);
    EXPECT(cuda_emu::launch(et_vec_add, dim3(1), dim3(128), 0, a.data(), b.data(), c.data(), 100) == 0, "launch");
    EXPECT(c[99] == 3.0f, "after deadlock %f", c[99]);
    return ok;
}

// WMMA: a GEMM on tensor cores against a double reference. A and B are 16-bit values, so every
// product is exact in float and only the float sums round; small integers make it exact.
// WMMA tiles must be 256-bit aligned, as device memory and shared arrays are.
template <class T> struct Aligned32 {
    typedef T value_type;
    Aligned32() = default;
    template <class U> Aligned32(const Aligned32<U>&) {}
    T* allocate(size_t n) { return static_cast<T*>(std::aligned_alloc(32, (n * sizeof(T) + 31) / 32 * 32)); }
    void deallocate(T* p, size_t) { std::free(p); }
    template <class U> bool operator==(const Aligned32<U>&) const { return true; }
    template <class U> bool operator!=(const Aligned32<U>&) const { return false; }
};
template <class T> using TileVec = std::vector<T, Aligned32<T>>;

template <class T, class Kernel>
static bool wmma_gemm(Kernel kernel, bool integers) {
    bool ok = true;
    const int M = 32, N = 64, K = 48;
    const float alpha = 0.5f;
    TileVec<T> a(M * K), b(N * K);   // A row-major, B column-major (b[n * K + k])
    auto ra = random_floats(a.size(), 21), rb = random_floats(b.size(), 22);
    for (size_t i = 0; i < a.size(); i++) a[i] = T(integers ? std::round(ra[i] * 8) : ra[i]);
    for (size_t i = 0; i < b.size(); i++) b[i] = T(integers ? std::round(rb[i] * 8) : rb[i]);
    TileVec<float> c(M * N, NAN);
    EXPECT(cuda_emu::launch(kernel, dim3(N / 32, M / 16), dim3(64), 0, a.data(), b.data(), c.data(), M, N, K, alpha) == 0, "launch");
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double ref = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                ref += double(float(a[m * K + k])) * double(float(b[n * K + k]));
                mag += std::fabs(double(float(a[m * K + k])) * double(float(b[n * K + k])));
            }
            ref *= alpha;
            double tol = integers ? 0.0 : 1e-6 * mag;
            EXPECT(std::fabs(c[m * N + n] - ref) <= tol, "c[%d,%d] = %.9g, reference %.9g", m, n, c[m * N + n], ref);
            if (!ok) return ok;
        }
    return ok;
}

static bool test_wmma_gemm() {
    return wmma_gemm<__half>(et_wmma_gemm_f16, false) && wmma_gemm<__half>(et_wmma_gemm_f16, true)
           && wmma_gemm<__nv_bfloat16>(et_wmma_gemm_bf16, false) && wmma_gemm<__nv_bfloat16>(et_wmma_gemm_bf16, true);
}

// The shares of a fragment: 8 elements per lane, the tile covered once; the row-major layout of
// the shares in this mode is returned in `layout`.
static bool wmma_shares(std::vector<float>& layout) {
    bool ok = true;
    TileVec<float> col(256, NAN), row(256, NAN);
    std::vector<int> num(32, 0);
    EXPECT(cuda_emu::launch(et_wmma_shares, dim3(1), dim3(32), 0, col.data(), row.data(), num.data()) == 0, "launch");
    std::vector<int> count(32, 0);
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) {
            float v = row[r * 16 + c];
            EXPECT(v == col[c * 16 + r], "(%d,%d): row-major %g, column-major %g", r, c, v, col[c * 16 + r]);
            if (v >= 0 && v < 32 && v == std::floor(v)) count[int(v)]++;
        }
    for (int l = 0; l < 32; l++) EXPECT(count[l] == 8 && num[l] == 8, "lane %d holds %d elements, num_elements %d", l, count[l], num[l]);
    layout.assign(row.begin(), row.end());
    return ok;
}

static bool test_wmma_shares() {
    std::vector<float> layout;
    return wmma_shares(layout);
}

// Fragment layouts are unspecified in CUDA: normal and checking mode use different ones, so a
// kernel that relies on one fails in the other.
static bool test_wmma_layouts_differ() {
    bool ok = true;
    std::vector<float> normal, checking;
    cuda_emu::lumen_emu_set_check(0, 1);
    ok = wmma_shares(normal);
    cuda_emu::lumen_emu_set_check(1, 1);
    ok = wmma_shares(checking) && ok;
    cuda_emu::lumen_emu_set_check(0, 1);
    EXPECT(normal != checking, "the same fragment layout in both modes");
    return ok;
}

// The race kernel: right by luck of ordering in normal mode, wrong in checking mode.
static int race_mismatches() {
    const int blocks = 8;
    auto in = random_floats(blocks * 256, 9);
    std::vector<float> out(blocks * 256, 0);
    cuda_emu::launch(et_race_neighbour, dim3(blocks), dim3(256), 0, in.data(), out.data());
    int bad = 0;
    for (int b = 0; b < blocks; b++)
        for (int t = 0; t < 256; t++) {
            float want = t > 0 ? in[b * 256 + t - 1] : 0.0f;
            if (!(out[b * 256 + t] == want)) bad++;
        }
    return bad;
}

static bool test_race_caught() {
    bool ok = true;
    cuda_emu::lumen_emu_set_check(0, 1);
    int normal = race_mismatches();
    EXPECT(normal == 0, "normal mode: %d mismatches (the ordering should hide the race)", normal);
    int caught_seeds = 0;
    for (unsigned long long seed = 1; seed <= 3; seed++) {
        cuda_emu::lumen_emu_set_check(1, seed);
        if (race_mismatches() > 0) caught_seeds++;
    }
    cuda_emu::lumen_emu_set_check(0, 1);
    EXPECT(caught_seeds == 3, "checking mode caught the race with %d of 3 seeds", caught_seeds);
    return ok;
}

// ---------------------------------------------------------------- the driver API, as Java uses it
template <class F> static F sym(void* lib, const char* name, bool& ok) {
    void* p = dlsym(lib, name);
    if (!p) { std::printf("  FAIL missing symbol %s\n", name); ok = false; }
    return reinterpret_cast<F>(p);
}

// The module image of the test kernels: the nvcc cubin where the build made one, else PTX that
// lists them (the driver takes the kernels' code from the library, the names from the image).
static std::vector<char> test_module_image(const char* cubin_path, bool& ok) {
    std::vector<char> image;
    if (cubin_path) {
        FILE* f = std::fopen(cubin_path, "rb");
        EXPECT(f != nullptr, "open %s", cubin_path);
        char buf[65536];
        for (size_t k; f && (k = std::fread(buf, 1, sizeof buf, f)) > 0;) image.insert(image.end(), buf, buf + k);
        if (f) std::fclose(f);
        if (!image.empty()) return image;
    }
    std::string ptx = ".version 8.0\n.target sm_90\n.address_size 64\n";
    for (const char* k : {"et_vec_add", "et_params", "et_dyn_reverse", "et_copy", "et_scale3_f64"})
        ptx += std::string(".visible .entry ") + k + "(\n)\n{\n\tret;\n}\n";
    image.assign(ptx.begin(), ptx.end());
    image.push_back(0);
    return image;
}

static bool test_driver_api(const char* libpath, const char* cubin_path) {
    bool ok = true;
    void* lib = dlopen(libpath, RTLD_NOW | RTLD_LOCAL);
    EXPECT(lib != nullptr, "dlopen %s: %s", libpath, dlerror());
    if (!lib) return ok;
#define SYM(type, name) auto name = sym<type>(lib, #name, ok)
    SYM(CUresult (*)(unsigned), cuInit);
    SYM(CUresult (*)(int*), cuDriverGetVersion);
    SYM(CUresult (*)(int*), cuDeviceGetCount);
    SYM(CUresult (*)(CUdevice*, int), cuDeviceGet);
    SYM(CUresult (*)(char*, int, CUdevice), cuDeviceGetName);
    SYM(CUresult (*)(int*, CUdevice_attribute, CUdevice), cuDeviceGetAttribute);
    SYM(CUresult (*)(size_t*, CUdevice), cuDeviceTotalMem_v2);
    SYM(CUresult (*)(CUcontext*, CUdevice), cuDevicePrimaryCtxRetain);
    SYM(CUresult (*)(CUdevice), cuDevicePrimaryCtxRelease_v2);
    SYM(CUresult (*)(CUcontext), cuCtxSetCurrent);
    SYM(CUresult (*)(CUcontext*), cuCtxGetCurrent);
    SYM(CUresult (*)(void), cuCtxSynchronize);
    SYM(CUresult (*)(CUmodule*, const void*), cuModuleLoadData);
    SYM(CUresult (*)(CUmodule*, const void*), cuModuleLoadFatBinary);
    SYM(CUresult (*)(CUmodule), cuModuleUnload);
    SYM(CUresult (*)(CUfunction*, CUmodule, const char*), cuModuleGetFunction);
    SYM(CUresult (*)(CUfunction, CUfunction_attribute, int), cuFuncSetAttribute);
    SYM(CUresult (*)(CUfunction, size_t, size_t*, size_t*), cuFuncGetParamInfo);
    SYM(CUresult (*)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream,
                     void**, void**),
        cuLaunchKernel);
    SYM(CUresult (*)(CUdeviceptr*, size_t), cuMemAlloc_v2);
    SYM(CUresult (*)(CUdeviceptr), cuMemFree_v2);
    SYM(CUresult (*)(CUdeviceptr, const void*, size_t), cuMemcpyHtoD_v2);
    SYM(CUresult (*)(void*, CUdeviceptr, size_t), cuMemcpyDtoH_v2);
    SYM(CUresult (*)(CUdeviceptr, CUdeviceptr, size_t), cuMemcpyDtoD_v2);
    SYM(CUresult (*)(CUdeviceptr, const void*, size_t, CUstream), cuMemcpyHtoDAsync_v2);
    SYM(CUresult (*)(void*, CUdeviceptr, size_t, CUstream), cuMemcpyDtoHAsync_v2);
    SYM(CUresult (*)(CUdeviceptr, CUdeviceptr, size_t, CUstream), cuMemcpyDtoDAsync_v2);
    SYM(CUresult (*)(CUdeviceptr, unsigned char, size_t), cuMemsetD8_v2);
    SYM(CUresult (*)(CUdeviceptr, unsigned, size_t), cuMemsetD32_v2);
    SYM(CUresult (*)(CUdeviceptr, unsigned char, size_t, CUstream), cuMemsetD8Async);
    SYM(CUresult (*)(CUdeviceptr, unsigned, size_t, CUstream), cuMemsetD32Async);
    SYM(CUresult (*)(size_t*, size_t*), cuMemGetInfo_v2);
    SYM(CUresult (*)(CUstream*, unsigned), cuStreamCreate);
    SYM(CUresult (*)(CUstream), cuStreamDestroy_v2);
    SYM(CUresult (*)(CUstream), cuStreamSynchronize);
    SYM(CUresult (*)(CUevent*, unsigned), cuEventCreate);
    SYM(CUresult (*)(CUevent, CUstream), cuEventRecord);
    SYM(CUresult (*)(CUevent), cuEventSynchronize);
    SYM(CUresult (*)(float*, CUevent, CUevent), cuEventElapsedTime_v2);
    auto cuEventElapsedTime_v1 = sym<CUresult (*)(float*, CUevent, CUevent)>(lib, "cuEventElapsedTime", ok);
    SYM(CUresult (*)(CUevent), cuEventDestroy_v2);
    SYM(CUresult (*)(CUresult, const char**), cuGetErrorString);
    SYM(CUresult (*)(CUresult, const char**), cuGetErrorName);
    SYM(void (*)(int, unsigned long long), lumen_emu_set_check);
#undef SYM
    if (!ok) return ok;

    CUdeviceptr dummy;
    EXPECT(cuMemAlloc_v2(&dummy, 4) == CUDA_ERROR_NOT_INITIALIZED, "before cuInit");
    EXPECT(cuInit(0) == CUDA_SUCCESS, "cuInit");
    int version = 0, count = 0;
    EXPECT(cuDriverGetVersion(&version) == CUDA_SUCCESS && version >= 12000, "version %d", version);
    EXPECT(cuDeviceGetCount(&count) == CUDA_SUCCESS && count == 1, "count %d", count);
    CUdevice dev;
    EXPECT(cuDeviceGet(&dev, 0) == CUDA_SUCCESS, "cuDeviceGet");
    EXPECT(cuDeviceGet(&dev, 1) == CUDA_ERROR_INVALID_DEVICE, "device 1");
    char name[128];
    EXPECT(cuDeviceGetName(name, sizeof name, dev) == CUDA_SUCCESS && std::strstr(name, "emulator"), "name");
    int major = 0, minor = -1, sms = 0, smem = 0;
    cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
    cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
    cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev);
    cuDeviceGetAttribute(&smem, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, dev);
    EXPECT(major == 9 && minor == 0 && sms > 0 && smem == 49152, "attributes %d.%d %d %d", major, minor, sms, smem);
    size_t total = 0;
    EXPECT(cuDeviceTotalMem_v2(&total, dev) == CUDA_SUCCESS && total > 0, "total mem");

    // no current context yet on this thread
    EXPECT(cuMemAlloc_v2(&dummy, 4) == CUDA_ERROR_INVALID_CONTEXT, "alloc without context");
    CUcontext ctx = nullptr, cur = nullptr;
    EXPECT(cuDevicePrimaryCtxRetain(&ctx, dev) == CUDA_SUCCESS && ctx, "retain");
    EXPECT(cuCtxSetCurrent(ctx) == CUDA_SUCCESS, "set current");
    EXPECT(cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == ctx, "get current");
    CUresult other_thread = CUDA_SUCCESS;
    std::thread([&] { CUdeviceptr p; other_thread = cuMemAlloc_v2(&p, 16); }).join();
    EXPECT(other_thread == CUDA_ERROR_INVALID_CONTEXT, "the context is per thread: %d", int(other_thread));

    // The module image must name the kernels: the nvcc cubin of the test kernels where the build
    // made one, else PTX that lists them. Random bytes are refused, as by a real driver.
    const unsigned char junk[] = {0x50, 0xed, 0x55, 0xbb, 1, 0, 0, 0, 0, 0, 0, 0};
    CUmodule mod = nullptr;
    std::printf("  (an invalid-image message is expected next)\n");
    std::fflush(stdout);
    EXPECT(cuModuleLoadData(&mod, junk) == CUDA_ERROR_INVALID_IMAGE, "junk image");
    std::vector<char> image = test_module_image(cubin_path, ok);
    EXPECT(cuModuleLoadData(&mod, image.data()) == CUDA_SUCCESS, "load module (%s)", cubin_path ? cubin_path : "PTX");
    CUfunction add = nullptr, missing = nullptr, params_fn = nullptr, dyn = nullptr, copy = nullptr, scale = nullptr;
    EXPECT(cuModuleGetFunction(&add, mod, "et_vec_add") == CUDA_SUCCESS, "get et_vec_add");
    std::printf("  (a kernel-not-found message is expected next)\n");
    std::fflush(stdout);
    EXPECT(cuModuleGetFunction(&missing, mod, "no_such_kernel") == CUDA_ERROR_NOT_FOUND, "unknown name");
    EXPECT(cuModuleGetFunction(&params_fn, mod, "et_params") == CUDA_SUCCESS, "get et_params");
    EXPECT(cuModuleGetFunction(&dyn, mod, "et_dyn_reverse") == CUDA_SUCCESS, "get et_dyn_reverse");
    EXPECT(cuModuleGetFunction(&copy, mod, "et_copy") == CUDA_SUCCESS, "get et_copy");
    EXPECT(cuModuleGetFunction(&scale, mod, "et_scale3_f64") == CUDA_SUCCESS, "macro-made kernel");
    if (!ok) return ok;

    size_t off = 0, size = 0;
    EXPECT(cuFuncGetParamInfo(params_fn, 1, &off, &size) == CUDA_SUCCESS && off == 24 && size == 8,
           "param 1 at %zu size %zu", off, size);
    EXPECT(cuFuncGetParamInfo(params_fn, 3, &off, &size) == CUDA_ERROR_INVALID_VALUE, "param 3");

    const int n = 1000;
    auto a = random_floats(n, 10), b = random_floats(n, 11);
    std::vector<float> c(n, 0.0f);
    CUdeviceptr da, db, dc;
    EXPECT(cuMemAlloc_v2(&da, n * 4) == CUDA_SUCCESS && cuMemAlloc_v2(&db, n * 4) == CUDA_SUCCESS &&
               cuMemAlloc_v2(&dc, n * 4) == CUDA_SUCCESS,
           "alloc");
    CUstream stream;
    EXPECT(cuStreamCreate(&stream, 0) == CUDA_SUCCESS, "stream");
    EXPECT(cuMemcpyHtoD_v2(da, a.data(), n * 4) == CUDA_SUCCESS, "HtoD");
    EXPECT(cuMemcpyHtoDAsync_v2(db, b.data(), n * 4, stream) == CUDA_SUCCESS, "HtoD async");
    EXPECT(cuMemsetD32_v2(dc, 0x7fc00000u, n) == CUDA_SUCCESS, "poison output");
    CUevent e0, e1;
    EXPECT(cuEventCreate(&e0, 0) == CUDA_SUCCESS && cuEventCreate(&e1, 0) == CUDA_SUCCESS, "events");
    EXPECT(cuEventRecord(e0, stream) == CUDA_SUCCESS, "record");
    int nn = n;
    void* args[] = {&da, &db, &dc, &nn};
    EXPECT(cuLaunchKernel(add, (n + 127) / 128, 1, 1, 128, 1, 1, 0, stream, args, nullptr) == CUDA_SUCCESS, "launch");
    EXPECT(cuEventRecord(e1, stream) == CUDA_SUCCESS && cuEventSynchronize(e1) == CUDA_SUCCESS, "record 2");
    float ms = -1, ms1 = -1;
    EXPECT(cuEventElapsedTime_v2(&ms, e0, e1) == CUDA_SUCCESS && ms >= 0, "elapsed %f", ms);
    EXPECT(cuEventElapsedTime_v1(&ms1, e0, e1) == CUDA_SUCCESS && ms1 == ms, "elapsed v1");
    EXPECT(cuStreamSynchronize(stream) == CUDA_SUCCESS, "sync");
    EXPECT(cuMemcpyDtoHAsync_v2(c.data(), dc, n * 4, stream) == CUDA_SUCCESS, "DtoH");
    for (int i = 0; i < n && ok; i++) EXPECT(c[i] == a[i] + b[i], "c[%d]", i);

    // the same launch with the parameters packed in one buffer (the `extra` form)
    struct { CUdeviceptr a, b, c; int n; } packed{da, da, dc, n};
    size_t psize = sizeof packed;
    void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &packed, CU_LAUNCH_PARAM_BUFFER_SIZE, &psize, CU_LAUNCH_PARAM_END};
    EXPECT(cuLaunchKernel(add, (n + 127) / 128, 1, 1, 128, 1, 1, 0, nullptr, nullptr, extra) == CUDA_SUCCESS,
           "launch extra");
    EXPECT(cuMemcpyDtoH_v2(c.data(), dc, n * 4) == CUDA_SUCCESS, "DtoH");
    for (int i = 0; i < n && ok; i++) EXPECT(c[i] == a[i] + a[i], "extra c[%d]", i);

    // DtoD, D8 memset, bounds
    EXPECT(cuMemcpyDtoD_v2(db, da, n * 4) == CUDA_SUCCESS, "DtoD");
    EXPECT(cuMemcpyDtoDAsync_v2(dc, db, n * 4, stream) == CUDA_SUCCESS, "DtoD async");
    EXPECT(cuMemcpyDtoH_v2(c.data(), dc, n * 4) == CUDA_SUCCESS && c[n - 1] == a[n - 1], "DtoD data");
    EXPECT(cuMemsetD8_v2(dc, 0, n * 4) == CUDA_SUCCESS && cuMemsetD8Async(dc, 0, 4, stream) == CUDA_SUCCESS &&
               cuMemsetD32Async(dc, 0, 1, stream) == CUDA_SUCCESS,
           "memset");
    EXPECT(cuMemcpyDtoH_v2(c.data(), dc, n * 4) == CUDA_SUCCESS && c[17] == 0.0f, "memset data");
    std::printf("  (an out-of-bounds message is expected next)\n");
    std::fflush(stdout);
    EXPECT(cuMemcpyDtoH_v2(c.data(), dc, n * 4 + 4) == CUDA_ERROR_INVALID_VALUE, "copy past the allocation");

    // struct parameter through kernelParams
    std::vector<double> x(50);
    for (int i = 0; i < 50; i++) x[i] = i;
    CUdeviceptr dx, dy;
    cuMemAlloc_v2(&dx, 50 * 8);
    cuMemAlloc_v2(&dy, 50 * 4);
    cuMemcpyHtoD_v2(dx, x.data(), 50 * 8);
    EtParams p{50, 2.0, 1.0f};
    void* pargs[] = {&p, &dx, &dy};
    EXPECT(cuLaunchKernel(params_fn, 1, 1, 1, 64, 1, 1, 0, nullptr, pargs, nullptr) == CUDA_SUCCESS, "params");
    std::vector<float> y(50);
    cuMemcpyDtoH_v2(y.data(), dy, 50 * 4);
    EXPECT(y[49] == 99.0f, "struct param %f", y[49]);

    // dynamic shared memory above 48 KiB needs the opt-in, as on the GPU
    const int big = 64 * 1024;
    void* dyn_args[] = {&da, &dc, &nn};   // et_dyn_reverse(in, out, n)
    std::printf("  (a shared-memory limit message is expected next)\n");
    std::fflush(stdout);
    EXPECT(cuLaunchKernel(dyn, 1, 1, 1, 128, 1, 1, big, nullptr, dyn_args, nullptr) == CUDA_ERROR_INVALID_VALUE,
           "64 KiB without opt-in");
    EXPECT(cuFuncSetAttribute(dyn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, big) == CUDA_SUCCESS, "opt in");
    EXPECT(cuLaunchKernel(dyn, (n + 127) / 128, 1, 1, 128, 1, 1, big, nullptr, dyn_args, nullptr) == CUDA_SUCCESS,
           "64 KiB with opt-in");
    EXPECT(cuLaunchKernel(add, 1, 1, 1, 2048, 1, 1, 0, nullptr, args, nullptr) == CUDA_ERROR_INVALID_VALUE,
           "2048 threads");

    // checking mode: fresh allocations read as NaN
    lumen_emu_set_check(1, 42);
    CUdeviceptr fresh, dst;
    EXPECT(cuMemAlloc_v2(&fresh, 64 * 4) == CUDA_SUCCESS && cuMemAlloc_v2(&dst, 64 * 4) == CUDA_SUCCESS, "alloc");
    int n64 = 64;
    void* cargs[] = {&fresh, &dst, &n64};
    EXPECT(cuLaunchKernel(copy, 1, 1, 1, 64, 1, 1, 0, nullptr, cargs, nullptr) == CUDA_SUCCESS, "copy");
    std::vector<float> got(64, 0.0f);
    cuMemcpyDtoH_v2(got.data(), dst, 64 * 4);
    int nans = 0;
    for (float v : got) nans += std::isnan(v);
    EXPECT(nans == 64, "unwritten memory reads as NaN in checking mode: %d of 64", nans);
    lumen_emu_set_check(0, 1);
    cuMemFree_v2(fresh);
    cuMemFree_v2(dst);

    size_t freeb = 0, totalb = 0;
    EXPECT(cuMemGetInfo_v2(&freeb, &totalb) == CUDA_SUCCESS && freeb <= totalb && totalb > 0, "mem info");
    const char* s = nullptr;
    EXPECT(cuGetErrorName(CUDA_ERROR_NOT_FOUND, &s) == CUDA_SUCCESS && std::strcmp(s, "CUDA_ERROR_NOT_FOUND") == 0,
           "error name");
    EXPECT(cuGetErrorString(CUDA_ERROR_INVALID_VALUE, &s) == CUDA_SUCCESS && s && *s, "error string");
    EXPECT(cuMemFree_v2(da) == CUDA_SUCCESS && cuMemFree_v2(db) == CUDA_SUCCESS && cuMemFree_v2(dc) == CUDA_SUCCESS &&
               cuMemFree_v2(dx) == CUDA_SUCCESS && cuMemFree_v2(dy) == CUDA_SUCCESS,
           "free");
    EXPECT(cuMemFree_v2(da) == CUDA_ERROR_INVALID_VALUE, "double free");
    EXPECT(cuEventDestroy_v2(e0) == CUDA_SUCCESS && cuEventDestroy_v2(e1) == CUDA_SUCCESS, "event destroy");
    EXPECT(cuStreamDestroy_v2(stream) == CUDA_SUCCESS, "stream destroy");
    EXPECT(cuModuleUnload(mod) == CUDA_SUCCESS, "unload");
    EXPECT(cuCtxSynchronize() == CUDA_SUCCESS, "ctx sync");
    EXPECT(cuDevicePrimaryCtxRelease_v2(dev) == CUDA_SUCCESS, "release");
    (void)cuModuleLoadFatBinary;
    return ok;
}

// ---------------------------------------------------------------- benchmark
static double cpu_seconds() {
    rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Wall time per call in microseconds; *cpu gets the process CPU time per call (all workers),
// which stays meaningful on a machine busy with other work.
template <class F> static double time_us(F f, int reps, double* cpu = nullptr) {
    f();   // warm-up: stacks, pool threads
    double c0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; r++) f();
    double wall = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / reps;
    if (cpu) *cpu = (cpu_seconds() - c0) * 1e6 / reps;
    return wall;
}

static void bench() {
    const int blocks = 4096, n = blocks * 256;
    auto in = random_floats(n, 12);
    std::vector<float> out(blocks), c(n);
    int workers = cuda_emu::lumen_emu_threads();
    double cpu = 0;
    double t = time_us([&] { cuda_emu::launch(et_block_reduce, dim3(blocks), dim3(256), 0, in.data(), out.data(), n); }, 5, &cpu);
    std::printf("bench: 256-thread block, 9 __syncthreads: %.1f us/block of wall time on %d workers; "
                "CPU time %.1f us/block (%.1f ns per thread per barrier)\n",
                t / blocks, workers, cpu / blocks, cpu / blocks / (256 * 9) * 1000);
    double t2 = time_us([&] { cuda_emu::launch(et_vec_add, dim3(blocks), dim3(256), 0, in.data(), in.data(), c.data(), n); }, 5);
    std::printf("bench: 256-thread block, no barrier: %.1f us/block on %d workers\n", t2 / blocks, workers);
    std::vector<float> xs(n), ds(n / 32), scan(n), b8(n);
    std::vector<unsigned> bal(n / 32);
    std::vector<int> radd(n);
    double t3 = time_us([&] {
        cuda_emu::launch(et_warp_ops, dim3(blocks), dim3(256), 0, in.data(), xs.data(), ds.data(), bal.data(),
                         scan.data(), b8.data(), radd.data());
    }, 3);
    std::printf("bench: 256-thread block, 22 warp operations per thread: %.1f us/block on %d workers\n", t3 / blocks,
                workers);
    double t4 = time_us([&] { cuda_emu::launch(et_vec_add, dim3(1), dim3(32), 0, in.data(), in.data(), c.data(), 32); }, 2000);
    std::printf("bench: launch overhead (1 block of 32 threads): %.2f us\n", t4);
    double t5 = time_us([&] { cuda_emu::launch(et_vec_add, dim3(8), dim3(32), 0, in.data(), in.data(), c.data(), 256); }, 2000);
    std::printf("bench: launch overhead (8 blocks of 32 threads): %.2f us\n", t5);
}

// Several devices (LUMEN_EMU_DEVICES=2, set by the caller: cuInit reads it once per process):
// contexts, memory counts, per-context handles, peer copies, the launch check of another
// device's memory and its opening by cuCtxEnablePeerAccess, and two threads on two devices.
static bool test_multi_device(const char* libpath, const char* cubin_path) {
    bool ok = true;
    void* lib = dlopen(libpath, RTLD_NOW | RTLD_LOCAL);
    EXPECT(lib != nullptr, "dlopen %s: %s", libpath, dlerror());
    if (!lib) return ok;
#define SYM(type, name) auto name = sym<type>(lib, #name, ok)
    SYM(CUresult (*)(unsigned), cuInit);
    SYM(CUresult (*)(int*), cuDeviceGetCount);
    SYM(CUresult (*)(CUdevice*, int), cuDeviceGet);
    SYM(CUresult (*)(CUcontext*, CUdevice), cuDevicePrimaryCtxRetain);
    SYM(CUresult (*)(CUcontext), cuCtxSetCurrent);
    SYM(CUresult (*)(CUdevice*), cuCtxGetDevice);
    SYM(CUresult (*)(CUmodule*, const void*), cuModuleLoadData);
    SYM(CUresult (*)(CUfunction*, CUmodule, const char*), cuModuleGetFunction);
    SYM(CUresult (*)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream,
                     void**, void**),
        cuLaunchKernel);
    SYM(CUresult (*)(CUdeviceptr*, size_t), cuMemAlloc_v2);
    SYM(CUresult (*)(CUdeviceptr), cuMemFree_v2);
    SYM(CUresult (*)(CUdeviceptr, const void*, size_t), cuMemcpyHtoD_v2);
    SYM(CUresult (*)(void*, CUdeviceptr, size_t), cuMemcpyDtoH_v2);
    SYM(CUresult (*)(size_t*, size_t*), cuMemGetInfo_v2);
    SYM(CUresult (*)(CUstream*, unsigned), cuStreamCreate);
    SYM(CUresult (*)(CUevent*, unsigned), cuEventCreate);
    SYM(CUresult (*)(CUevent, CUstream), cuEventRecord);
    SYM(CUresult (*)(CUstream, CUevent, unsigned), cuStreamWaitEvent);
    SYM(CUresult (*)(CUdeviceptr, CUcontext, CUdeviceptr, CUcontext, size_t, CUstream), cuMemcpyPeerAsync);
    SYM(CUresult (*)(int*, CUdevice, CUdevice), cuDeviceCanAccessPeer);
    SYM(CUresult (*)(CUcontext, unsigned), cuCtxEnablePeerAccess);
    SYM(CUresult (*)(CUcontext), cuCtxDisablePeerAccess);
#undef SYM
    if (!ok) return ok;
    EXPECT(cuInit(0) == CUDA_SUCCESS, "cuInit");
    int count = 0;
    EXPECT(cuDeviceGetCount(&count) == CUDA_SUCCESS && count == 2, "LUMEN_EMU_DEVICES=2 gives %d devices", count);
    CUdevice d0, d1, d2;
    EXPECT(cuDeviceGet(&d0, 0) == CUDA_SUCCESS && cuDeviceGet(&d1, 1) == CUDA_SUCCESS && d1 == 1, "devices 0 and 1");
    EXPECT(cuDeviceGet(&d2, 2) == CUDA_ERROR_INVALID_DEVICE, "device 2");
    CUcontext c0 = nullptr, c1 = nullptr;
    EXPECT(cuDevicePrimaryCtxRetain(&c0, d0) == CUDA_SUCCESS && cuDevicePrimaryCtxRetain(&c1, d1) == CUDA_SUCCESS &&
               c0 != c1,
           "a primary context per device");
    CUdevice cur = -1;
    EXPECT(cuCtxSetCurrent(c1) == CUDA_SUCCESS && cuCtxGetDevice(&cur) == CUDA_SUCCESS && cur == 1, "device %d", cur);

    // Memory counts per device.
    size_t free0, free1, total, free1_after, free0_after;
    cuCtxSetCurrent(c0);
    cuMemGetInfo_v2(&free0, &total);
    cuCtxSetCurrent(c1);
    cuMemGetInfo_v2(&free1, &total);
    const int n = 1024;
    CUdeviceptr on1;
    EXPECT(cuMemAlloc_v2(&on1, n * 4) == CUDA_SUCCESS, "alloc on 1");
    cuMemGetInfo_v2(&free1_after, &total);
    cuCtxSetCurrent(c0);
    cuMemGetInfo_v2(&free0_after, &total);
    EXPECT(free1 - free1_after == n * 4 && free0_after == free0, "device 1 lost %zu, device 0 %zu", free1 - free1_after,
           free0 - free0_after);

    // A module, stream and event belong to their context.
    std::vector<char> image = test_module_image(cubin_path, ok);
    CUmodule m0 = nullptr, m1 = nullptr;
    CUfunction f0 = nullptr, f1 = nullptr, wrong = nullptr;
    EXPECT(cuModuleLoadData(&m0, image.data()) == CUDA_SUCCESS && cuModuleGetFunction(&f0, m0, "et_copy") == CUDA_SUCCESS,
           "module on 0");
    CUstream s0;
    CUevent e0;
    EXPECT(cuStreamCreate(&s0, 0) == CUDA_SUCCESS && cuEventCreate(&e0, 0) == CUDA_SUCCESS, "stream and event on 0");
    cuCtxSetCurrent(c1);
    EXPECT(cuModuleLoadData(&m1, image.data()) == CUDA_SUCCESS && cuModuleGetFunction(&f1, m1, "et_copy") == CUDA_SUCCESS,
           "module on 1");
    CUdeviceptr out1;
    cuMemAlloc_v2(&out1, n * 4);
    int nn = n;
    void* args1[] = {&on1, &out1, &nn};
    std::printf("  (four wrong-context messages are expected next)\n");
    std::fflush(stdout);
    EXPECT(cuModuleGetFunction(&wrong, m0, "et_copy") == CUDA_ERROR_INVALID_HANDLE, "device 0's module from device 1");
    EXPECT(cuLaunchKernel(f0, n / 128, 1, 1, 128, 1, 1, 0, nullptr, args1, nullptr) == CUDA_ERROR_INVALID_HANDLE,
           "device 0's function launched on device 1");
    EXPECT(cuLaunchKernel(f1, n / 128, 1, 1, 128, 1, 1, 0, s0, args1, nullptr) == CUDA_ERROR_INVALID_HANDLE,
           "device 0's stream on device 1");
    EXPECT(cuEventRecord(e0, nullptr) == CUDA_ERROR_INVALID_HANDLE, "device 0's event recorded on device 1");
    EXPECT(cuStreamWaitEvent(nullptr, e0, 0) == CUDA_SUCCESS, "a stream may wait for another device's event");

    // Another device's memory in a kernel: refused until peer access is enabled.
    std::vector<float> src(n);
    for (int i = 0; i < n; i++) src[i] = float(i) * 0.5f;
    cuCtxSetCurrent(c0);
    CUdeviceptr on0;
    EXPECT(cuMemAlloc_v2(&on0, n * 4) == CUDA_SUCCESS && cuMemcpyHtoD_v2(on0, src.data(), n * 4) == CUDA_SUCCESS, "on 0");
    cuCtxSetCurrent(c1);
    void* cross[] = {&on0, &out1, &nn};
    std::printf("  (a parameter-on-another-device message is expected next)\n");
    std::fflush(stdout);
    EXPECT(cuLaunchKernel(f1, n / 128, 1, 1, 128, 1, 1, 0, nullptr, cross, nullptr) == CUDA_ERROR_ILLEGAL_ADDRESS,
           "device 1's kernel given device 0's memory");
    int can = 0;
    EXPECT(cuDeviceCanAccessPeer(&can, d1, d0) == CUDA_SUCCESS && can == 1, "can access peer");
    EXPECT(cuCtxEnablePeerAccess(c0, 0) == CUDA_SUCCESS, "enable peer access 1 -> 0");
    EXPECT(cuCtxEnablePeerAccess(c0, 0) == CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED, "twice");
    EXPECT(cuLaunchKernel(f1, n / 128, 1, 1, 128, 1, 1, 0, nullptr, cross, nullptr) == CUDA_SUCCESS, "with peer access");
    std::vector<float> got(n, -1.0f);
    cuMemcpyDtoH_v2(got.data(), out1, n * 4);
    EXPECT(got == src, "peer read");
    EXPECT(cuCtxDisablePeerAccess(c0) == CUDA_SUCCESS, "disable");
    std::printf("  (a parameter-on-another-device message is expected next)\n");
    std::fflush(stdout);
    EXPECT(cuLaunchKernel(f1, n / 128, 1, 1, 128, 1, 1, 0, nullptr, cross, nullptr) == CUDA_ERROR_ILLEGAL_ADDRESS,
           "refused again after disabling");

    // A peer copy checks that each side is memory of the context it names.
    std::fill(got.begin(), got.end(), -1.0f);
    EXPECT(cuMemcpyPeerAsync(on1, c1, on0, c0, n * 4, nullptr) == CUDA_SUCCESS, "peer copy 0 -> 1");
    cuMemcpyDtoH_v2(got.data(), on1, n * 4);
    EXPECT(got == src, "peer copy data");
    std::printf("  (a wrong-device copy message is expected next)\n");
    std::fflush(stdout);
    EXPECT(cuMemcpyPeerAsync(on1, c0, on0, c1, n * 4, nullptr) == CUDA_ERROR_INVALID_VALUE, "contexts swapped");

    // One thread per device, launching at the same time.
    CUresult r[2] = {CUDA_ERROR_UNKNOWN, CUDA_ERROR_UNKNOWN};
    std::vector<float> res[2];
    auto drive = [&](int d, CUcontext c, CUfunction f) {
        cuCtxSetCurrent(c);
        CUdeviceptr a, b;
        std::vector<float> in(n);
        for (int i = 0; i < n; i++) in[i] = float(d * 10000 + i);
        r[d] = cuMemAlloc_v2(&a, n * 4);
        if (r[d] == CUDA_SUCCESS) r[d] = cuMemAlloc_v2(&b, n * 4);
        if (r[d] == CUDA_SUCCESS) r[d] = cuMemcpyHtoD_v2(a, in.data(), n * 4);
        void* p[] = {&a, &b, &nn};
        for (int k = 0; k < 50 && r[d] == CUDA_SUCCESS; k++) r[d] = cuLaunchKernel(f, n / 128, 1, 1, 128, 1, 1, 0, nullptr, p, nullptr);
        res[d].assign(n, 0.0f);
        if (r[d] == CUDA_SUCCESS) r[d] = cuMemcpyDtoH_v2(res[d].data(), b, n * 4);
        if (res[d] != in) r[d] = CUDA_ERROR_UNKNOWN;
        cuMemFree_v2(a);
        cuMemFree_v2(b);
    };
    std::thread t0(drive, 0, c0, f0), t1(drive, 1, c1, f1);
    t0.join();
    t1.join();
    EXPECT(r[0] == CUDA_SUCCESS && r[1] == CUDA_SUCCESS, "two threads, two devices: %d %d", int(r[0]), int(r[1]));
    return ok;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s LIBRARY.so [--bench]\n", argv[0]);
        return 2;
    }
    if (argc > 2 && std::strcmp(argv[2], "--bench") == 0) {
        bench();
        return 0;
    }
    if (std::getenv("LUMEN_EMU_DEVICES")) {   // a process of its own: cuInit reads the count once
        g_mode = "driver";
        report("two devices: contexts, memory, peer access, one thread each", test_multi_device(argv[1], argc > 2 ? argv[2] : nullptr));
        std::printf("emu-test: %d passed, %d failed\n", g_pass, g_fail);
        return g_fail == 0 ? 0 : 1;
    }
    struct Test { const char* name; bool (*fn)(); };
    const Test tests[] = {
        {"block reduction (256 threads, 9 barriers)", test_block_reduce},
        {"transpose through a shared tile", test_transpose},
        {"warp shuffles, ballot, scan, reduce", test_warp_ops},
        {"atomics from many blocks", test_atomics},
        {"dynamic shared memory", test_dynamic_shared},
        {"3-D grid and block indices", test_coords},
        {"partial warp, syncthreads_count, early exit", test_partial_warp},
        {"fp16 / bf16 rounding", test_lowp},
        {"struct kernel parameter", test_params},
        {"wmma GEMM, f16 and bf16 on tensor cores", test_wmma_gemm},
        {"wmma fragments are per-lane shares of the tile", test_wmma_shares},
    };
    for (int mode = 0; mode < 2; mode++) {
        g_mode = mode ? "checking" : "normal";
        cuda_emu::lumen_emu_set_check(mode, 7);
        for (const Test& t : tests) report(t.name, t.fn());
    }
    g_mode = "normal";
    cuda_emu::lumen_emu_set_check(0, 1);
    report("deadlock is reported, not hung", test_deadlock_reported());
    g_mode = "both";
    report("planted race: hidden in normal mode, caught in checking mode", test_race_caught());
    report("wmma fragment layouts differ between normal and checking mode", test_wmma_layouts_differ());
    g_mode = "driver";
    report("driver API through dlopen/dlsym", test_driver_api(argv[1], argc > 2 ? argv[2] : nullptr));
    std::printf("emu-test: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail == 0 ? 0 : 1;
}
