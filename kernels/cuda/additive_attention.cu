// Additive token mixer core (CAS-ViT): out = dwc(Phi_q(q) + Phi_k(k)) * v with
// Phi(t) = x * g, x = t * s, s = sigmoid(w1 . relu(bn(dwconv3x3(t)))) [B,H,W], g = sigmoid(Wc mean_hw(x)) [B,C].
// NCHW of one storage type X (f32, f64, f16, bf16); the math runs in A = lumen::Acc<X> (double for
// f64, float otherwise), and so do the scratch buffers (dS, partial sums, dg, dm, dz). Blocks own
// 16x16 pixel tiles.
//
// Where the passes split: BatchNorm needs batch sums of u = dwconv(t) (catm_stats, training only),
// the spatial gate needs all channels of a pixel and the channel gate needs all pixels of a
// channel. So the forward is: catm_stats (+finalize) -> catm_gates (s, per-tile channel sums)
// -> catm_channel_gate ([B,C], tiny) -> catm_fwd (both gates, the sum, dwc and * v in one pass
// over a halo tile in shared memory; nothing intermediate is written).
// Backward: catm_bwd_dwc (dv, dS = dPhi, partial sums for dwc's weights and for dg) -> reduce ->
// catm_bwd_channel_gate -> catm_bwd_spatial (dz per pixel, across channels) -> per gate
// catm_bwd_bn_stats (+finalize: the BatchNorm sums) -> catm_bwd_input (dt via a 2-pixel halo, dw
// conv weight partials) -> reduce.
//
// Every cross-block sum is deterministic: a tiled block reduces its tile with a fixed tree
// (shuffles, then warp 0 over the warps' sums) into its own slot, laid out channel-major
// ([c][b][tile]) so that a channel's slots are contiguous; a second kernel gives each channel one
// block, whose threads walk the slots at a fixed stride and meet in the same tree. The slots are
// a few bytes per 256 pixels (under 7% of the bytes of one input for 12 floats per tile), so the
// reductions cost launches, not bandwidth, and every pass stays bound by its plane reads.
//
// Tiled kernels take a 1-D grid of tiles * planes blocks (tile = blockIdx.x % tiles), so B*C
// planes never meet the 65535 limit of grid y and z; the launcher checks x against 2^31-1.
#include "lumen_tensor.cuh"

namespace lumen_catm {

constexpr int T = 16;             // tile side
constexpr int THREADS = T * T;    // one thread per pixel of the tile
constexpr int WARPS = THREADS / 32;

template <typename X> using AccOf = typename lumen::Acc<X>::type;

template <typename X>
__device__ __forceinline__ AccOf<X> load(const X* p, long i) { return lumen::to_acc(p[i]); }
template <typename X>
__device__ __forceinline__ void store(X* p, long i, float v) { p[i] = lumen::from_accf<X>(v); }
template <typename X>
__device__ __forceinline__ void store(X* p, long i, double v) { p[i] = lumen::from_acc<X>(v); }
__device__ __forceinline__ float sigmoid(float z) { return 1.f / (1.f + __expf(-z)); }
__device__ __forceinline__ double sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }
__device__ __forceinline__ float relu(float v) { return fmaxf(0.f, v); }
__device__ __forceinline__ double relu(double v) { return fmax(0.0, v); }

// Double products and sums rounded one by one: no fused multiply-add, so the running statistics
// round exactly as the CPU backend's Java arithmetic does.
__device__ __forceinline__ double mul_rn(double a, double b) {
#ifdef LUMEN_CUDA_EMU
    return a * b;
#else
    return __dmul_rn(a, b);
#endif
}
__device__ __forceinline__ double add_rn(double a, double b) {
#ifdef LUMEN_CUDA_EMU
    return a + b;
#else
    return __dadd_rn(a, b);
#endif
}

template <typename A>
__device__ __forceinline__ A warp_sum(A v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Block-wide sums of N values per thread in a fixed tree: a butterfly within each warp, then warp
// 0 over the WARPS warp sums; red has WARPS*N slots. Thread 0 gets the totals in out.
template <typename A, int N>
__device__ void block_sum(A (&v)[N], A* red, A (&out)[N]) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
    for (int e = 0; e < N; e++) {
        A s = warp_sum(v[e]);
        if (lane == 0) red[warp * N + e] = s;
    }
    __syncthreads();
    if (warp == 0) {
#pragma unroll
        for (int e = 0; e < N; e++) out[e] = warp_sum(lane < WARPS ? red[lane * N + e] : A(0));
    }
    __syncthreads();
}

