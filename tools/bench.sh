#!/usr/bin/env bash
# Runs the JMH benchmarks (arguments go to JMH, e.g. a name regex), then the PyTorch peers,
# and prints Lumen/PyTorch ratios for the CPU implementations (bench/peers/compare.py).
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
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  /usr/bin/python3 "$root/bench/peers/compare.py" "$out"
else
  echo "bench: PyTorch (Debian python3-torch) not installed: no peer ratios"
fi
