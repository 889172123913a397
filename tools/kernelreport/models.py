"""The work of each kernel of the README's kernel table at the table's size, one function per
kernel family, from its launch geometry (the launchers' tile sizes are repeated here: keep them
in step when a launcher changes), and the table's rows in order: the four hot ops first, then the
glue families."""
from dataclasses import dataclass

from kernelreport.h100 import ceil


@dataclass
class Work:
    """What one launch at the table size does: grid, useful FLOPs, compulsory and moved bytes,
    and how often its hot loop runs: ('fma', n) n FMAs executed in it or ('ldg', n) n global
    loads executed in it (thread level; divided by their count in the loop's PTX, which absorbs
    unrolling), or ('iters', n) n executions of its body."""
    blocks: int
    threads: int
    dynamic_shared: int
    flops: float          # useful floating-point operations (2 per multiply-add)
    floor_bytes: float    # compulsory bytes: every input read once, every output written once (fp32)
    floor_bytes16: float  # the same with 16-bit tensors
    moved_bytes: float    # what the blocks load and store: halos and per-block re-reads included
    hot: tuple            # ('fma', n), ('ldg', n) or ('iters', n)
    tensor_cores: bool = False   # the fp16 floor assumes tensor cores
    useful_fma: float = 0        # the FMAs the result needs, where hot counts FMAs (0: not reported)


F = 4  # bytes of an f32
GRID_STRIDE_THREADS, GRID_STRIDE_MAX_BLOCKS = 256, 4224   # backend/cuda/Launch.java


def grid_stride(n):
    return min(ceil(n, GRID_STRIDE_THREADS), GRID_STRIDE_MAX_BLOCKS), GRID_STRIDE_THREADS


# dwconv 31x31, B64 C128 56x56, stride 1, pad 15 (RepLKNet-31B stage 1). Tiles: DepthwiseConvCuda.
DW = dict(n=64, c=128, h=56, w=56, k=31, tile_w=32, tile_h=32, threads_y=8, wgrad_tile_h=8)


def dw_common():
    d = DW
    plane = d["h"] * d["w"]
    macs = d["n"] * d["c"] * plane * d["k"] ** 2
    compulsory = (2 * d["n"] * d["c"] * plane + d["c"] * d["k"] ** 2) * F
    return d, plane, macs, compulsory


def dwconv_fwd():
    d, plane, macs, compulsory = dw_common()
    tiles = ceil(d["w"], d["tile_w"]) * ceil(d["h"], d["tile_h"])
    blocks = tiles * d["n"] * d["c"]
    in_w, in_h = d["tile_w"] - 1 + d["k"], d["tile_h"] - 1 + d["k"]
    # Every thread of a 32x32 tile runs all K*K taps, inside the map or not.
    executed = blocks * d["tile_w"] * d["tile_h"] * d["k"] ** 2
    moved = blocks * (in_w * in_h + d["k"] ** 2) * F + d["n"] * d["c"] * plane * F
    return Work(blocks, d["tile_w"] * d["threads_y"], (in_w * in_h + d["k"] ** 2) * F, 2 * macs, compulsory,
                compulsory / 2, moved, ("fma", executed), tensor_cores=True, useful_fma=macs)


def dwconv_bwd_input():
    d, plane, macs, compulsory = dw_common()
    tiles = ceil(d["w"], d["tile_w"]) * ceil(d["h"], d["tile_h"])
    blocks = tiles * d["n"] * d["c"]
    g = d["tile_w"] - 1 + d["k"] - 1 + 2
    executed = blocks * d["tile_w"] * d["tile_h"] * d["k"] ** 2
    moved = blocks * (g * g + d["k"] ** 2) * F + d["n"] * d["c"] * plane * F
    return Work(blocks, d["tile_w"] * d["threads_y"], (g * g + d["k"] ** 2) * F, 2 * macs, compulsory,
                compulsory / 2, moved, ("fma", executed), tensor_cores=True, useful_fma=macs)


