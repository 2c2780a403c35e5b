#!/usr/bin/env bash
# Lists the Debian packages whose shared libraries the programs installed
# under PREFIX (bin/, lib/) load: what a runtime image must install. Used by
# the Dockerfile, so the image follows the build's dependencies by itself.
#   scripts/runtime-packages.sh /opt/cairn
set -euo pipefail
prefix=${1:?usage: runtime-packages.sh PREFIX}
shopt -s nullglob
programs=("$prefix"/bin/* "$prefix"/lib/*.so "$prefix"/lib/*/*.so)
[ ${#programs[@]} -gt 0 ] || { echo "runtime-packages: nothing installed under $prefix" >&2; exit 1; }
deps=$(ldd "${programs[@]}")
if grep -q "not found" <<< "$deps"; then
  echo "runtime-packages: libraries missing here:" >&2
  grep "not found" <<< "$deps" >&2
  exit 1
fi
libs=$(awk '$2 == "=>" && $3 ~ /^\// {print $3}' <<< "$deps" | sort -u)
for lib in $libs; do
  # Merged /usr: dpkg may know the file under /lib or under /usr/lib.
  dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "${lib#/usr}" 2>/dev/null ||
    { echo "runtime-packages: no package holds $lib" >&2; exit 1; }
done | cut -d: -f1 | sort -u
