// Layer norm (rows, and channels-first over dim 1 of [N, C, S]) and group norm, forward and
// backward (NormKernels). Statistics accumulate per thread in the compute type and combine across
// threads in double through fixed shuffle trees; weight and bias gradients go through per-part
// double sums (one part per row chunk or per sample) that ln_affine_grad adds in part order, so
// every result is the same bits run to run.
#include "lumen_tensor.cuh"

namespace lumen_norm {

template <typename T> using AccT = typename lumen::Acc<T>::type;

template <typename T> __device__ __forceinline__ T narrow(float v) { return lumen::from_accf<T>(v); }
template <typename T> __device__ __forceinline__ T narrow(double v) { return lumen::from_acc<T>(v); }

__device__ __forceinline__ float root(float v) { return sqrtf(v); }
__device__ __forceinline__ double root(double v) { return sqrt(v); }

// An optional per-channel vector (weight, bias): dflt where it is absent.
template <typename T>
__device__ __forceinline__ AccT<T> opt(const T* v, long long i, float dflt) {
    return v ? lumen::to_acc(v[i]) : AccT<T>(dflt);
}

__device__ __forceinline__ double warp_sum(double v) {
    // xor butterfly: every lane adds the same pairs (commuted), so all lanes hold the same bits.
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Sum over the block (blockDim.x a multiple of 32): every thread gets the same total. red holds
// one slot per warp; the leading barrier lets a block call this again with the same red.
__device__ double block_sum(double v, double* red) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) red[warp] = v;
    __syncthreads();
    return warp_sum(lane < warps ? red[lane] : 0.0);
}

// ------------------------------------------------------------------ layer norm over rows

// One block per row of d: the mean, then the sum and squares around it (centred, so the
// variance does not cancel), then out = xhat * w + b.
template <typename T>
__device__ void ln_rows_fwd(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b, double eps, int d,
                            T* __restrict__ out, T* __restrict__ mean, T* __restrict__ rstd) {
    using A = AccT<T>;
    __shared__ double red[32];
    const long long row = blockIdx.x;
    const T* xr = x + row * d;
    A s = 0;
    for (int i = threadIdx.x; i < d; i += blockDim.x) s += lumen::to_acc(xr[i]);
    const A shift = (A)(block_sum((double)s, red) / d);
    A s1 = 0, s2 = 0;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        const A v = lumen::to_acc(xr[i]) - shift;
        s1 += v;
        s2 += v * v;
    }
    const double dm = block_sum((double)s1, red) / d, sq = block_sum((double)s2, red);
    const double m = (double)shift + dm;
    const double r = 1.0 / sqrt(fmax(sq / d - dm * dm, 0.0) + eps);
    if (threadIdx.x == 0) {
        mean[row] = narrow<T>(m);
        rstd[row] = narrow<T>(r);
    }
    const A ar = (A)r, ac = (A)(-m * r);
    T* orow = out + row * d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        const A xh = lumen::to_acc(xr[i]) * ar + ac;
        orow[i] = narrow<T>(xh * opt(w, i, 1.f) + opt(b, i, 0.f));
    }
}

// gx = g*w*rstd + x*k2 + k3 with k2 = -rstd^3 * B / d, k3 = -rstd * A / d - mean * k2, where
// A = sum g*w and B = sum g*w*(x - mean) over the row.
template <typename T>
__device__ void ln_rows_bwd_input(const T* __restrict__ g, const T* __restrict__ x, const T* __restrict__ w,
                                  const T* __restrict__ mean, const T* __restrict__ rstd, int d, T* __restrict__ gx) {
    using A = AccT<T>;
    __shared__ double red[32];
    const long long row = blockIdx.x;
    const T* gr = g + row * d;
    const T* xr = x + row * d;
    const A m = lumen::to_acc(mean[row]), r = lumen::to_acc(rstd[row]);
    A sa = 0, sb = 0;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        const A gw = lumen::to_acc(gr[i]) * opt(w, i, 1.f);
        sa += gw;
        sb += gw * (lumen::to_acc(xr[i]) - m);
    }
    const double a = block_sum((double)sa, red), bsum = block_sum((double)sb, red);
    const double rd = r, k2d = -rd * rd * rd * bsum / d;
    const A k2 = (A)k2d, k3 = (A)(-rd * a / d - (double)m * k2d);
    T* gxr = gx + row * d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        gxr[i] = narrow<T>(lumen::to_acc(gr[i]) * opt(w, i, 1.f) * r + (lumen::to_acc(xr[i]) * k2 + k3));
    }
}

constexpr int TILE_COLS = 32, TILE_ROWS = 8;

