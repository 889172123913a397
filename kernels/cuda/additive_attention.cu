// Additive token mixer core (CAS-ViT): out = dwc(Phi_q(q) + Phi_k(k)) * v with
// Phi(t) = x * g, x = t * s, s = sigmoid(w1 . relu(bn(dwconv3x3(t)))) [B,H,W], g = sigmoid(Wc mean_hw(x)) [B,C].
// NCHW, f32 (f16 storage entry points share the code, f32 math). Blocks own 16x16 pixel tiles.
//
// Where the passes split: BatchNorm needs batch sums of u = dwconv(t) (catm_stats, training only),
// the spatial gate needs all channels of a pixel and the channel gate needs all pixels of a
// channel. So the forward is: catm_stats (+finalize) -> catm_gates (s, per-tile channel sums)
// -> catm_channel_gate ([B,C], tiny) -> catm_fwd (both gates, the sum, dwc and * v in one pass
// over a halo tile in shared memory; nothing intermediate is written).
// Backward: catm_bwd_dwc (dv, dS = dPhi, partial sums for dwc's weights and for dg) -> reduce ->
// catm_bwd_channel_gate -> catm_bwd_spatial (dz per pixel, across channels) -> per gate
// catm_bwd_bn_stats (+finalize: the BatchNorm sums) -> catm_bwd_input (dt via a 2-pixel halo, dw
// conv weight partials) -> reduce. Partial sums go to per-block slots and are reduced by a
// second kernel, so results do not depend on block order.
#include <cuda_fp16.h>

namespace lumen_catm {

constexpr int T = 16;             // tile side
constexpr int THREADS = T * T;    // one thread per pixel of the tile
constexpr int WARPS = THREADS / 32;

__device__ __forceinline__ float load(const float* p, long i) { return p[i]; }
__device__ __forceinline__ float load(const __half* p, long i) { return __half2float(p[i]); }
__device__ __forceinline__ void store(float* p, long i, float v) { p[i] = v; }
__device__ __forceinline__ void store(__half* p, long i, float v) { p[i] = __float2half(v); }
__device__ __forceinline__ float sigmoidf(float z) { return 1.f / (1.f + __expf(-z)); }

template <typename A>
__device__ __forceinline__ A warp_sum(A v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Block-wide sums of N values per thread; red has WARPS*N slots. Thread 0 gets the totals in out.
template <typename A, int N>
__device__ void block_sum(A (&v)[N], A* red, A (&out)[N]) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
    for (int e = 0; e < N; e++) {
        A s = warp_sum(v[e]);
        if (lane == 0) red[warp * N + e] = s;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
#pragma unroll
        for (int e = 0; e < N; e++) {
            A s = 0;
            for (int w = 0; w < WARPS; w++) s += red[w * N + e];
            out[e] = s;
        }
    }
    __syncthreads();
}

// Stages plane[y0-R .. y0+T+R) x [x0-R .. x0+T+R) into s (side T+2R), zero outside the image.
template <typename X>
__device__ void stage(const X* __restrict__ plane, float* s, int H, int W, int y0, int x0, int R) {
    const int side = T + 2 * R;
    for (int e = threadIdx.x; e < side * side; e += THREADS) {
        int r = e / side, c = e - r * side, y = y0 - R + r, x = x0 - R + c;
        s[e] = (y >= 0 && y < H && x >= 0 && x < W) ? load(plane, (long) y * W + x) : 0.f;
    }
}

// 3x3 conv at (r, c) of a staged window of side `side` whose (r, c) is the top-left tap.
__device__ __forceinline__ float conv3(const float* s, int side, int r, int c, const float* w) {
    float a = 0.f;
#pragma unroll
    for (int ky = 0; ky < 3; ky++)
#pragma unroll
        for (int kx = 0; kx < 3; kx++) a += w[ky * 3 + kx] * s[(r + ky) * side + c + kx];
    return a;
}

__device__ __forceinline__ float conv3t(const float* s, int side, int r, int c, const float* w) {
    float a = 0.f;
#pragma unroll
    for (int ky = 0; ky < 3; ky++)
#pragma unroll
        for (int kx = 0; kx < 3; kx++) a += w[8 - ky * 3 - kx] * s[(r + ky) * side + c + kx];
    return a;
}

template <typename X>
__device__ __forceinline__ void taps(const X* w, int c, float (&out)[9]) {
#pragma unroll
    for (int i = 0; i < 9; i++) out[i] = load(w, (long) c * 9 + i);
}

// ---------------------------------------------------------------- forward

// Grid (C, splits). part[(split*C + c)*2 + {0,1}] = sum and sum of squares of u over this split's planes.
template <typename X>
__device__ void stats(const X* __restrict__ t, const X* __restrict__ dw, const X* __restrict__ db, double* part,
                      int B, int C, int H, int W) {
    __shared__ float s[(T + 2) * (T + 2)];
    __shared__ double red[WARPS * 2];
    const int c = blockIdx.x, split = blockIdx.y, splits = gridDim.y;
    float w[9];
    taps(dw, c, w);
    const float bias = load(db, c);
    const int py = threadIdx.x / T, px = threadIdx.x % T, tx = (W + T - 1) / T, ty = (H + T - 1) / T;
    double acc[2] = {0, 0};
    for (int b = split; b < B; b += splits) {
        const X* plane = t + ((long) b * C + c) * H * W;
        for (int tile = 0; tile < tx * ty; tile++) {
            const int y0 = (tile / tx) * T, x0 = (tile % tx) * T;
            __syncthreads();
            stage(plane, s, H, W, y0, x0, 1);
            __syncthreads();
            if (y0 + py < H && x0 + px < W) {
                const float u = bias + conv3(s, T + 2, py, px, w);
                acc[0] += u;
                acc[1] += (double) u * u;
            }
        }
    }
    double tot[2];
    block_sum(acc, red, tot);
    if (threadIdx.x == 0) {
        part[((long) split * C + c) * 2] = tot[0];
        part[((long) split * C + c) * 2 + 1] = tot[1];
    }
}

// mean, biased var and 1/sqrt(var + eps) per channel, in f32 whatever the storage.
__device__ void stats_finalize(const double* part, int splits, int C, int n, float eps, float* mean, float* var,
                               float* inv) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double s = 0, ss = 0;
    for (int p = 0; p < splits; p++) {
        s += part[((long) p * C + c) * 2];
        ss += part[((long) p * C + c) * 2 + 1];
    }
    const double m = s / n, v = fmax(0.0, ss / n - m * m);
    mean[c] = (float) m;
    var[c] = (float) v;
    inv[c] = (float) (1.0 / sqrt(v + eps));
}

