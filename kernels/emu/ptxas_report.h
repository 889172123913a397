// What ptxas said about each kernel of the real fatbin (`make fatbin` writes
// target/ptxas-report.txt next to target/emu/), so that cuFuncGetAttribute reports the GPU's
// registers and shared memory and a launch that needs more registers than a block has fails.
#pragma once

namespace cuda_emu {
struct PtxasInfo { int registers, shared_bytes, stack_bytes, const_bytes; };
// The sm_90 figures of a kernel, or null where the report or the kernel is missing.
const PtxasInfo* ptxas_info(const char* kernel);
// Threads per block a kernel may launch with: its __launch_bounds__ (0: none), 1024, and what
// the 64 Ki registers of a block allow at its register count.
int max_threads(int launch_bounds, const PtxasInfo* info);
}  // namespace cuda_emu
