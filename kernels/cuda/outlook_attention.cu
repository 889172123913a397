// Outlook attention core (VOLO): out = fold(softmax(scale*logits) @ unfold(v)), and its backward.
// v, out: [B,H,W,C] channels last; logits: [B,h,w,heads,K*K,K*K], softmax over the last axis (j, the
// window position read from v); axis i is the window position folded into. Head of channel c is
// c / (C/heads). K*K <= 32 (VOLO uses K = 3), so one warp holds a softmax row.
//
// Every kernel is a gather: each output element is written by exactly one thread, no atomics.
//  - outlook_fwd: a block owns a tile of output pixels for one (image, head, 32-channel chunk).
//    It stages the v window that the tile's anchors read in shared memory (pixel pitch 33 floats,
//    so lanes reading one channel of different pixels hit different banks). A warp computes one
//    output pixel at a time, lane = channel: for every (anchor, i) folding into the pixel it
//    softmaxes the row in registers (lane j holds p_j, two warp reductions), then broadcasts p_j
//    and accumulates p_j * v. Each softmax row is used by exactly one pixel: computed once.
//  - outlook_bwd_v: the transpose, dv[m] = sum P[n,i,j] gout[n*s-p+i]. A row now feeds K*K v
//    pixels, so the block first writes the probabilities of its anchors to shared memory (one
//    thread per row, in registers), stages the gout window, and a warp gathers per v pixel.
//  - outlook_bwd_logits: one thread per softmax row of a tile of anchors: dP_j = gout[i] . v[j]
//    over the head's channels from shared windows, then scale * P * (dP - sum P dP).
#include "lumen_tensor.cuh"