// Grid (tiles x, tiles y, B); dynamic shared: WARPS*C floats. BatchNorm: gamma*(u - mean)*inv + beta.
template <typename X>
__device__ void gates(const X* __restrict__ t, const X* __restrict__ dw, const X* __restrict__ db,
                      const float* __restrict__ mean, const float* __restrict__ inv, const X* __restrict__ gamma,
                      const X* __restrict__ beta, const X* __restrict__ w1,
                      X* __restrict__ s_out, float* __restrict__ part, int C, int H, int W) {
    __shared__ float s[(T + 2) * (T + 2)];
    extern __shared__ float wred[];   // [WARPS][C]
    const int b = blockIdx.z, y0 = blockIdx.y * T, x0 = blockIdx.x * T;
    const int py = threadIdx.x / T, px = threadIdx.x % T, y = y0 + py, x = x0 + px;
    const bool in = y < H && x < W;
    float z = 0.f;
    for (int c = 0; c < C; c++) {
        const X* plane = t + ((long) b * C + c) * H * W;
        __syncthreads();
        stage(plane, s, H, W, y0, x0, 1);
        __syncthreads();
        float w[9];
        taps(dw, c, w);
        const float u = load(db, c) + conv3(s, T + 2, py, px, w);
        z += load(w1, c) * fmaxf(0.f, load(gamma, c) * (u - mean[c]) * inv[c] + load(beta, c));
    }
    const float g = sigmoidf(z);
    if (in) store(s_out, ((long) b * H + y) * W + x, g);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int c = 0; c < C; c++) {
        float val = in ? load(t, (((long) b * C + c) * H + y) * W + x) * g : 0.f;
        val = warp_sum(val);
        if (lane == 0) wred[warp * C + c] = val;
    }
    __syncthreads();
    const int tiles = gridDim.x * gridDim.y, tile = blockIdx.y * gridDim.x + blockIdx.x;
    for (int c = threadIdx.x; c < C; c += THREADS) {
        float sum = 0.f;
        for (int w = 0; w < WARPS; w++) sum += wred[w * C + c];
        part[((long) b * tiles + tile) * C + c] = sum;
    }
}