// The sums of channel c = blockIdx.x's slots part[(c*items + i)*width + e], e < N: thread t adds
// slots t, t+THREADS, ... (contiguous across the warp), then block_sum; thread 0 gets the totals.
template <typename A, int N>
__device__ void channel_total(const A* __restrict__ part, long items, int width, A* red, A (&out)[N]) {
    const A* base = part + (long) blockIdx.x * items * width;
    A acc[N];
#pragma unroll
    for (int e = 0; e < N; e++) acc[e] = 0;
    for (long i = threadIdx.x; i < items; i += THREADS) {
#pragma unroll
        for (int e = 0; e < N; e++) acc[e] += base[i * width + e];
    }
    block_sum(acc, red, out);
}

// The slot of tile `tile` of plane (b, c) in a channel-major partial buffer.
__device__ __forceinline__ long slot(int b, int c, int B, int tiles, int tile) { return ((long) c * B + b) * tiles + tile; }

// The tile and plane of a block of a tiled launch: 1-D grid of tiles * planes blocks.
struct TileOf {
    int tile, tiles, plane, y0, x0;
    __device__ TileOf(int H, int W) {
        const int tx = (W + T - 1) / T;
        tiles = tx * ((H + T - 1) / T);
        tile = blockIdx.x % tiles;
        plane = blockIdx.x / tiles;
        y0 = (tile / tx) * T;
        x0 = (tile % tx) * T;
    }
};

// Stages plane[y0-R .. y0+T+R) x [x0-R .. x0+T+R) into s (side T+2R), zero outside the image.
template <typename X, typename A>
__device__ void stage(const X* __restrict__ plane, A* s, int H, int W, int y0, int x0, int R) {
    const int side = T + 2 * R;
    for (int e = threadIdx.x; e < side * side; e += THREADS) {
        int r = e / side, c = e - r * side, y = y0 - R + r, x = x0 - R + c;
        s[e] = (y >= 0 && y < H && x >= 0 && x < W) ? load(plane, (long) y * W + x) : A(0);
    }
}

// 3x3 conv at (r, c) of a staged window of side `side` whose (r, c) is the top-left tap.
template <typename A>
__device__ __forceinline__ A conv3(const A* s, int side, int r, int c, const A* w) {
    A a = 0;
#pragma unroll
    for (int ky = 0; ky < 3; ky++)
#pragma unroll
        for (int kx = 0; kx < 3; kx++) a += w[ky * 3 + kx] * s[(r + ky) * side + c + kx];
    return a;
}

template <typename A>
__device__ __forceinline__ A conv3t(const A* s, int side, int r, int c, const A* w) {
    A a = 0;
#pragma unroll
    for (int ky = 0; ky < 3; ky++)
#pragma unroll
        for (int kx = 0; kx < 3; kx++) a += w[8 - ky * 3 - kx] * s[(r + ky) * side + c + kx];
    return a;
}

template <typename X, typename A>
__device__ __forceinline__ void taps(const X* w, int c, A (&out)[9]) {
#pragma unroll
    for (int i = 0; i < 9; i++) out[i] = load(w, (long) c * 9 + i);
}

// ---------------------------------------------------------------- forward

// Grid tiles * B*C: part[slot*2 + {0,1}] = sum and sum of squares of u over the block's tile, in
// double. One read of t (the 1-pixel halo comes from L2), the block's tree and two doubles out.
template <typename X>
__device__ void stats(const X* __restrict__ t, const X* __restrict__ dw, const X* __restrict__ db, double* part,
                      int B, int C, int H, int W) {
    using A = AccOf<X>;
    __shared__ A s[(T + 2) * (T + 2)];
    __shared__ double red[WARPS * 2];
    const TileOf tl(H, W);
    const int b = tl.plane / C, c = tl.plane - b * C;
    stage(t + (long) tl.plane * H * W, s, H, W, tl.y0, tl.x0, 1);
    __syncthreads();
    const int py = threadIdx.x / T, px = threadIdx.x % T;
    double acc[2] = {0, 0};
    if (tl.y0 + py < H && tl.x0 + px < W) {
        A w[9];
        taps(dw, c, w);
        const A u = load(db, c) + conv3(s, T + 2, py, px, w);
        acc[0] = u;
        acc[1] = (double) u * u;
    }
    double tot[2];
    block_sum(acc, red, tot);
    if (threadIdx.x == 0) {
        const long at = slot(b, c, B, tl.tiles, tl.tile) * 2;
        part[at] = tot[0];
        part[at + 1] = tot[1];
    }
}

