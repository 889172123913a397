// Selective 2-D scan (VMamba SS2D core), fused cross-scan + selective scan + cross-merge.
//
// x [B,D,H,W]; delta [B,4,D,L]; Bs, Cs [B,4,N,L]; A [4*D,N]; Ds, bias [4*D]; L = H*W, N <= 16.
// Route 0 visits (h,w) row-major (l = h*W + w), route 1 column-major (l = w*H + h), routes 2
// and 3 are 0 and 1 reversed. For route k and channel d, with u_l = x at the route's l-th
// position: dt = softplus(delta + bias), s_l = exp(dt*A) s_{l-1} + dt*B_l*u_l,
// y_l = C_l.s_l + D*u_l; out = the sum of the 4 routes' y mapped back to (h,w). x, delta, B
// and C are f32, f16 or bf16 with A, D, bias, out, states, scratch and every gradient f32; or
// all f64 (computed in double). Shared memory is dynamic: FWD_SMEM (BWD_SMEM) values of the
// compute type.
//
// Launch protocol (SelectiveScanCuda.java; 1-D grids, so any B*D fits gridDim.x's 2^31-1):
//   forward   selective_scan_fwd_<t>   grid B*D (block = (b, d)), block min(128, ceil(L/4) in
//             whole warps) threads, the same for the backward.
//             states may be null; otherwise [B,4,D,ceil(L/64),N]: the state entering every
//             64-step chunk, which the backward restarts from.
//   backward  selective_scan_bwd_<t>   grid B*G (block = (b, group of CPB = 8 channels)),
//             h_magic and h_shift the MagicDivisor of H (the column-major spans' ends),
//             G = ceil(D/8). Writes gx and gdelta in full, and partial sums to
//             scratch: part_bc [G,2,B,4,N,L] (the B and C gradients of group g, summed over its
//             channels) and part_p [B, 4DN + 4D + 4D] (the A, D and bias gradients of batch b,
//             summed over L). Then selective_scan_sum_<f32|f64> twice, any 1-D grid: part_p over
//             B into gA, gD and gbias, part_bc over G into gB and gC.
//
// The scan is chunked and parallel over L, as in the official Mamba kernel: a block runs a
// sequence in spans of 512 steps, each of its 128 threads owning 4 consecutive steps (for L
// under 512, fewer threads and one span). A thread
// composes its steps' maps h -> exp(dt*A)*h + dt*B*u into one (decay, input) pair, a warp-shuffle
// scan and one exchange of the 4 warp totals make the block-wide scan, and the state leaving a
// span is carried into the next. So the 24,576 sequential chains of 3,136 steps of VMamba-T
// (B64, 4 routes, D96) become 6,144 blocks of 128 threads, each a few spans deep.
//
// Forward: block (b, d) runs the 4 routes of its channel one after the other, each route a
// template instance (fwd_route<K>) whose full spans run in a loop without bounds tests, the last,
// partial span once after it. A thread reads its own 4 consecutive steps of delta, B and C (a
// warp's loads cover 512 contiguous bytes); the row-major routes also read x and update out at
// their own positions, the column-major ones stage x in step order through shared memory and
// put y back the same way (for_columns: a warp takes 8-element runs of 4 rows), their span ends
// moved by a (column, row) walker with an add and a branch-free wrap, no division. Since one
// block owns every route of its positions and runs them in order, out = ((y0 + y1) + y2) + y3
// with one writer per element: no scratch planes, no atomics, and the block's 12.5 KB out plane
// (L = 3136) stays in L2 between routes. softplus is an atanh series on __expf and a fast
// division (a few ulp, 8 FMAs), not log1pf (~40 instructions).

// Backward: block (b, 8 channels), per route per channel, spans last to first. Per span and
// state it recomputes the states from the saved ones (a 16-lane shuffle scan per 64-step chunk,
// no barrier) and runs the reverse scan of G_l = decay_l * (C_l gy_l + G_{l+1}) block-wide, the
// carry going to the span on the left. Reductions have one fixed order, so a backward run twice
// gives the same bits: gx over the routes (as out), the B and C gradients over the group's
// channels in channel order (each thread re-reads only its own steps), then over groups by
// selective_scan_sum; the A, D and bias gradients over lanes (butterfly), warps (in order) and
// then batches. part_bc holds G = D/8 copies of the B and C gradients: 12 for VMamba-T.
//
// What bounds it (VMamba-T B64 D96 L3136 N1, f32, H100 at 3.35 TB/s; an estimate, no GPU run;
// `make kernel-report`): the forward moves x, 4 routes of delta and out once from DRAM (6 planes
// of 77 MB) plus B, C and the states (11 MB), ~141 us; the later routes' re-reads of x and out
// hit L2 (12.5 KB per block). It issues about 450 PTX instructions per 4 steps and thread (the
// mean of the 4 routes; the block-wide scan's shuffles and the column routes' staging are a
// third of them), ~320 us of issue on 132 SMs: issue-bound at ~2.3x the floor. Closing that gap
// needs more steps per thread (the scan's cost per span spread over more steps) without a
// mostly empty last span at L = 3136, or the x and out planes held in shared memory so the
// column routes need no staging walk.
// The backward must read x, gout and delta and write gx and gdelta (11 planes) plus part_bc
// twice (2 planes): ~300 us. Its routes run outside the channel loop (so the B and C partials
// of one route stay in L2 while 8 channels add to them), which makes x and gout be re-read and gx
// re-written per route: where those 300 KB per block fall out of L2 the backward moves up to 24
// planes, ~850 us, 3.3x its floor. Routes inside the channel loop would instead re-read and
// re-write the B and C partials per channel (16 planes, worse); fewer channels per block trade
// those re-reads for more copies of part_bc. Its span ends are split by H with a multiply-high
// (DivH), no division in the span loop.
#include "lumen_tensor.cuh"