// Grid (B); dynamic shared: C floats. pooled = mean over tiles' sums; gate = sigmoid(Wc pooled).
template <typename X>
__device__ void channel_gate(const float* __restrict__ part, int tiles, const X* __restrict__ wc, X* pooled, X* gate,
                             int C, int HW) {
    extern __shared__ float m[];
    const int b = blockIdx.x;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float s = 0.f;
        for (int p = 0; p < tiles; p++) s += part[((long) b * tiles + p) * C + c];
        m[c] = s / HW;
        store(pooled, (long) b * C + c, m[c]);
    }
    __syncthreads();
    for (int co = threadIdx.x; co < C; co += blockDim.x) {
        float z = 0.f;
        for (int ci = 0; ci < C; ci++) z += load(wc, (long) co * C + ci) * m[ci];
        store(gate, (long) b * C + co, sigmoidf(z));
    }
}

// S = q*s_q*g_q + k*s_k*g_k at (b, c, y, x), zero outside the image.
template <typename X>
__device__ __forceinline__ float gated_sum(const X* q, const X* k, const X* sq, const X* sk, float gq, float gk,
                                           int b, int c, int C, int H, int W, int y, int x) {
    if (y < 0 || y >= H || x < 0 || x >= W) return 0.f;
    const long i = (((long) b * C + c) * H + y) * W + x, p = ((long) b * H + y) * W + x;
    return load(q, i) * load(sq, p) * gq + load(k, i) * load(sk, p) * gk;
}

// Grid (tiles x, tiles y, B*C).
template <typename X>
__device__ void fwd(const X* __restrict__ q, const X* __restrict__ k, const X* __restrict__ v, const X* __restrict__ sq,
                    const X* __restrict__ gq, const X* __restrict__ sk, const X* __restrict__ gk, const X* __restrict__ dw,
                    const X* __restrict__ db, X* __restrict__ out, int C, int H, int W) {
    __shared__ float s[(T + 2) * (T + 2)];
    const int bc = blockIdx.z, b = bc / C, c = bc % C, y0 = blockIdx.y * T, x0 = blockIdx.x * T;
    const float gQ = load(gq, bc), gK = load(gk, bc);
    for (int e = threadIdx.x; e < (T + 2) * (T + 2); e += THREADS) {
        const int r = e / (T + 2), cc = e % (T + 2);
        s[e] = gated_sum(q, k, sq, sk, gQ, gK, b, c, C, H, W, y0 - 1 + r, x0 - 1 + cc);
    }
    __syncthreads();
    const int py = threadIdx.x / T, px = threadIdx.x % T, y = y0 + py, x = x0 + px;
    if (y >= H || x >= W) return;
    float w[9];
    taps(dw, c, w);
    const long i = ((long) bc * H + y) * W + x;
    store(out, i, (load(db, c) + conv3(s, T + 2, py, px, w)) * load(v, i));
}

// ---------------------------------------------------------------- backward