// Grid (C): the batch mean and biased variance of channel blockIdx.x from its `items` tile slots (in double).
template <typename X>
__device__ void stats_finalize(const double* part, int items, int C, long long n, X* mean, X* var) {
    __shared__ double red[WARPS * 2];
    double tot[2];
    channel_total(part, items, 2, red, tot);
    if (threadIdx.x != 0) return;
    const int c = blockIdx.x;
    const double m = tot[0] / n, v = fmax(0.0, tot[1] / n - m * m);
    store(mean, c, m);
    store(var, c, v);
}

// Per channel, in double and rounded operation by operation as AdditiveAttentionKernels.catmNormalization
// specifies: with batch statistics (batch_mean non-null) mean = batch mean, inv = 1/sqrt(batch var + eps)
// and running = (1 - momentum) * running + (momentum * correction) * batch; otherwise mean = running
// mean and inv = 1/sqrt(running var + eps).
template <typename X>
__device__ void normalization(const X* batch_mean, const X* batch_var, X* running_mean, X* running_var, double momentum,
                              double correction, double eps, X* mean, X* inv, int C) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const double rm = (double) load(running_mean, c), rv = (double) load(running_var, c);
    double m = rm, v = rv;
    if (batch_mean != nullptr) {
        m = (double) load(batch_mean, c);
        v = (double) load(batch_var, c);
        const double keep = 1.0 - momentum, mc = mul_rn(momentum, correction);
        store(running_mean, c, add_rn(mul_rn(keep, rm), mul_rn(momentum, m)));
        store(running_var, c, add_rn(mul_rn(keep, rv), mul_rn(mc, v)));
    }
    store(mean, c, m);
    store(inv, c, 1.0 / sqrt(add_rn(v, eps)));
}

// Grid tiles * B; dynamic shared: WARPS*C accumulators. BatchNorm: gamma*(u - mean)*inv + beta.
template <typename X>
__device__ void gates(const X* __restrict__ t, const X* __restrict__ dw, const X* __restrict__ db,
                      const X* __restrict__ mean, const X* __restrict__ inv, const X* __restrict__ gamma,
                      const X* __restrict__ beta, const X* __restrict__ w1,
                      X* __restrict__ s_out, AccOf<X>* __restrict__ part, int C, int H, int W) {
    using A = AccOf<X>;
    __shared__ A s[(T + 2) * (T + 2)];
    extern __shared__ double catm_gates_smem[];
    A* wred = reinterpret_cast<A*>(catm_gates_smem);   // [WARPS][C]
    const TileOf tl(H, W);
    const int b = tl.plane, y0 = tl.y0, x0 = tl.x0;
    const int py = threadIdx.x / T, px = threadIdx.x % T, y = y0 + py, x = x0 + px;
    const bool in = y < H && x < W;
    A z = 0;
    for (int c = 0; c < C; c++) {
        const X* plane = t + ((long) b * C + c) * H * W;
        __syncthreads();
        stage(plane, s, H, W, y0, x0, 1);
        __syncthreads();
        A w[9];
        taps(dw, c, w);
        const A u = load(db, c) + conv3(s, T + 2, py, px, w);
        z += load(w1, c) * relu(load(gamma, c) * (u - load(mean, c)) * load(inv, c) + load(beta, c));
    }
    const A g = sigmoid(z);
    if (in) store(s_out, ((long) b * H + y) * W + x, g);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int c = 0; c < C; c++) {
        A val = in ? load(t, (((long) b * C + c) * H + y) * W + x) * g : A(0);
        val = warp_sum(val);
        if (lane == 0) wred[warp * C + c] = val;
    }
    __syncthreads();
    for (int c = threadIdx.x; c < C; c += THREADS) {
        A sum = 0;
        for (int w = 0; w < WARPS; w++) sum += wred[w * C + c];
        part[((long) b * tl.tiles + tl.tile) * C + c] = sum;
    }
}

// Grid (B); dynamic shared: C accumulators. pooled = mean over tiles' sums; gate = sigmoid(Wc pooled).
template <typename X>
__device__ void channel_gate(const AccOf<X>* __restrict__ part, int tiles, const X* __restrict__ wc, X* pooled, X* gate,
                             int C, int HW) {
    using A = AccOf<X>;
    extern __shared__ double catm_channel_gate_smem[];
    A* m = reinterpret_cast<A*>(catm_channel_gate_smem);
    const int b = blockIdx.x;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        A s = 0;
        for (int p = 0; p < tiles; p++) s += part[((long) b * tiles + p) * C + c];
        m[c] = s / HW;
        store(pooled, (long) b * C + c, m[c]);
    }
    __syncthreads();
    for (int co = threadIdx.x; co < C; co += blockDim.x) {
        A z = 0;
        for (int ci = 0; ci < C; ci++) z += load(wc, (long) co * C + ci) * m[ci];
        store(gate, (long) b * C + co, sigmoid(z));
    }
}