namespace lumen_sscan {

constexpr int ROUTES = 4;
constexpr int CHUNK = 64;                  // steps between saved states (SelectiveScanKernels.CHUNK)
// A block has 128 threads, or fewer (a multiple of 32) when L is short: L 49 (VMamba's last
// stage) needs only 13 threads' worth of steps, so 32 threads run it, not 128 mostly idle ones.
constexpr int THREADS = 128, WARPS = THREADS / 32;
constexpr int ITEMS = 4;                   // consecutive steps per thread
constexpr int SPAN = THREADS * ITEMS;      // steps per block-wide scan (blockDim.x * ITEMS)
constexpr int SEG = CHUNK / ITEMS;         // lanes that cover one saved-state chunk
constexpr int BUF = SPAN + SPAN / 32;      // a staged span, skewed (sk); buf() for blockDim.x
constexpr int CPB = 8;                     // channels per backward block
constexpr int MAXN = 16;
constexpr int RED = MAXN + 2;              // per-warp partials of the A, D and bias gradients
// Shared values of the compute type (SelectiveScanCuda.java): delta and u spans, the warp
// aggregates of the scan (double-buffered) and the carry per state; the backward adds the gout
// span, each thread's A-gradient sums per state and the reduction (sizes for 128 threads; the
// launcher sizes them for blockDim.x). Per-state values live here,
// not in registers, so the loop over states is not unrolled and N = 16 costs no registers.
constexpr int FWD_SMEM = 2 * BUF + 2 * 2 * WARPS + MAXN;
constexpr int BWD_SMEM = 3 * BUF + 2 * 2 * WARPS + MAXN + MAXN * THREADS + WARPS * RED;
static_assert((32 * ITEMS) % CHUNK == 0 && SEG <= 32 && (SEG & (SEG - 1)) == 0, "a span holds whole saved-state chunks");

__device__ __forceinline__ int span() { return blockDim.x * ITEMS; }
__device__ __forceinline__ int buf() { return span() + span() / 32; }
__device__ __forceinline__ int warps() { return blockDim.x >> 5; }

template <typename T> using AccOf = typename lumen::Acc<T>::type;

template <typename T>
__device__ __forceinline__ AccOf<T> ld(const T* p, size_t i) { return lumen::to_acc(p[i]); }

// Fast exp in float. __expf's documented error is 2 + 1.173|z| ulp (CUDA Programming Guide;
// the emulator returns the exact value moved 1 ulp towards zero, inside that). For a decay
// exp(dt*A) a product of m factors with sum |dt*A| = s gets (2m + 1.173 s) ulp, and that term
// is weighted by e^-s, so the state's error stays a few roundings per step, as with expf: measured
// within the tests' 2e-6 (against the CPU's f32) and 2e-5 (against double) with the precise
// log1pf kept, since log1p(e) passes e's relative error through scaled by at most 1.
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

// torch.nn.functional.softplus with its default threshold, as max(z, 0) + log1p(e), e = exp(-|z|)
// in (0, 1]: log1p(e) = 2 atanh(s) with s = e / (2 + e) <= 1/3, whose odd series to s^15 is within
// 2^-26 of it (the next term, s^17 / 17 < 4e-10 of s), so the error is that of __expf and the fast
// division, a few ulp: 8 FMAs where log1pf takes about 40 instructions. Above the threshold 20,
// log1p(e) < 2.1e-9 is under half an ulp of z, so the sum is z exactly, as torch returns.
__device__ __forceinline__ float softplus(float z) {
    const float e = ex(-fabsf(z)), s = __fdividef(e, 2.f + e), s2 = s * s;
    float p = 1.f / 15.f;
    p = p * s2 + 1.f / 13.f;
    p = p * s2 + 1.f / 11.f;
    p = p * s2 + 1.f / 9.f;
    p = p * s2 + 1.f / 7.f;
    p = p * s2 + 1.f / 5.f;
    p = p * s2 + 1.f / 3.f;
    const float log1p_e = 2.f * s + 2.f * s * s2 * p;
    return fmaxf(z, 0.f) + log1p_e;
}
// d softplus / dz = sigmoid(z).
__device__ __forceinline__ float sigmoid(float z) { return __fdividef(1.f, 1.f + ex(-z)); }
__device__ __forceinline__ double sigmoid(double z) { return recip(1.0 + exp(-z)); }
__device__ __forceinline__ double softplus(double z) { return z > 20.0 ? z : log1p(exp(z)); }

// Index of step i of a span in shared memory: one pad per 32 values, so the 32 lanes of a warp
// reading their ITEMS-th values (stride ITEMS) hit 32 banks.
__device__ __forceinline__ int sk(int i) { return i + (i >> 5); }

// A column-major index m = q*H + r (column q, row r) kept as its two coordinates, so the span
// walks of the column-major routes move by a fixed step with an add and a branch-free wrap
// instead of dividing by H every span.
struct Col { int q, r; };
__device__ __forceinline__ Col col_add(Col c, Col s, int H) {
    c.q += s.q;
    c.r += s.r;
    const int wrap = c.r >= H;
    c.r -= wrap * H;
    c.q += wrap;
    return c;
}
__device__ __forceinline__ Col col_sub(Col c, Col s, int H) {
    c.q -= s.q;
    c.r -= s.r;
    const int wrap = c.r < 0;
    c.r += wrap * H;
    c.q -= wrap;
    return c;
}
// The coordinates of m (a division: once per thread, outside every loop).
__device__ __forceinline__ Col col_of(int m, int H) { return Col{m / H, m - m / H * H}; }

// Calls f(i, p) for every step of a column-major route's span whose column-major indices run
// from a to b (step i = m - a, or b - m for the reversed route 3; p = base + h*W + q). A warp takes
// 4 rows x 8 adjacent columns, so global memory is touched in 8-element runs of a row instead of
// one element every W (the stride a column-major walk would otherwise gather with); i and p step
// by adds.
template <bool REVERSED, typename P, typename F>
__device__ __forceinline__ void for_columns(Col a, Col b, int H, int W, P* base, F f) {
    const int t = threadIdx.x, rows = blockDim.x >> 3;
    for (int q = a.q + (t & 7); q <= b.q; q += 8) {
        const int hlo = q == a.q ? a.r : 0, hhi = q == b.q ? b.r : H - 1;
        int h = hlo + (t >> 3);
        int i = REVERSED ? (b.q - q) * H + b.r - h : (q - a.q) * H + h - a.r;
        P* p = base + (h * W + q);
        for (; h <= hhi; h += rows, i += REVERSED ? -rows : rows, p += rows * W) f(i, p);
    }
}

// The forward's spans of route 1 or 3 in column-major coordinates: the anchor is the span's first
// index m (route 1) or last (route 3, which runs m downwards), moved by S = span() steps per span;
// a full span reaches S1 = S - 1 past it, the route's last span ends at m = L - 1 (route 1) or 0.
template <bool REVERSED>
struct ColRoute {
    Col anchor, S, S1;
    int H, W;
    __device__ __forceinline__ Col first(bool full) const { return REVERSED ? (full ? col_sub(anchor, S1, H) : Col{0, 0}) : anchor; }
    __device__ __forceinline__ Col last(bool full) const { return REVERSED ? anchor : (full ? col_add(anchor, S1, H) : Col{W - 1, H - 1}); }
    template <typename P, typename F> __device__ __forceinline__ void each(bool full, P* base, F f) const {
        for_columns<REVERSED>(first(full), last(full), H, W, base, f);
    }
    // To the next span along the route.
    __device__ __forceinline__ void next() { anchor = REVERSED ? col_sub(anchor, S, H) : col_add(anchor, S, H); }
};

// The column-major coordinates of a span (S) and of S - 1 steps, and the anchors of routes 1 and
// 3 at their first span: two divisions per thread, before any loop.
struct ColSteps {
    Col S, S1, anchor1, anchor3;
    __device__ __forceinline__ ColSteps(int L, int H) {
        S = col_of(blockDim.x * ITEMS, H);
        S1 = S.r > 0 ? Col{S.q, S.r - 1} : Col{S.q - 1, H - 1};
        anchor1 = Col{0, 0};
        anchor3 = col_of(L - 1, H);
    }
    // Route K's walker (only routes 1 and 3 use it).
    template <int K> __device__ __forceinline__ ColRoute<K == 3> route(int H, int W) const {
        return ColRoute<K == 3>{K == 3 ? anchor3 : anchor1, S, S1, H, W};
    }
};

// n / H with the multiply-high of the host's MagicDivisor of H (MagicDivisor.java): the backward's
// column-major spans split their ends into (column, row) with it, no division in the span loop.
struct DivH {
    unsigned magic;
    int shift;
    __device__ __forceinline__ int operator()(int n) const { return int((__umulhi(unsigned(n), magic) + unsigned(n)) >> shift); }
};

// Calls f(i, pos) for every step l0 + i (0 <= i < len) of route k, pos = its h*W + w, with the
// threads laid along memory. Row-major routes: consecutive threads take consecutive steps, i.e.
// consecutive positions. Column-major routes: the span covers columns qa..qb, and a warp takes 4
// rows x 8 adjacent columns, so global memory is touched in 8-element runs of a row instead of one
// element every W (the stride the column-major routes would otherwise gather with).
template <typename F>
__device__ __forceinline__ void for_route(int k, int l0, int len, int L, int H, int W, DivH div_h, F f) {
    const int t = threadIdx.x;
    if ((k & 1) == 0) {
        for (int i = t; i < len; i += blockDim.x) f(i, k == 0 ? l0 + i : L - 1 - l0 - i);
        return;
    }
    const int ma = k == 1 ? l0 : L - l0 - len, mb = ma + len - 1;   // column-major indices m = w*H + h
    const int qa = div_h(ma), qb = div_h(mb);
    for (int q = qa + (t & 7); q <= qb; q += 8) {
        const int hlo = q == qa ? ma - qa * H : 0, hhi = q == qb ? mb - qb * H : H - 1;
        for (int h = hlo + (t >> 3); h <= hhi; h += blockDim.x / 8) {
            const int m = q * H + h;
            f(k == 1 ? m - l0 : L - 1 - m - l0, h * W + q);
        }
    }
}

// Block-wide scan of h -> A*h + B (the thread's ITEMS steps composed): warp shuffles, then the
// warp totals through shared memory in warp order. Returns the state entering the thread's first
// step, starting from *carry (0 for a route's first span); thread 0 then stores the state leaving
// the span there (every thread folds the same totals in the same order; each reads *carry before
// the barrier, so a barrier must separate this scan from the next one on the same carry).
template <typename R>
__device__ __forceinline__ R scan_forward(R a, R b, bool first, R* carry, R* agg) {
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    R c = first ? R(0) : *carry, h = R(0);
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
        const R pa = __shfl_up_sync(0xffffffffu, a, off), pb = __shfl_up_sync(0xffffffffu, b, off);
        if (lane >= off) { b = a * pb + b; a = a * pa; }
    }
    R ea = __shfl_up_sync(0xffffffffu, a, 1), eb = __shfl_up_sync(0xffffffffu, b, 1);
    if (lane == 0) { ea = R(1); eb = R(0); }
    if (lane == 31) { agg[2 * wid] = a; agg[2 * wid + 1] = b; }
    __syncthreads();
#pragma unroll
    for (int w = 0; w < WARPS; w++) {
        if (w >= warps()) break;
        if (w == wid) h = ea * c + eb;
        c = agg[2 * w] * c + agg[2 * w + 1];
    }
    if (threadIdx.x == 0) *carry = c;
    return h;
}