// Grid (tiles x, tiles y, B*C). part[(bc*tiles + tile)*12 + e]: 9 dwc taps, dwc bias, dg_q, dg_k.
template <typename X>
__device__ void bwd_dwc(const X* __restrict__ q, const X* __restrict__ k, const X* __restrict__ v, const X* __restrict__ sq,
                        const X* __restrict__ gq, const X* __restrict__ sk, const X* __restrict__ gk, const X* __restrict__ dw,
                        const X* __restrict__ db, const X* __restrict__ gout, X* __restrict__ dv, X* __restrict__ dS,
                        float* __restrict__ part, int C, int H, int W) {
    __shared__ float s[(T + 2) * (T + 2)], d[(T + 2) * (T + 2)];
    __shared__ float red[WARPS * 12];
    const int bc = blockIdx.z, b = bc / C, c = bc % C, y0 = blockIdx.y * T, x0 = blockIdx.x * T;
    const float gQ = load(gq, bc), gK = load(gk, bc);
    for (int e = threadIdx.x; e < (T + 2) * (T + 2); e += THREADS) {
        const int r = e / (T + 2), cc = e % (T + 2), y = y0 - 1 + r, x = x0 - 1 + cc;
        s[e] = gated_sum(q, k, sq, sk, gQ, gK, b, c, C, H, W, y, x);
        const bool in = y >= 0 && y < H && x >= 0 && x < W;
        const long i = ((long) bc * H + y) * W + x;
        d[e] = in ? load(gout, i) * load(v, i) : 0.f;   // dD = gout * v
    }
    __syncthreads();
    const int py = threadIdx.x / T, px = threadIdx.x % T, y = y0 + py, x = x0 + px;
    float acc[12];
#pragma unroll
    for (int e = 0; e < 12; e++) acc[e] = 0.f;
    if (y < H && x < W) {
        float w[9];
        taps(dw, c, w);
        const long i = ((long) bc * H + y) * W + x, p = ((long) b * H + y) * W + x;
        store(dv, i, load(gout, i) * (load(db, c) + conv3(s, T + 2, py, px, w)));
        const float ds = conv3t(d, T + 2, py, px, w);
        store(dS, i, ds);
        const float dd = d[(py + 1) * (T + 2) + px + 1];
#pragma unroll
        for (int ky = 0; ky < 3; ky++)
#pragma unroll
            for (int kx = 0; kx < 3; kx++) acc[ky * 3 + kx] = dd * s[(py + ky) * (T + 2) + px + kx];
        acc[9] = dd;
        acc[10] = ds * load(q, i) * load(sq, p);
        acc[11] = ds * load(k, i) * load(sk, p);
    }
    float tot[12];
    block_sum(acc, red, tot);
    if (threadIdx.x == 0) {
        const long at = ((long) bc * gridDim.x * gridDim.y + blockIdx.y * gridDim.x + blockIdx.x) * 12;
#pragma unroll
        for (int e = 0; e < 12; e++) part[at + e] = tot[e];
    }
}

// Sums per-tile partials [B*C][tiles][width]: entries 0..8 over (b, tile) into dw[c, 9], entry 9 into db[c];
// with dg0/dg1 non-null, entries 10 and 11 over tiles into dg0/dg1[b, c]. Grid over max(C, B*C) threads.
template <typename X>
__device__ void reduce_partials(const float* __restrict__ part, int B, int C, int tiles, int width, X* dw, X* db,
                                float* dg0, float* dg1) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < C) {
        float a[10];
        for (int e = 0; e < 10; e++) a[e] = 0.f;
        for (int b = 0; b < B; b++)
            for (int p = 0; p < tiles; p++) {
                const float* src = part + (((long) b * C + i) * tiles + p) * width;
                for (int e = 0; e < 10; e++) a[e] += src[e];
            }
        for (int e = 0; e < 9; e++) store(dw, (long) i * 9 + e, a[e]);
        store(db, i, a[9]);
    }
    if (dg0 && i < B * C) {
        float a0 = 0.f, a1 = 0.f;
        for (int p = 0; p < tiles; p++) {
            a0 += part[((long) i * tiles + p) * width + 10];
            a1 += part[((long) i * tiles + p) * width + 11];
        }
        dg0[i] = a0;
        dg1[i] = a1;
    }
}

// dpre = dg*g(1-g); dWc[co,ci] = sum_b dpre[b,co] pooled[b,ci]; dm[b,ci] = sum_co Wc[co,ci] dpre[b,co].
template <typename X>
__device__ void bwd_channel_gate(const float* __restrict__ dg, const X* __restrict__ gate, const X* __restrict__ pooled,
                                 const X* __restrict__ wc, X* dwc, float* dm, int B, int C) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < C * C) {
        const int co = i / C, ci = i % C;
        float a = 0.f;
        for (int b = 0; b < B; b++) {
            const float g = load(gate, (long) b * C + co);
            a += dg[b * C + co] * g * (1.f - g) * load(pooled, (long) b * C + ci);
        }
        store(dwc, i, a);
    }
    if (i < B * C) {
        const int b = i / C, ci = i % C;
        float a = 0.f;
        for (int co = 0; co < C; co++) {
            const float g = load(gate, (long) b * C + co);
            a += load(wc, (long) co * C + ci) * dg[b * C + co] * g * (1.f - g);
        }
        dm[i] = a;
    }
}