// Part p of the weight and bias gradients: columns summed over rows [rows*p/parts, rows*(p+1)/parts).
// Block (32, 8) per (column tile, part); part_w and part_b are [parts, d].
template <typename T>
__device__ void ln_rows_bwd_partials(const T* __restrict__ g, const T* __restrict__ x, const T* __restrict__ mean,
                                     const T* __restrict__ rstd, int rows, int d, double* __restrict__ part) {
    using A = AccT<T>;
    __shared__ double sw[TILE_ROWS][TILE_COLS], sb[TILE_ROWS][TILE_COLS];
    const int tx = threadIdx.x, ty = threadIdx.y, parts = gridDim.y, p = blockIdx.y;
    const int col = blockIdx.x * TILE_COLS + tx;
    const long long r0 = (long long)rows * p / parts, r1 = (long long)rows * (p + 1) / parts;
    A aw = 0, ab = 0;
    if (col < d) {
        for (long long r = r0 + ty; r < r1; r += TILE_ROWS) {
            const A gv = lumen::to_acc(g[r * d + col]);
            aw += gv * ((lumen::to_acc(x[r * d + col]) - lumen::to_acc(mean[r])) * lumen::to_acc(rstd[r]));
            ab += gv;
        }
    }
    sw[ty][tx] = aw;
    sb[ty][tx] = ab;
    __syncthreads();
    if (ty == 0 && col < d) {
        double tw = 0, tb = 0;
        for (int k = 0; k < TILE_ROWS; k++) {
            tw += sw[k][tx];
            tb += sb[k][tx];
        }
        part[(long long)p * d + col] = tw;
        part[(long long)parts * d + (long long)p * d + col] = tb;
    }
}

// gw[c] = sum over parts of part_w[p][c] (times rstd[p, group of c] for group norm, whose parts
// are the samples), gb[c] = sum of part_b[p][c]; in part order, in double.
template <typename T>
__device__ void ln_affine_grad(const double* __restrict__ part, int parts, int c, const T* __restrict__ rstd, int groups,
                               T* __restrict__ gw, T* __restrict__ gb) {
    const int cg = c / groups;
    LUMEN_GRID_STRIDE(ch, c) {
        double tw = 0, tb = 0;
        for (int p = 0; p < parts; p++) {
            const double pw = part[(long long)p * c + ch];
            tw += rstd ? pw * (double)lumen::to_acc(rstd[(long long)p * groups + ch / cg]) : pw;
            tb += part[(long long)parts * c + (long long)p * c + ch];
        }
        if (gw) gw[ch] = narrow<T>(tw);
        if (gb) gb[ch] = narrow<T>(tb);
    }
}

// ------------------------------------------------------------------ channels-first layer norm

// One thread per position (n, s) of x [N, C, S], walking down the C channels at stride S, so a
// warp reads 32 adjacent positions of one channel at a time.
template <typename T>
__device__ void ln_channels_fwd(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b, double eps,
                                int n, int c, int s, T* __restrict__ out, T* __restrict__ mean, T* __restrict__ rstd) {
    using A = AccT<T>;
    LUMEN_GRID_STRIDE(pos, (long long)n * s) {
        const long long i = pos / s, sp = pos - i * s;
        const T* xp = x + i * c * s + sp;
        T* op = out + i * c * s + sp;
        A sum = 0;
        for (int k = 0; k < c; k++) sum += lumen::to_acc(xp[(long long)k * s]);
        const A m = sum / (A)c;
        A sq = 0;
        for (int k = 0; k < c; k++) {
            const A v = lumen::to_acc(xp[(long long)k * s]) - m;
            sq += v * v;
        }
        const A r = A(1) / root(sq / (A)c + (A)eps);
        mean[pos] = narrow<T>(m);
        rstd[pos] = narrow<T>(r);
        const A shift = -m * r;
        for (int k = 0; k < c; k++) {
            const long long at = (long long)k * s;
            op[at] = narrow<T>((lumen::to_acc(xp[at]) * r + shift) * opt(w, k, 1.f) + opt(b, k, 0.f));
        }
    }
}

template <typename T>
__device__ void ln_channels_bwd_input(const T* __restrict__ g, const T* __restrict__ x, const T* __restrict__ w,
                                      const T* __restrict__ mean, const T* __restrict__ rstd, int n, int c, int s,
                                      T* __restrict__ gx) {
    using A = AccT<T>;
    LUMEN_GRID_STRIDE(pos, (long long)n * s) {
        const long long i = pos / s, sp = pos - i * s, base = i * c * s + sp;
        const A m = lumen::to_acc(mean[pos]), r = lumen::to_acc(rstd[pos]);
        A sa = 0, sb = 0;
        for (int k = 0; k < c; k++) {
            const long long at = base + (long long)k * s;
            const A gw = lumen::to_acc(g[at]) * opt(w, k, 1.f);
            sa += gw;
            sb += gw * (lumen::to_acc(x[at]) - m);
        }
        const A negInvC = A(-1) / (A)c;
        const A k2 = r * r * r * sb * negInvC, k3 = r * sa * negInvC - m * k2;
        for (int k = 0; k < c; k++) {
            const long long at = base + (long long)k * s;
            gx[at] = narrow<T>(lumen::to_acc(g[at]) * (r * opt(w, k, 1.f)) + (lumen::to_acc(x[at]) * k2 + k3));
        }
    }
}

