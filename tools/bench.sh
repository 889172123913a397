#!/usr/bin/env bash
# Runs the JMH benchmarks (arguments go to JMH, e.g. a name regex), then the PyTorch peers,
# and prints Lumen/PyTorch ratios for the CPU implementations (bench/peers/compare.py), on PyTorch
# 2.13 from PEER_PY (make peers installs it) with glibc keeping freed memory.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/tools/bench-classpath.sh"
java_home="$JAVA_HOME"
cp="$bench_cp"
# The real driver where there is one; else the emulator, whose timings measure the emulation.
driver="${LUMEN_CUDA_DRIVER:-}"
if [ -z "$driver" ]; then
  if ldconfig -p 2>/dev/null | grep -q 'libcuda.so.1 '; then driver=libcuda.so.1; else driver="$root/kernels/target/emu/libcuda_emu.so"; fi
fi
out="$root/bench/target/jmh.json"
"$java_home/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -Dlumen.cuda.driver="$driver" -cp "$cp" org.openjdk.jmh.Main \
  -jvmArgsAppend "-Dlumen.cuda.driver=$driver" -rf json -rff "$out" "$@"
py="${PEER_PY:-python3}"
version="$("$py" -c 'import torch; print(torch.__version__)' 2>/dev/null || true)"
case "$version" in
  2.13*) MALLOC_MMAP_THRESHOLD_=1099511627776 MALLOC_TRIM_THRESHOLD_=1099511627776 "$py" "$root/bench/peers/compare.py" "$out" ;;
  "") echo "bench: no PyTorch for $py (make peers installs 2.13): no peer ratios" ;;
  *) echo "bench: $py has PyTorch $version, not 2.13 (make peers, or set PEER_PY): no peer ratios" ;;
esac