// One thread per pixel of [B,H,W]: dz = s(1-s) * sum_c t_c (dS_c g_c + dm_c/HW), for both gates.
template <typename X>
__device__ void bwd_spatial(const X* __restrict__ q, const X* __restrict__ k, const X* __restrict__ dS,
                            const X* __restrict__ sq, const X* __restrict__ gq, const float* __restrict__ dmq,
                            const X* __restrict__ sk, const X* __restrict__ gk, const float* __restrict__ dmk,
                            float* __restrict__ dzq, float* __restrict__ dzk, int B, int C, int HW) {
    const long i = (long) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long) B * HW) return;
    const int b = (int) (i / HW), p = (int) (i % HW);
    float aq = 0.f, ak = 0.f;
    for (int c = 0; c < C; c++) {
        const long at = ((long) b * C + c) * HW + p;
        const float ds = load(dS, at);
        aq += load(q, at) * (ds * load(gq, (long) b * C + c) + dmq[b * C + c] / HW);
        ak += load(k, at) * (ds * load(gk, (long) b * C + c) + dmk[b * C + c] / HW);
    }
    const float s0 = load(sq, i), s1 = load(sk, i);
    dzq[i] = aq * s0 * (1.f - s0);
    dzk[i] = ak * s1 * (1.f - s1);
}

// Grid (C, splits): part[(split*C + c)*3 + {0,1,2}] = sums of da, da*uhat and dz*relu(a') (a' = gamma*uhat + beta).
template <typename X>
__device__ void bwd_bn_stats(const X* __restrict__ t, const X* __restrict__ dw, const X* __restrict__ db,
                             const float* __restrict__ mean, const float* __restrict__ inv, const X* __restrict__ gamma,
                             const X* __restrict__ beta, const X* __restrict__ w1, const float* __restrict__ dz,
                             double* part, int B, int C, int H, int W) {
    __shared__ float s[(T + 2) * (T + 2)];
    __shared__ double red[WARPS * 3];
    const int c = blockIdx.x, split = blockIdx.y, splits = gridDim.y;
    float w[9];
    taps(dw, c, w);
    const float bias = load(db, c), m = mean[c], iv = inv[c], ga = load(gamma, c), be = load(beta, c), wv = load(w1, c);
    const int py = threadIdx.x / T, px = threadIdx.x % T, tx = (W + T - 1) / T, ty = (H + T - 1) / T;
    double acc[3] = {0, 0, 0};
    for (int b = split; b < B; b += splits) {
        const X* plane = t + ((long) b * C + c) * H * W;
        for (int tile = 0; tile < tx * ty; tile++) {
            const int y0 = (tile / tx) * T, x0 = (tile % tx) * T;
            __syncthreads();
            stage(plane, s, H, W, y0, x0, 1);
            __syncthreads();
            if (y0 + py < H && x0 + px < W) {
                const float uh = (bias + conv3(s, T + 2, py, px, w) - m) * iv, a = ga * uh + be;
                if (a > 0) {
                    const float g = dz[((long) b * H + y0 + py) * W + x0 + px];
                    acc[0] += g * wv;
                    acc[1] += (double) g * wv * uh;
                    acc[2] += (double) g * a;
                }
            }
        }
    }
    double tot[3];
    block_sum(acc, red, tot);
    if (threadIdx.x == 0)
        for (int e = 0; e < 3; e++) part[((long) split * C + c) * 3 + e] = tot[e];
}

// Per channel: dgamma, dbeta, dw1 and, with batch statistics, the means of da and da*uhat the input gradient needs.
template <typename X>
__device__ void bwd_bn_finalize(const double* part, int splits, int C, int n, int batch_stats, X* dgamma, X* dbeta,
                                X* dw1, float* mean_da, float* mean_dau) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double a[3] = {0, 0, 0};
    for (int p = 0; p < splits; p++)
        for (int e = 0; e < 3; e++) a[e] += part[((long) p * C + c) * 3 + e];
    store(dbeta, c, (float) a[0]);
    store(dgamma, c, (float) a[1]);
    store(dw1, c, (float) a[2]);
    mean_da[c] = batch_stats ? (float) (a[0] / n) : 0.f;
    mean_dau[c] = batch_stats ? (float) (a[1] / n) : 0.f;
}

