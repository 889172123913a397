#!/usr/bin/env bash
# Fetches NVIDIA's cuBLAS, cuDNN and NCCL headers at build time, from their pip wheels, so the
# emulated libraries are compiled against NVIDIA's own declarations and enum values. Nothing
# from NVIDIA is ever committed: the headers land under a build folder.
#
#   tools/nvidia-headers.sh <outdir>   leaves <outdir>/include/{cublas_v2.h,cublas_api.h,cudnn*.h,nccl.h,...}
#
# Only the wheels' include/ folders are unpacked (the wheels themselves are ~1 GB of libraries
# and are deleted afterwards). A stamp file records the wheels; a second run with the same
# wheels does nothing. Indexes: the local mirrors below, overridable by NVIDIA_PIP_ARGS; no
# other network is used.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 <outdir>" >&2
  exit 2
fi
out=$1
packages=(nvidia-cublas nvidia-cudnn-cu13 nvidia-nccl-cu13)
pip_args=${NVIDIA_PIP_ARGS:---index-url file:///opt/pypi/simple --extra-index-url file:///opt/pypi-more/simple --find-links /opt/wheels}
stamp=$out/include/.nvidia-headers.stamp
want="packages=${packages[*]} args=$pip_args"

# Idempotent: the same request already unpacked, with the headers the builds need, is done.
if [ -f "$stamp" ] && [ "$(head -n1 "$stamp")" = "$want" ] \
   && [ -f "$out/include/cublas_v2.h" ] && [ -f "$out/include/cudnn.h" ] && [ -f "$out/include/nccl.h" ]; then
  touch "$stamp"  # newer than this script, so make sees the headers as up to date
  exit 0
fi

pip=()
for p in pip3 pip; do
  if command -v "$p" >/dev/null 2>&1; then pip=("$p"); break; fi
done
if [ ${#pip[@]} -eq 0 ] && command -v python3 >/dev/null 2>&1; then pip=(python3 -m pip); fi
if [ ${#pip[@]} -eq 0 ]; then
  echo "nvidia-headers: pip not found (need pip to fetch ${packages[*]})" >&2
  exit 1
fi

mkdir -p "$out"
work=$(mktemp -d "$out/.download.XXXXXX")
trap 'rm -rf "$work"' EXIT

# shellcheck disable=SC2086 # pip_args is a list of options
if ! "${pip[@]}" download --no-deps --disable-pip-version-check --no-input -q $pip_args \
     -d "$work/wheels" "${packages[@]}" >"$work/pip.log" 2>&1; then
  echo "nvidia-headers: pip download ${packages[*]} failed: $(grep -m1 -E 'ERROR|error' "$work/pip.log" || tail -n1 "$work/pip.log")" >&2
  exit 1
fi

# Each wheel keeps its headers in nvidia/<component>/include/ (cu13 for cuBLAS, cudnn for cuDNN, nccl for NCCL).
mkdir -p "$work/include"
wheels=()
for w in "$work"/wheels/*.whl; do
  [ -e "$w" ] || continue
  wheels+=("$(basename "$w")")
  unzip -q -o "$w" 'nvidia/*/include/*' -d "$work/unzip" \
    || { echo "nvidia-headers: $(basename "$w") has no include/ folder" >&2; exit 1; }
done
for d in "$work"/unzip/nvidia/*/include; do cp -R "$d"/. "$work/include/"; done
for h in cublas_v2.h cublas_api.h cudnn.h nccl.h; do
  [ -f "$work/include/$h" ] || { echo "nvidia-headers: the wheels (${wheels[*]}) lack $h" >&2; exit 1; }
done

# Swap the folder in whole, so a failed run never leaves half a header set.
rm -rf "$out/include"
mv "$work/include" "$out/include"
{ echo "$want"; printf '%s\n' "${wheels[@]}"; } > "$stamp"
echo "nvidia-headers: $(ls "$out/include" | grep -c '\.h$') headers from ${wheels[*]} in $out/include"