// The same scan from the last step to the first: returns the value entering the thread's last
// step from the right, starting from *carry (the value entering the span's last step; 0 for the
// route's last span).
template <typename R>
__device__ __forceinline__ R scan_reverse(R a, R b, bool first, R* carry, R* agg) {
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    R c = first ? R(0) : *carry, g = R(0);
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
        const R pa = __shfl_down_sync(0xffffffffu, a, off), pb = __shfl_down_sync(0xffffffffu, b, off);
        if (lane + off < 32) { b = a * pb + b; a = a * pa; }
    }
    R ea = __shfl_down_sync(0xffffffffu, a, 1), eb = __shfl_down_sync(0xffffffffu, b, 1);
    if (lane == 31) { ea = R(1); eb = R(0); }
    if (lane == 0) { agg[2 * wid] = a; agg[2 * wid + 1] = b; }
    __syncthreads();
#pragma unroll
    for (int w = WARPS - 1; w >= 0; w--) {
        if (w >= warps()) continue;
        if (w == wid) g = ea * c + eb;
        c = agg[2 * w] * c + agg[2 * w + 1];
    }
    if (threadIdx.x == 0) *carry = c;
    return g;
}

// Whether a span is full (span() steps) at compile time: every span but a route's last is, so the
// spans' loop needs no per-step bounds tests and the last, partial span runs once after it.
template <bool B> struct Full { static constexpr bool value = B; };

