#!/usr/bin/env bash
# Writes bin/lumen: runs the application's main class with the JDK the build used and the
# JVM flags Lumen needs, from any working directory.
set -euo pipefail
java_home="$1"
root="$(cd "$(dirname "$0")/.." && pwd)"
cp_file="$root/src/target/classpath.txt"
[ -f "$cp_file" ] || { echo "write-launcher: $cp_file missing; run make first" >&2; exit 1; }
mkdir -p "$root/bin"
# Tensors live off the Java heap, which holds only small, short-lived objects (about 60 MiB at
# most in a resnet50 training step). G1 sized its young generation to ~570 MiB and touched all of
# it, a third of the process's peak RSS; Serial GC with a fixed 64 MiB young generation collects
# the same garbage in a few milliseconds per step, and the heap grows only for live data.
JVM_FLAGS="-XX:+UseSerialGC -Xmn64m"
cat > "$root/bin/lumen" <<LAUNCHER
#!/usr/bin/env bash
# Made by 'make' (tools/write-launcher.sh); not tracked by git.
exec "$java_home/bin/java" $JVM_FLAGS --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \\
  \${LUMEN_JAVA_OPTS:-} -cp "$root/src/target/classes:\$(cat "$cp_file")" dev.lumen.app.LumenCli "\$@"
LAUNCHER
chmod +x "$root/bin/lumen"
