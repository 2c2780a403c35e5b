#!/usr/bin/env bash
# Installs exactly the Debian 12 packages Cairn needs to build and run;
# `install-deps.sh test` adds what the test suite needs (scripts/test.sh),
# `install-deps.sh fuzz` clang and libFuzzer for scripts/fuzz.sh.
# Idempotent: packages already present are skipped, and apt is not touched at
# all when nothing is missing. Must run as root (or through sudo).
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config
  # chosen dependencies
  libasio-dev librocksdb-dev libprotobuf-dev protobuf-compiler
  libgrpc++-dev protobuf-compiler-grpc libfmt-dev catch2
  # libraries that beat writing the code ourselves
  liblz4-dev libzstd-dev libisal-dev libcli11-dev libspdlog-dev libbenchmark-dev prometheus-cpp-dev
)
case "${1:-}" in
  fuzz) packages+=(clang-14 libclang-rt-14-dev) ;;
  test) packages+=(docker-compose) ;;  # checks docker-compose.yml where no Docker daemon runs
esac

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