// One route of the forward: the spans in order, the state carried in sCarry. COL: route 1 or 3,
// whose x values are staged through shared memory in step order (cr walks the spans) and whose y
// values go back the same way; the row-major routes 0 and 2 read x and update out at their own
// steps' positions directly. A thread's ITEMS steps are consecutive, so its delta, B and C loads
// are runs of ITEMS values and a warp's loads cover contiguous 32*ITEMS-value ranges.
template <int K, typename T, typename R>
__device__ __forceinline__ void fwd_route(const T* __restrict__ xb, const T* __restrict__ dl, const R* __restrict__ an,
                                          const T* __restrict__ bk, const T* __restrict__ ck, R bz, R dskip,
                                          R* __restrict__ ob, R* __restrict__ st, ColRoute<K == 3> cr, int L, int N,
                                          R* sY, R* sU, R* sAgg, R* sCarry, int& phase) {
    constexpr bool COL = K & 1;
    const int t = threadIdx.x, i0 = t * ITEMS, S = span();
    auto span_at = [&](int l0, auto full_tag) {
        constexpr bool FULL = decltype(full_tag)::value;
        const int len = FULL ? S : L - l0;
        __syncthreads();   // thread 0's carries of the previous span are written
        if (COL) {
            cr.each(FULL, xb, [=](int i, const T* p) { sU[sk(i)] = lumen::to_acc(*p); });
            __syncthreads();
        }
        // The thread's steps from l0 + i0 on: runs of ITEMS values in delta, B, C and, for the
        // row-major routes, x and out (backwards for route 2). Steps past L (partial span only)
        // are the identity map, their loads predicated off.
        const T* const dp = dl + l0 + i0;
        const T* const xp = K == 0 ? xb + l0 + i0 : xb + (L - 1 - l0 - i0);
        // The states of the thread's chunk (its first step's, when it starts one).
        R* const stp = st == nullptr ? nullptr : st + unsigned(l0 + i0) / CHUNK * N;
        R dt[ITEMS], u[ITEMS], y[ITEMS];
#pragma unroll
        for (int j = 0; j < ITEMS; j++) {
            const bool in = FULL || i0 + j < len;
            dt[j] = in ? softplus(ld(dp, j) + bz) : R(0);
            u[j] = !in ? R(0) : COL ? sU[sk(i0 + j)] : K == 0 ? ld(xp, j) : lumen::to_acc(xp[-j]);
            y[j] = dskip * u[j];
        }
        const T* bn = bk + l0 + i0;   // state n's B and C rows, stepped by L
        const T* cn = ck + l0 + i0;
#pragma unroll 1
        for (int n = 0; n < N; n++, bn += L, cn += L) {
            const R a = an[n];
            R da[ITEMS], db[ITEMS], pa = R(1), pb = R(0);
#pragma unroll
            for (int j = 0; j < ITEMS; j++) {
                const bool in = FULL || i0 + j < len;
                da[j] = in ? ex(dt[j] * a) : R(1);
                db[j] = in ? dt[j] * u[j] * ld(bn, j) : R(0);
                pb = da[j] * pb + db[j];
                pa = da[j] * pa;
            }
            R h = scan_forward(pa, pb, l0 == 0, sCarry + n, sAgg + phase * 2 * WARPS);
            phase ^= 1;
            // The state entering every CHUNK-step chunk, for the backward.
            if (stp != nullptr && (t & (SEG - 1)) == 0 && (FULL || i0 < len)) stp[n] = h;
#pragma unroll
            for (int j = 0; j < ITEMS; j++) {
                h = da[j] * h + db[j];
                if (FULL || i0 + j < len) y[j] += ld(cn, j) * h;
            }
        }
        // One writer per position and the routes in order: out = ((y0 + y1) + y2) + y3. The
        // barriers of the scans order this span's and the earlier routes' accesses.
        if (COL) {
#pragma unroll
            for (int j = 0; j < ITEMS; j++) if (FULL || i0 + j < len) sY[sk(i0 + j)] = y[j];
            __syncthreads();
            cr.each(FULL, ob, [=](int i, R* p) { *p += sY[sk(i)]; });
            cr.next();
        } else {
            R* const op = K == 0 ? ob + l0 + i0 : ob + (L - 1 - l0 - i0);
#pragma unroll
            for (int j = 0; j < ITEMS; j++) {
                if (!FULL && i0 + j >= len) continue;
                if (K == 0) op[j] = y[j];
                else op[-j] += y[j];
            }
        }
    };
    int l0 = 0;
    for (; l0 + S <= L; l0 += S) span_at(l0, Full<true>{});
    if (l0 < L) span_at(l0, Full<false>{});
}

