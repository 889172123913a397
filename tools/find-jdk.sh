#!/usr/bin/env bash
# Prints the home of a JDK >= 25, or nothing. JAVA_HOME wins when it is new enough.
version_of() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/ *java.specification.version = //p'; }
for home in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25* /usr/lib/jvm/*; do
  [ -n "$home" ] && [ -x "$home/bin/javac" ] || continue
  v=$(version_of "$home")
  if [ -n "$v" ] && [ "${v%%.*}" -ge 25 ] 2>/dev/null; then echo "$home"; exit 0; fi
done
exit 0
