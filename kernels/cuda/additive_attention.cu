// Additive token mixer core (CAS-ViT): out = dwc(Phi_q(q) + Phi_k(k)) * v with
// Phi(t) = x * g, x = t * s, s = sigmoid(w1 . relu(bn(dwconv3x3(t)))) [B,H,W], g = sigmoid(Wc mean_hw(x)) [B,C].
// NCHW of one storage type X (f32, f64, f16, bf16); the math runs in A = lumen::Acc<X> (double for
// f64, float otherwise), and so do the scratch buffers (dS, partial sums, dg, dm, dz).
//
// Where the passes split: BatchNorm needs batch sums of u = dwconv(t) (catm_stats, training only),
// the spatial gate needs all channels of a pixel and the channel gate needs all pixels of a
// channel. So the forward is: catm_stats (+finalize) -> catm_gates (s, per-tile channel sums)
// -> catm_channel_gate ([B,C], tiny) -> catm_fwd (both gates, the sum, dwc and * v in one pass;
// nothing intermediate is written).
// Backward: catm_bwd_dwc (dv, dS = dPhi, partial sums for dwc's weights and for dg) -> reduce ->
// catm_bwd_channel_gate -> catm_bwd_spatial (dz per pixel, across channels) -> per gate
// catm_bwd_bn_stats (+finalize: the BatchNorm sums) -> catm_bwd_input (dt via du on a 1-pixel
// halo, dw conv weight partials) -> reduce.
//
// Why the plane passes sit at their memory floor: each reads its planes once and does about 9-30
// FMAs per pixel, so DRAM binds, provided the per-pixel overhead is small. A thread therefore walks
// a vertical strip of pixels (StripOf): its block decode (a few divisions) happens once, and the
// 3x3 neighbourhood slides down the strip in registers, one new row (3 or 5 loads, coalesced
// across the warp's consecutive columns) per output pixel. No shared memory, no index division in
// the row loop. catm_gates, which needs all channels of a pixel and then all pixels of a channel,
// stages its tile's channels in shared memory once and reads them twice from there.
//
// Every cross-block sum is deterministic: a thread sums its strip in order, the block reduces
// with a fixed tree (shuffles, then warp 0 over the warps' sums) into its own slot, laid out
// channel-major ([c][b][box]) so that a channel's slots are contiguous; a second kernel gives each
// channel one block, whose threads walk the slots at a fixed stride and meet in the same tree. No
// float atomics. The slots are a few bytes per block (at 56x56 one block per plane), so the
// reductions cost launches, not bandwidth.
//
// Plane kernels take a 1-D grid of boxes * planes blocks, so B*C planes never meet the 65535
// limit of grid y and z; the launcher checks x against 2^31-1.
#include "lumen_tensor.cuh"

