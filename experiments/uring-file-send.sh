#!/usr/bin/env bash
# Builds and runs uring-file-send.c: how an io_uring loop can send a file
# range (read+send, splice through a pipe, and plain sendfile as reference),
# for 64 KiB and 1 MiB files (the sender and the reading thread on the two CPUs).
#   experiments/uring-file-send.sh [GiB per measurement, default 2]
set -euo pipefail
cd "$(dirname "$0")/.."
gib=${1:-2}
bin=$(mktemp /tmp/uring-file-send.XXXXXX)
trap 'rm -f "$bin"' EXIT
cc -O2 -o "$bin" experiments/uring-file-send.c -luring -lpthread
for size in 65536 1048576; do "$bin" $size $((gib << 30)); done
