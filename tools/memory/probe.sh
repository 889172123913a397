#!/usr/bin/env bash
# Peak memory of Lumen and PyTorch 2.13 side by side: a training step (AdamW) at batch 8 or an
# eval forward without grad at batch 32, 224x224, one model.
#   tools/memory/probe.sh MODEL train|eval [BATCH] [STEPS] [THREADS]
# Lumen runs with the launcher's JVM flags (LUMEN_JAVA_OPTS adds more) from the reactor's classes
# (build first: mvn -o -pl models -am test-compile); PyTorch under the pyenv python3 with timm,
# glibc told to keep freed memory. Prints VmHWM for both, and Lumen's split: tensors (live peak and
# cache) and the JVM (heap and the rest).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
model="$1" mode="$2"
batch="${3:-$([ "$mode" = train ] && echo 8 || echo 32)}" steps="${4:-3}" threads="${5:-2}"
pickle="$(find ~/.m2/repository/net/razorvine/pickle -name 'pickle-*.jar' | head -1)"
cp="$root/engine/target/classes:$root/kernels/target/classes:$root/models/target/classes:$pickle"
# shellcheck disable=SC2046
java $(sed -n 's/^JVM_FLAGS="\(.*\)"$/\1/p' "$root/tools/write-launcher.sh") --add-modules jdk.incubator.vector \
  --enable-native-access=ALL-UNNAMED -Dlumen.threads="$threads" ${LUMEN_JAVA_OPTS:-} -cp "$cp" \
  "$root/tools/memory/MemoryProbe.java" "$model" "$mode" "$batch" "$steps" 2>/dev/null | tail -1
MALLOC_MMAP_THRESHOLD_=17179869184 MALLOC_TRIM_THRESHOLD_=17179869184 \
  python3 "$root/tools/memory/probe_torch.py" "$model" "$mode" "$batch" "$steps" "$threads" 2>/dev/null | tail -1
