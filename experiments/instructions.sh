#!/usr/bin/env bash
# User-space instructions per request of `switchyard serve` with the given
# arguments, counted by callgrind through ../shared/bench/instr.sh (5,000
# sequential keep-alive requests, then 1,000 x 16 pipelined, after a warm-up).
#
#   experiments/instructions.sh [SERVE ARGS...]     e.g. --engine io_uring --uring-recv single
#
# Runs on a copy of the release binary with its debug information stripped
# (valgrind 3.19 cannot read Swift 6.3's DWARF). Under valgrind an io_uring
# server does not see the SIGTERM that instr.sh sends at the end, so once
# both dumps are written a watcher ends it with SIGKILL; the counts are
# complete by then.
set -euo pipefail
cd "$(dirname "$0")/.."
bench=${BENCH_DIR:-../shared/bench}
[ -f "$bench/instr.sh" ] || { echo "instructions: $bench/instr.sh not found (set BENCH_DIR)" >&2; exit 1; }
port=${PORT:-18096}
binary=$(mktemp /tmp/switchyard-stripped.XXXXXX)
trap 'rm -f "$binary"' EXIT
strip --strip-debug -o "$binary" ${SWITCHYARD_BIN:-.build/release/switchyard}
(   # the watcher: both dumps exist, so the counting is over
    for _ in $(seq 1 1800); do
        sleep 0.5
        dumps=$(ls /tmp/tmp.*/cg.*.2 2>/dev/null | wc -l || true)
        pid=$(pgrep -f "valgrind.*$binary" | head -1 || true)
        if [ -n "$pid" ] && ls /tmp/tmp.*/cg."$(pgrep -f "valgrind.bin.*$binary" | head -1)".2 >/dev/null 2>&1; then
            sleep 3; pkill -KILL -f "valgrind.bin.*$binary" || true; exit 0
        fi
    done
) &
watcher=$!
REQ_PATH=/plaintext bash "$bench/instr.sh" "$port" "$binary" serve --port "$port" "$@"
kill $watcher 2>/dev/null || true
