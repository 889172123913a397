// Outlook attention core (VOLO): out = fold(softmax(scale*logits) @ unfold(v)), and its backward.
// v, out: [B,H,W,C] channels last; logits: [B,h,w,heads,K*K,K*K], softmax over the last axis (j, the
// window position read from v); axis i is the window position folded into. Head of channel c is
// c / (C/heads). K*K <= 32 (VOLO uses K = 3), so one warp holds a softmax row.
//
// Every kernel is a gather: each output element is written by exactly one thread, no atomics, so
// results do not depend on block order. Grids are 1-D (tiles times planes, decoded once per
// block), so B*heads never meets the 65535 limit of grid y and z.
//  - outlook_fwd: a block owns a tile of output pixels for one (image, head, 32-channel chunk).
//    Every lane first softmaxes one row (anchor, i) that folds into the tile (one thread per row,
//    the row's K*K logits read once, probabilities to shared memory): each row feeds exactly one
//    pixel, so each is computed once per chunk. It stages the v window that the tile's anchors
//    read (pixel pitch 33 floats, so lanes reading one channel of different pixels hit different
//    banks); then a warp gathers one output pixel at a time, lane = channel, p_j a broadcast read.
//  - outlook_bwd_v: the transpose, dv[m] = sum P[n,i,j] gout[n*s-p+i]. A row now feeds K*K v
//    pixels, so the block softmaxes every row of its anchors the same way, stages the gout window,
//    and a warp gathers per v pixel. It recomputes P from the logits rather than reading a P the
//    forward kept: P is as large as the logits, so keeping it would add one write of that size to
//    the forward and save no read here, where 9 exponentials per row are free next to the bytes.
//  - outlook_bwd_logits: one thread per softmax row of a tile of anchors, the tile sized so that
//    the rows fill the block (4x7 anchors x 9 rows = 252 of 256 threads for K = 3; K = 3 has its
//    own entry with K at compile time, so no division or index arithmetic is left in its loop):
//    dP_j = gout[i] . v[j] over the head's channels from shared windows, channel-outer so one gout
//    read feeds K*K FMAs, then scale * P * (dP - sum P dP).
// What bounds them: fwd and bwd_v move v/gout, logits and the output once each from DRAM (halo
// re-reads hit L2); their shared loads (one v and one broadcast p per FMA) cost about as long as
// those bytes at the VOLO sizes, so they sit near, not at, the DRAM floor.
#include "lumen_tensor.cuh"

