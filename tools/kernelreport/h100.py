"""The H100 SXM (sm_90) the report estimates for: peaks, issue and shared-memory rates, and the
occupancy limits."""
SMS = 132                      # H100 SXM5
CLOCK = 1.98e9                 # boost clock: 132 SMs x 128 FP32 lanes x 2 x 1.98 GHz = 67 TFLOP/s
FP32_PEAK = 67e12
TENSOR16_PEAK = 990e12         # dense FP16/BF16 tensor cores
HBM = 3.35e12                  # bytes/s
# Streaming kernels reach about 90% of HBM peak on Hopper (STREAM-like copies); no more is assumed.
HBM_EFFICIENCY = 0.9
ISSUE_PER_SM = 4               # warp instructions per clock: one per SM sub-partition
SHARED_WAVEFRONTS_PER_SM = 1   # 128 bytes/clock: one conflict-free 32-lane 4-byte shared access
# sm_90 limits for occupancy
REGS_PER_SM, REGS_PER_PARTITION, REG_UNIT = 65536, 16384, 256
SHARED_PER_SM, SHARED_RESERVED, SHARED_UNIT = 228 * 1024, 1024, 128
THREADS_PER_SM, BLOCKS_PER_SM, WARPS_PER_SM = 2048, 32, 64
# Latency hiding: a warp has few loads in flight, so DRAM bandwidth needs about half the warps
# of an SM resident (32 of 64), and FP32 issue without ILP needs 4 warps per sub-partition.
WARPS_FOR_HBM, WARPS_FOR_ISSUE = 32, 16


def ceil(a, b):
    return -(-a // b)


def occupancy(regs, threads, shared):
    """Resident blocks per SM and theoretical occupancy (resident warps / 64) on sm_90."""
    warps = ceil(threads, 32)
    warp_regs = ceil(max(regs, 1) * 32, REG_UNIT) * REG_UNIT
    by_regs = (REGS_PER_PARTITION // warp_regs) * 4 // warps
    by_shared = SHARED_PER_SM // (ceil(shared + SHARED_RESERVED, SHARED_UNIT) * SHARED_UNIT)
    by_threads = THREADS_PER_SM // (warps * 32)
    blocks = min(by_regs, by_shared, by_threads, BLOCKS_PER_SM)
    limiter = min((by_regs, "registers"), (by_shared, "shared"), (by_threads, "threads"), (BLOCKS_PER_SM, "blocks"))[1]
    return blocks, blocks * warps / WARPS_PER_SM, limiter


