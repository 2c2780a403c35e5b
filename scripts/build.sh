#!/usr/bin/env bash
# Configures (once) and builds Cairn into build/ with Ninja. Uses ccache when
# it is installed; two compile jobs suit a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}"
fi
cmake --build build -j "${CAIRN_BUILD_JOBS:-2}"