namespace lumen_catm {

constexpr int THREADS = 256;      // the most threads of any block; the slot reductions' block
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
// 0 over the block's warp sums (blockDim.x is a multiple of 32, at most THREADS); red has WARPS*N
// slots. Thread 0 gets the totals in out.
template <typename A, int N>
__device__ void block_sum(A (&v)[N], A* red, A (&out)[N]) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
#pragma unroll
    for (int e = 0; e < N; e++) {
        A s = warp_sum(v[e]);
        if (lane == 0) red[warp * N + e] = s;
    }
    __syncthreads();
    if (warp == 0) {
#pragma unroll
        for (int e = 0; e < N; e++) out[e] = warp_sum(lane < warps ? red[lane * N + e] : A(0));
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

// The slot of box `box` of plane (b, c) in a channel-major partial buffer.
__device__ __forceinline__ long slot(int b, int c, int B, int boxes, int box) { return ((long) c * B + b) * boxes + box; }

// A thread's strip in a plane kernel (AdditiveAttentionCuda.Strips): block blockIdx.x owns box
// `box` of plane `plane`, sw columns by sh strips of `rows` rows; thread (threadIdx.x % sw,
// threadIdx.x / sw) walks column x over rows y .. ye-1. Threads past sw*sh or past the map are
// not live but still take part in the block's tree.
struct StripOf {
    int plane, box, boxes, x, y, ye;
    bool live;
    __device__ StripOf(int H, int W, int sw, int sh, int rows) {
        const int bx = (W + sw - 1) / sw, band = sh * rows;
        boxes = bx * ((H + band - 1) / band);
        plane = blockIdx.x / boxes;
        box = blockIdx.x - plane * boxes;
        const int by = box / bx, ty = threadIdx.x / sw;
        x = (box - by * bx) * sw + (threadIdx.x - ty * sw);
        y = by * band + ty * rows;
        ye = min(y + rows, H);
        live = ty < sh && x < W && y < H;
    }
};

// Row yy of plane p at columns x-N/2 .. x+N/2, zero outside the image; inside: yy is known to be in it.
template <int N, typename X, typename A>
__device__ __forceinline__ void load_row(const X* __restrict__ p, int yy, int x, int H, int W, A (&out)[N],
                                         bool inside = false) {
    const bool row = inside || (yy >= 0 && yy < H);
#pragma unroll
    for (int j = 0; j < N; j++) {
        const int xx = x - N / 2 + j;
        out[j] = row && xx >= 0 && xx < W ? load(p, yy * W + xx) : A(0);
    }
}

// Runs step(y, inside) for the rows y0 .. ye-1 of a strip; inside: the rows step reads below y (up to
// y + Reach) lie in the image. Those rows run in a loop unrolled by 3 without the row tests (three
// trips bring a sliding window's registers back in place, so the loop needs no register moves); the
// strip's rows among the image's last Reach run after it, with the tests.
template <int Reach, int Unroll = 3, typename F>
__device__ __forceinline__ void walk(int y0, int ye, int H, F&& step) {
    const int inner = min(ye, H - Reach);
    int y = y0;
#pragma unroll Unroll
    for (; y < inner; y++) step(y, true);
#pragma unroll 1
    for (; y < ye; y++) step(y, false);
}

// The window moves down one row: row 2 becomes free for the next load.
template <int N, typename A>
__device__ __forceinline__ void slide(A (&w)[3][N]) {
#pragma unroll
    for (int j = 0; j < N; j++) {
        w[0][j] = w[1][j];
        w[1][j] = w[2][j];
    }
}

// 3x3 conv (cross-correlation, as PyTorch) of rows r0..r2 at columns j..j+2.
template <typename A, int N>
__device__ __forceinline__ A conv3(const A (&r0)[N], const A (&r1)[N], const A (&r2)[N], int j, const A (&w)[9]) {
    A a = 0;
#pragma unroll
    for (int kx = 0; kx < 3; kx++) a += w[kx] * r0[j + kx];
#pragma unroll
    for (int kx = 0; kx < 3; kx++) a += w[3 + kx] * r1[j + kx];
#pragma unroll
    for (int kx = 0; kx < 3; kx++) a += w[6 + kx] * r2[j + kx];
    return a;
}

template <typename A, int N>
__device__ __forceinline__ A conv3(const A (&win)[3][N], const A (&w)[9]) { return conv3(win[0], win[1], win[2], N / 2 - 1, w); }

// The transposed 3x3 conv (flipped filter): the gradient of conv3 with respect to its input.
template <typename A>
__device__ __forceinline__ A conv3t(const A (&win)[3][3], const A (&w)[9]) {
    A a = 0;
#pragma unroll
    for (int ky = 0; ky < 3; ky++)
#pragma unroll
        for (int kx = 0; kx < 3; kx++) a += w[8 - ky * 3 - kx] * win[ky][kx];
    return a;
}

template <typename X, typename A>
__device__ __forceinline__ void taps(const X* w, int c, A (&out)[9]) {
#pragma unroll
    for (int i = 0; i < 9; i++) out[i] = load(w, (long) c * 9 + i);
}

// ---------------------------------------------------------------- forward

// Grid boxes * B*C, strips: part[slot*2 + {0,1}] = sum and sum of squares of u over the block's
// box, in double. Bound by the one read of t: per pixel 3 loads and 9 FMAs.
template <typename X>
__device__ void stats(const X* __restrict__ t, const X* __restrict__ dw, const X* __restrict__ db, double* part,
                      int B, int C, int H, int W, int sw, int sh, int rows) {
    using A = AccOf<X>;
    __shared__ double red[WARPS * 2];
    const StripOf st(H, W, sw, sh, rows);
    const int b = st.plane / C, c = st.plane - b * C;
    double acc[2] = {0, 0};
    if (st.live) {
        const X* p = t + (long) st.plane * H * W;
        A w[9], win[3][3];
        taps(dw, c, w);
        const A bias = load(db, c);
        load_row(p, st.y - 1, st.x, H, W, win[0]);
        load_row(p, st.y, st.x, H, W, win[1]);
        walk<1>(st.y, st.ye, H, [&](int y, bool inside) {
            load_row(p, y + 1, st.x, H, W, win[2], inside);
            const A u = bias + conv3(win, w);
            acc[0] += u;
            acc[1] += (double) u * u;
            slide(win);
        });
    }
    double tot[2];
    block_sum(acc, red, tot);
    if (threadIdx.x == 0) {
        const long at = slot(b, c, B, st.boxes, st.box) * 2;
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

// Grid ceil(C/128) x 128: a gate's per-channel constants for catm_gates, coef[c*12 + e]: the 9 taps,
// then BatchNorm folded onto the conv's sum: bn(conv + bias) = conv*scale + shift with scale =
// gamma*inv, shift = (bias - mean)*scale + beta; then w1. Three 16-byte loads per channel instead
// of 15 scalar ones in the gates' channel loop.
constexpr int COEFS = 12;

template <typename X>
__device__ void gate_coefs(const X* __restrict__ dw, const X* __restrict__ db, const X* __restrict__ mean,
                           const X* __restrict__ inv, const X* __restrict__ gamma, const X* __restrict__ beta,
                           const X* __restrict__ w1, AccOf<X>* __restrict__ coef, int C) {
    using A = AccOf<X>;
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    A* o = coef + (long) c * COEFS;
    A w[9];
    taps(dw, c, w);
#pragma unroll
    for (int i = 0; i < 9; i++) o[i] = w[i];
    const A scale = load(gamma, c) * load(inv, c);
    o[9] = scale;
    o[10] = (load(db, c) - load(mean, c)) * scale + load(beta, c);
    o[11] = load(w1, c);
}

// One channel's 12 coefficients in 16-byte loads (coef is 256-byte aligned, 48 or 96 bytes per channel).
__device__ __forceinline__ void load_coefs(const float* p, float (&o)[COEFS]) {
#pragma unroll
    for (int i = 0; i < COEFS / 4; i++) {
        const float4 v = reinterpret_cast<const float4*>(p)[i];
        o[4 * i] = v.x;
        o[4 * i + 1] = v.y;
        o[4 * i + 2] = v.z;
        o[4 * i + 3] = v.w;
    }
}
__device__ __forceinline__ void load_coefs(const double* p, double (&o)[COEFS]) {
#pragma unroll
    for (int i = 0; i < COEFS / 2; i++) {
        const double2 v = reinterpret_cast<const double2*>(p)[i];
        o[2 * i] = v.x;
        o[2 * i + 1] = v.y;
    }
}

// Grid tiles * B; one thread per staged cell of a gh x gw tile of one image and its 1-pixel halo
// ((gh+2)*(gw+2), rounded up to a warp), the first gh*gw also one per pixel; dynamic shared: that
// window for every channel ([C][gh+2][gw+2]) and the tile's gates [gh*gw]. The spatial gate needs
// every channel of a pixel and the channel sums every pixel of a channel, so t is staged once and
// read twice from shared memory: thread = pixel over the channels (the next channel's window staged,
// coalesced, while this one is convolved: one load and store, 9 shared loads, 3 coefficient loads,
// 11 FMAs and a barrier per channel), then warp = channel over the tile's pixels. DRAM reads t once
// (plus the halo rows and columns of neighbouring tiles).
template <typename X>
__device__ void gates(const X* __restrict__ t, const AccOf<X>* __restrict__ coef, X* __restrict__ s_out,
                      AccOf<X>* __restrict__ part, int C, int H, int W, int gh, int gw) {
    using A = AccOf<X>;
    extern __shared__ double catm_gates_smem[];
    const int SW = gw + 2, SA = (gh + 2) * SW, P = gh * gw, HW = H * W;
    A* tile_t = reinterpret_cast<A*>(catm_gates_smem);   // [C][gh+2][gw+2]
    A* tile_s = tile_t + (long) C * SA;                    // [P]
    const int tx = (W + gw - 1) / gw, tiles = tx * ((H + gh - 1) / gh);
    const int b = blockIdx.x / tiles, tile = blockIdx.x - b * tiles;
    const int y0 = (tile / tx) * gh, x0 = (tile - (tile / tx) * tx) * gw;
    // this thread's staged cell and the pixel it copies (nullptr: outside the image, staged as 0)
    const int e = threadIdx.x, er = e / SW, yy = y0 - 1 + er, xx = x0 - 1 + e - er * SW;
    const bool stager = e < SA;
    const X* src = stager && yy >= 0 && yy < H && xx >= 0 && xx < W ? t + (long) b * C * HW + yy * W + xx : nullptr;
    auto stage = [&](int c) {
        if (stager) tile_t[c * SA + e] = src != nullptr ? load(src, (long) c * HW) : A(0);
    };
    const int py = threadIdx.x / gw, px = threadIdx.x - py * gw, y = y0 + py, x = x0 + px;
    const bool pixel = (int) threadIdx.x < P;
    const A* s = tile_t + py * SW + px;
    A z = 0;
    stage(0);
    __syncthreads();
#pragma unroll 1
    for (int c = 0; c < C; c++, s += SA) {
        if (c + 1 < C) stage(c + 1);   // read after the barrier below
        if (pixel) {
            A k[COEFS];
            load_coefs(coef + (long) c * COEFS, k);
            A cv = 0;
#pragma unroll
            for (int ky = 0; ky < 3; ky++)
#pragma unroll
                for (int kx = 0; kx < 3; kx++) cv += k[ky * 3 + kx] * s[ky * SW + kx];
            z += k[11] * relu(cv * k[9] + k[10]);
        }
        __syncthreads();
    }
    if (pixel) {
        const bool in = y < H && x < W;
        const A g = sigmoid(z);
        if (in) store(s_out, (long) b * HW + y * W + x, g);
        tile_s[threadIdx.x] = in ? g : A(0);
    }
    __syncthreads();
    // warp w sums channels w, w + warps, ...; lane l the tile's pixels l, l + 32, ... (P <= 256)
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    int off[8];
    A gv[8];
#pragma unroll
    for (int j = 0; j < 8; j++) {
        const int p = lane + 32 * j, r = p / gw;
        off[j] = p < P ? (r + 1) * SW + p - r * gw + 1 : -1;
        gv[j] = p < P ? tile_s[p] : A(0);
    }
    for (int c = warp; c < C; c += warps) {
        const A* s = tile_t + (long) c * SA;
        A sum = 0;
#pragma unroll
        for (int j = 0; j < 8; j++)
            if (off[j] >= 0) sum += s[off[j]] * gv[j];
        sum = warp_sum(sum);
        if (lane == 0) part[((long) b * tiles + tile) * C + c] = sum;
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

// The gated sum S = q*s_q*g_q + k*s_k*g_k of row yy at columns x-1..x+1 (zero outside the image), q
// and k planes of one (b, c), s_q and s_k planes of image b. centre: q*s_q and k*s_k at column x.
template <typename X, typename A>
__device__ __forceinline__ void gated_row(const X* __restrict__ q, const X* __restrict__ k, const X* __restrict__ sq,
                                          const X* __restrict__ sk, A gq, A gk, int yy, int x, int H, int W, A (&out)[3],
                                          A& qs_centre, A& ks_centre, bool inside = false) {
    const bool row = inside || (yy >= 0 && yy < H);
    qs_centre = ks_centre = 0;
#pragma unroll
    for (int j = 0; j < 3; j++) {
        const int xx = x - 1 + j;
        out[j] = 0;
        if (row && xx >= 0 && xx < W) {
            const int o = yy * W + xx;
            const A qs = load(q, o) * load(sq, o), ks = load(k, o) * load(sk, o);
            out[j] = qs * gq + ks * gk;
            if (j == 1) {
                qs_centre = qs;
                ks_centre = ks;
            }
        }
    }
}

// dD = gout * v of row yy at columns x-1..x+1 (zero outside the image); centre: gout at column x.
template <typename X, typename A>
__device__ __forceinline__ void product_row(const X* __restrict__ gout, const X* __restrict__ v, int yy, int x, int H, int W,
                                            A (&out)[3], A& gout_centre, bool inside = false) {
    const bool row = inside || (yy >= 0 && yy < H);
    gout_centre = 0;
#pragma unroll
    for (int j = 0; j < 3; j++) {
        const int xx = x - 1 + j;
        out[j] = 0;
        if (row && xx >= 0 && xx < W) {
            const A g = load(gout, yy * W + xx);
            out[j] = g * load(v, yy * W + xx);
            if (j == 1) gout_centre = g;
        }
    }
}

// Grid boxes * B*C, strips. Bound by its plane traffic (q, k, v in, out; s_q, s_k from L2): per
// pixel one new row of S (12 loads) and 9 FMAs.
template <typename X>
__device__ void fwd(const X* __restrict__ q, const X* __restrict__ k, const X* __restrict__ v, const X* __restrict__ sq,
                    const X* __restrict__ gq, const X* __restrict__ sk, const X* __restrict__ gk, const X* __restrict__ dw,
                    const X* __restrict__ db, X* __restrict__ out, int C, int H, int W, int sw, int sh, int rows) {
    using A = AccOf<X>;
    const StripOf st(H, W, sw, sh, rows);
    if (!st.live) return;   // no block-wide step follows
    const int b = st.plane / C, c = st.plane - b * C;
    const long po = (long) st.plane * H * W, pp = (long) b * H * W;
    const X *qp = q + po, *kp = k + po, *sqp = sq + pp, *skp = sk + pp, *vp = v + po;
    X* op = out + po;
    const A gQ = load(gq, st.plane), gK = load(gk, st.plane);
    A w[9], win[3][3], qs, ks;
    taps(dw, c, w);
    const A bias = load(db, c);
    gated_row(qp, kp, sqp, skp, gQ, gK, st.y - 1, st.x, H, W, win[0], qs, ks);
    gated_row(qp, kp, sqp, skp, gQ, gK, st.y, st.x, H, W, win[1], qs, ks);
    walk<1>(st.y, st.ye, H, [&](int y, bool inside) {
        gated_row(qp, kp, sqp, skp, gQ, gK, y + 1, st.x, H, W, win[2], qs, ks, inside);
        const int i = y * W + st.x;
        store(op, i, (bias + conv3(win, w)) * load(vp, i));
        slide(win);
    });
}

// ---------------------------------------------------------------- backward

// Grid boxes * B*C, strips. part[slot*12 + e]: 9 dwc taps, dwc bias, dg_q, dg_k. Bound by its
// plane traffic (q, k, v, gout in; dv, dS out): per pixel one new row of S and of dD = gout*v (18
// loads), the conv, its transpose and the 9 tap products (27 FMAs).
template <typename X>
__device__ void bwd_dwc(const X* __restrict__ q, const X* __restrict__ k, const X* __restrict__ v, const X* __restrict__ sq,
                        const X* __restrict__ gq, const X* __restrict__ sk, const X* __restrict__ gk, const X* __restrict__ dw,
                        const X* __restrict__ db, const X* __restrict__ gout, X* __restrict__ dv, AccOf<X>* __restrict__ dS,
                        AccOf<X>* __restrict__ part, int B, int C, int H, int W, int sw, int sh, int rows) {
    using A = AccOf<X>;
    __shared__ A red[WARPS * 12];
    const StripOf st(H, W, sw, sh, rows);
    const int b = st.plane / C, c = st.plane - b * C;
    A acc[12];
#pragma unroll
    for (int e = 0; e < 12; e++) acc[e] = 0;
    if (st.live) {
        const long po = (long) st.plane * H * W, pp = (long) b * H * W;
        const X *qp = q + po, *kp = k + po, *sqp = sq + pp, *skp = sk + pp, *vp = v + po, *gp = gout + po;
        const A gQ = load(gq, st.plane), gK = load(gk, st.plane);
        A w[9], s[3][3], d[3][3], qs, ks;
        taps(dw, c, w);
        const A bias = load(db, c);
        gated_row(qp, kp, sqp, skp, gQ, gK, st.y - 1, st.x, H, W, s[0], qs, ks);
        gated_row(qp, kp, sqp, skp, gQ, gK, st.y, st.x, H, W, s[1], qs, ks);
        A go;
        product_row(gp, vp, st.y - 1, st.x, H, W, d[0], go);
        product_row(gp, vp, st.y, st.x, H, W, d[1], go);
        walk<1, 1>(st.y, st.ye, H, [&](int y, bool inside) {
            A qs_next, ks_next, go_next;
            gated_row(qp, kp, sqp, skp, gQ, gK, y + 1, st.x, H, W, s[2], qs_next, ks_next, inside);
            product_row(gp, vp, y + 1, st.x, H, W, d[2], go_next, inside);
            const int i = y * W + st.x;
            store(dv + po, i, go * (bias + conv3(s, w)));
            const A ds = conv3t(d, w);
            dS[po + i] = ds;
            const A dd = d[1][1];
#pragma unroll
            for (int ky = 0; ky < 3; ky++)
#pragma unroll
                for (int kx = 0; kx < 3; kx++) acc[ky * 3 + kx] += dd * s[ky][kx];
            acc[9] += dd;
            acc[10] += ds * qs;
            acc[11] += ds * ks;
            slide(s);
            slide(d);
            qs = qs_next;
            ks = ks_next;
            go = go_next;
        });
    }
    A tot[12];
    block_sum(acc, red, tot);
    if (threadIdx.x == 0) {
        const long at = slot(b, c, B, st.boxes, st.box) * 12;
#pragma unroll
        for (int e = 0; e < 12; e++) part[at + e] = tot[e];
    }
}

// Sums the box slots of bwd_dwc / bwd_input (width 12 or 10; tiles = boxes per plane). Blocks [0, C): channel c's entries
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

// Grid boxes * B*C, strips: part[slot*3 + {0,1,2}] = the block's sums of da, da*uhat and
// dz*relu(a') (a' = gamma*uhat + beta), in double. Bound by the read of t (and dz from L2): per
// pixel 3 loads of t, 1 of dz and 9 FMAs.
template <typename X>
__device__ void bwd_bn_stats(const X* __restrict__ t, const X* __restrict__ dw, const X* __restrict__ db,
                             const X* __restrict__ mean, const X* __restrict__ inv, const X* __restrict__ gamma,
                             const X* __restrict__ beta, const X* __restrict__ w1, const AccOf<X>* __restrict__ dz,
                             double* part, int B, int C, int H, int W, int sw, int sh, int rows) {
    using A = AccOf<X>;
    __shared__ double red[WARPS * 3];
    const StripOf st(H, W, sw, sh, rows);
    const int b = st.plane / C, c = st.plane - b * C;
    double acc[3] = {0, 0, 0};
    if (st.live) {
        const X* p = t + (long) st.plane * H * W;
        const AccOf<X>* dzp = dz + (long) b * H * W;
        A w[9], win[3][3];
        taps(dw, c, w);
        const A bias = load(db, c), m = load(mean, c), iv = load(inv, c), ga = load(gamma, c), be = load(beta, c),
                wv = load(w1, c);
        load_row(p, st.y - 1, st.x, H, W, win[0]);
        load_row(p, st.y, st.x, H, W, win[1]);
        walk<1>(st.y, st.ye, H, [&](int y, bool inside) {
            load_row(p, y + 1, st.x, H, W, win[2], inside);
            const A uh = (bias + conv3(win, w) - m) * iv;
            const A a = ga * uh + be;
            if (a > 0) {
                const A g = dzp[y * W + st.x];
                acc[0] += g * wv;
                acc[1] += (double) g * wv * uh;
                acc[2] += (double) g * a;
            }
            slide(win);
        });
    }
    double tot[3];
    block_sum(acc, red, tot);
    if (threadIdx.x == 0) {
        const long at = slot(b, c, B, st.boxes, st.box) * 3;
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

// The BatchNorm-and-relu backward of one gate, per channel: du = gamma*inv*(da - mean(da) -
// uhat*mean(da*uhat)) with uhat = (u - mean)*inv, da = dz*w1 where gamma*uhat + beta > 0.
template <typename A>
struct DuOf {
    // folded per channel (fewer live registers): uhat = conv*iv + shift, du = da' - da_mean - uhat*dau_mean
    // with da' = dz*dz_scale where gamma*uhat + beta > 0
    A w[9], iv, shift, ga, be, dz_scale, da_mean, dau_mean;

    __device__ DuOf(A bias, A m, A inv, A gamma, A beta, A w1, A mean_da, A mean_dau)
        : iv(inv), shift((bias - m) * inv), ga(gamma), be(beta), dz_scale(gamma * inv * w1), da_mean(gamma * inv * mean_da),
          dau_mean(gamma * inv * mean_dau) {}

    // du of row yy at columns x-1..x+1 from t rows yy-1..yy+1 at columns x-2..x+2; zero outside the image.
    __device__ __forceinline__ void row(const A (&r0)[5], const A (&r1)[5], const A (&r2)[5], const A* __restrict__ dz,
                                        int yy, int x, int H, int W, A (&out)[3], bool inside = false) const {
        const bool in_row = inside || (yy >= 0 && yy < H);
#pragma unroll
        for (int j = 0; j < 3; j++) {
            const int xx = x - 1 + j;
            A g = 0;
            if (in_row && xx >= 0 && xx < W) {
                const A uh = conv3(r0, r1, r2, j, w) * iv + shift, a = ga * uh + be;
                const A da = a > 0 ? dz[yy * W + xx] * dz_scale : A(0);
                g = da - da_mean - uh * dau_mean;
            }
            out[j] = g;
        }
    }
};

// Grid boxes * B*C, strips. du on the strip plus a 1-pixel halo (t on a 2-pixel halo, 5 loads per
// row), then dt = dwconv^T(du) + (dS*g + dm/HW)*s; part[slot*10 + e]: 9 dw taps and the bias.
// Each du is computed by the 3 threads whose 3x3 neighbourhood holds it (27 of its 45 FMAs per
// pixel), which keeps the kernel free of shared memory and barriers; it stays bound by its plane
// traffic (t, dS in, dt out; dz and s from L2).
template <typename X>
__device__ void bwd_input(const X* __restrict__ t, const X* __restrict__ dw, const X* __restrict__ db,
                          const X* __restrict__ mean, const X* __restrict__ inv, const X* __restrict__ gamma,
                          const X* __restrict__ beta, const X* __restrict__ w1, const AccOf<X>* __restrict__ dz,
                          const AccOf<X>* __restrict__ mean_da, const AccOf<X>* __restrict__ mean_dau,
                          const AccOf<X>* __restrict__ dS, const X* __restrict__ sp, const X* __restrict__ gate,
                          const AccOf<X>* __restrict__ dm, X* __restrict__ dt, AccOf<X>* __restrict__ part, int B, int C, int H,
                          int W, int sw, int sh, int rows) {
    using A = AccOf<X>;
    __shared__ A red[WARPS * 10];
    const StripOf st(H, W, sw, sh, rows);
    const int bc = st.plane, b = bc / C, c = bc - b * C;
    A acc[10];
#pragma unroll
    for (int e = 0; e < 10; e++) acc[e] = 0;
    if (st.live) {
        const long po = (long) bc * H * W, pp = (long) b * H * W;
        const X* tp = t + po;
        const A* dzp = dz + pp;
        DuOf<A> k(load(db, c), load(mean, c), load(inv, c), load(gamma, c), load(beta, c), load(w1, c), mean_da[c], mean_dau[c]);
        taps(dw, c, k.w);
        const A gt = load(gate, bc), dmh = dm[bc] / (H * W);
        // tw: t rows y-1, y, y+1 (columns x-2..x+2); du: du rows y-1, y, y+1 (columns x-1..x+1)
        A tw[3][5], top[5], du[3][3];
        load_row(tp, st.y - 2, st.x, H, W, top);
        load_row(tp, st.y - 1, st.x, H, W, tw[0]);
        load_row(tp, st.y, st.x, H, W, tw[1]);
        load_row(tp, st.y + 1, st.x, H, W, tw[2]);
        k.row(top, tw[0], tw[1], dzp, st.y - 1, st.x, H, W, du[0]);
        k.row(tw[0], tw[1], tw[2], dzp, st.y, st.x, H, W, du[1]);
        walk<2, 1>(st.y, st.ye, H, [&](int y, bool inside) {
            // dw's taps first: row y-1 of t is then dead before row y+2 arrives (3 rows live, not 4)
            const A g = du[1][1];
#pragma unroll
            for (int ky = 0; ky < 3; ky++)
#pragma unroll
                for (int kx = 0; kx < 3; kx++) acc[ky * 3 + kx] += g * tw[ky][1 + kx];
            acc[9] += g;
#pragma unroll
            for (int j = 0; j < 5; j++) {
                tw[0][j] = tw[1][j];
                tw[1][j] = tw[2][j];
            }
            load_row(tp, y + 2, st.x, H, W, tw[2], inside);
            k.row(tw[0], tw[1], tw[2], dzp, y + 1, st.x, H, W, du[2], inside);
            const int i = y * W + st.x;
            const A dx = dS[po + i] * gt + dmh;
            store(dt + po, i, conv3t(du, k.w) + dx * load(sp + pp, i));
            slide(du);
        });
    }
    A tot[10];
    block_sum(acc, red, tot);
    if (threadIdx.x == 0) {
        const long at = slot(b, c, B, st.boxes, st.box) * 10;
#pragma unroll
        for (int e = 0; e < 10; e++) part[at + e] = tot[e];
    }
}

}  // namespace lumen_catm

// The heaviest strip kernels (bwd_dwc, bwd_input) are held to 80 registers on sm_90, 3 blocks of up
// to 8 warps per SM, so enough warps are resident to keep DRAM busy (sm_80's code needs a few more
// registers for the same state: 2 blocks there); in double the state needs twice the registers and
// keeps ptxas's choice.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
#define LUMEN_CATM_MIN_BLOCKS 2
#else
#define LUMEN_CATM_MIN_BLOCKS 3
#endif
#define LUMEN_CATM_MIN_BLOCKS_f32 LUMEN_CATM_MIN_BLOCKS
#define LUMEN_CATM_MIN_BLOCKS_f16 LUMEN_CATM_MIN_BLOCKS
#define LUMEN_CATM_MIN_BLOCKS_bf16 LUMEN_CATM_MIN_BLOCKS
#define LUMEN_CATM_MIN_BLOCKS_f64 1

#define LUMEN_CATM_ENTRIES(X, SUFFIX)                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_stats_##SUFFIX(const X* t, const X* dw, const X* db,          \
        double* part, int B, int C, int H, int W, int sw, int sh, int rows) {                                          \
        lumen_catm::stats<X>(t, dw, db, part, B, C, H, W, sw, sh, rows);                                               \
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
    extern "C" __global__ void catm_gate_coefs_##SUFFIX(const X* dw, const X* db, const X* mean, const X* inv,          \
                                                        const X* gamma, const X* beta, const X* w1,                    \
                                                        lumen_catm::AccOf<X>* coef, int C) {                           \
        lumen_catm::gate_coefs<X>(dw, db, mean, inv, gamma, beta, w1, coef, C);                                        \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_gates_##SUFFIX(const X* t, const lumen_catm::AccOf<X>* coef, \
                                                                          X* s_out, lumen_catm::AccOf<X>* part, int C, \
                                                                          int H, int W, int gh, int gw) {              \
        lumen_catm::gates<X>(t, coef, s_out, part, C, H, W, gh, gw);                                                   \
    }                                                                                                                  \
    extern "C" __global__ void catm_channel_gate_##SUFFIX(const lumen_catm::AccOf<X>* part, int tiles, const X* wc,     \
                                                          X* pooled, X* gate, int C, int HW) {                         \
        lumen_catm::channel_gate<X>(part, tiles, wc, pooled, gate, C, HW);                                             \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_fwd_##SUFFIX(                                               \
        const X* q, const X* k, const X* v, const X* sq, const X* gq, const X* sk, const X* gk, const X* dw,            \
        const X* db, X* out, int C, int H, int W, int sw, int sh, int rows) {                                          \
        lumen_catm::fwd<X>(q, k, v, sq, gq, sk, gk, dw, db, out, C, H, W, sw, sh, rows);                               \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256, LUMEN_CATM_MIN_BLOCKS_##SUFFIX) catm_bwd_dwc_##SUFFIX(                                     \
        const X* q, const X* k, const X* v, const X* sq, const X* gq, const X* sk, const X* gk, const X* dw,            \
        const X* db, const X* gout, X* dv, lumen_catm::AccOf<X>* dS, lumen_catm::AccOf<X>* part, int B, int C, int H,  \
        int W, int sw, int sh, int rows) {                                                                             \
        lumen_catm::bwd_dwc<X>(q, k, v, sq, gq, sk, gk, dw, db, gout, dv, dS, part, B, C, H, W, sw, sh, rows);         \
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
        const X* w1, const lumen_catm::AccOf<X>* dz, double* part, int B, int C, int H, int W, int sw, int sh,         \
        int rows) {                                                                                                    \
        lumen_catm::bwd_bn_stats<X>(t, dw, db, mean, inv, gamma, beta, w1, dz, part, B, C, H, W, sw, sh, rows);        \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) catm_bwd_bn_finalize_##SUFFIX(const double* part, int items,     \
                                                             int C, long long n, int batch_stats, X* dgamma, X* dbeta, \
                                                             X* dw1,                                                   \
                                                             lumen_catm::AccOf<X>* mean_da,                            \
                                                             lumen_catm::AccOf<X>* mean_dau) {                         \
        lumen_catm::bwd_bn_finalize<X>(part, items, C, n, batch_stats, dgamma, dbeta, dw1, mean_da, mean_dau);         \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(256, LUMEN_CATM_MIN_BLOCKS_##SUFFIX) catm_bwd_input_##SUFFIX(                                     \
        const X* t, const X* dw, const X* db, const X* mean, const X* inv, const X* gamma, const X* beta,               \
        const X* w1, const lumen_catm::AccOf<X>* dz, const lumen_catm::AccOf<X>* mean_da,                              \
        const lumen_catm::AccOf<X>* mean_dau, const lumen_catm::AccOf<X>* dS, const X* sp, const X* gate,              \
        const lumen_catm::AccOf<X>* dm, X* dt, lumen_catm::AccOf<X>* part, int B, int C, int H, int W, int sw, int sh, \
        int rows) {                                                                                                    \
        lumen_catm::bwd_input<X>(t, dw, db, mean, inv, gamma, beta, w1, dz, mean_da, mean_dau, dS, sp, gate, dm, dt,   \
                                 part, B, C, H, W, sw, sh, rows);                                                      \
    }

LUMEN_FOR_FLOAT_TYPES(LUMEN_CATM_ENTRIES)