template <typename T, typename R = AccOf<T>>
__device__ void fwd(const T* __restrict__ x, const T* __restrict__ delta, const R* __restrict__ A,
                    const T* __restrict__ Bs, const T* __restrict__ Cs, const R* __restrict__ Ds,
                    const R* __restrict__ bias, R* __restrict__ out, R* __restrict__ states,
                    int D, int H, int W, int N, R* smem) {
    const int b = blockIdx.x / D, d = blockIdx.x - b * D;
    const int L = H * W, nst = (L + CHUNK - 1) / CHUNK;
    R* const sY = smem;
    R* const sU = sY + buf();
    R* const sAgg = sU + buf();               // [2][WARPS][2]
    R* const sCarry = sAgg + 2 * 2 * WARPS;   // [MAXN]: the state leaving the last span
    const size_t xrow = ((size_t) b * D + d) * L;
    const ColSteps cs(L, H);
    int phase = 0;
    for (int k = 0; k < ROUTES; k++) {
        const size_t seq = ((size_t) b * ROUTES + k) * D + d;
        const size_t bcrow = ((size_t) b * ROUTES + k) * N * L;
        R* const st = states == nullptr ? nullptr : states + seq * nst * N;
        const T* const dl = delta + seq * L;
        const R* const an = A + ((size_t) k * D + d) * N;
        const R bz = bias[k * D + d], dskip = Ds[k * D + d];
        switch (k) {
#define LUMEN_SSCAN_FWD_ROUTE(K)                                                                                       \
    fwd_route<K>(x + xrow, dl, an, Bs + bcrow, Cs + bcrow, bz, dskip, out + xrow, st, cs.route<K>(H, W), L, N, sY, sU, \
                 sAgg, sCarry, phase)
        case 0: LUMEN_SSCAN_FWD_ROUTE(0); break;
        case 1: LUMEN_SSCAN_FWD_ROUTE(1); break;
        case 2: LUMEN_SSCAN_FWD_ROUTE(2); break;
        default: LUMEN_SSCAN_FWD_ROUTE(3); break;
#undef LUMEN_SSCAN_FWD_ROUTE
        }
    }
}