// Per (sample n, channel c) sums over the S positions of one channel, one warp per pair:
// part_w[n][c] = sum g * (x - mean) (* rstd where the statistics are per position), part_b[n][c] = sum g.
// PER_POSITION: mean/rstd are [N, S] (channels-first layer norm); otherwise [N, groups] (group
// norm, whose rstd ln_affine_grad applies and whose input gradient reuses these sums).
template <typename T, bool PER_POSITION>
__device__ void channel_partials(const T* __restrict__ g, const T* __restrict__ x, const T* __restrict__ mean,
                                 const T* __restrict__ rstd, int n, int c, int s, int groups, double* __restrict__ part) {
    using A = AccT<T>;
    const int lane = threadIdx.x & 31;
    const long long pair = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (pair >= (long long)n * c) return;
    const long long i = pair / c, ch = pair - i * c;
    const T* gp = g + pair * s;
    const T* xp = x + pair * s;
    const A gm = PER_POSITION ? A(0) : lumen::to_acc(mean[i * groups + ch / (c / groups)]);
    A aw = 0, ab = 0;
    for (int sp = lane; sp < s; sp += 32) {
        const A gv = lumen::to_acc(gp[sp]);
        if (PER_POSITION) {
            const long long st = i * s + sp;
            aw += gv * ((lumen::to_acc(xp[sp]) - lumen::to_acc(mean[st])) * lumen::to_acc(rstd[st]));
        } else {
            aw += gv * (lumen::to_acc(xp[sp]) - gm);
        }
        ab += gv;
    }
    const double tw = warp_sum((double)aw), tb = warp_sum((double)ab);
    if (lane == 0) {
        part[pair] = tw;
        part[(long long)n * c + pair] = tb;
    }
}

// ------------------------------------------------------------------ group norm

// One block per (sample, group): its cg*S contiguous values, statistics shifted by the first.
template <typename T>
__device__ void gn_fwd(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b, double eps, int c, int s,
                       int groups, T* __restrict__ out, T* __restrict__ mean, T* __restrict__ rstd) {
    using A = AccT<T>;
    __shared__ double red[32];
    const long long item = blockIdx.x;
    const int grp = (int)(item % groups), cg = c / groups;
    const long long count = (long long)cg * s, base = item * count;
    const A shift = lumen::to_acc(x[base]);
    A s1 = 0, s2 = 0;
    for (long long e = threadIdx.x; e < count; e += blockDim.x) {
        const A v = lumen::to_acc(x[base + e]) - shift;
        s1 += v;
        s2 += v * v;
    }
    const double dm = block_sum((double)s1, red) / count, sq = block_sum((double)s2, red);
    const T mt = narrow<T>((double)shift + dm), rt = narrow<T>(1.0 / sqrt(fmax(sq / count - dm * dm, 0.0) + eps));
    if (threadIdx.x == 0) {
        mean[item] = mt;
        rstd[item] = rt;
    }
    // The affine uses the statistics as stored, like the backward pass.
    const double m = lumen::to_acc(mt), r = lumen::to_acc(rt);
    for (long long e = threadIdx.x; e < count; e += blockDim.x) {
        const int ch = grp * cg + (int)(e / s);
        const double a = r * (double)opt(w, ch, 1.f), sh = (double)opt(b, ch, 0.f) - m * a;
        out[base + e] = narrow<T>(lumen::to_acc(x[base + e]) * (A)a + (A)sh);
    }
}

