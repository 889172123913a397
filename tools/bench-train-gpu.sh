#!/usr/bin/env bash
# make bench-train-gpu [TRAIN_ARGS="--models resnet50 --steps 50"]: training throughput
# (images/s) of each model on the GPU driver libcuda.so.1 (dev.lumen.bench.TrainThroughput),
# then the same models in PyTorch (bench/peers/train_throughput_peer.py) where a CUDA-enabled
# torch is installed. LUMEN_CUDA_DRIVER=path/to/libcuda_emu.so runs one tiny step per model
# under the emulator instead, as a smoke check (it says so).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/tools/bench-classpath.sh"
driver="${LUMEN_CUDA_DRIVER:-libcuda.so.1}"
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g -Dlumen.cuda.driver="$driver" \
  -cp "$bench_cp" dev.lumen.bench.TrainThroughput "$@"
[ "$driver" != libcuda.so.1 ] && exit 0
py="${TORCH_PYTHON:-python3}"
if "$py" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  "$py" "$root/bench/peers/train_throughput_peer.py" "$@"
else
  echo "bench-train-gpu: no CUDA-enabled PyTorch for $py (set TORCH_PYTHON): no peer figures"
fi