// Sum over the 32 lanes in a fixed butterfly.
template <typename R>
__device__ __forceinline__ R warp_sum(R v) {
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

template <typename T, typename R = AccOf<T>>
__device__ void bwd(const T* __restrict__ x, const T* __restrict__ delta, const R* __restrict__ A,
                    const T* __restrict__ Bs, const T* __restrict__ Cs, const R* __restrict__ Ds,
                    const R* __restrict__ bias, const R* __restrict__ states, const R* __restrict__ gout,
                    R* __restrict__ gx, R* __restrict__ gdelta, R* __restrict__ part_bc, R* __restrict__ part_p,
                    int D, int H, int W, int N, DivH div_h, R* smem) {
    const int t = threadIdx.x, lane = t & 31, wid = t >> 5, i0 = t * ITEMS;
    const int groups = (D + CPB - 1) / CPB, nb = gridDim.x / groups;
    const int b = blockIdx.x / groups, grp = blockIdx.x - b * groups;
    const int d0 = grp * CPB, chans = min(CPB, D - d0);
    const int L = H * W, nst = (L + CHUNK - 1) / CHUNK, nspans = (L + span() - 1) / span();
    R* const sD = smem;
    R* const sU = sD + buf();
    R* const sG = sU + buf();
    R* const sAgg = sG + buf();         // [2][WARPS][2]
    R* const sGc = sAgg + 2 * 2 * WARPS;    // [MAXN]: decay * dL/d(state) entering the span from the right
    R* const sAcc = sGc + MAXN;               // [MAXN][blockDim.x]: each thread's A-gradient sums
    R* const sRed = sAcc + MAXN * blockDim.x; // [WARPS][RED]
    const size_t bcplane = (size_t) nb * ROUTES * N * L;   // one gradient of part_bc
    R* const pbc = part_bc + (size_t) grp * 2 * bcplane;   // this channel group's slot
    const size_t nA = (size_t) ROUTES * D * N, nD = (size_t) ROUTES * D;
    R* const prow = part_p + (size_t) b * (nA + 2 * nD);
    int phase = 0;
    for (int k = 0; k < ROUTES; k++) {
        const size_t bcrow = ((size_t) b * ROUTES + k) * N * L;
        for (int c = 0; c < chans; c++) {
            const int d = d0 + c;
            const size_t seq = ((size_t) b * ROUTES + k) * D + d;
            const size_t xrow = ((size_t) b * D + d) * L, drow = seq * L;
            const R bz = bias[k * D + d], dskip = Ds[k * D + d];
            const R* an = A + ((size_t) k * D + d) * N;
            // The last reads of sGc came before a barrier this thread has passed; sAcc's slots
            // are the thread's own.
            if (t < N) sGc[t] = R(0);
            for (int n = 0; n < N; n++) sAcc[n * blockDim.x + t] = R(0);
            R acc_d = R(0), acc_z = R(0);
            for (int s = nspans - 1; s >= 0; s--) {
                const int l0 = s * span(), len = min(span(), L - l0);
                __syncthreads();   // the previous span's gx values have been read out of sD
                for (int i = t; i < len; i += blockDim.x) sD[sk(i)] = ld(delta, drow + l0 + i);
                for_route(k, l0, len, L, H, W, div_h, [&](int i, int pos) {
                    sU[sk(i)] = ld(x, xrow + pos);
                    sG[sk(i)] = gout[xrow + pos];
                });
                __syncthreads();
                R z[ITEMS], dt[ITEMS], u[ITEMS], gy[ITEMS], pu[ITEMS], pdt[ITEMS];
#pragma unroll
                for (int j = 0; j < ITEMS; j++) {
                    const bool in = i0 + j < len;
                    z[j] = in ? sD[sk(i0 + j)] + bz : R(0);
                    dt[j] = in ? softplus(z[j]) : R(0);
                    u[j] = in ? sU[sk(i0 + j)] : R(0);
                    gy[j] = in ? sG[sk(i0 + j)] : R(0);
                    pu[j] = R(0);    // sum over states of dL/d(dt*u*B_n) * B_n
                    pdt[j] = R(0);   // sum over states of dL/d(decay_n) * decay_n * A_n
                }
                // The state entering the thread's 64-step chunk, saved by the forward.
                const bool live = l0 + i0 < L;
                const size_t st = (seq * nst + (live ? (l0 + i0) / CHUNK : 0)) * N;
#pragma unroll 1
                for (int n = 0; n < N; n++) {
                    const R a = an[n];
                    const T* bn = Bs + bcrow + (size_t) n * L + l0;
                    const T* cn = Cs + bcrow + (size_t) n * L + l0;
                    R da[ITEMS], db[ITEMS], bv[ITEMS], cv[ITEMS], hs[ITEMS + 1];
                    R pa = R(1), pb = R(0);
#pragma unroll
                    for (int j = 0; j < ITEMS; j++) {
                        const bool in = i0 + j < len;
                        bv[j] = in ? ld(bn, i0 + j) : R(0);
                        cv[j] = in ? ld(cn, i0 + j) : R(0);
                        da[j] = in ? ex(dt[j] * a) : R(1);
                        db[j] = dt[j] * u[j] * bv[j];
                        pb = da[j] * pb + db[j];
                        pa = da[j] * pa;
                    }
                    // Recompute the states: a scan over the SEG lanes of each saved chunk, from
                    // its saved state (shuffles only, no barrier).
#pragma unroll
                    for (int off = 1; off < SEG; off <<= 1) {
                        const R qa = __shfl_up_sync(0xffffffffu, pa, off, SEG), qb = __shfl_up_sync(0xffffffffu, pb, off, SEG);
                        if ((lane & (SEG - 1)) >= off) { pb = pa * qb + pb; pa = pa * qa; }
                    }
                    R ea = __shfl_up_sync(0xffffffffu, pa, 1, SEG), eb = __shfl_up_sync(0xffffffffu, pb, 1, SEG);
                    if ((lane & (SEG - 1)) == 0) { ea = R(1); eb = R(0); }
                    hs[0] = ea * (live ? states[st + n] : R(0)) + eb;
#pragma unroll
                    for (int j = 0; j < ITEMS; j++) hs[j + 1] = da[j] * hs[j] + db[j];
                    // dL/d(state) runs backwards: G_l = decay_l * (C_l gy_l + G_{l+1}).
                    pa = R(1);
                    pb = R(0);
#pragma unroll
                    for (int j = ITEMS - 1; j >= 0; j--) {
                        pb = da[j] * (pb + cv[j] * gy[j]);
                        pa = da[j] * pa;
                    }
                    R gnext = scan_reverse(pa, pb, false, sGc + n, sAgg + phase * 2 * WARPS);
                    phase ^= 1;
                    R vb[ITEMS], vc[ITEMS], acc_a = R(0);
#pragma unroll
                    for (int j = ITEMS - 1; j >= 0; j--) {
                        const R gh = cv[j] * gy[j] + gnext;   // dL/d(state after step j)
                        const R w = gh * da[j] * hs[j];       // dL/d(decay) * decay
                        acc_a += w * dt[j];
                        pdt[j] += w * a;
                        pu[j] += gh * bv[j];
                        vb[j] = gh * dt[j] * u[j];
                        vc[j] = gy[j] * hs[j + 1];
                        gnext = da[j] * gh;
                    }
                    sAcc[n * blockDim.x + t] += acc_a;
                    // B and C gradients summed over the group's channels in channel order: every
                    // channel maps the same thread to the same steps, so a thread only ever
                    // re-reads what it wrote itself.
                    R* gbn = pbc + bcrow + (size_t) n * L + l0;
#pragma unroll
                    for (int j = 0; j < ITEMS; j++) {
                        if (i0 + j >= len) continue;
                        gbn[i0 + j] = c == 0 ? vb[j] : gbn[i0 + j] + vb[j];
                        gbn[bcplane + i0 + j] = c == 0 ? vc[j] : gbn[bcplane + i0 + j] + vc[j];
                    }
                }
                // Every thread has passed the scans' barriers: sD's deltas are consumed.
#pragma unroll
                for (int j = 0; j < ITEMS; j++) {
                    if (i0 + j >= len) continue;
                    const R sig = recip(R(1) + ex(-z[j]));   // d softplus / dz
                    const R gz = (u[j] * pu[j] + pdt[j]) * sig;
                    gdelta[drow + l0 + i0 + j] = gz;
                    acc_z += gz;
                    acc_d += gy[j] * u[j];
                    sD[sk(i0 + j)] = dt[j] * pu[j] + gy[j] * dskip;
                }
                __syncthreads();
                // Routes in order, one writer per position: gx = ((g0 + g1) + g2) + g3.
                for_route(k, l0, len, L, H, W, div_h, [&](int i, int pos) {
                    const R v = sD[sk(i)];
                    gx[xrow + pos] = k == 0 ? v : gx[xrow + pos] + v;
                });
            }
            // The A, D and bias gradients of (b, k, d): lanes, then warps in order; one writer each.
            for (int n = 0; n < N; n++) {
                const R v = warp_sum(sAcc[n * blockDim.x + t]);
                if (lane == 0) sRed[wid * RED + n] = v;
            }
            acc_d = warp_sum(acc_d);
            acc_z = warp_sum(acc_z);
            if (lane == 0) {
                sRed[wid * RED + MAXN] = acc_d;
                sRed[wid * RED + MAXN + 1] = acc_z;
            }
            __syncthreads();
            if (t < N || t == MAXN || t == MAXN + 1) {
                R v = sRed[t];
#pragma unroll
                for (int w = 1; w < warps(); w++) v += sRed[w * RED + t];
                if (t < N) prow[((size_t) k * D + d) * N + t] = v;
                else prow[nA + (t - MAXN) * nD + k * D + d] = v;
            }
        }
    }
}

template <typename T, typename R = AccOf<T>>
__device__ void fwd_entry(const T* x, const T* delta, const R* A, const T* Bs, const T* Cs, const R* Ds,
                          const R* bias, R* out, R* states, int D, int H, int W, int N) {
    extern __shared__ double sscan_fwd_smem[];   // FWD_SMEM values of R
    fwd<T>(x, delta, A, Bs, Cs, Ds, bias, out, states, D, H, W, N, reinterpret_cast<R*>(sscan_fwd_smem));
}

template <typename T, typename R = AccOf<T>>
__device__ void bwd_entry(const T* x, const T* delta, const R* A, const T* Bs, const T* Cs, const R* Ds,
                          const R* bias, const R* states, const R* gout, R* gx, R* gdelta,
                          R* part_bc, R* part_p, int D, int H, int W, int N, unsigned h_magic, int h_shift) {
    extern __shared__ double sscan_bwd_smem[];   // BWD_SMEM values of R
    bwd<T>(x, delta, A, Bs, Cs, Ds, bias, states, gout, gx, gdelta, part_bc, part_p, D, H, W, N, DivH{h_magic, h_shift},
           reinterpret_cast<R*>(sscan_bwd_smem));
}

// out = the sum over groups of part [groups, n0 + n1 + n2], in ascending group order; element i
// of a row goes to out0[i], out1[i - n0] or out2[i - n0 - n1]. Any 1-D grid; grid-stride.
template <typename R>
__device__ void sum_groups(const R* __restrict__ part, int groups, long long n0, long long n1, long long n2,
                           R* __restrict__ out0, R* __restrict__ out1, R* __restrict__ out2) {
    const long long row = n0 + n1 + n2, stride = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < row; i += stride) {
        R s = part[i];
#pragma unroll 8
        for (int g = 1; g < groups; g++) s += part[g * row + i];
        if (i < n0) out0[i] = s;
        else if (i < n0 + n1) out1[i - n0] = s;
        else out2[i - n0 - n1] = s;
    }
}

}  // namespace lumen_sscan