// Grid (tiles x, tiles y, B*C). du on the tile plus a 1-pixel halo (from t on a 2-pixel halo), then
// dt = dwconv^T(du) + (dS*g + dm/HW)*s; part[(bc*tiles + tile)*10 + e]: 9 dw taps and the bias.
template <typename X>
__device__ void bwd_input(const X* __restrict__ t, const X* __restrict__ dw, const X* __restrict__ db,
                          const float* __restrict__ mean, const float* __restrict__ inv, const X* __restrict__ gamma,
                          const X* __restrict__ beta, const X* __restrict__ w1, const float* __restrict__ dz,
                          const float* __restrict__ mean_da, const float* __restrict__ mean_dau, const X* __restrict__ dS,
                          const X* __restrict__ sp, const X* __restrict__ gate, const float* __restrict__ dm,
                          X* __restrict__ dt, float* __restrict__ part, int C, int H, int W) {
    __shared__ float ts[(T + 4) * (T + 4)], du[(T + 2) * (T + 2)];
    __shared__ float red[WARPS * 10];
    const int bc = blockIdx.z, b = bc / C, c = bc % C, y0 = blockIdx.y * T, x0 = blockIdx.x * T;
    stage(t + (long) bc * H * W, ts, H, W, y0, x0, 2);
    __syncthreads();
    float w[9];
    taps(dw, c, w);
    const float bias = load(db, c), m = mean[c], iv = inv[c], ga = load(gamma, c), be = load(beta, c), wv = load(w1, c);
    const float mda = mean_da[c], mdau = mean_dau[c];
    for (int e = threadIdx.x; e < (T + 2) * (T + 2); e += THREADS) {
        const int r = e / (T + 2), cc = e % (T + 2), y = y0 - 1 + r, x = x0 - 1 + cc;
        float g = 0.f;
        if (y >= 0 && y < H && x >= 0 && x < W) {
            const float uh = (bias + conv3(ts, T + 4, r, cc, w) - m) * iv, a = ga * uh + be;
            const float da = a > 0 ? dz[((long) b * H + y) * W + x] * wv : 0.f;
            g = ga * iv * (da - mda - uh * mdau);
        }
        du[e] = g;
    }
    __syncthreads();
    const int py = threadIdx.x / T, px = threadIdx.x % T, y = y0 + py, x = x0 + px;
    float acc[10];
#pragma unroll
    for (int e = 0; e < 10; e++) acc[e] = 0.f;
    if (y < H && x < W) {
        const long i = ((long) bc * H + y) * W + x;
        const float s = load(sp, ((long) b * H + y) * W + x);
        const float dx = load(dS, i) * load(gate, bc) + dm[bc] / (H * W);
        store(dt, i, conv3t(du, T + 2, py, px, w) + dx * s);
        const float g = du[(py + 1) * (T + 2) + px + 1];
#pragma unroll
        for (int ky = 0; ky < 3; ky++)
#pragma unroll
            for (int kx = 0; kx < 3; kx++) acc[ky * 3 + kx] = g * ts[(py + 1 + ky) * (T + 4) + px + 1 + kx];
        acc[9] = g;
    }
    float tot[10];
    block_sum(acc, red, tot);
    if (threadIdx.x == 0) {
        const long at = ((long) bc * gridDim.x * gridDim.y + blockIdx.y * gridDim.x + blockIdx.x) * 10;
#pragma unroll
        for (int e = 0; e < 10; e++) part[at + e] = tot[e];
    }
}

}  // namespace lumen_catm

