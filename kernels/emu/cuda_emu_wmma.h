// Lumen CUDA emulation of the warp matrix functions (`#include <mma.h>`, nvcuda::wmma): the
// 16x16x16 shape with __half or __nv_bfloat16 inputs and a float accumulator, which is what the
// project's tensor-core kernels use. Included by cuda_emu.h (the shim mma.h includes only that).
//
// A fragment is each lane's share of a 16x16 tile: 8 elements per lane, 32 lanes, every element
// of the tile held by exactly one lane, so element-wise work on x[i] (scaling, a uniform bias)
// behaves as on a GPU. Which lane holds which element is unspecified in CUDA; here it is a
// permutation of the tile that differs between normal and checking mode, so a kernel that
// assumes one layout gives wrong results in one of the two.
//
// load_matrix_sync, store_matrix_sync and mma_sync are warp collectives: all 32 lanes of the warp
// must call the same function with the same pointer, leading dimension and layout (checked at
// the rendezvous, as is CUDA's 256-bit alignment of the pointer and the leading dimension being a
// multiple of 16 bytes); a lane that exited or called something else fails the launch. The loads
// and stores are then made by each lane for its own elements, in kernel code, so the checking
// library sees them (bounds, races, uninitialized shared memory). mma_sync computes the whole
// tile once all lanes have arrived: products of the 16-bit inputs are exact in float, and each
// output accumulates them in float in k order, starting from C.
#pragma once

namespace cuda_emu {
// A warp collective: the lane that completes the group calls fn once with every lane's argument
// while the other lanes are parked; fn returns 0, or nonzero with a message in msg (which fails
// the launch). Every lane must name the same fn; `what` names the call in error messages.
typedef int (*WarpCollectiveFn)(void* const* lane_args, char* msg, size_t cap);
LUMEN_EMU_API void lumen_emu_warp_collective(WarpCollectiveFn fn, const char* what, void* arg);
}  // namespace cuda_emu

namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int m, int n, int k, class T, class Layout = void>
class fragment {
    static_assert(m == 16 && n == 16 && k == 16, "the Lumen emulator implements the 16x16x16 WMMA shape");
    static_assert(std::is_same<Use, accumulator>::value ? std::is_same<T, float>::value && std::is_void<Layout>::value
                                                        : (std::is_same<T, __half>::value || std::is_same<T, __nv_bfloat16>::value)
                                                              && !std::is_void<Layout>::value,
                  "the Lumen emulator implements half/bf16 matrix_a and matrix_b with a layout, and float accumulators");
public:
    typedef T element_type;
    typedef T storage_element_type;
    enum { num_elements = 8 };
    T x[num_elements];
};

}  // namespace wmma
}  // namespace nvcuda

namespace cuda_emu {
namespace wmma_impl {

constexpr int kTile = 16;
constexpr int kPerLane = 8;

// Tile position (row * 16 + column) of element i of `lane`: a permutation of 0..255 (an odd
// multiplier modulo 256), the identity's row-major order in normal mode, scattered in checking mode.
__attribute__((always_inline)) inline int position(int lane, int i, bool check) {
    int e = lane * kPerLane + i;
    return check ? (e * 157 + 91) & 255 : e;
}

inline int lane_of_self() { return int(self()->index & 31u); }

// The uniform arguments of a load or store, checked at the rendezvous.
struct Access {
    const void* ptr;
    unsigned ldm;
    int layout;       // 0 row major, 1 column major
    size_t elem;      // bytes per element
};

__attribute__((no_sanitize("thread"))) inline int check_access(void* const* lanes, char* msg, size_t cap) {
    const Access& a0 = *static_cast<const Access*>(lanes[0]);
    for (int l = 1; l < 32; l++) {
        const Access& a = *static_cast<const Access*>(lanes[l]);
        if (a.ptr != a0.ptr || a.ldm != a0.ldm || a.layout != a0.layout) {
            std::snprintf(msg, cap, "lanes 0 and %d disagree (pointer %p/%p, ldm %u/%u, layout %d/%d): the arguments must be "
                          "the same in every lane", l, a0.ptr, a.ptr, a0.ldm, a.ldm, a0.layout, a.layout);
            return 1;
        }
    }
    if (reinterpret_cast<uintptr_t>(a0.ptr) % 32 != 0) {
        std::snprintf(msg, cap, "pointer %p is not 256-bit aligned", a0.ptr);
        return 1;
    }
    if ((a0.ldm * a0.elem) % 16 != 0 || a0.ldm < unsigned(kTile)) {
        std::snprintf(msg, cap, "ldm %u is not a multiple of %zu elements (16 bytes) of at least 16", a0.ldm, 16 / a0.elem);
        return 1;
    }
    return 0;
}

inline void rendezvous(const char* what, const void* ptr, unsigned ldm, int layout, size_t elem) {
    Access a{ptr, ldm, layout, elem};
    lumen_emu_warp_collective(&check_access, what, &a);
}

__attribute__((always_inline)) inline size_t offset(int pos, unsigned ldm, int layout) {
    int r = pos >> 4, c = pos & 15;
    return layout == 0 ? size_t(r) * ldm + size_t(c) : size_t(c) * ldm + size_t(r);
}

// mma_sync's operands in each lane: D = A * B + C.
struct Mma {
    void* d;
    const void* a;
    const void* b;
    const float* c;
};

template <class T>
__attribute__((no_sanitize("thread"))) int compute_mma(void* const* lanes, char*, size_t) {
    bool check = lumen_emu_get_check() != 0;
    float a[256], b[256], c[256];
    for (int l = 0; l < 32; l++) {
        const Mma& m = *static_cast<const Mma*>(lanes[l]);
        for (int i = 0; i < kPerLane; i++) {
            int p = position(l, i, check);
            a[p] = float(static_cast<const T*>(m.a)[i]);
            b[p] = float(static_cast<const T*>(m.b)[i]);
            c[p] = m.c[i];
        }
    }
    float d[256];
    for (int r = 0; r < kTile; r++)
        for (int col = 0; col < kTile; col++) {
            float acc = c[r * kTile + col];
            for (int k = 0; k < kTile; k++) acc += a[r * kTile + k] * b[k * kTile + col];   // exact product, f32 sum
            d[r * kTile + col] = acc;
        }
    for (int l = 0; l < 32; l++) {   // after every read: D may be C of the same lane
        float* out = static_cast<float*>(static_cast<const Mma*>(lanes[l])->d);
        for (int i = 0; i < kPerLane; i++) out[i] = d[position(l, i, check)];
    }
    return 0;
}

template <class L> constexpr int layout_code() { return std::is_same<L, nvcuda::wmma::col_major>::value ? 1 : 0; }

}  // namespace wmma_impl
}  // namespace cuda_emu