namespace lumen_sscan {
// Blocks per SM that ptxas must fit (registers): 10 forward blocks (48 registers) and 6 backward
// blocks (80; 5 and 96 on sm_80, where 80 spills), measured spill-free; double keeps its
// registers (a finite-difference path).
template <typename T> constexpr int kFwdMinBlocks = 10;
template <> constexpr int kFwdMinBlocks<double> = 1;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
template <typename T> constexpr int kBwdMinBlocks = 5;
#else
template <typename T> constexpr int kBwdMinBlocks = 6;
#endif
template <> constexpr int kBwdMinBlocks<double> = 1;
}  // namespace lumen_sscan

// Entry points per storage type T; R is what A, D, bias, out, states and the gradients are.
#define LUMEN_SSCAN_ENTRIES(T, SUFFIX) LUMEN_SSCAN_ENTRIES_R(T, SUFFIX, lumen_sscan::AccOf<T>)
#define LUMEN_SSCAN_ENTRIES_R(T, SUFFIX, R)                                                                              \
    extern "C" __global__ void __launch_bounds__(lumen_sscan::THREADS, lumen_sscan::kFwdMinBlocks<T>) selective_scan_fwd_##SUFFIX(                      \
            const T* x, const T* delta, const R* A, const T* Bs, const T* Cs, const R* Ds, const R* bias,                \
            R* out, R* states, int D, int H, int W, int N) {                                                             \
        lumen_sscan::fwd_entry<T>(x, delta, A, Bs, Cs, Ds, bias, out, states, D, H, W, N);                            \
    }                                                                                                                    \
    extern "C" __global__ void __launch_bounds__(lumen_sscan::THREADS, lumen_sscan::kBwdMinBlocks<T>) selective_scan_bwd_##SUFFIX(                      \
            const T* x, const T* delta, const R* A, const T* Bs, const T* Cs, const R* Ds, const R* bias,                \
            const R* states, const R* gout, R* gx, R* gdelta, R* part_bc, R* part_p, int D, int H, int W, int N,         \
            unsigned h_magic, int h_shift) {                                                                             \
        lumen_sscan::bwd_entry<T>(x, delta, A, Bs, Cs, Ds, bias, states, gout, gx, gdelta, part_bc, part_p,           \
                                     D, H, W, N, h_magic, h_shift);                                                      \
    }

LUMEN_FOR_FLOAT_TYPES(LUMEN_SSCAN_ENTRIES)

extern "C" __global__ void selective_scan_sum_f32(const float* part, int groups, long long n0, long long n1, long long n2,
                                                  float* out0, float* out1, float* out2) {
    lumen_sscan::sum_groups(part, groups, n0, n1, n2, out0, out1, out2);
}

extern "C" __global__ void selective_scan_sum_f64(const double* part, int groups, long long n0, long long n1, long long n2,
                                                  double* out0, double* out1, double* out2) {
    lumen_sscan::sum_groups(part, groups, n0, n1, n2, out0, out1, out2);
}
