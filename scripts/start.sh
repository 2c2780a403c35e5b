#!/usr/bin/env bash
# Installs what is missing, builds, and runs a local Cairn broker in the
# foreground (Ctrl-C stops it cleanly). Data lives in ./data; it listens on
# 127.0.0.1:7070, where the `cairn` CLI looks by default.
#   scripts/start.sh                       defaults
#   scripts/start.sh --auto-create-topics  extra cairnd flags (cairnd --help)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/build.sh
echo "starting cairnd: data in $(pwd)/data, listening on 127.0.0.1:7070"
echo "try: build/bin/cairn topic create demo --partitions 3"
exec build/bin/cairnd --data-dir data --listen 127.0.0.1:7070 "$@"
