"""The work of each kernel of the README's kernel table at the table's size, one function per
kernel family, from its launch geometry (the launchers' tile sizes are repeated here: keep them
in step when a launcher changes), and the table's rows in order: the four hot ops first, then the
glue families."""
from dataclasses import dataclass

from kernelreport.h100 import ceil


@dataclass
class Work:
    """What one launch at the table size does: grid, useful FLOPs, compulsory and moved bytes,
    and how often its hot loop runs: ('fma', n) n FMAs executed in it, ('mma', n) n warp-wide MMA
    instructions times 32 (per lane, as the others), or ('ldg', n) n global loads executed in it
    (thread level; divided by their count in the loop's PTX, which absorbs unrolling), or
    ('iters', n) n executions of its body by a thread."""
    blocks: int
    threads: int
    dynamic_shared: int
    flops: float          # useful floating-point operations (2 per multiply-add)
    floor_bytes: float    # compulsory bytes: every input read once, every output written once (fp32)
    floor_bytes16: float  # the same with 16-bit tensors
    moved_bytes: float    # what the blocks load and store: halos and per-block re-reads included
    hot: tuple            # ('fma', n), ('ldg', n) or ('iters', n)
    tensor_cores: bool = False   # the fp16 floor assumes tensor cores
    useful_fma: float = 0        # the FMAs the result needs, where hot counts FMAs or MMAs (0: not reported)
    floor_is16: bool = False     # held to the 16-bit floor (a 16-bit tensor-core kernel)
    mma_macs: int = 0            # multiply-adds of one warp-wide MMA instruction, where hot counts MMAs


F = 4  # bytes of an f32
GRID_STRIDE_THREADS, GRID_STRIDE_MAX_BLOCKS = 256, 4224   # backend/cuda/Launch.java


def grid_stride(n):
    return min(ceil(n, GRID_STRIDE_THREADS), GRID_STRIDE_MAX_BLOCKS), GRID_STRIDE_THREADS


# dwconv 31x31, B64 C128 56x56, stride 1, pad 15 (RepLKNet-31B stage 1): the templated k31_s1 entry
# points of dwconv.cu, launched as DepthwiseConvCuda does (its Tiling and planeFloats repeated here).
DW = dict(n=64, c=128, h=56, w=56, k=31, pad=15)
DW_V, DW_R = 7, 4                                  # outputs per thread along a row, rows per thread
DW_MAX_THREADS, DW_TARGET_THREADS, DW_MAX_SHARED, DW_MAX_BLOCK_Z = 256, 128, 48 * 1024, 64
WG_THREADS, WG_TILE_H, WG_TILE_W, WG_CHUNK = 256, 56, 56, 14
WG_SLOTS = 2 * 132                                 # weight-gradient blocks resident at once (2 per SM)


def dw_plane_floats(tx, ty, stride, k):
    cols, rows = (tx * DW_V - 1) * stride + k, (ty * DW_R - 1) * stride + k
    pitch = cols + ((2 - cols) & 3) if tx == 8 and stride == 1 else cols | 1
    return ((k + 1) * ((k + 3) & ~3) + rows * pitch + 3) & ~3