// S = q*s_q*g_q + k*s_k*g_k at (b, c, y, x), zero outside the image.
template <typename X, typename A>
__device__ __forceinline__ A gated_sum(const X* q, const X* k, const X* sq, const X* sk, A gq, A gk,
                                       int b, int c, int C, int H, int W, int y, int x) {
    if (y < 0 || y >= H || x < 0 || x >= W) return 0;
    const long i = (((long) b * C + c) * H + y) * W + x, p = ((long) b * H + y) * W + x;
    return load(q, i) * load(sq, p) * gq + load(k, i) * load(sk, p) * gk;
}

// Grid tiles * B*C.
template <typename X>
__device__ void fwd(const X* __restrict__ q, const X* __restrict__ k, const X* __restrict__ v, const X* __restrict__ sq,
                    const X* __restrict__ gq, const X* __restrict__ sk, const X* __restrict__ gk, const X* __restrict__ dw,
                    const X* __restrict__ db, X* __restrict__ out, int C, int H, int W) {
    using A = AccOf<X>;
    __shared__ A s[(T + 2) * (T + 2)];
    const TileOf tl(H, W);
    const int bc = tl.plane, b = bc / C, c = bc % C, y0 = tl.y0, x0 = tl.x0;
    const A gQ = load(gq, bc), gK = load(gk, bc);
    for (int e = threadIdx.x; e < (T + 2) * (T + 2); e += THREADS) {
        const int r = e / (T + 2), cc = e % (T + 2);
        s[e] = gated_sum(q, k, sq, sk, gQ, gK, b, c, C, H, W, y0 - 1 + r, x0 - 1 + cc);
    }
    __syncthreads();
    const int py = threadIdx.x / T, px = threadIdx.x % T, y = y0 + py, x = x0 + px;
    if (y >= H || x >= W) return;
    A w[9];
    taps(dw, c, w);
    const long i = ((long) bc * H + y) * W + x;
    store(out, i, (load(db, c) + conv3(s, T + 2, py, px, w)) * load(v, i));
}

// ---------------------------------------------------------------- backward

// Grid tiles * B*C. part[slot*12 + e]: 9 dwc taps, dwc bias, dg_q, dg_k.
template <typename X>
__device__ void bwd_dwc(const X* __restrict__ q, const X* __restrict__ k, const X* __restrict__ v, const X* __restrict__ sq,
                        const X* __restrict__ gq, const X* __restrict__ sk, const X* __restrict__ gk, const X* __restrict__ dw,
                        const X* __restrict__ db, const X* __restrict__ gout, X* __restrict__ dv, AccOf<X>* __restrict__ dS,
                        AccOf<X>* __restrict__ part, int B, int C, int H, int W) {
    using A = AccOf<X>;
    __shared__ A s[(T + 2) * (T + 2)], d[(T + 2) * (T + 2)];
    __shared__ A red[WARPS * 12];
    const TileOf tl(H, W);
    const int bc = tl.plane, b = bc / C, c = bc % C, y0 = tl.y0, x0 = tl.x0;
    const A gQ = load(gq, bc), gK = load(gk, bc);
    for (int e = threadIdx.x; e < (T + 2) * (T + 2); e += THREADS) {
        const int r = e / (T + 2), cc = e % (T + 2), y = y0 - 1 + r, x = x0 - 1 + cc;
        s[e] = gated_sum(q, k, sq, sk, gQ, gK, b, c, C, H, W, y, x);
        const bool in = y >= 0 && y < H && x >= 0 && x < W;
        const long i = ((long) bc * H + y) * W + x;
        d[e] = in ? load(gout, i) * load(v, i) : A(0);   // dD = gout * v
    }
    __syncthreads();
    const int py = threadIdx.x / T, px = threadIdx.x % T, y = y0 + py, x = x0 + px;
    A acc[12];
#pragma unroll
    for (int e = 0; e < 12; e++) acc[e] = 0;
    if (y < H && x < W) {
        A w[9];
        taps(dw, c, w);
        const long i = ((long) bc * H + y) * W + x, p = ((long) b * H + y) * W + x;
        store(dv, i, load(gout, i) * (load(db, c) + conv3(s, T + 2, py, px, w)));
        const A ds = conv3t(d, T + 2, py, px, w);
        dS[i] = ds;
        const A dd = d[(py + 1) * (T + 2) + px + 1];
#pragma unroll
        for (int ky = 0; ky < 3; ky++)
#pragma unroll
            for (int kx = 0; kx < 3; kx++) acc[ky * 3 + kx] = dd * s[(py + ky) * (T + 2) + px + kx];
        acc[9] = dd;
        acc[10] = ds * load(q, i) * load(sq, p);
        acc[11] = ds * load(k, i) * load(sk, p);
    }
    A tot[12];
    block_sum(acc, red, tot);
    if (threadIdx.x == 0) {
        const long at = slot(b, c, B, tl.tiles, tl.tile) * 12;
#pragma unroll
        for (int e = 0; e < 12; e++) part[at + e] = tot[e];
    }
}