namespace lumen_outlook {

constexpr int THREADS = 256;
constexpr int WARPS = THREADS / 32;
constexpr int CH = 32;          // channels per block in fwd / bwd_v (one per lane)
constexpr int PITCH = CH + 1;   // shared pitch of one pixel

// Storage type T computes in A = lumen::Acc<T>: double for f64, float otherwise; so do the shared tiles.
template <typename T> using AccOf = typename lumen::Acc<T>::type;

template <typename T>
__device__ __forceinline__ AccOf<T> load(const T* p, long i) { return lumen::to_acc(p[i]); }
template <typename T>
__device__ __forceinline__ void store(T* p, long i, float v) { p[i] = lumen::from_accf<T>(v); }
template <typename T>
__device__ __forceinline__ void store(T* p, long i, double v) { p[i] = lumen::from_acc<T>(v); }
__device__ __forceinline__ float ex(float z) { return __expf(z); }
__device__ __forceinline__ double ex(double z) { return exp(z); }
// 1/x: in double, the rounded reciprocal instruction rather than div.rn.f64, whose slow-path call
// makes ptxas spill (F64 runs finite-difference checks, where one more ulp does not matter).
__device__ __forceinline__ float recip(float x) { return 1.f / x; }
__device__ __forceinline__ double recip(double x) {
#ifdef LUMEN_CUDA_EMU
    return 1.0 / x;
#else
    return __drcp_rn(x);
#endif
}
__device__ __forceinline__ float mx(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double mx(double a, double b) { return fmax(a, b); }

__device__ __forceinline__ int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
__device__ __forceinline__ int ceil_div(int a, int b) { return -floor_div(-a, b); }

// First and last anchor (of n along an axis) whose window covers coordinate y.
__device__ __forceinline__ int first_anchor(int y, int K, int pad, int s) { return max(0, ceil_div(y + pad - K + 1, s)); }
__device__ __forceinline__ int last_anchor(int y, int pad, int s, int n) { return min(n - 1, floor_div(y + pad, s)); }

template <typename A>
__device__ __forceinline__ A warp_max(A v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = mx(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

template <typename A>
__device__ __forceinline__ A warp_sum(A v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// The problem, packed so that entry points stay short.
struct Geo {
    int B, H, W, C, heads, h, w, K, pad, s, tile;
    __device__ int kk() const { return K * K; }
    __device__ int hd() const { return C / heads; }
    __device__ long row(int b, int ny, int nx, int head, int i) const {
        return ((((long) b * h + ny) * w + nx) * heads + head) * (long) (K * K * K * K) + (long) i * K * K;
    }
};

// Stages src[b, y0..y0+rows, x0..x0+cols, c0..c0+nc) (zero outside the image) into dst with pitch PITCH.
template <typename T, typename A>
__device__ void stage_window(const T* __restrict__ src, A* dst, const Geo& g, int b, int y0, int x0, int rows, int cols,
                             int c0, int nc, int pitch) {
    const int total = rows * cols * pitch;
    for (int e = threadIdx.x; e < total; e += blockDim.x) {
        int c = e % pitch, px = e / pitch, r = px / cols, q = px - r * cols;
        int y = y0 + r, x = x0 + q;
        A val = 0;
        if (c < nc && y >= 0 && y < g.H && x >= 0 && x < g.W) val = load(src, (((long) b * g.H + y) * g.W + x) * g.C + c0 + c);
        dst[e] = val;
    }
}

// Grid: (tiles along W, tiles along H, B * heads * chunks); chunks = ceil(hd / 32).
template <typename T>
__device__ void fwd(const T* __restrict__ v, const T* __restrict__ logits, T* __restrict__ out, Geo g, AccOf<T> scale) {
    using A = AccOf<T>;
    extern __shared__ double outlook_smem[];
    A* smem = reinterpret_cast<A*>(outlook_smem);
    const int chunks = (g.hd() + CH - 1) / CH;
    const int z = blockIdx.z, chunk = z % chunks, head = (z / chunks) % g.heads, b = z / (chunks * g.heads);
    const int c0 = head * g.hd() + chunk * CH, nc = min(CH, g.hd() - chunk * CH);
    const int ty0 = blockIdx.y * g.tile, tx0 = blockIdx.x * g.tile;
    const int tyEnd = min(ty0 + g.tile, g.H) - 1, txEnd = min(tx0 + g.tile, g.W) - 1;
    const int ny0 = first_anchor(ty0, g.K, g.pad, g.s), ny1 = last_anchor(tyEnd, g.pad, g.s, g.h);
    const int nx0 = first_anchor(tx0, g.K, g.pad, g.s), nx1 = last_anchor(txEnd, g.pad, g.s, g.w);
    // The window that anchors ny0..ny1 read: rows ny0*s-p .. ny1*s-p+K-1.
    const int wy0 = ny0 * g.s - g.pad, wx0 = nx0 * g.s - g.pad;
    const int rows = max(0, (ny1 - ny0) * g.s + g.K), cols = max(0, (nx1 - nx0) * g.s + g.K);
    stage_window(v, smem, g, b, wy0, wx0, rows, cols, c0, nc, PITCH);
    __syncthreads();

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, kk = g.kk();
    const int th = tyEnd - ty0 + 1, tw = txEnd - tx0 + 1;
    for (int px = warp; px < th * tw; px += WARPS) {
        const int y = ty0 + px / tw, x = tx0 + px % tw;
        A acc = 0;
        for (int ny = first_anchor(y, g.K, g.pad, g.s), nyEnd = last_anchor(y, g.pad, g.s, g.h); ny <= nyEnd; ny++) {
            const int iy = y + g.pad - ny * g.s;
            for (int nx = first_anchor(x, g.K, g.pad, g.s), nxEnd = last_anchor(x, g.pad, g.s, g.w); nx <= nxEnd; nx++) {
                const int i = iy * g.K + x + g.pad - nx * g.s;
                const long r = g.row(b, ny, nx, head, i);
                A l = lane < kk ? scale * load(logits, r + lane) : A(-INFINITY);
                const A m = warp_max(l);
                A e = lane < kk ? ex(l - m) : A(0);
                const A p = e * recip(warp_sum(e));
                // Window position j of this anchor is shared pixel ((ny-ny0)*s + jy, (nx-nx0)*s + jx).
                const A* base = smem + ((ny - ny0) * g.s * cols + (nx - nx0) * g.s) * PITCH + lane;
                for (int j = 0; j < kk; j++) {
                    const A pj = __shfl_sync(0xffffffffu, p, j);
                    const int jy = j / g.K, jx = j - jy * g.K;
                    acc += pj * base[(jy * cols + jx) * PITCH];
                }
            }
        }
        if (lane < nc) store(out, (((long) b * g.H + y) * g.W + x) * g.C + c0 + lane, acc);
    }
}

// Grid as fwd, over v pixels. Shared: probabilities of the tile's anchors, then the gout window.
template <typename T>
__device__ void bwd_v(const T* __restrict__ logits, const T* __restrict__ gout, T* __restrict__ dv, Geo g, AccOf<T> scale) {
    using A = AccOf<T>;
    extern __shared__ double outlook_smem[];
    A* smem = reinterpret_cast<A*>(outlook_smem);
    const int chunks = (g.hd() + CH - 1) / CH;
    const int z = blockIdx.z, chunk = z % chunks, head = (z / chunks) % g.heads, b = z / (chunks * g.heads);
    const int c0 = head * g.hd() + chunk * CH, nc = min(CH, g.hd() - chunk * CH);
    const int ty0 = blockIdx.y * g.tile, tx0 = blockIdx.x * g.tile;
    const int tyEnd = min(ty0 + g.tile, g.H) - 1, txEnd = min(tx0 + g.tile, g.W) - 1;
    const int ny0 = first_anchor(ty0, g.K, g.pad, g.s), ny1 = last_anchor(tyEnd, g.pad, g.s, g.h);
    const int nx0 = first_anchor(tx0, g.K, g.pad, g.s), nx1 = last_anchor(txEnd, g.pad, g.s, g.w);
    const int na = max(0, nx1 - nx0 + 1), nrows = max(0, ny1 - ny0 + 1) * na * g.kk();
    const int kk = g.kk();
    A* prob = smem;                 // [anchor][i][j]
    A* win = smem + nrows * kk;     // gout at the anchors' fold targets
    for (int r = threadIdx.x; r < nrows; r += blockDim.x) {
        const int a = r / kk, i = r - a * kk;
        const long src = g.row(b, ny0 + a / na, nx0 + a % na, head, i);
        A m = -INFINITY;
        for (int j = 0; j < kk; j++) m = mx(m, scale * load(logits, src + j));
        A sum = 0;
        for (int j = 0; j < kk; j++) {
            const A e = ex(scale * load(logits, src + j) - m);
            prob[r * kk + j] = e;
            sum += e;
        }
        const A inv = recip(sum);
        for (int j = 0; j < kk; j++) prob[r * kk + j] *= inv;
    }
    const int wy0 = ny0 * g.s - g.pad, wx0 = nx0 * g.s - g.pad;
    const int rows = max(0, (ny1 - ny0) * g.s + g.K), cols = max(0, (nx1 - nx0) * g.s + g.K);
    stage_window(gout, win, g, b, wy0, wx0, rows, cols, c0, nc, PITCH);
    __syncthreads();

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int th = tyEnd - ty0 + 1, tw = txEnd - tx0 + 1;
    for (int px = warp; px < th * tw; px += WARPS) {
        const int y = ty0 + px / tw, x = tx0 + px % tw;
        A acc = 0;
        for (int ny = first_anchor(y, g.K, g.pad, g.s), nyEnd = last_anchor(y, g.pad, g.s, g.h); ny <= nyEnd; ny++) {
            const int jy = y + g.pad - ny * g.s;
            for (int nx = first_anchor(x, g.K, g.pad, g.s), nxEnd = last_anchor(x, g.pad, g.s, g.w); nx <= nxEnd; nx++) {
                const int j = jy * g.K + x + g.pad - nx * g.s;
                const A* p = prob + ((ny - ny0) * na + (nx - nx0)) * kk * kk + j;
                const A* base = win + ((ny - ny0) * g.s * cols + (nx - nx0) * g.s) * PITCH + lane;
                // Targets outside the image read the zeros staged there: fold drops them.
                for (int i = 0; i < kk; i++) {
                    const int iy = i / g.K, ix = i - iy * g.K;
                    acc += p[i * kk] * base[(iy * cols + ix) * PITCH];
                }
            }
        }
        if (lane < nc) store(dv, (((long) b * g.H + y) * g.W + x) * g.C + c0 + lane, acc);
    }
}

// Grid: (anchor tiles along w, anchor tiles along h, B * heads); g.tile anchors per side.
// Shared: the v window and the gout window of the tile's anchors, all hd channels, pitch hd+1.
template <typename T>
__device__ void bwd_logits(const T* __restrict__ v, const T* __restrict__ logits, const T* __restrict__ gout,
                           T* __restrict__ dlogits, Geo g, AccOf<T> scale) {
    using A = AccOf<T>;
    extern __shared__ double outlook_smem[];
    A* smem = reinterpret_cast<A*>(outlook_smem);
    const int head = blockIdx.z % g.heads, b = blockIdx.z / g.heads, hd = g.hd(), pitch = hd + 1, kk = g.kk();
    const int ny0 = blockIdx.y * g.tile, nx0 = blockIdx.x * g.tile;
    const int tah = min(g.tile, g.h - ny0), taw = min(g.tile, g.w - nx0);
    const int wy0 = ny0 * g.s - g.pad, wx0 = nx0 * g.s - g.pad;
    const int rows = (tah - 1) * g.s + g.K, cols = (taw - 1) * g.s + g.K;
    A* vw = smem;
    A* gw = smem + rows * cols * pitch;
    stage_window(v, vw, g, b, wy0, wx0, rows, cols, head * hd, hd, pitch);
    stage_window(gout, gw, g, b, wy0, wx0, rows, cols, head * hd, hd, pitch);
    __syncthreads();

    for (int r = threadIdx.x; r < tah * taw * kk; r += blockDim.x) {
        const int a = r / kk, i = r - a * kk, ay = a / taw, ax = a - ay * taw;
        const long at = g.row(b, ny0 + ay, nx0 + ax, head, i);
        A p[32];
        A m = -INFINITY;
#pragma unroll
        for (int j = 0; j < 32; j++) if (j < kk) { p[j] = scale * load(logits, at + j); m = mx(m, p[j]); }
        A sum = 0;
#pragma unroll
        for (int j = 0; j < 32; j++) if (j < kk) { p[j] = ex(p[j] - m); sum += p[j]; }
        const A inv = recip(sum);
        // Row i folds into window pixel (ay*s + iy, ax*s + ix); a target outside the image holds zeros.
        const A* go = gw + ((ay * g.s + i / g.K) * cols + ax * g.s + i % g.K) * pitch;
        A dp[32];
        A dot = 0;
#pragma unroll
        for (int j = 0; j < 32; j++) {
            if (j < kk) {
                p[j] *= inv;
                const A* vv = vw + ((ay * g.s + j / g.K) * cols + ax * g.s + j % g.K) * pitch;
                A d = 0;
                for (int c = 0; c < hd; c++) d += go[c] * vv[c];
                dp[j] = d;
                dot += p[j] * d;
            }
        }
#pragma unroll
        for (int j = 0; j < 32; j++) if (j < kk) store(dlogits, at + j, scale * p[j] * (dp[j] - dot));
    }
}

}  // namespace lumen_outlook

#define LUMEN_OUTLOOK_ENTRIES(T, SUFFIX)                                                                             \
    extern "C" __global__ void __launch_bounds__(256) outlook_fwd_##SUFFIX(                                          \
        const T* v, const T* logits, T* out, int B, int H, int W, int C, int heads, int h, int w, int K, int pad,     \
        int stride, int tile, double scale) {                                                                         \
        lumen_outlook::fwd<T>(v, logits, out, lumen_outlook::Geo{B, H, W, C, heads, h, w, K, pad, stride, tile}, (lumen_outlook::AccOf<T>) scale); \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(256, 1) outlook_bwd_v_##SUFFIX(                                        \
        const T* logits, const T* gout, T* dv, int B, int H, int W, int C, int heads, int h, int w, int K, int pad,   \
        int stride, int tile, double scale) {                                                                         \
        lumen_outlook::bwd_v<T>(logits, gout, dv, lumen_outlook::Geo{B, H, W, C, heads, h, w, K, pad, stride, tile}, (lumen_outlook::AccOf<T>) scale); \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(256) outlook_bwd_logits_##SUFFIX(                                   \
        const T* v, const T* logits, const T* gout, T* dlogits, int B, int H, int W, int C, int heads, int h, int w,  \
        int K, int pad, int stride, int tile, double scale) {                                                         \
        lumen_outlook::bwd_logits<T>(v, logits, gout, dlogits,                                                       \
                                     lumen_outlook::Geo{B, H, W, C, heads, h, w, K, pad, stride, tile}, (lumen_outlook::AccOf<T>) scale);     \
    }

LUMEN_FOR_FLOAT_TYPES(LUMEN_OUTLOOK_ENTRIES)