namespace nvcuda {
namespace wmma {

template <class Use, int m, int n, int k, class T, class L, class V>
inline void fill_fragment(fragment<Use, m, n, k, T, L>& f, const V& v) {
    for (int i = 0; i < f.num_elements; i++) f.x[i] = T(v);
}

template <class Use, int m, int n, int k, class T, class L>
inline void load_matrix_sync(fragment<Use, m, n, k, T, L>& f, const T* p, unsigned ldm) {
    static_assert(!std::is_same<Use, accumulator>::value, "an accumulator load needs a layout_t");
    namespace w = ::cuda_emu::wmma_impl;
    const int layout = w::layout_code<L>();
    w::rendezvous("wmma::load_matrix_sync", p, ldm, layout, sizeof(T));
    const int lane = w::lane_of_self();
    const bool check = ::cuda_emu::lumen_emu_get_check() != 0;
    for (int i = 0; i < w::kPerLane; i++) f.x[i] = p[w::offset(w::position(lane, i, check), ldm, layout)];
}

inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float>& f, const float* p, unsigned ldm, layout_t layout) {
    namespace w = ::cuda_emu::wmma_impl;
    w::rendezvous("wmma::load_matrix_sync", p, ldm, int(layout), sizeof(float));
    const int lane = w::lane_of_self();
    const bool check = ::cuda_emu::lumen_emu_get_check() != 0;
    for (int i = 0; i < w::kPerLane; i++) f.x[i] = p[w::offset(w::position(lane, i, check), ldm, int(layout))];
}

inline void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, 16, float>& f, unsigned ldm, layout_t layout) {
    namespace w = ::cuda_emu::wmma_impl;
    w::rendezvous("wmma::store_matrix_sync", p, ldm, int(layout), sizeof(float));
    const int lane = w::lane_of_self();
    const bool check = ::cuda_emu::lumen_emu_get_check() != 0;
    for (int i = 0; i < w::kPerLane; i++) p[w::offset(w::position(lane, i, check), ldm, int(layout))] = f.x[i];
}

template <class T, class LA, class LB>
inline void mma_sync(fragment<accumulator, 16, 16, 16, float>& d, const fragment<matrix_a, 16, 16, 16, T, LA>& a,
                     const fragment<matrix_b, 16, 16, 16, T, LB>& b, const fragment<accumulator, 16, 16, 16, float>& c,
                     bool satf = false) {
    static_assert(!std::is_same<T, float>::value, "matrix_a/matrix_b are half or bf16");
    (void)satf;   // saturation applies to half accumulators only
    ::cuda_emu::wmma_impl::Mma op{d.x, a.x, b.x, c.x};
    ::cuda_emu::lumen_emu_warp_collective(&::cuda_emu::wmma_impl::compute_mma<T>, "wmma::mma_sync", &op);
}

}  // namespace wmma
}  // namespace nvcuda