// Sums the tile slots of bwd_dwc / bwd_input (width 12 or 10). Blocks [0, C): channel c's entries
// 0..8 into dw[c, 9] and 9 into db[c], over its B*tiles slots. With dg0 non-null, blocks
// [C, C + ceil(B*C/WARPS)): one warp per (b, c) adds entries 10 and 11 over its tiles into
// dg0/dg1[b*C + c]. Fixed strides and trees only: the same bits every run.
template <typename X>
__device__ void reduce_partials(const AccOf<X>* __restrict__ part, int B, int C, int tiles, int width, X* dw, X* db,
                                AccOf<X>* dg0, AccOf<X>* dg1) {
    using A = AccOf<X>;
    __shared__ A red[WARPS * 10];
    if ((int) blockIdx.x < C) {
        A tot[10];
        channel_total(part, (long) B * tiles, width, red, tot);
        if (threadIdx.x == 0) {
            const int c = blockIdx.x;
#pragma unroll
            for (int e = 0; e < 9; e++) store(dw, (long) c * 9 + e, tot[e]);
            store(db, c, tot[9]);
        }
        return;
    }
    const int lane = threadIdx.x & 31;
    const long pair = (long) (blockIdx.x - C) * WARPS + (threadIdx.x >> 5);
    if (dg0 == nullptr || pair >= (long) B * C) return;
    const int b = (int) (pair / C), c = (int) (pair - (long) b * C);
    const A* src = part + slot(b, c, B, tiles, 0) * width;
    A a0 = 0, a1 = 0;
    for (int p = lane; p < tiles; p += 32) {
        a0 += src[(long) p * width + 10];
        a1 += src[(long) p * width + 11];
    }
    a0 = warp_sum(a0);
    a1 = warp_sum(a1);
    if (lane == 0) {
        dg0[pair] = a0;
        dg1[pair] = a1;
    }
}

// dpre = dg*g(1-g); dWc[co,ci] = sum_b dpre[b,co] pooled[b,ci]; dm[b,ci] = sum_co Wc[co,ci] dpre[b,co].
template <typename X>
__device__ void bwd_channel_gate(const AccOf<X>* __restrict__ dg, const X* __restrict__ gate, const X* __restrict__ pooled,
                                 const X* __restrict__ wc, X* dwc, AccOf<X>* dm, int B, int C) {
    using A = AccOf<X>;
    const long i = (long) blockIdx.x * blockDim.x + threadIdx.x;
    if (i < (long) C * C) {
        const int co = (int) (i / C), ci = (int) (i % C);
        A a = 0;
        for (int b = 0; b < B; b++) {
            const A g = load(gate, (long) b * C + co);
            a += dg[(long) b * C + co] * g * (A(1) - g) * load(pooled, (long) b * C + ci);
        }
        store(dwc, i, a);
    }
    if (i < (long) B * C) {
        const int b = (int) (i / C), ci = (int) (i % C);
        A a = 0;
        for (int co = 0; co < C; co++) {
            const A g = load(gate, (long) b * C + co);
            a += load(wc, (long) co * C + ci) * dg[(long) b * C + co] * g * (A(1) - g);
        }
        dm[i] = a;
    }
}

