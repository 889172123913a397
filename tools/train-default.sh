#!/usr/bin/env bash
# `make train`: the built-in default run. Installs Fashion-MNIST when missing, builds, and trains
# resnet_micro (a 0.13M-parameter ResNet with the small-input stem) on it on the CPU with timm's
# recipe: AdamW, warmup + cosine lr per update, label smoothing, pad-and-crop + flip, weight EMA.
# The test split is the validation set, so the last two lines are the run folder and the final
# test top-1. Extra arguments go to `lumen train` (e.g. tools/train-default.sh --epochs 2).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
tools/apt-install.sh dataset-fashion-mnist
make
exec bin/lumen train --dataset fashion-mnist --model resnet_micro --epochs 8 -b 128 --opt adamw --lr 3e-3 --weight-decay 0.05 \
  --sched cosine --warmup-epochs 1 --warmup-lr 1e-4 --min-lr 1e-5 --smoothing 0.1 --model-ema --model-ema-decay 0.998 --seed 42 "$@"
