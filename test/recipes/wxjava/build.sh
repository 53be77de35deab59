#!/usr/bin/env bash
# Compiles examples/wxjava/WxTokenMpConfigStorage.java against the WxJava
# stand-in (standin/) and Debian's Gson (libgoogle-gson-java), with RunWxJava.
#   test/recipes/wxjava/build.sh OUTDIR    # then: java -cp OUTDIR:/usr/share/java/gson.jar RunWxJava
set -euo pipefail
out="${1:?usage: build.sh OUTDIR}"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$out"
javac -encoding UTF-8 -Xlint:-options -cp /usr/share/java/gson.jar -d "$out" \
  $(find "$here/standin" -name '*.java') "$here/../../../examples/wxjava/WxTokenMpConfigStorage.java" "$here/RunWxJava.java"