// One thread per pixel of [B,H,W]: dz = s(1-s) * sum_c t_c (dS_c g_c + dm_c/HW), for both gates.
template <typename X>
__device__ void bwd_spatial(const X* __restrict__ q, const X* __restrict__ k, const AccOf<X>* __restrict__ dS,
                            const X* __restrict__ sq, const X* __restrict__ gq, const AccOf<X>* __restrict__ dmq,
                            const X* __restrict__ sk, const X* __restrict__ gk, const AccOf<X>* __restrict__ dmk,
                            AccOf<X>* __restrict__ dzq, AccOf<X>* __restrict__ dzk, int B, int C, int HW) {
    using A = AccOf<X>;
    // B*C*HW < 2^31 (AdditiveAttentionCuda.Shape): int indices, no 64-bit division.
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * HW) return;
    const int b = i / HW, p = i - b * HW;
    A aq = 0, ak = 0;
    for (int c = 0; c < C; c++) {
        const long at = ((long) b * C + c) * HW + p;
        const A ds = dS[at];
        aq += load(q, at) * (ds * load(gq, (long) b * C + c) + dmq[(long) b * C + c] / HW);
        ak += load(k, at) * (ds * load(gk, (long) b * C + c) + dmk[(long) b * C + c] / HW);
    }
    const A s0 = load(sq, i), s1 = load(sk, i);
    dzq[i] = aq * s0 * (A(1) - s0);
    dzk[i] = ak * s1 * (A(1) - s1);
}

// Grid tiles * B*C: part[slot*3 + {0,1,2}] = the block's tile's sums of da, da*uhat and dz*relu(a')
// (a' = gamma*uhat + beta), in double.
template <typename X>
__device__ void bwd_bn_stats(const X* __restrict__ t, const X* __restrict__ dw, const X* __restrict__ db,
                             const X* __restrict__ mean, const X* __restrict__ inv, const X* __restrict__ gamma,
                             const X* __restrict__ beta, const X* __restrict__ w1, const AccOf<X>* __restrict__ dz,
                             double* part, int B, int C, int H, int W) {
    using A = AccOf<X>;
    __shared__ A s[(T + 2) * (T + 2)];
    __shared__ double red[WARPS * 3];
    const TileOf tl(H, W);
    const int b = tl.plane / C, c = tl.plane - b * C;
    stage(t + (long) tl.plane * H * W, s, H, W, tl.y0, tl.x0, 1);
    __syncthreads();
    const int py = threadIdx.x / T, px = threadIdx.x % T, y = tl.y0 + py, x = tl.x0 + px;
    double acc[3] = {0, 0, 0};
    if (y < H && x < W) {
        A w[9];
        taps(dw, c, w);
        const A uh = (load(db, c) + conv3(s, T + 2, py, px, w) - load(mean, c)) * load(inv, c);
        const A a = load(gamma, c) * uh + load(beta, c);
        if (a > 0) {
            const A g = dz[((long) b * H + y) * W + x], wv = load(w1, c);
            acc[0] = g * wv;
            acc[1] = (double) g * wv * uh;
            acc[2] = (double) g * a;
        }
    }
    double tot[3];
    block_sum(acc, red, tot);
    if (threadIdx.x == 0) {
        const long at = slot(b, c, B, tl.tiles, tl.tile) * 3;
        for (int e = 0; e < 3; e++) part[at + e] = tot[e];
    }
}

// Grid (C): dgamma, dbeta, dw1 of channel blockIdx.x and, with batch statistics, the means of da and
// da*uhat the input gradient needs, from its `items` tile slots.
template <typename X>
__device__ void bwd_bn_finalize(const double* part, int items, int C, long long n, int batch_stats, X* dgamma, X* dbeta,
                                X* dw1, AccOf<X>* mean_da, AccOf<X>* mean_dau) {
    using A = AccOf<X>;
    __shared__ double red[WARPS * 3];
    double a[3];
    channel_total(part, items, 3, red, a);
    if (threadIdx.x != 0) return;
    const int c = blockIdx.x;
    store(dbeta, c, a[0]);
    store(dgamma, c, a[1]);
    store(dw1, c, a[2]);
    mean_da[c] = batch_stats ? (A) (a[0] / n) : A(0);
    mean_dau[c] = batch_stats ? (A) (a[1] / n) : A(0);
}