def dw_tiling(planes, oh, ow, stride, k):
    """DepthwiseConvCuda.Tiling.of: (tx, ty, planes per block, tiles y, tiles x, shared bytes)."""
    tx = min(8, ceil(ow, DW_V))
    strips = ceil(oh, DW_R)
    ty = min(strips, DW_MAX_THREADS // tx)
    while ty > 1 and dw_plane_floats(tx, ty, stride, k) * 4 > DW_MAX_SHARED:
        ty -= 1
    tiles_y = ceil(strips, ty)
    ty = ceil(strips, tiles_y)
    per_plane = dw_plane_floats(tx, ty, stride, k) * 4
    p = min(min(planes, ceil(DW_TARGET_THREADS, tx * ty)), min(DW_MAX_THREADS // (tx * ty), DW_MAX_SHARED // per_plane))
    p = max(1, min(p, DW_MAX_BLOCK_Z))
    return tx, ty, p, tiles_y, ceil(ow, tx * DW_V), p * per_plane


def inside(start, length, size):
    """How many of the coordinates start .. start+length-1 fall in 0 .. size-1."""
    return max(0, min(start + length, size) - max(start, 0))


def dw_common():
    d = DW
    plane = d["h"] * d["w"]
    macs = d["n"] * d["c"] * plane * d["k"] ** 2
    compulsory = (2 * d["n"] * d["c"] * plane + d["c"] * d["k"] ** 2) * F
    return d, plane, macs, compulsory


def dw_conv_pass(pad):
    """A stride-1 conv pass of dwconv.cu over the 56x56 map (the forward, or the input gradient as
    the forward of the flipped filter with padding K-1-pad): each thread computes its whole 7x4
    strip, so executed FMAs are the tile area times K*K (56 = 8 x 7 and 56 = 14 x 4: no overhang).
    Moved bytes count every staged window element inside the map and the taps per block, at DRAM
    rate: the halos of neighbouring tiles mostly hit L2, so this overstates DRAM traffic (it does
    not bind). The hot loop is the input-row loop (one row segment, then 4 filter rows x 217 FMAs);
    its 3 first and 3 last rows reach fewer than 4 output rows, so dividing the executed FMAs by
    the loop's FMA count gives full-loop equivalents (the row segment loads of those 6 rows are not
    counted: 6 x 37 of 34 x 37 + 124 x 32 shared loads, under 3%)."""
    d, plane, macs, compulsory = dw_common()
    planes, k = d["n"] * d["c"], d["k"]
    tx, ty, p, tiles_y, tiles_x, smem = dw_tiling(planes, d["h"], d["w"], 1, k)
    blocks = ceil(planes, p) * tiles_y * tiles_x
    executed = blocks * p * tx * ty * DW_R * DW_V * k * k
    cols, rows = (tx * DW_V - 1) + k, (ty * DW_R - 1) + k
    window = sum(inside(iy * ty * DW_R - pad, rows, d["h"]) * inside(ix * tx * DW_V - pad, cols, d["w"])
                 for iy in range(tiles_y) for ix in range(tiles_x))
    moved = (planes * (window + k * k) + planes * plane) * F
    return Work(blocks, tx * ty * p, smem, 2 * macs, compulsory, compulsory / 2, moved, ("fma", executed),
                tensor_cores=True, useful_fma=macs)


def dwconv_fwd():
    return dw_conv_pass(DW["pad"])


def dwconv_bwd_input():
    return dw_conv_pass(DW["k"] - 1 - DW["pad"])


def dw_weight_splits(n, c):
    """DepthwiseConvCuda.weightSplits: of the batch slices giving at most two waves, the ones that
    finish soonest with WG_SLOTS blocks at once."""
    best, best_time = 1, None
    for s in range(1, min(n, max(1, ceil(2 * WG_SLOTS, c))) + 1):
        t = ceil(c * s, WG_SLOTS) * ceil(n, s)
        if best_time is None or t < best_time:
            best, best_time = s, t
    return best


def dwconv_bwd_weight():
    """Grid (C, splits), 256 threads, splits as DepthwiseConvCuda.weightSplits (2 at B64 C128: 256
    blocks in one wave of 264); lane (tx, ty) of each warp owns taps ky = ty + 8r, kx = tx + 4v (4 x 8
    of them at K = 31: 1,024 slots for 961 taps). The 56x56 grad-output tile is staged whole; warp w
    walks t = w, w + 8, ... over its 56 + 24 rows, and per (t, 14-column chunk) loads one 42-value
    input segment, then for each tap row r whose grad-output row t - 8r lies in the tile 7 float2
    and 14 x 8 FMAs: the hot loop, 448 FMAs per full body. Executed FMAs: every (grad-output row,
    tap row) pair once per chunk. Not counted: the segments of the 24 edge rows of t, which serve
    fewer than 4 tap rows (24 x 42 loads against 56 bodies of about 535 instructions: ~3%)."""
    d, plane, macs, compulsory = dw_common()
    k, n, c = d["k"], d["n"], d["c"]
    splits = dw_weight_splits(n, c)
    rw, vw = (k + 7) // 8, (k + 3) // 4
    xrows, xcols = (WG_TILE_H - 1) + 8 * rw, (WG_TILE_W - 1) + 4 * vw
    xpitch = xcols + ((4 - xcols) & 7)
    smem = (max(WG_TILE_H * WG_TILE_W + xrows * xpitch, WG_THREADS // 32 * rw * vw * 32) + WG_THREADS) * F
    oh, ow = d["h"], d["w"]                 # stride 1, pad 15: same size
    chunks_per_row = sum(ceil(min(WG_TILE_W, ow - ox0), WG_CHUNK) for ox0 in range(0, ow, WG_TILE_W))
    executed = n * c * oh * chunks_per_row * 32 * rw * WG_CHUNK * vw
    staged = sum(inside(oy0 - d["pad"], min(WG_TILE_H, oh - oy0) - 1 + 8 * rw, d["h"]) *
                 inside(ox0 - d["pad"], min(WG_TILE_W, ow - ox0) - 1 + 4 * vw, d["w"])
                 for oy0 in range(0, oh, WG_TILE_H) for ox0 in range(0, ow, WG_TILE_W))
    moved = (n * c * (staged + oh * ow) + splits * c * (k * k + 1)) * F
    return Work(c * splits, WG_THREADS, smem, 2 * macs, compulsory, compulsory / 2, moved, ("fma", executed),
                tensor_cores=True, useful_fma=macs)


# The same conv in f16 on tensor cores: dwconv_tc.cu's dwconv2d_tc_f16 forward as
# DepthwiseConvTensorCoreCuda launches it (the input gradient is the same kernel, flip = 1).
TC_WARPS, TC_FRAG, TC_TARGET_BLOCKS, TC_MMA_MACS = 12, 16, 132, 16 * 16 * 16


def dwconv_tc_f16():
    """Per channel a Toeplitz implicit GEMM per filter column. A 56x56 map takes the largest tiling:
    64x32 warp tiles (MB = 4, NB = 2 fragments), two per unit (WX = 2), so a unit is the whole map and
    a block's 6 slots of 2 warps stage 6 images' windows at once (one 12-warp block per SM fits its
    170 KB of shared memory). A tile meets S = ceil((K + 15) / 16) = 3 Toeplitz blocks per row block;
    per filter column 3 + 6 x 2 = 15 fragment loads from shared memory and 24 MMAs of 16x16x16 (the
    hot loop), of which K / 48 of the multiply-adds are useful; 64x64 is computed for 56x56. A block
    lasts its rounds of 6 units (32 images: 6 rounds, the last one a third full), charged to all 12
    warps. Not counted: the window staging (each
    input value once, scalar global loads) and the Toeplitz build, both outside the hot loop."""
    d, plane, macs, compulsory = dw_common()
    n, c, k = d["n"], d["c"], d["k"]
    s = (k + 30) // TC_FRAG
    mb, nb, wx = 4, 2, 2
    slots = TC_WARPS // wx
    ld = TC_FRAG * ((mb + s - 1) | 1)
    ncols = TC_FRAG * nb * wx + k - 1
    region = max(ncols * ld, wx * 2 * TC_FRAG * TC_FRAG)
    smem = (k * s * TC_FRAG * TC_FRAG + slots * region) * 2
    groups = min(n, max(1, ceil(TC_TARGET_BLOCKS, c)))
    per_block = ceil(n, groups)
    groups = ceil(n, per_block)
    tiles_y, tiles_x = ceil(d["h"], TC_FRAG * mb), ceil(d["w"], TC_FRAG * nb)
    groups_x = ceil(tiles_x, wx)
    units = tiles_y * groups_x
    rounds = sum(ceil(min(per_block, n - g * per_block) * units, slots) for g in range(groups))  # per channel
    warp_mmas = c * rounds * TC_WARPS * k * mb * nb * s
    rows_used = TC_FRAG * mb + k - 1
    window = sum(inside(ty * TC_FRAG * mb - d["pad"], rows_used, d["h"]) *
                 inside(gx * wx * TC_FRAG * nb - d["pad"], ncols, d["w"])
                 for ty in range(tiles_y) for gx in range(groups_x))
    compulsory16 = compulsory / 2
    moved = (n * c * (window + plane) + c * groups * k * k) * 2
    return Work(c * groups, TC_WARPS * 32, smem, 2 * macs, compulsory, compulsory16, moved, ("mma", 32 * warp_mmas),
                tensor_cores=True, useful_fma=macs, floor_is16=True, mma_macs=TC_MMA_MACS)


# VOLO-D1 outlook attention, B64 28x28 C192 (6 heads of 32), k3 pad1 stride2: OutlookCuda. fwd and
# bwd_v: 8x8 output tiles (stride 2), one block per (tile, image, head, 32-channel chunk); bwd_logits:
# 4x7 anchor tiles (252 of 256 threads one softmax row each), one block per (tile, image, head).
OL = dict(b=64, hw=28, c=192, heads=6, k=3, pad=1, stride=2, tile=8, ch=32, logits_tile=(4, 7))


def ol_common():
    o = OL
    a = (o["hw"] + 2 * o["pad"] - o["k"]) // o["stride"] + 1        # anchors per axis: 14
    kk = o["k"] ** 2
    macs = o["b"] * o["heads"] * a * a * kk * kk * (o["c"] // o["heads"])
    v = o["b"] * o["c"] * o["hw"] ** 2
    logits = o["b"] * o["heads"] * a * a * kk * kk
    return o, a, kk, macs, v, logits


def ol_pixel_pass():
    """fwd and bwd_v: per block the softmax rows its tile needs (one thread per row, to shared memory),
    the v (or gout) window of its anchors at a pitch of 33, then a warp per output pixel, lane =
    channel: 9 FMAs per covering anchor, each a shared load of v and a broadcast p (the hot loop).
    Output pixels past the map are not visited, so executed FMAs are the useful ones. Moved bytes:
    every block's window (its halo re-read from L2, counted at DRAM rate), the logits once, the
    output once."""
    o, a, kk, macs, v, logits = ol_common()
    anchors = (o["tile"] + o["k"] - 2) // o["stride"] + 1
    window = (anchors - 1) * o["stride"] + o["k"]
    tiles = ceil(o["hw"], o["tile"])
    planes = o["b"] * o["heads"] * ceil(o["c"] // o["heads"], o["ch"])
    blocks = tiles * tiles * planes
    smem = (anchors * anchors * kk * kk + window * window * (o["ch"] + 1)) * F
    staged = 0
    for t in range(tiles):
        ny0 = max(0, -(-(t * o["tile"] + o["pad"] - o["k"] + 1) // o["stride"]))
        staged_rows = inside(ny0 * o["stride"] - o["pad"], window, o["hw"])
        staged += staged_rows
    staged_px = staged * staged                      # the same along both axes
    compulsory = (2 * v + logits) * F
    moved = (planes * staged_px * o["ch"] + logits + v) * F
    return Work(blocks, 256, smem, 2 * macs, compulsory, compulsory / 2, moved, ("fma", macs), useful_fma=macs)


def outlook_fwd():
    return ol_pixel_pass()


def outlook_bwd_v():
    return ol_pixel_pass()


def ol_logits_window():
    o = OL
    th, tw = o["logits_tile"]
    return (th - 1) * o["stride"] + o["k"], (tw - 1) * o["stride"] + o["k"]


def outlook_bwd_logits_k3():
    """One thread per softmax row (path 'body': no row loop): the two window stagings (a warp per
    pixel, lanes over the 32 channels), dP_j = gout[i] . v[j] over the head's 32 channels from
    shared windows (9 FMAs per channel: the channel loop), then the softmax backward in registers."""
    o, a, kk, macs, v, logits = ol_common()
    th, tw = o["logits_tile"]
    rows, cols = ol_logits_window()
    hd = o["c"] // o["heads"]
    blocks = ceil(a, th) * ceil(a, tw) * o["b"] * o["heads"]
    staged = sum(inside(ty * th * o["stride"] - o["pad"], rows, o["hw"]) for ty in range(ceil(a, th))) * \
        sum(inside(tx * tw * o["stride"] - o["pad"], cols, o["hw"]) for tx in range(ceil(a, tw)))
    compulsory = (2 * v + 2 * logits) * F
    moved = (o["b"] * o["heads"] * 2 * staged * hd + 2 * logits) * F
    # one body per thread; a warp issues for its idle lanes (252 rows in 8 warps, 126 in 4 on the
    # last tile row), so the count is per lane of every busy warp
    lanes = o["b"] * o["heads"] * sum(ceil(min(th, a - ty * th) * min(tw, a - tx * tw) * kk, 32) * 32
                                      for ty in range(ceil(a, th)) for tx in range(ceil(a, tw)))
    return Work(blocks, 256, 2 * rows * cols * (hd + 1) * F, 2 * macs, compulsory, compulsory / 2, moved,
                ("iters", lanes))


def outlook_bwd_logits_trips(loop):
    """Trips per thread of a loop of outlook_bwd_logits_k3: the channel loop (32 channels x 9 FMAs,
    unrolled in the PTX), a window staging loop (a warp per pixel of the 9 x 15 window: 17 rounds of
    the block's 8 warps; the channel loop inside it counted in its mix), or the compare-and-subtract
    that moves a warp's pixel to the next row (at most once per round here)."""
    rows, cols = ol_logits_window()
    if loop.n("fma"):
        return OL["c"] // OL["heads"] * OL["k"] ** 2 / loop.n("fma")
    if loop.n("ldg"):
        return ceil(rows * cols, 8)
    return 1


# VMamba-T selective scan, B64 L3136 (56x56), 4 routes, D96, N1, f32: SelectiveScanCuda. Forward: one
# block of 128 threads per (batch, channel), the 4 routes in turn, each in spans of 512 steps (4 per
# thread; 6 full spans and a 64-step one); backward: one block per (batch, group of 8 channels), per
# route per channel the spans last to first.
SS = dict(b=64, d=96, h=56, w=56, l=3136, routes=4, n=1, threads=128, items=4, cpb=8, chunk=64, maxn=16)


def ss_common():
    s = SS
    plane = s["b"] * s["d"] * s["l"] * F                 # one [B,D,L] f32 plane, in bytes
    bc = s["b"] * s["routes"] * s["n"] * s["l"] * F      # B or C [B,4,N,L]
    steps = s["b"] * s["d"] * s["l"] * s["routes"]       # (batch, channel, route, position)
    spans = ceil(s["l"], s["threads"] * s["items"])
    states = s["b"] * s["routes"] * s["d"] * ceil(s["l"], s["chunk"]) * s["n"] * F
    buf = s["threads"] * s["items"] * (1 + 1 / 32)
    return s, plane, bc, steps, spans, states, int(buf)


def ss_staging_trips(mix, depth, is_state_loop, has_inner):
    """Executions per span and thread of the loops inside a forward span loop: the state loop N
    times; the column routes' staging and merge walks (for_columns) over a span's 512 steps in
    4 rows x 8 columns per warp: each thread handles 512 / 128 = 4 steps (the inner, row loop),
    in (512 / 56 + 1) / 8 of the span's columns on average (the outer, column loop)."""
    s = SS
    span = s["threads"] * s["items"]
    if is_state_loop:
        return s["n"]
    return (span / s["h"] + 1) / 8 if has_inner else span / s["threads"]


def scan_fwd():
    """The hot loop is a full span, one instantiation per route (path 'mean': the mean of the 4,
    the column routes' staging walks at their trip counts): 4 softplus, the state loop (N = 1:
    once) with its block-wide scan, out updated in place (routes 0, 2) or through shared memory
    (1, 3). The last, 64-step span of a route runs after the loop and is counted as a full one.
    DRAM: x once (a block's 12.5 KB x and out planes stay in L2 between its routes: 10 blocks per
    SM x 132 SMs x 25 KB = 33 MB of the 50 MB L2, a judgment), delta of the 4 routes, out once,
    B and C once (the 96 blocks of a batch run together and share them in L2), the chunk states."""
    s, plane, bc, steps, spans, states, buf = ss_common()
    compulsory = 6 * plane + 2 * bc
    compulsory16 = 5 * plane / 2 + plane + bc          # x, delta, B, C 16-bit; out f32
    moved = 6 * plane + 2 * bc + states
    smem = (2 * buf + 4 * 4 + s["maxn"]) * F
    blocks = s["b"] * s["d"]
    return Work(blocks, s["threads"], smem, steps * s["n"] * 6, compulsory, compulsory16, moved,
                ("iters", blocks * s["threads"] * s["routes"] * spans))


def scan_bwd():
    """The hot loop is a span of one (route, channel) (path 'outer': the span loop around the state
    loop, every variant of its staging and merge loops once). DRAM: the routes run outside the
    channel loop, so a block re-reads x and gout and re-reads and re-writes gx per route; its 8
    channels' three planes (300 KB) times the 768 resident blocks are far over the L2, so those
    re-reads are counted from DRAM: x 4, gout 4, gx 4 writes + 3 reads, delta 4, gdelta 4 planes;
    part_bc written once per group (the 8 channels' read-add-writes of one route stay in L2), B and C
    re-read per channel from L2, the states."""
    s, plane, bc, steps, spans, states, buf = ss_common()
    groups = ceil(s["d"], s["cpb"])
    compulsory = 11 * plane + 4 * bc
    compulsory16 = 2 * plane / 2 + 9 * plane + 2 * bc / 2 + 2 * bc   # x, delta 16-bit in; the rest f32
    moved = (4 + 4 + 7 + 4 + 4) * plane + 2 * bc * groups + 2 * bc + states
    smem = (3 * buf + 4 * 4 + s["maxn"] + s["maxn"] * s["threads"] + 4 * (s["maxn"] + 2)) * F
    blocks = s["b"] * groups
    return Work(blocks, s["threads"], smem, steps * s["n"] * 14, compulsory, compulsory16, moved,
                ("iters", s["b"] * s["d"] * s["threads"] * s["routes"] * spans))


# CAS-ViT-XS CATM, stage 1: B64 dim48 56x56 (the gate kernels: one gate's launch): AdditiveAttentionCuda.
# Plane kernels: strips (Strips.of: 56 columns x 4 strips of 14 rows, 224 threads, one block per
# plane); catm_gates: 14x14 tiles of one image (GateTile.of), one thread per staged cell.
CA = dict(b=64, c=48, hw=56)
CA_MAX_COLS, CA_THREADS, CA_MIN_ROWS, CA_MAX_ROWS, CA_GATE_TILE = 128, 256, 4, 16, 14


def ca_common():
    a = CA
    n = a["b"] * a["c"] * a["hw"] ** 2
    pix = a["b"] * a["hw"] ** 2
    return a, n, pix


def ca_strips(h, w):
    """AdditiveAttentionCuda.Strips.of: (columns, strips, rows per strip, boxes per plane, threads)."""
    sw = min(w, CA_MAX_COLS)
    sh_max = CA_THREADS // sw
    rows = min(h, max(CA_MIN_ROWS, min(CA_MAX_ROWS, ceil(h, sh_max))))
    sh = min(sh_max, ceil(h, rows))
    return sw, sh, rows, ceil(w, sw) * ceil(h, sh * rows), ceil(sw * sh, 32) * 32


def ca_plane(n_reads, n_writes, pix_reads, pix_writes, flops, slot_bytes, loads):
    """A strip kernel: each thread walks a column strip, its 3x3 neighbourhood sliding down in
    registers; the hot loop is the row loop, unrolled by 3 (walk()), whose code has `loads` global
    loads per output pixel (the new row of the window and the pixel's own inputs), so n * loads
    divided by its load count is its trips however far nvcc unrolls (56 = 4 strips x 14 rows: no
    overhang). Not counted: the per-thread set-up (the block decode, the 9 taps, the first 2 or 3
    rows), the strip's last row at the image's bottom edge (the loop with the row tests) and the
    block's tree, about 60-150 instructions per thread or 4-11 per pixel. DRAM: each plane read or written once (the strips' halo rows and the neighbouring columns
    are the same block's and hit L1/L2), per-pixel [B,H,W] planes once (re-read per channel from L2),
    the block's slot sums."""
    a, n, pix = ca_common()
    sw, sh, rows, boxes, threads = ca_strips(a["hw"], a["hw"])
    blocks = boxes * a["b"] * a["c"]
    compulsory = ((n_reads + n_writes) * n + (pix_reads + pix_writes) * pix) * F
    moved = compulsory + blocks * slot_bytes
    return Work(blocks, threads, 0, flops, compulsory, compulsory / 2, moved, ("ldg", n * loads))


def catm_stats():
    a, n, pix = ca_common()
    return ca_plane(1, 0, 0, 0, n * 21, 16, 3)         # 3 loads per pixel: t's new row


def catm_gates():
    """One block per (14x14 tile, image), a thread per staged cell (256 of the 16x16 window; the first
    196 also one per pixel): the window for all 48 channels stays in shared memory (49 KB: 4 blocks per
    SM); per channel (the hot loop) each thread stages the next channel's cell, and each pixel's thread
    reads its 9 neighbours from shared memory, its channel's 12 folded constants in three 16-byte
    loads (catm_gate_coefs) and does 11 FMAs, then a barrier. Counted for all 8 warps (the 8th has no
    pixel: an overcount of about 1/8). Not counted: a warp per channel summing t*s over the tile from
    shared memory after the loop (about 3 instructions per pixel-channel, 6% of the loop's). DRAM:
    every staged element inside the map (the 16x16 windows overlap their neighbours', counted at DRAM
    rate), s once, the tile sums."""
    a, n, pix = ca_common()
    tile = CA_GATE_TILE
    tiles = ceil(a["hw"], tile) ** 2
    blocks = tiles * a["b"]
    staged = sum(inside(t * tile - 1, tile + 2, a["hw"]) for t in range(ceil(a["hw"], tile))) ** 2
    compulsory = (n + pix) * F
    moved = (a["b"] * a["c"] * staged + pix) * F + blocks * a["c"] * F
    smem = (a["c"] * (tile + 2) ** 2 + tile * tile) * F
    threads = ceil((tile + 2) ** 2, 32) * 32
    return Work(blocks, threads, smem, n * 26, compulsory, compulsory / 2, moved, ("iters", blocks * threads * a["c"]))


def catm_fwd():
    a, n, pix = ca_common()
    # q, k, v in, out; s_q, s_k. 13 loads per pixel: q, k, s_q, s_k of the new row, v
    return ca_plane(3, 1, 2, 0, n * 24, 0, 13)


def catm_bwd_dwc():
    a, n, pix = ca_common()
    # q, k, v, gout in; dv, dS out; 12 slot sums. 18 loads per pixel: q, k, s_q, s_k, gout, v of the new row
    return ca_plane(4, 2, 2, 0, n * 60, 48, 18)


def catm_bwd_reduce():
    """Blocks 0..C-1: one per channel, its B x boxes slots of 12 sums walked at a fixed stride (the hot
    loop) into a tree; then a warp per (b, c) adds the two gate slots over its boxes."""
    a, n, pix = ca_common()
    boxes = ca_strips(a["hw"], a["hw"])[3]
    slots = a["b"] * boxes * a["c"]
    blocks = a["c"] + ceil(a["b"] * a["c"], 8)
    moved = slots * 12 * F + 2 * a["b"] * a["c"] * F
    return Work(blocks, CA_THREADS, 0, slots * 12, moved, moved / 2, moved, ("ldg", slots * 10))


def catm_bwd_spatial():
    """One thread per pixel of [B,H,W]: a loop over the 48 channels (the hot loop) reading q, k, dS."""
    a, n, pix = ca_common()
    compulsory = (3 * n + 2 * pix + 2 * pix) * F
    blocks = ceil(pix, CA_THREADS)
    # 7 global loads per channel (q, k, dS and the 4 per-(b, c) gate values); the PTX unrolls 4 channels
    return Work(blocks, CA_THREADS, 0, n * 10, compulsory, compulsory / 2, compulsory, ("ldg", pix * a["c"] * 7))


def catm_bwd_bn_stats():
    a, n, pix = ca_common()
    # t, dz in; 3 double sums per block. 4 loads per pixel: t's new row, dz (where relu passes)
    return ca_plane(1, 0, 1, 0, n * 26, 24, 4)


def catm_bwd_input():
    a, n, pix = ca_common()
    # t, dS in, dt out; dz, s; 10 slot sums. 10 loads per pixel: t's new row (5 columns), dz of du's
    # new row (3), dS, s
    return ca_plane(2, 1, 2, 0, n * 60, 40, 10)


# Glue families: one grid-stride thread per element unless said otherwise.
def elementwise_add():
    n = 64 * 256 * 56 * 56
    b, t = grid_stride(n)
    return Work(b, t, 0, n, 3 * n * F, 3 * n * 2, 3 * n * F, ("ldg", 2 * n))


def cast_f32_bf16():
    # contiguous: the layout merges to one dim, the kernel's one-dim loop
    n = 64 * 197 * 768
    b, t = grid_stride(n)
    return Work(b, t, 0, 0, n * (F + 2), n * (F + 2), n * (F + 2), ("ldg", n))


def channel_sum():
    n, c = 64 * 256 * 56 * 56, 256
    count = n // c
    splits = min(max(1, min(ceil(264, c), ceil(count, 2048))), 1024)   # ReducePasses, rows kernel
    threads = 256
    return Work(c * splits, threads, 0, n, n * F + c * F, n * 2 + c * 2, n * F + c * splits * 8, ("ldg", n))


def softmax_rows():
    lines, n = 64 * 12 * 197, 197
    e = lines * n
    # max, sum of exp and the write each read the row: the second and third reads hit L1
    return Work(lines, 256, 0, 4 * e, 2 * e * F, 2 * e * 2, 2 * e * F, ("ldg", e))


def layer_norm_rows():
    rows, d = 12608, 768
    e = rows * d
    return Work(rows, min(256, d), 0, 8 * e, (2 * e + 2 * d + 2 * rows) * F, 2 * e * 2 + (2 * d + 2 * rows) * F,
                (2 * e + 2 * rows + 2 * d) * F, ("ldg", e))


def index_select():
    # a two-dim walk (rows, columns): the kernel's register-held loop, one multiply-high per element.
    # Every element loads its row's 8-byte index, but the 768 elements of a row share it: from DRAM
    # once per row, the other loads hit L1/L2 (a judgment; they stay in the issue count)
    rows, d = 12608, 768
    e = rows * d
    b, t = grid_stride(e)
    return Work(b, t, 0, 0, 2 * e * F + rows * 8, 2 * e * 2 + rows * 8, 2 * e * F + rows * 8, ("ldg", 2 * e))


def dropout():
    n = 64 * 197 * 768
    b, t = grid_stride(n)
    # reads x, writes the output and a one-byte mask; the counter-based RNG draws on the fly
    return Work(b, t, 0, n, n * (2 * F + 1), n * (2 * 2 + 1), n * (2 * F + 1), ("ldg", n))


def max_pool():
    n_in = 64 * 64 * 112 * 112
    n_out = 64 * 64 * 56 * 56
    b, t = grid_stride(n_out)
    # every output reads its 3x3 window (neighbouring windows overlap: L1/L2 hits) and writes a value
    # and an I64 index; the hot loop is the per-output one, its 3x3 window loop counted once
    return Work(b, t, 0, 9 * n_out, n_in * F + n_out * (F + 8), n_in * 2 + n_out * (2 + 8), n_in * F + n_out * (F + 8),
                ("iters", n_out))


def resize_bilinear():
    n_in, n_out = 64 * 96 * 56 * 56, 64 * 96 * 112 * 112
    b, t = grid_stride(n_out)
    return Work(b, t, 0, 7 * n_out, (n_in + n_out) * F, (n_in + n_out) * 2, (n_in + n_out) * F, ("ldg", 4 * n_out))


def im2col():
    n_in = 64 * 64 * 56 * 56
    n_out = 9 * n_in
    b, t = grid_stride(n_out)
    return Work(b, t, 0, 0, (n_in + n_out) * F, (n_in + n_out) * 2, (n_in + n_out) * F, ("ldg", n_out))


def batchnorm_bwd_const():
    n, c, per_channel = 64 * 256 * 56 * 56, 256, 64 * 56 * 56
    # CudnnBatchNorm.constSplits: each channel cut into runs, one block per (channel, run), enough
    # blocks for two waves; one pass reads go and x once and writes dx, then a per-channel sum of the
    # runs' partials (2 doubles per block)
    splits = max(1, min(ceil(2 * 132 * 8, c), ceil(per_channel, 8 * 256)))
    return Work(c * splits, 256, 0, 6 * n, 3 * n * F, 3 * n * 2, 3 * n * F + c * splits * 16, ("ldg", 2 * n))


def adamw():
    p = 25_600_000
    b, t = grid_stride(p)
    # param, grad, exp_avg, exp_avg_sq read; param, exp_avg, exp_avg_sq written
    return Work(b, t, 0, 16 * p, 7 * p * F, 7 * p * F, 7 * p * F, ("ldg", 4 * p))


@dataclass
class Row:
    kernel: str
    problem: str
    model: object
    path: str = "work"    # which loop is hot: see hot_loop
    want: dict = None     # the hot loop's own counts, where a kernel inlines several instantiations
    nested: object = None  # trips of the loops nested in the hot one, from their mix (see hot_loop)


# The README kernel table: the four hot ops first, then the glue families, each at its size.
DWP = "dw conv 31x31, B64 C128 56x56"
OLP = "VOLO-D1 outlook, B64 28x28 C192 k3 s2"
SSP = "VMamba-T scan, B64 L3136, 4 routes, D96 N1"
CAP = "CAS-ViT-XS CATM stage 1, B64 dim48 56x56"
CAG = CAP + ", one gate's launch"
ROWS = [
    Row("dwconv2d_fwd_k31_s1_f32", DWP, dwconv_fwd),
    Row("dwconv2d_bwd_input_k31_s1_f32", DWP, dwconv_bwd_input),
    Row("dwconv2d_bwd_weight_k31_s1_f32", DWP, dwconv_bwd_weight),
    # dwconv_tc.cu inlines every (S, MB, NB, WX); K = 31 on 56x56 runs S = 3, MB = 4, NB = 2: 24 MMAs
    # and 3 + 6 x 2 fragment loads per filter column
    Row("dwconv2d_tc_f16", DWP + ", f16 tensor cores", dwconv_tc_f16, want={"mma": 24, "lds": 15}),
    Row("outlook_fwd_f32", OLP, outlook_fwd),
    Row("outlook_bwd_v_f32", OLP, outlook_bwd_v),
    # a thread's softmax row (once), its channel loop and the window stagings at their trips
    Row("outlook_bwd_logits_k3_f32", OLP, outlook_bwd_logits_k3, path="body", nested=outlook_bwd_logits_trips),
    # the forward's span loop is instantiated per route; the state loop inside each has 25 FMAs of its own
    Row("selective_scan_fwd_f32", SSP, scan_fwd, path="mean", want={"fma": 25}, nested=ss_staging_trips),
    Row("selective_scan_bwd_f32", SSP, scan_bwd, path="outer"),
    Row("catm_stats_f32", CAG, catm_stats),
    Row("catm_gates_f32", CAG, catm_gates),
    Row("catm_fwd_f32", CAP, catm_fwd),
    Row("catm_bwd_dwc_f32", CAP, catm_bwd_dwc),
    Row("catm_bwd_reduce_f32", CAP, catm_bwd_reduce),
    Row("catm_bwd_spatial_f32", CAP, catm_bwd_spatial),
    Row("catm_bwd_bn_stats_f32", CAG, catm_bwd_bn_stats),
    Row("catm_bwd_input_f32", CAG, catm_bwd_input),
    Row("binary_fwd_f32", "add of two [64,256,56,56]", elementwise_add, path="fast"),
    Row("copy_f32_to_bf16", "cast F32 to BF16, ViT-B/16 tokens [64,197,768]", cast_f32_bf16, path="fast"),
    Row("reduce_rows_sum_f32", "per-channel sum of [64,256,56,56]", channel_sum),
    Row("softmax_fwd_rows_f32", "ViT-B/16 attention [64,12,197,197]", softmax_rows),
    Row("layer_norm_rows_fwd_f32", "ViT-B/16 tokens [12608,768] forward", layer_norm_rows),
    Row("index_select_f32_i64", "index_select of 12608 rows of [12608,768]", index_select, path="fast"),
    Row("dropout_fwd_f32", "p=0.1 on [64,197,768], mask and output", dropout),
    Row("max_pool2d_fwd_f32", "ResNet-50 stem max pool 3x3 s2 [64,64,112,112], I64 indices", max_pool),
    Row("resize_fwd_f32", "bilinear 56 to 112 of [64,96,56,56]", resize_bilinear),
    Row("im2col_f32", "im2col 3x3 of [64,64,56,56]", im2col),
    Row("batchnorm_bwd_const_f32", "BN backward with running statistics, [64,256,56,56]", batchnorm_bwd_const),
    Row("optim_adam_f32", "AdamW step over ResNet-50's 25.6M F32 parameters", adamw),
]
