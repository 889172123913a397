# Sourced by the bench scripts: bench_cp = this checkout's module classes first, then the
# dependencies. classpath.txt names the jars in ~/.m2, which the last `mvn install` of any
# worktree replaced, so without the module classes a bench could time another branch's code.
: "${JAVA_HOME:?JAVA_HOME must point to a JDK >= 25}"
bench_cp="$root/bench/target/classes:$root/engine/target/classes:$root/kernels/target/classes:$root/models/target/classes:$root/src/target/classes"
bench_cp="$bench_cp:$(cat "$root/bench/target/classpath.txt")"