// Grid tiles * B*C. du on the tile plus a 1-pixel halo (from t on a 2-pixel halo), then
// dt = dwconv^T(du) + (dS*g + dm/HW)*s; part[slot*10 + e]: 9 dw taps and the bias.
template <typename X>
__device__ void bwd_input(const X* __restrict__ t, const X* __restrict__ dw, const X* __restrict__ db,
                          const X* __restrict__ mean, const X* __restrict__ inv, const X* __restrict__ gamma,
                          const X* __restrict__ beta, const X* __restrict__ w1, const AccOf<X>* __restrict__ dz,
                          const AccOf<X>* __restrict__ mean_da, const AccOf<X>* __restrict__ mean_dau,
                          const AccOf<X>* __restrict__ dS, const X* __restrict__ sp, const X* __restrict__ gate,
                          const AccOf<X>* __restrict__ dm, X* __restrict__ dt, AccOf<X>* __restrict__ part, int B, int C, int H,
                          int W) {
    using A = AccOf<X>;
    __shared__ A ts[(T + 4) * (T + 4)], du[(T + 2) * (T + 2)];
    __shared__ A red[WARPS * 10];
    const TileOf tl(H, W);
    const int bc = tl.plane, b = bc / C, c = bc % C, y0 = tl.y0, x0 = tl.x0;
    stage(t + (long) bc * H * W, ts, H, W, y0, x0, 2);
    __syncthreads();
    A w[9];
    taps(dw, c, w);
    const A bias = load(db, c), m = load(mean, c), iv = load(inv, c), ga = load(gamma, c), be = load(beta, c), wv = load(w1, c);
    const A mda = mean_da[c], mdau = mean_dau[c];
    for (int e = threadIdx.x; e < (T + 2) * (T + 2); e += THREADS) {
        const int r = e / (T + 2), cc = e % (T + 2), y = y0 - 1 + r, x = x0 - 1 + cc;
        A g = 0;
        if (y >= 0 && y < H && x >= 0 && x < W) {
            const A uh = (bias + conv3(ts, T + 4, r, cc, w) - m) * iv, a = ga * uh + be;
            const A da = a > 0 ? dz[((long) b * H + y) * W + x] * wv : A(0);
            g = ga * iv * (da - mda - uh * mdau);
        }
        du[e] = g;
    }
    __syncthreads();
    const int py = threadIdx.x / T, px = threadIdx.x % T, y = y0 + py, x = x0 + px;
    A acc[10];
#pragma unroll
    for (int e = 0; e < 10; e++) acc[e] = 0;
    if (y < H && x < W) {
        const long i = ((long) bc * H + y) * W + x;
        const A s = load(sp, ((long) b * H + y) * W + x);
        const A dx = dS[i] * load(gate, bc) + dm[bc] / (H * W);
        store(dt, i, conv3t(du, T + 2, py, px, w) + dx * s);
        const A g = du[(py + 1) * (T + 2) + px + 1];
#pragma unroll
        for (int ky = 0; ky < 3; ky++)
#pragma unroll
            for (int kx = 0; kx < 3; kx++) acc[ky * 3 + kx] = g * ts[(py + 1 + ky) * (T + 4) + px + 1 + kx];
        acc[9] = g;
    }
    A tot[10];
    block_sum(acc, red, tot);
    if (threadIdx.x == 0) {
        const long at = slot(b, c, B, tl.tiles, tl.tile) * 10;
#pragma unroll
        for (int e = 0; e < 10; e++) part[at + e] = tot[e];
    }
}

}  // namespace lumen_catm