#define LUMEN_CATM_ENTRIES(SUFFIX, X)                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_stats_##SUFFIX(const X* t, const X* dw, const X* db,          \
                                                                          double* part, int B, int C, int H, int W) {    \
        lumen_catm::stats<X>(t, dw, db, part, B, C, H, W);                                                             \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_gates_##SUFFIX(                                             \
        const X* t, const X* dw, const X* db, const float* mean, const float* inv, const X* gamma, const X* beta,       \
        const X* w1, X* s_out, float* part, int C, int H, int W) {                                                     \
        lumen_catm::gates<X>(t, dw, db, mean, inv, gamma, beta, w1, s_out, part, C, H, W);                             \
    }                                                                                                                  \
    extern "C" __global__ void catm_channel_gate_##SUFFIX(const float* part, int tiles, const X* wc, X* pooled, X* gate, \
                                                          int C, int HW) {                                             \
        lumen_catm::channel_gate<X>(part, tiles, wc, pooled, gate, C, HW);                                             \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_fwd_##SUFFIX(                                               \
        const X* q, const X* k, const X* v, const X* sq, const X* gq, const X* sk, const X* gk, const X* dw,            \
        const X* db, X* out, int C, int H, int W) {                                                                    \
        lumen_catm::fwd<X>(q, k, v, sq, gq, sk, gk, dw, db, out, C, H, W);                                             \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_bwd_dwc_##SUFFIX(                                           \
        const X* q, const X* k, const X* v, const X* sq, const X* gq, const X* sk, const X* gk, const X* dw,            \
        const X* db, const X* gout, X* dv, X* dS, float* part, int C, int H, int W) {                                  \
        lumen_catm::bwd_dwc<X>(q, k, v, sq, gq, sk, gk, dw, db, gout, dv, dS, part, C, H, W);                          \
    }                                                                                                                  \
    extern "C" __global__ void catm_bwd_reduce_##SUFFIX(const float* part, int B, int C, int tiles, int width, X* dw,   \
                                                        X* db, float* dg0, float* dg1) {                               \
        lumen_catm::reduce_partials<X>(part, B, C, tiles, width, dw, db, dg0, dg1);                                    \
    }                                                                                                                  \
    extern "C" __global__ void catm_bwd_channel_gate_##SUFFIX(const float* dg, const X* gate, const X* pooled,          \
                                                              const X* wc, X* dwc, float* dm, int B, int C) {          \
        lumen_catm::bwd_channel_gate<X>(dg, gate, pooled, wc, dwc, dm, B, C);                                          \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_bwd_spatial_##SUFFIX(                                       \
        const X* q, const X* k, const X* dS, const X* sq, const X* gq, const float* dmq, const X* sk, const X* gk,      \
        const float* dmk, float* dzq, float* dzk, int B, int C, int HW) {                                              \
        lumen_catm::bwd_spatial<X>(q, k, dS, sq, gq, dmq, sk, gk, dmk, dzq, dzk, B, C, HW);                            \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_bwd_bn_stats_##SUFFIX(                                      \
        const X* t, const X* dw, const X* db, const float* mean, const float* inv, const X* gamma, const X* beta,       \
        const X* w1, const float* dz, double* part, int B, int C, int H, int W) {                                      \
        lumen_catm::bwd_bn_stats<X>(t, dw, db, mean, inv, gamma, beta, w1, dz, part, B, C, H, W);                      \
    }                                                                                                                  \
    extern "C" __global__ void catm_bwd_bn_finalize_##SUFFIX(const double* part, int splits, int C, int n,             \
                                                             int batch_stats, X* dgamma, X* dbeta, X* dw1,             \
                                                             float* mean_da, float* mean_dau) {                        \
        lumen_catm::bwd_bn_finalize<X>(part, splits, C, n, batch_stats, dgamma, dbeta, dw1, mean_da, mean_dau);        \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_bwd_input_##SUFFIX(                                         \
        const X* t, const X* dw, const X* db, const float* mean, const float* inv, const X* gamma, const X* beta,       \
        const X* w1, const float* dz, const float* mean_da, const float* mean_dau, const X* dS, const X* sp,           \
        const X* gate, const float* dm, X* dt, float* part, int C, int H, int W) {                                     \
        lumen_catm::bwd_input<X>(t, dw, db, mean, inv, gamma, beta, w1, dz, mean_da, mean_dau, dS, sp, gate, dm, dt,   \
                                 part, C, H, W);                                                                       \
    }

extern "C" __global__ void catm_stats_finalize_f32(const double* part, int splits, int C, int n, float eps,
                                                   float* mean, float* var, float* inv) {
    lumen_catm::stats_finalize(part, splits, C, n, eps, mean, var, inv);
}

LUMEN_CATM_ENTRIES(f32, float)
LUMEN_CATM_ENTRIES(f16, __half)
