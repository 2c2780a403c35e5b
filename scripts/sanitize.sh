#!/usr/bin/env bash
# Builds Cairn with sanitizers in a folder of its own and runs tests there.
# Any report fails the run: leaks, out-of-bounds access, use after free,
# undefined behaviour, data races.
#   scripts/sanitize.sh                  ASan+UBSan, unit and sim tests (build-asan/)
#   scripts/sanitize.sh -L integration   extra arguments go to ctest
#   scripts/sanitize.sh --core           ASan+UBSan, only the storage, record
#                                        format and Raft tests: no gRPC to
#                                        build, so it fits in CI (.ci/run)
#   scripts/sanitize.sh --thread         ThreadSanitizer on those same tests
#                                        (build-tsan/): the group commit,
#                                        retention and compaction threads
set -euo pipefail
cd "$(dirname "$0")/.."

# The tests that link neither gRPC nor protobuf.
core_tests=(proto_tests storage_tests raft_tests raft_sim_tests)

mode=full
case "${1:-}" in
  --core) mode=core; shift ;;
  --thread) mode=thread; shift ;;
esac

bash scripts/install-deps.sh
if [ "$mode" = thread ]; then
  dir=build-tsan
  sanitizers=thread
else
  dir=build-asan
  sanitizers=address,undefined
fi
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAIRN_SANITIZE="$sanitizers"
fi
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp"

if [ "$mode" = full ]; then
  cmake --build "$dir" -j "${CAIRN_BUILD_JOBS:-2}"
  cd "$dir"
  if [ $# -eq 0 ]; then set -- -L "unit|sim"; fi
  ctest --output-on-failure --no-tests=error -j2 "$@"
  exit 0
fi

cmake --build "$dir" -j "${CAIRN_BUILD_JOBS:-2}" --target "${core_tests[@]}"
for t in "${core_tests[@]}"; do
  echo "== $t under $sanitizers"
  "$dir/tests/$t" "$@"
done
