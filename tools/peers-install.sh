#!/usr/bin/env bash
# make peers: PyTorch 2.13 (CPU) and timm 1.0 for the PyTorch peers in bench/peers, installed with pip
# from the local wheel folder and package index (offline; nothing is downloaded at benchmark time).
# PEER_PY names the python (default: python3 on the path, not Debian's /usr/bin/python3 with torch 1.13).
# timm goes in without its torchvision requirement: there is no torchvision wheel for this torch here,
# and bench/peers/timm_import.py stands it in (timm's models never call it).
set -euo pipefail
py="${PEER_PY:-python3}"
wheels="${PEER_WHEELS:-/opt/wheels}"
index="${PEER_INDEX:-file:///opt/pypi/simple}"
# Versions from the installed metadata: importing timm may need the stand-in for torchvision.
have() { "$py" -c "import importlib.metadata as m, sys; sys.exit(0 if m.version('$1').startswith('$2') else 1)" 2>/dev/null; }
if ! have torch 2.13; then
  echo "peers: installing PyTorch 2.13 (CPU) for $py from $wheels"
  # The torch wheel from the wheel folder, its requirements (filelock, sympy, ...) from the local index.
  "$py" -m pip install -q --index-url "$index" --find-links "$wheels" "torch==2.13.*" \
    || { echo "peers: no PyTorch 2.13 wheel for $py in $wheels (set PEER_WHEELS or PEER_PY)" >&2; exit 1; }
fi
if ! have timm 1.0 || ! have pillow "" || ! have numpy ""; then
  echo "peers: installing timm 1.0 for $py from $index"
  # pillow and numpy: timm.data imports them (torchvision's requirements, which timm inherits).
  "$py" -m pip install -q --index-url "$index" pyyaml huggingface-hub safetensors pillow numpy \
    && "$py" -m pip install -q --index-url "$index" --no-deps "timm==1.0.*" \
    || { echo "peers: timm 1.0 could not be installed from $index (set PEER_INDEX or PEER_PY)" >&2; exit 1; }
fi
versions="$(cd "$(dirname "$0")/../bench/peers" && "$py" -c 'import torch, timm_import; t, note = timm_import.import_timm(); print(f"PyTorch {torch.__version__}, timm {t.__version__}{note}")')" \
  || { echo "peers: PyTorch and timm are installed for $py but do not import (above)" >&2; exit 1; }
echo "peers: $versions in $py"
