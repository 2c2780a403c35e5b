#!/usr/bin/env bash
# Installs what is missing, builds everything, and runs the whole test suite.
#   scripts/test.sh              all tests
#   scripts/test.sh -L unit      only one label (extra arguments go to ctest)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh test
bash scripts/build.sh
cd build
ctest --output-on-failure --no-tests=error -j2 "$@"
