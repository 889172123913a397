#!/usr/bin/env bash
# make bench-models [MODELS=a,b] [BENCH_ARGS="--rounds 3"]: `lumen benchmark` beside its PyTorch 2.13 peer,
# in turns, for the issue's models (training at batch 8, 224x224; inference at batch 32 for resnet50 and
# vit_small_patch16_224), 2 threads each; prints the ratio table and writes CSV and markdown under
# bench/target/bench-models (bench/peers/interleave.py).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ -x "$root/bin/lumen" ] || { echo "bench-models: $root/bin/lumen missing; run make first" >&2; exit 1; }
models="${1:-}"
[ $# -gt 0 ] && shift
exec "${PEER_PY:-python3}" "$root/bench/peers/interleave.py" --lumen "$root/bin/lumen" ${models:+--models "$models"} "$@"