#define LUMEN_CATM_ENTRIES(X, SUFFIX)                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_stats_##SUFFIX(const X* t, const X* dw, const X* db,          \
                                                                          double* part, int B, int C, int H, int W) {    \
        lumen_catm::stats<X>(t, dw, db, part, B, C, H, W);                                                             \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_stats_finalize_##SUFFIX(const double* part, int items, int C, \
                                                                                   long long n, X* mean, X* var) {     \
        lumen_catm::stats_finalize<X>(part, items, C, n, mean, var);                                                   \
    }                                                                                                                  \
    extern "C" __global__ void catm_normalization_##SUFFIX(const X* batch_mean, const X* batch_var, X* running_mean,    \
                                                           X* running_var, double momentum, double correction,         \
                                                           double eps, X* mean, X* inv, int C) {                       \
        lumen_catm::normalization<X>(batch_mean, batch_var, running_mean, running_var, momentum, correction, eps,     \
                                     mean, inv, C);                                                                    \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_gates_##SUFFIX(                                             \
        const X* t, const X* dw, const X* db, const X* mean, const X* inv, const X* gamma, const X* beta,               \
        const X* w1, X* s_out, lumen_catm::AccOf<X>* part, int C, int H, int W) {                                      \
        lumen_catm::gates<X>(t, dw, db, mean, inv, gamma, beta, w1, s_out, part, C, H, W);                             \
    }                                                                                                                  \
    extern "C" __global__ void catm_channel_gate_##SUFFIX(const lumen_catm::AccOf<X>* part, int tiles, const X* wc,     \
                                                          X* pooled, X* gate, int C, int HW) {                         \
        lumen_catm::channel_gate<X>(part, tiles, wc, pooled, gate, C, HW);                                             \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_fwd_##SUFFIX(                                               \
        const X* q, const X* k, const X* v, const X* sq, const X* gq, const X* sk, const X* gk, const X* dw,            \
        const X* db, X* out, int C, int H, int W) {                                                                    \
        lumen_catm::fwd<X>(q, k, v, sq, gq, sk, gk, dw, db, out, C, H, W);                                             \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_bwd_dwc_##SUFFIX(                                           \
        const X* q, const X* k, const X* v, const X* sq, const X* gq, const X* sk, const X* gk, const X* dw,            \
        const X* db, const X* gout, X* dv, lumen_catm::AccOf<X>* dS, lumen_catm::AccOf<X>* part, int B, int C, int H,  \
        int W) {                                                                                                       \
        lumen_catm::bwd_dwc<X>(q, k, v, sq, gq, sk, gk, dw, db, gout, dv, dS, part, B, C, H, W);                       \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_bwd_reduce_##SUFFIX(const lumen_catm::AccOf<X>* part, int B, int C, int tiles,      \
                                                        int width, X* dw, X* db, lumen_catm::AccOf<X>* dg0,            \
                                                        lumen_catm::AccOf<X>* dg1) {                                   \
        lumen_catm::reduce_partials<X>(part, B, C, tiles, width, dw, db, dg0, dg1);                                    \
    }                                                                                                                  \
    extern "C" __global__ void catm_bwd_channel_gate_##SUFFIX(const lumen_catm::AccOf<X>* dg, const X* gate,            \
                                                              const X* pooled, const X* wc, X* dwc,                    \
                                                              lumen_catm::AccOf<X>* dm, int B, int C) {                \
        lumen_catm::bwd_channel_gate<X>(dg, gate, pooled, wc, dwc, dm, B, C);                                          \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_bwd_spatial_##SUFFIX(                                       \
        const X* q, const X* k, const lumen_catm::AccOf<X>* dS, const X* sq, const X* gq,                              \
        const lumen_catm::AccOf<X>* dmq, const X* sk, const X* gk, const lumen_catm::AccOf<X>* dmk,                    \
        lumen_catm::AccOf<X>* dzq, lumen_catm::AccOf<X>* dzk, int B, int C, int HW) {                                  \
        lumen_catm::bwd_spatial<X>(q, k, dS, sq, gq, dmq, sk, gk, dmk, dzq, dzk, B, C, HW);                            \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_bwd_bn_stats_##SUFFIX(                                      \
        const X* t, const X* dw, const X* db, const X* mean, const X* inv, const X* gamma, const X* beta,               \
        const X* w1, const lumen_catm::AccOf<X>* dz, double* part, int B, int C, int H, int W) {                       \
        lumen_catm::bwd_bn_stats<X>(t, dw, db, mean, inv, gamma, beta, w1, dz, part, B, C, H, W);                      \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_bwd_bn_finalize_##SUFFIX(const double* part, int items,     \
                                                             int C, long long n, int batch_stats, X* dgamma, X* dbeta, \
                                                             X* dw1,                                                   \
                                                             lumen_catm::AccOf<X>* mean_da,                            \
                                                             lumen_catm::AccOf<X>* mean_dau) {                         \
        lumen_catm::bwd_bn_finalize<X>(part, items, C, n, batch_stats, dgamma, dbeta, dw1, mean_da, mean_dau);         \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_bwd_input_##SUFFIX(                                         \
        const X* t, const X* dw, const X* db, const X* mean, const X* inv, const X* gamma, const X* beta,               \
        const X* w1, const lumen_catm::AccOf<X>* dz, const lumen_catm::AccOf<X>* mean_da,                              \
        const lumen_catm::AccOf<X>* mean_dau, const lumen_catm::AccOf<X>* dS, const X* sp, const X* gate,              \
        const lumen_catm::AccOf<X>* dm, X* dt, lumen_catm::AccOf<X>* part, int B, int C, int H, int W) {               \
        lumen_catm::bwd_input<X>(t, dw, db, mean, inv, gamma, beta, w1, dz, mean_da, mean_dau, dS, sp, gate, dm, dt,   \
                                 part, B, C, H, W);                                                                    \
    }

LUMEN_FOR_FLOAT_TYPES(LUMEN_CATM_ENTRIES)
