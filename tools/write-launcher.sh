#!/usr/bin/env bash
# Writes bin/lumen: runs the application's main class with the JDK the build used and the
# JVM flags Lumen needs, from any working directory.
set -euo pipefail
java_home="$1"
root="$(cd "$(dirname "$0")/.." && pwd)"
cp_file="$root/src/target/classpath.txt"
[ -f "$cp_file" ] || { echo "write-launcher: $cp_file missing; run make first" >&2; exit 1; }
mkdir -p "$root/bin"
cat > "$root/bin/lumen" <<LAUNCHER
#!/usr/bin/env bash
# Made by 'make' (tools/write-launcher.sh); not tracked by git.
exec "$java_home/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \\
  \${LUMEN_JAVA_OPTS:-} -cp "$root/src/target/classes:\$(cat "$cp_file")" dev.lumen.app.LumenCli "\$@"
LAUNCHER
chmod +x "$root/bin/lumen"
