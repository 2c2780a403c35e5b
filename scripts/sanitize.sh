#!/usr/bin/env bash
# Builds Cairn with AddressSanitizer + UndefinedBehaviorSanitizer into
# build-asan/ (apart from build/) and runs the suite there. Any report fails
# the run: leaks, out-of-bounds access, use after free, undefined behaviour.
#   scripts/sanitize.sh              unit and sim tests (what CI runs)
#   scripts/sanitize.sh -L integration   extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
if [ ! -f build-asan/build.ninja ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCAIRN_SANITIZE=address,undefined
fi
cmake --build build-asan -j "${CAIRN_BUILD_JOBS:-2}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd build-asan
if [ $# -eq 0 ]; then set -- -L "unit|sim"; fi
ctest --output-on-failure --no-tests=error -j2 "$@"