def dwconv_bwd_weight():
    d, plane, macs, compulsory = dw_common()
    splits = max(1, min(d["n"], ceil(264, d["c"])))
    in_w, in_h = d["tile_w"] - 1 + d["k"], d["wgrad_tile_h"] - 1 + d["k"]
    steps = d["n"] * d["c"] * ceil(d["h"], d["wgrad_tile_h"]) * ceil(d["w"], d["tile_w"])
    executed = steps * d["wgrad_tile_h"] * d["tile_w"] * d["k"] ** 2
    moved = steps * (in_w * in_h + d["wgrad_tile_h"] * d["tile_w"]) * F + splits * d["c"] * d["k"] ** 2 * F
    smem = (in_w * in_h + d["wgrad_tile_h"] * d["tile_w"] + 256) * F
    return Work(d["c"] * splits, 256, smem, 2 * macs, compulsory, compulsory / 2, moved, ("fma", executed), tensor_cores=True, useful_fma=macs)


# VOLO-D1 outlook attention, B64 28x28 C192 (6 heads of 32), k3 pad1 stride2: OutlookCuda.
OL = dict(b=64, hw=28, c=192, heads=6, k=3, stride=2, tile=8, ch=32, logits_tile=4)


def ol_common():
    o = OL
    a = (o["hw"] + 2 - o["k"]) // o["stride"] + 1        # anchors per axis: 14
    kk = o["k"] ** 2
    macs = o["b"] * o["heads"] * a * a * kk * kk * (o["c"] // o["heads"])
    v = o["b"] * o["c"] * o["hw"] ** 2
    logits = o["b"] * o["heads"] * a * a * kk * kk
    return o, a, kk, macs, v, logits


def outlook_fwd():
    o, a, kk, macs, v, logits = ol_common()
    anchors = (o["tile"] + o["k"] - 2) // o["stride"] + 1
    window = (anchors - 1) * o["stride"] + o["k"]
    blocks = ceil(o["hw"], o["tile"]) ** 2 * o["b"] * o["heads"]
    compulsory = (2 * v + logits) * F
    moved = blocks * (window * window * o["ch"] + anchors * anchors * kk * kk) * F + v * F
    # softmax of each anchor's k^2 x k^2 logits, then one MAC per (anchor tap, tap, channel)
    return Work(blocks, 256, window * window * (o["ch"] + 1) * F, 2 * macs, compulsory, compulsory / 2, moved,
                ("fma", macs * ceil(o["hw"], o["tile"]) ** 2 * o["tile"] ** 2 / o["hw"] ** 2), useful_fma=macs)


def outlook_bwd_v():
    o, a, kk, macs, v, logits = ol_common()
    anchors = (o["tile"] + o["k"] - 2) // o["stride"] + 1
    window = (anchors - 1) * o["stride"] + o["k"]
    blocks = ceil(o["hw"], o["tile"]) ** 2 * o["b"] * o["heads"]
    compulsory = (2 * v + logits) * F
    moved = blocks * (window * window * o["ch"] + anchors * anchors * kk * kk) * F + v * F
    smem = (anchors * anchors * kk * kk + window * window * (o["ch"] + 1)) * F
    return Work(blocks, 256, smem, 2 * macs, compulsory, compulsory / 2, moved,
                ("fma", macs * ceil(o["hw"], o["tile"]) ** 2 * o["tile"] ** 2 / o["hw"] ** 2), useful_fma=macs)


def outlook_bwd_logits():
    o, a, kk, macs, v, logits = ol_common()
    t = o["logits_tile"]
    win = (t - 1) * o["stride"] + o["k"]
    blocks = ceil(a, t) ** 2 * o["b"] * o["heads"]
    hd = o["c"] // o["heads"]
    compulsory = (2 * v + 2 * logits) * F
    moved = blocks * 2 * win * win * hd * F + 2 * logits * F
    return Work(blocks, 256, 2 * win * win * (hd + 1) * F, 2 * macs, compulsory, compulsory / 2, moved,
                ("fma", macs * (ceil(a, t) * t) ** 2 / a ** 2), useful_fma=macs)


# VMamba-T selective scan, B64 L3136 (56x56), 4 routes, D96, N1: SelectiveScanCuda.
SS = dict(b=64, d=96, l=3136, routes=4, n=1, channels_per_block=32, threads=128)


def ss_common():
    s = SS
    plane = s["b"] * s["d"] * s["l"] * F                 # one [B,D,L] f32 plane, in bytes
    bc = s["b"] * s["routes"] * s["n"] * s["l"] * F      # B or C [B,4,N,L]
    steps = s["b"] * s["d"] * s["l"] * s["routes"]       # (batch, channel, route, position)
    groups = ceil(s["d"], s["channels_per_block"])
    return s, plane, bc, steps, groups


def scan_fwd():
    s, plane, bc, steps, groups = ss_common()
    # x, delta (4 routes), B, C in, out: the fused cross-scan's floor
    compulsory = 6 * plane + 2 * bc
    # each route's warp stages x at its positions (4 reads of x), B and C once per block of 32
    # channels; routes 1..3 park their y in scratch (3 stores, 3 loads), route 0 writes out, the
    # merge reads it back and writes it again; the chunk states are saved for the backward
    states = s["b"] * s["routes"] * s["d"] * ceil(s["l"], 64) * s["n"] * F
    moved = 4 * plane + 4 * plane + 2 * bc * groups + 6 * plane + 3 * plane + states
    smem = s["routes"] * (2 * 32 * 17 + 2 * 16 * 17) * F
    # selective_scan.cu runs the scan in 16-step tiles staged in shared memory: a hot-loop body per tile
    return Work(groups * s["b"], s["threads"], smem, steps * s["n"] * 6, compulsory, compulsory / 2, moved,
                ("iters", steps / 16))


def scan_bwd():
    s, plane, bc, steps, groups = ss_common()
    # x, delta, B, C, gout in; gx, gdelta, gB, gC out
    compulsory = 11 * plane + 4 * bc
    states = s["b"] * s["routes"] * s["d"] * ceil(s["l"], 64) * s["n"] * F
    # as the forward: 4 reads of x and gout by route, gx of routes 1..3 through scratch, and the
    # B and C gradients as one partial per block column, summed by selective_scan_sum
    moved = (4 + 4 + 4) * plane + 2 * bc * groups + states + 6 * plane + 3 * plane + 4 * plane + 2 * bc * groups
    smem = s["routes"] * (4 * 17 * 33 + 16 * 32) * F
    # per 64-step chunk (a hot-loop body, its 16-step tiles unrolled): recompute, then reverse
    return Work(groups * s["b"], s["threads"], smem, steps * s["n"] * 14, compulsory, compulsory / 2, moved,
                ("iters", steps / 64))


# CAS-ViT-XS CATM, stage 1: B64 dim48 56x56: AdditiveAttentionCuda (16x16 tiles, 256 threads).
CA = dict(b=64, c=48, hw=56, tile=16, threads=256, stat_splits=8)


def ca_common():
    a = CA
    n = a["b"] * a["c"] * a["hw"] ** 2
    tiles = ceil(a["hw"], a["tile"]) ** 2
    return a, n, tiles


def catm_stats():
    a, n, tiles = ca_common()
    # BatchNorm statistics of the 3x3 depth-wise conv of q and k: one block per (channel, split)
    blocks = a["c"] * a["stat_splits"]
    return Work(blocks, a["threads"], 0, 2 * n * 9 * 2, 2 * n * F, n, 2 * n * F * (18 / 16) ** 2,
                ("fma", 2 * n * 9))


def catm_gates():
    a, n, tiles = ca_common()
    blocks = tiles * a["b"]
    halo = ((a["tile"] + 2) / a["tile"]) ** 2
    return Work(blocks, a["threads"], 4 * 8 * a["c"], 2 * n * 9 * 2 + 2 * n * 2, 2 * n * F + 2 * a["b"] * a["hw"] ** 2 * F,
                n, 2 * n * F * halo, ("fma", 2 * n * 9))


def catm_fwd():
    a, n, tiles = ca_common()
    blocks = tiles * a["b"] * a["c"]
    halo = ((a["tile"] + 2) / a["tile"]) ** 2
    # out = dwc3x3(q_gated + k_gated) * v: 9 MACs per element
    return Work(blocks, a["threads"], 0, n * 9 * 2 + 4 * n, 4 * n * F, 2 * n, (3 * n * halo + n) * F, ("fma", n * 9))


def catm_bwd_dwc():
    a, n, tiles = ca_common()
    blocks = tiles * a["b"] * a["c"]
    halo = ((a["tile"] + 2) / a["tile"]) ** 2
    return Work(blocks, a["threads"], 0, n * 9 * 4, 3 * n * F, 1.5 * n, (3 * n * halo + n) * F, ("fma", n * 9 * 2))


def catm_bwd_reduce():
    a, n, tiles = ca_common()
    # one thread per channel sums the per-tile partials of all planes in sequence
    partials = a["b"] * tiles * a["c"] * 10
    return Work(ceil(a["c"], a["threads"]), a["threads"], 0, partials, partials * F, partials * F / 2, partials * F,
                ("ldg", partials))


def catm_bwd_input():
    a, n, tiles = ca_common()
    blocks = tiles * a["b"] * a["c"]
    halo = ((a["tile"] + 2) / a["tile"]) ** 2
    return Work(blocks, a["threads"], 0, n * 9 * 4, 4 * n * F, 2 * n, (3 * n * halo + n) * F, ("fma", n * 9 * 2))


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
    # a two-dim walk (rows, columns): the kernel's register-held loop, one multiply-high per element
    rows, d = 12608, 768
    e = rows * d
    b, t = grid_stride(e)
    return Work(b, t, 0, 0, 2 * e * F + rows * 8, 2 * e * 2 + rows * 8, 2 * e * F + e * 8, ("ldg", 2 * e))


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


# The README kernel table: the four hot ops first, then the glue families, each at its size.
ROWS = [
    Row("dwconv2d_fwd_f32", "dw conv 31x31, B64 C128 56x56", dwconv_fwd),
    Row("dwconv2d_bwd_input_f32", "dw conv 31x31, B64 C128 56x56", dwconv_bwd_input),
    Row("dwconv2d_bwd_weight_f32", "dw conv 31x31, B64 C128 56x56", dwconv_bwd_weight),
    Row("outlook_fwd_f32", "VOLO-D1 outlook, B64 28x28 C192 k3 s2", outlook_fwd),
    Row("outlook_bwd_v_f32", "VOLO-D1 outlook, B64 28x28 C192 k3 s2", outlook_bwd_v),
    Row("outlook_bwd_logits_f32", "VOLO-D1 outlook, B64 28x28 C192 k3 s2", outlook_bwd_logits),
    Row("selective_scan_fwd_f32", "VMamba-T scan, B64 L3136, 4 routes, D96 N1", scan_fwd),
    Row("selective_scan_bwd_f32", "VMamba-T scan, B64 L3136, 4 routes, D96 N1", scan_bwd),
    Row("catm_stats_f32", "CAS-ViT-XS CATM stage 1, B64 dim48 56x56", catm_stats),
    Row("catm_gates_f32", "CAS-ViT-XS CATM stage 1, B64 dim48 56x56", catm_gates),
    Row("catm_fwd_f32", "CAS-ViT-XS CATM stage 1, B64 dim48 56x56", catm_fwd),
    Row("catm_bwd_dwc_f32", "CAS-ViT-XS CATM stage 1, B64 dim48 56x56", catm_bwd_dwc),
    Row("catm_bwd_reduce_f32", "CAS-ViT-XS CATM stage 1, B64 dim48 56x56", catm_bwd_reduce),
    Row("catm_bwd_input_f32", "CAS-ViT-XS CATM stage 1, B64 dim48 56x56", catm_bwd_input),
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