// gx = g * rstd*w + x*k2 + k3 over one (sample, group) block, from the per-channel sums that
// channel_partials<T, false> left in part: k2 = -rstd^3 * sum_c w*sgx / count, k3 = -rstd * sum_c w*sg / count - mean*k2.
template <typename T>
__device__ void gn_bwd_input(const T* __restrict__ g, const T* __restrict__ x, const T* __restrict__ w,
                             const T* __restrict__ mean, const T* __restrict__ rstd, int n, int c, int s, int groups,
                             const double* __restrict__ part, T* __restrict__ gx) {
    using A = AccT<T>;
    __shared__ double k[2];
    const long long item = blockIdx.x;
    const long long i = item / groups;
    const int grp = (int)(item % groups), cg = c / groups;
    const long long count = (long long)cg * s, base = item * count;
    const double m = lumen::to_acc(mean[item]), r = lumen::to_acc(rstd[item]);
    if (threadIdx.x == 0) {
        double sa = 0, sb = 0;
        for (int j = 0; j < cg; j++) {
            const int ch = grp * cg + j;
            const double wv = opt(w, ch, 1.f);
            sb += wv * part[i * c + ch];
            sa += wv * part[(long long)n * c + i * c + ch];
        }
        const double k2 = -r * r * r * sb / count;
        k[0] = k2;
        k[1] = -r * sa / count - m * k2;
    }
    __syncthreads();
    const A k2 = (A)k[0], k3 = (A)k[1];
    for (long long e = threadIdx.x; e < count; e += blockDim.x) {
        const int ch = grp * cg + (int)(e / s);
        const A k1 = (A)(r * (double)opt(w, ch, 1.f));
        gx[base + e] = narrow<T>(lumen::to_acc(g[base + e]) * k1 + (lumen::to_acc(x[base + e]) * k2 + k3));
    }
}

}  // namespace lumen_norm

#define LUMEN_NORM_KERNELS(T, t)                                                                                          \
    extern "C" __global__ void layer_norm_rows_fwd_##t(const T* x, const T* w, const T* b, double eps, int d, T* out,     \
                                                       T* mean, T* rstd) {                                               \
        lumen_norm::ln_rows_fwd<T>(x, w, b, eps, d, out, mean, rstd);                                                    \
    }                                                                                                                    \
    extern "C" __global__ void layer_norm_rows_bwd_input_##t(const T* g, const T* x, const T* w, const T* mean,         \
                                                             const T* rstd, int d, T* gx) {                              \
        lumen_norm::ln_rows_bwd_input<T>(g, x, w, mean, rstd, d, gx);                                                    \
    }                                                                                                                    \
    extern "C" __global__ void layer_norm_rows_bwd_partials_##t(const T* g, const T* x, const T* mean, const T* rstd,   \
                                                                int rows, int d, double* part) {                         \
        lumen_norm::ln_rows_bwd_partials<T>(g, x, mean, rstd, rows, d, part);                                            \
    }                                                                                                                    \
    extern "C" __global__ void layer_norm_channels_fwd_##t(const T* x, const T* w, const T* b, double eps, int n, int c, \
                                                           int s, T* out, T* mean, T* rstd) {                            \
        lumen_norm::ln_channels_fwd<T>(x, w, b, eps, n, c, s, out, mean, rstd);                                          \
    }                                                                                                                    \
    extern "C" __global__ void layer_norm_channels_bwd_input_##t(const T* g, const T* x, const T* w, const T* mean,     \
                                                                 const T* rstd, int n, int c, int s, T* gx) {            \
        lumen_norm::ln_channels_bwd_input<T>(g, x, w, mean, rstd, n, c, s, gx);                                          \
    }                                                                                                                    \
    extern "C" __global__ void layer_norm_channels_bwd_partials_##t(const T* g, const T* x, const T* mean,              \
                                                                    const T* rstd, int n, int c, int s, double* part) {  \
        lumen_norm::channel_partials<T, true>(g, x, mean, rstd, n, c, s, 1, part);                                       \
    }                                                                                                                    \
    extern "C" __global__ void norm_affine_grad_##t(const double* part, int parts, int c, const T* rstd, int groups,    \
                                                    T* gw, T* gb) {                                                      \
        lumen_norm::ln_affine_grad<T>(part, parts, c, rstd, groups, gw, gb);                                             \
    }                                                                                                                    \
    extern "C" __global__ void group_norm_fwd_##t(const T* x, const T* w, const T* b, double eps, int c, int s,          \
                                                  int groups, T* out, T* mean, T* rstd) {                                \
        lumen_norm::gn_fwd<T>(x, w, b, eps, c, s, groups, out, mean, rstd);                                              \
    }                                                                                                                    \
    extern "C" __global__ void group_norm_bwd_partials_##t(const T* g, const T* x, const T* mean, int n, int c, int s,  \
                                                           int groups, double* part) {                                   \
        lumen_norm::channel_partials<T, false>(g, x, mean, nullptr, n, c, s, groups, part);                              \
    }                                                                                                                    \
    extern "C" __global__ void group_norm_bwd_input_##t(const T* g, const T* x, const T* w, const T* mean,              \
                                                        const T* rstd, int n, int c, int s, int groups,                 \
                                                        const double* part, T* gx) {                                     \
        lumen_norm::gn_bwd_input<T>(g, x, w, mean, rstd, n, c, s, groups, part, gx);                                     \
    }
LUMEN_FOR_FLOAT_TYPES(LUMEN_NORM_KERNELS)
