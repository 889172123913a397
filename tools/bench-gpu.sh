#!/usr/bin/env bash
# make bench-gpu [BENCH=regex]: the CUDA benchmarks (*CudaBench) on the GPU driver libcuda.so.1,
# then their table and the README's kernel table with its "measured" column filled
# (tools/bench_gpu_table.py). Fails with a one-line reason where no GPU driver loads.
# LUMEN_CUDA_DRIVER=path/to/libcuda_emu.so runs the same pipeline under the emulator, as a smoke
# check whose every table says that it measured the CPU emulation.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/tools/bench-classpath.sh"
driver="${LUMEN_CUDA_DRIVER:-libcuda.so.1}"
java=("$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Dlumen.cuda.driver="$driver" -cp "$bench_cp")
err="$(mktemp)"
trap 'rm -f "$err"' EXIT
set +e
device="$("${java[@]}" dev.lumen.bench.CudaDeviceCheck 2>"$err")"
status=$?
set -e
case $status in
  0) echo "bench-gpu: $device"; emulated=() ;;
  3) echo "bench-gpu: $device: EMULATED driver, a smoke check of the benchmarks, not GPU figures"; emulated=(--emulated) ;;
  *) echo "bench-gpu: no GPU: $(grep -v '^WARNING: Using incubator modules' "$err" | tail -1)" >&2; exit 1 ;;
esac
out="$root/bench/target/jmh-gpu.json"
filter="${1:-CudaBench}"
[ $# -gt 0 ] && shift
"${java[@]}" org.openjdk.jmh.Main -jvmArgsAppend "-Dlumen.cuda.driver=$driver" -rf json -rff "$out" "$filter" "$@"
python3 "$root/tools/bench_gpu_table.py" "$out" "$root/README.md" "${emulated[@]}"
