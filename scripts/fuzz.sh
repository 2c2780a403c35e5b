#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang, ASan and UBSan into
# build-fuzz/ (apart from build/), then runs each for a bounded time over its
# committed seed corpus.
#   scripts/fuzz.sh                                 every target, 60 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh fuzz_record_batch
# Inputs the fuzzer finds go to build-fuzz/corpus/<target>, never into the
# committed seeds. A crash stops the script with a non-zero status and leaves
# build-fuzz/crash-<target>-<hash>: fix it, and add that file to
# tests/fuzz/corpus/<target>/ so it is replayed from then on.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_record_batch fuzz_compression fuzz_partition_log fuzz_broker_requests)

bash scripts/install-deps.sh fuzz
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAIRN_FUZZ=ON
fi
cmake --build build-fuzz -j "${CAIRN_BUILD_JOBS:-2}" --target "${targets[@]}"

for target in "${targets[@]}"; do
  found="build-fuzz/corpus/$target"
  mkdir -p "$found"
  echo "fuzz: $target for ${seconds} s"
  "build-fuzz/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/crash-$target-" \
    "$found" "tests/fuzz/corpus/$target"
done
