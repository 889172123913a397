#!/usr/bin/env bash
# Summarizes kernels/target/ptxas-report.txt (written by `make kernels`): one row per kernel
# and architecture with registers, static shared memory and spill bytes.
set -euo pipefail
report="${1:-$(dirname "$0")/../kernels/target/ptxas-report.txt}"
[ -f "$report" ] || { echo "ptxas-summary: $report missing; run make kernels" >&2; exit 1; }
awk '
  /Compiling entry function/ { split($0, q, "\047"); fn = q[2]; arch = q[4] }
  /spill stores/ { split($0, w, ","); spill = w[2] "," w[3]; gsub(/^ +| bytes/, "", spill) }
  /Used [0-9]+ registers/ {
    regs = $0; sub(/.*Used /, "", regs); sub(/ registers.*/, "", regs)
    smem = "0"; if (match($0, /[0-9]+ bytes smem/)) { smem = substr($0, RSTART, RLENGTH); sub(/ bytes smem/, "", smem) }
    printf "%-34s %-6s %4s regs %6s B smem  spills: %s\n", fn, arch, regs, smem, spill
  }' "$report" | sort
