#!/usr/bin/env bash
# The build-time check that the fatbin, the emulator and the Java launchers agree on kernel names:
#   check-entries.sh CUBIN_DIR EMU_KERNELS_DIR JAVA_SRC_DIR...
# 1. every cubin nvcc made for the fatbin (nvcc -keep) has exactly the entry points (readelf -s:
#    global functions marked STO_CUDA_ENTRY, "[<other>: 10]") of the emulated build (emu-cc.sh's
#    .kernels files), so neither can lack a kernel the other has;
# 2. every kernel name, or name stem completed with "_<dtype>", that the Java code passes to
#    CudaContext.kernel(...) (directly, or through a name(...)/kernel(ctx, ...) helper) is an
#    entry point of the fatbin. Names built at run time are checked again by the emulated
#    cuModuleGetFunction against every architecture of the fatbin.
set -euo pipefail
cubins=$1; emu=$2; shift 2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cat "$emu"/*.kernels | cut -d' ' -f1 | sort -u > "$tmp/emu"
shopt -s nullglob
files=("$cubins"/*.cubin)
[ ${#files[@]} -gt 0 ] || { echo "check-entries: no cubins in $cubins (build the fatbin with make fatbin)"; exit 1; }
bad=0
for c in "${files[@]}"; do
  readelf -sW "$c" | awk '$4 == "FUNC" && $5 == "GLOBAL" && /\[<other>: 10\]/ { print $NF }' | sort -u > "$tmp/cubin"
  only_cubin=$(comm -23 "$tmp/cubin" "$tmp/emu" | tr '\n' ' ')
  only_emu=$(comm -13 "$tmp/cubin" "$tmp/emu" | tr '\n' ' ')
  if [ -n "$only_cubin" ]; then echo "check-entries: $(basename "$c") has kernels the emulator lacks: $only_cubin"; bad=1; fi
  if [ -n "$only_emu" ]; then echo "check-entries: $(basename "$c") lacks kernels the emulator has: $only_emu"; bad=1; fi
  cp "$tmp/cubin" "$tmp/entries"
done
n=$(wc -l < "$tmp/entries")
grep -rhoE '(kernel|name)\((ctx, )?"[A-Za-z0-9_]+"' "$@" | sed -E 's/.*"([A-Za-z0-9_]+)"/\1/' | sort -u > "$tmp/java"
while read -r k; do
  if ! grep -qxF "$k" "$tmp/entries" && ! grep -q "^${k%_}_" "$tmp/entries"; then
    echo "check-entries: the Java code requests kernel $k, which is no entry point of the fatbin"; bad=1
  fi
done < "$tmp/java"
[ $bad -eq 0 ] || exit 1
echo "check-entries: ${#files[@]} cubins and the emulator agree on $n kernels; the $(wc -l < "$tmp/java") kernel names in the Java launchers are all entry points"