namespace lumen_outlook {

constexpr int THREADS = 256;
constexpr int WARPS = THREADS / 32;
constexpr int CH = 32;          // channels per block in fwd / bwd_v (one per lane)
constexpr int PITCH = CH + 1;   // shared pitch of one pixel

// Blocks per SM that fwd and bwd_v ask ptxas to fit (<= 64 registers a thread): 4 fill an SM's
// warps with their 24 KB of shared memory; f64's double registers keep 2 (4 would spill).
template <typename T> constexpr int PIXEL_BLOCKS = sizeof(T) == 8 ? 2 : 4;

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
// 1/x of a softmax denominator, x in [1, K*K]. In double: the fast float reciprocal refined by two
// Newton steps (error squared each step: within an ulp), since rcp.rn.f64 and div.rn.f64 carry a
// slow-path call that makes ptxas spill (F64 runs finite-difference checks, where an ulp does not matter).
__device__ __forceinline__ float recip(float x) { return 1.f / x; }
__device__ __forceinline__ double recip(double x) {
    double r = (double) __fdividef(1.f, (float) x);
    r = fma(r, fma(-x, r, 1.0), r);
    return fma(r, fma(-x, r, 1.0), r);
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

// The problem, packed so that entry points stay short. tile x tile_w: output pixels per block in
// fwd / bwd_v (square), anchors per block in bwd_logits.
struct Geo {
    int B, H, W, C, heads, h, w, K, pad, s, tile, tile_w;
    __device__ int kk() const { return K * K; }
    __device__ int hd() const { return C / heads; }
    __device__ long row(int b, int ny, int nx, int head, int i) const {
        return ((((long) b * h + ny) * w + nx) * heads + head) * (long) (K * K * K * K) + (long) i * K * K;
    }
};

// The tile (tx, ty) and plane z of a block of a 1-D grid of tilesX * tilesY * planes blocks.
struct BlockOf {
    int tx, ty, z;
    __device__ BlockOf(int tilesX, int tilesY) {
        int r = blockIdx.x;
        tx = r % tilesX;
        r /= tilesX;
        ty = r % tilesY;
        z = r / tilesY;
    }
};

// The pixels (py, px) of a th x tw tile that a warp handles, every WARPS-th in row-major order;
// the coordinates advance by compare and subtract, no division in the loop.
struct WarpPixels {
    int py, px;
    const int th, tw;
    __device__ WarpPixels(int th_, int tw_) : py(0), px(threadIdx.x >> 5), th(th_), tw(tw_) { wrap(); }
    __device__ bool more() const { return py < th; }
    __device__ void next() {
        px += WARPS;
        wrap();
    }
    __device__ void wrap() {
        while (px >= tw) { px -= tw; py++; }
    }
};

// out[0..kk) = softmax(scale * logits[src..src+kk)); one thread per row, the logits read once.
template <typename T, typename A>
__device__ __forceinline__ void softmax_row(const T* __restrict__ logits, long src, int kk, A scale, A* out) {
    A m = -INFINITY;
    for (int j = 0; j < kk; j++) {
        const A l = scale * load(logits, src + j);
        out[j] = l;
        m = mx(m, l);
    }
    A sum = 0;
    for (int j = 0; j < kk; j++) {
        const A e = ex(out[j] - m);
        out[j] = e;
        sum += e;
    }
    const A inv = recip(sum);
    for (int j = 0; j < kk; j++) out[j] *= inv;
}

// Stages src[b, y0..y0+rows, x0..x0+cols, c0..c0+nc) into dst, pixel pitch `pitch`, with zeros
// outside the image and in channels nc..width-1 (the pitch's last value is padding nobody reads);
// with TWO, the same window of src2 into dst2 (one pixel walk for both). A warp per
// pixel, lanes over its channels: the loads coalesce (channels last) and the pixel advances by
// compare and subtract, so no division is left (it was 3 per element).
template <bool TWO, typename T, typename A>
__device__ void stage_window(const T* __restrict__ src, A* dst, const T* __restrict__ src2, A* dst2, const Geo& g, int b,
                             int y0, int x0, int rows, int cols, int c0, int nc, int width, int pitch) {
    if (rows <= 0 || cols <= 0) return;
    const int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    const T* img = src + (long) b * g.H * g.W * g.C + c0;   // one image's H*W*C stays within int
    const T* img2 = TWO ? src2 + (img - src) : nullptr;
    int r = 0, q = threadIdx.x >> 5;
    while (q >= cols) { q -= cols; r++; }
    while (r < rows) {
        const int y = y0 + r, x = x0 + q;
        const bool in = y >= 0 && y < g.H && x >= 0 && x < g.W;
        const int at = in ? (y * g.W + x) * g.C : 0;
        const int to = (r * cols + q) * pitch;
#pragma unroll 1
        for (int c = lane; c < width; c += 32) {   // once for 32 channels
            const bool load_it = in && c < nc;
            dst[to + c] = load_it ? load(img, at + c) : A(0);
            if constexpr (TWO) dst2[to + c] = load_it ? load(img2, at + c) : A(0);
        }
        q += warps;
        while (q >= cols) { q -= cols; r++; }
    }
}

// Grid: tiles along W * tiles along H * (B * heads * chunks) blocks; chunks = ceil(hd / 32).
// Shared: the probabilities of the rows folding into the tile, then the v window.
template <typename T>
__device__ void fwd(const T* __restrict__ v, const T* __restrict__ logits, T* __restrict__ out, Geo g, AccOf<T> scale) {
    using A = AccOf<T>;
    extern __shared__ double outlook_smem[];
    A* smem = reinterpret_cast<A*>(outlook_smem);
    const int chunks = (g.hd() + CH - 1) / CH;
    const BlockOf bl((g.W + g.tile - 1) / g.tile, (g.H + g.tile - 1) / g.tile);
    const int chunk = bl.z % chunks, head = (bl.z / chunks) % g.heads, b = bl.z / (chunks * g.heads);
    const int c0 = head * g.hd() + chunk * CH, nc = min(CH, g.hd() - chunk * CH);
    const int ty0 = bl.ty * g.tile, tx0 = bl.tx * g.tile;
    const int tyEnd = min(ty0 + g.tile, g.H) - 1, txEnd = min(tx0 + g.tile, g.W) - 1;
    const int ny0 = first_anchor(ty0, g.K, g.pad, g.s), ny1 = last_anchor(tyEnd, g.pad, g.s, g.h);
    const int nx0 = first_anchor(tx0, g.K, g.pad, g.s), nx1 = last_anchor(txEnd, g.pad, g.s, g.w);
    const int na = max(0, nx1 - nx0 + 1), kk = g.kk(), nrows = max(0, ny1 - ny0 + 1) * na * kk;
    A* prob = smem;                 // [anchor][i][j]; rows folding outside the tile stay unused
    A* win = smem + nrows * kk;     // v at the anchors' windows
    for (int r = threadIdx.x; r < nrows; r += blockDim.x) {
        const int a = r / kk, i = r - a * kk, ny = ny0 + a / na, nx = nx0 + a % na, iy = i / g.K;
        const int y = ny * g.s - g.pad + iy, x = nx * g.s - g.pad + i - iy * g.K;
        if (y >= ty0 && y <= tyEnd && x >= tx0 && x <= txEnd) softmax_row(logits, g.row(b, ny, nx, head, i), kk, scale, prob + r * kk);
    }
    // The window that anchors ny0..ny1 read: rows ny0*s-p .. ny1*s-p+K-1.
    const int wy0 = ny0 * g.s - g.pad, wx0 = nx0 * g.s - g.pad;
    const int rows = max(0, (ny1 - ny0) * g.s + g.K), cols = max(0, (nx1 - nx0) * g.s + g.K);
    stage_window<false>(v, win, (const T*) nullptr, (A*) nullptr, g, b, wy0, wx0, rows, cols, c0, nc, CH, PITCH);
    __syncthreads();

    const int lane = threadIdx.x & 31;
    for (WarpPixels it(tyEnd - ty0 + 1, txEnd - tx0 + 1); it.more(); it.next()) {
        const int y = ty0 + it.py, x = tx0 + it.px;
        A acc = 0;
        // The block's anchors whose window covers (y, x): 0 <= iy, ix < K.
        for (int ny = ny0; ny <= ny1; ny++) {
            const int iy = y + g.pad - ny * g.s;
            if (iy < 0 || iy >= g.K) continue;
            for (int nx = nx0; nx <= nx1; nx++) {
                const int ix = x + g.pad - nx * g.s;
                if (ix < 0 || ix >= g.K) continue;
                const A* p = prob + (((ny - ny0) * na + (nx - nx0)) * kk + iy * g.K + ix) * kk;
                // Window position j of this anchor is shared pixel ((ny-ny0)*s + jy, (nx-nx0)*s + jx).
                const A* base = win + ((ny - ny0) * g.s * cols + (nx - nx0) * g.s) * PITCH + lane;
                for (int jy = 0, j = 0; jy < g.K; jy++)
                    for (int jx = 0; jx < g.K; jx++, j++) acc += p[j] * base[(jy * cols + jx) * PITCH];
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
    const BlockOf bl((g.W + g.tile - 1) / g.tile, (g.H + g.tile - 1) / g.tile);
    const int chunk = bl.z % chunks, head = (bl.z / chunks) % g.heads, b = bl.z / (chunks * g.heads);
    const int c0 = head * g.hd() + chunk * CH, nc = min(CH, g.hd() - chunk * CH);
    const int ty0 = bl.ty * g.tile, tx0 = bl.tx * g.tile;
    const int tyEnd = min(ty0 + g.tile, g.H) - 1, txEnd = min(tx0 + g.tile, g.W) - 1;
    const int ny0 = first_anchor(ty0, g.K, g.pad, g.s), ny1 = last_anchor(tyEnd, g.pad, g.s, g.h);
    const int nx0 = first_anchor(tx0, g.K, g.pad, g.s), nx1 = last_anchor(txEnd, g.pad, g.s, g.w);
    const int na = max(0, nx1 - nx0 + 1), nrows = max(0, ny1 - ny0 + 1) * na * g.kk();
    const int kk = g.kk();
    A* prob = smem;                 // [anchor][i][j]
    A* win = smem + nrows * kk;     // gout at the anchors' fold targets
    for (int r = threadIdx.x; r < nrows; r += blockDim.x) {
        const int a = r / kk, i = r - a * kk;
        softmax_row(logits, g.row(b, ny0 + a / na, nx0 + a % na, head, i), kk, scale, prob + r * kk);
    }
    const int wy0 = ny0 * g.s - g.pad, wx0 = nx0 * g.s - g.pad;
    const int rows = max(0, (ny1 - ny0) * g.s + g.K), cols = max(0, (nx1 - nx0) * g.s + g.K);
    stage_window<false>(gout, win, (const T*) nullptr, (A*) nullptr, g, b, wy0, wx0, rows, cols, c0, nc, CH, PITCH);
    __syncthreads();

    const int lane = threadIdx.x & 31;
    for (WarpPixels it(tyEnd - ty0 + 1, txEnd - tx0 + 1); it.more(); it.next()) {
        const int y = ty0 + it.py, x = tx0 + it.px;
        A acc = 0;
        // The block's anchors whose window covers (y, x): 0 <= jy, jx < K.
        for (int ny = ny0; ny <= ny1; ny++) {
            const int jy = y + g.pad - ny * g.s;
            if (jy < 0 || jy >= g.K) continue;
            for (int nx = nx0; nx <= nx1; nx++) {
                const int jx = x + g.pad - nx * g.s;
                if (jx < 0 || jx >= g.K) continue;
                const int j = jy * g.K + jx;
                const A* p = prob + ((ny - ny0) * na + (nx - nx0)) * kk * kk + j;
                const A* base = win + ((ny - ny0) * g.s * cols + (nx - nx0) * g.s) * PITCH + lane;
                // Targets outside the image read the zeros staged there: fold drops them.
                for (int iy = 0, i = 0; iy < g.K; iy++)
                    for (int ix = 0; ix < g.K; ix++, i++) acc += p[i * kk] * base[(iy * cols + ix) * PITCH];
            }
        }
        if (lane < nc) store(dv, (((long) b * g.H + y) * g.W + x) * g.C + c0 + lane, acc);
    }
}

// Grid: anchor tiles along w * anchor tiles along h * (B * heads) blocks, g.tile x g.tile_w anchors
// each, one softmax row per thread: the launcher sizes the tile so that its rows fit the block
// (OutlookCuda.Shape.logitsTile), so a thread decodes its row once and the only loop left is the
// channel loop. Shared: the v window and the gout window of the tile's anchors, all hd channels,
// pitch hd+1. KC: K at compile time (VOLO's 3: every index and offset folds to a constant or a
// multiply), or 0 for any K with K*K <= 32 (the per-row arrays then hold 32 values).
template <typename T, int KC>
__device__ void bwd_logits(const T* __restrict__ v, const T* __restrict__ logits, const T* __restrict__ gout,
                           T* __restrict__ dlogits, Geo g, AccOf<T> scale) {
    using A = AccOf<T>;
    constexpr int KMAX = KC > 0 ? KC * KC : 32;
    extern __shared__ double outlook_smem[];
    A* smem = reinterpret_cast<A*>(outlook_smem);
    const BlockOf bl((g.w + g.tile_w - 1) / g.tile_w, (g.h + g.tile - 1) / g.tile);
    const int K = KC > 0 ? KC : g.K, kk = K * K;
    const int head = bl.z % g.heads, b = bl.z / g.heads, hd = g.hd(), pitch = hd + 1;
    const int ny0 = bl.ty * g.tile, nx0 = bl.tx * g.tile_w;
    const int tah = min(g.tile, g.h - ny0), taw = min(g.tile_w, g.w - nx0);
    const int wy0 = ny0 * g.s - g.pad, wx0 = nx0 * g.s - g.pad;
    const int rows = (tah - 1) * g.s + K, cols = (taw - 1) * g.s + K;
    A* vw = smem;
    A* gw = smem + rows * cols * pitch;
    stage_window<true>(v, vw, gout, gw, g, b, wy0, wx0, rows, cols, head * hd, hd, hd, pitch);
    __syncthreads();

    const int r = threadIdx.x;
    if (r >= tah * taw * kk) return;   // after the block's only barrier
    const int a = r / kk, i = r - a * kk, ay = a / taw, ax = a - ay * taw, iy = i / K, ix = i - iy * K;
    // Row i folds into window pixel (ay*s + iy, ax*s + ix); a target outside the image holds zeros.
    const A* go = gw + ((ay * g.s + iy) * cols + ax * g.s + ix) * pitch;
    const A* vv = vw + (ay * g.s * cols + ax * g.s) * pitch;
    // Window position j = (jy, jx) of the anchor sits off[j] values after vv (32-bit offsets: 32
    // pointers would not fit the generic kernel's registers).
    int off[KMAX];
#pragma unroll
    for (int j = 0, jy = 0, jx = 0; j < KMAX; j++) {
        off[j] = (jy * cols + jx) * pitch;
        if (++jx == K) { jx = 0; jy++; }
    }
    A dp[KMAX];
#pragma unroll
    for (int j = 0; j < KMAX; j++) dp[j] = 0;
    // The hot loop: one gout read feeds K*K FMAs (dP_j = gout[i] . v[j]); unrolled so that the
    // addresses of 4 channels share one add per window position.
#pragma unroll 4
    for (int c = 0; c < hd; c++) {
        const A gc = go[c];
#pragma unroll
        for (int j = 0; j < KMAX; j++) if (j < kk) dp[j] += gc * vv[off[j] + c];
    }
    const long at = g.row(b, ny0 + ay, nx0 + ax, head, i);
    A p[KMAX];
    A m = -INFINITY;
#pragma unroll
    for (int j = 0; j < KMAX; j++) if (j < kk) { p[j] = scale * load(logits, at + j); m = mx(m, p[j]); }
    A sum = 0;
#pragma unroll
    for (int j = 0; j < KMAX; j++) if (j < kk) { p[j] = ex(p[j] - m); sum += p[j]; }
    const A inv = recip(sum);
    A dot = 0;
#pragma unroll
    for (int j = 0; j < KMAX; j++) if (j < kk) { p[j] *= inv; dot += p[j] * dp[j]; }
#pragma unroll
    for (int j = 0; j < KMAX; j++) if (j < kk) store(dlogits, at + j, scale * p[j] * (dp[j] - dot));
}

}  // namespace lumen_outlook

#define LUMEN_OUTLOOK_GEO lumen_outlook::Geo{B, H, W, C, heads, h, w, K, pad, stride, tile, tile_w}
#define LUMEN_OUTLOOK_ENTRIES(T, SUFFIX)                                                                             \
    extern "C" __global__ void __launch_bounds__(256, lumen_outlook::PIXEL_BLOCKS<T>) outlook_fwd_##SUFFIX(                                       \
        const T* v, const T* logits, T* out, int B, int H, int W, int C, int heads, int h, int w, int K, int pad,     \
        int stride, int tile, int tile_w, double scale) {                                                             \
        lumen_outlook::fwd<T>(v, logits, out, LUMEN_OUTLOOK_GEO, (lumen_outlook::AccOf<T>) scale);                    \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(256, lumen_outlook::PIXEL_BLOCKS<T>) outlook_bwd_v_##SUFFIX(                                     \
        const T* logits, const T* gout, T* dv, int B, int H, int W, int C, int heads, int h, int w, int K, int pad,   \
        int stride, int tile, int tile_w, double scale) {                                                             \
        lumen_outlook::bwd_v<T>(logits, gout, dv, LUMEN_OUTLOOK_GEO, (lumen_outlook::AccOf<T>) scale);                \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(256) outlook_bwd_logits_##SUFFIX(                                   \
        const T* v, const T* logits, const T* gout, T* dlogits, int B, int H, int W, int C, int heads, int h, int w,  \
        int K, int pad, int stride, int tile, int tile_w, double scale) {                                             \
        lumen_outlook::bwd_logits<T, 0>(v, logits, gout, dlogits, LUMEN_OUTLOOK_GEO, (lumen_outlook::AccOf<T>) scale); \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(256) outlook_bwd_logits_k3_##SUFFIX(                                \
        const T* v, const T* logits, const T* gout, T* dlogits, int B, int H, int W, int C, int heads, int h, int w,  \
        int K, int pad, int stride, int tile, int tile_w, double scale) {                                             \
        lumen_outlook::bwd_logits<T, 3>(v, logits, gout, dlogits, LUMEN_OUTLOOK_GEO, (lumen_outlook::AccOf<T>) scale); \
    }

LUMEN_FOR_FLOAT_TYPES(LUMEN_OUTLOOK_ENTRIES)
#undef LUMEN_OUTLOOK_GEO
