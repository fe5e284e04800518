#!/usr/bin/env bash
# Instructions per request of the micro-benchmark (parse, route, middleware,
# handler, serialize; no sockets) for each scenario and each parser variant
# this CPU runs, counted by callgrind: deterministic, so variants compare
# exactly. Each figure is (Ir of 2N feeds - Ir of N feeds) / (N x requests
# per feed), which cancels start-up and warm-up.
#
#   experiments/parser-simd.sh [N]        (default 2000)
#
# Runs a copy of the release benchmark with its debug information stripped
# (valgrind 3.19 cannot read Swift 6.3's DWARF).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
swift build -c release --product switchyard-bench >/dev/null
binary=$(mktemp /tmp/switchyard-bench-stripped.XXXXXX)
trap 'rm -f "$binary" "$binary".cg' EXIT
strip --strip-debug -o "$binary" .build/release/switchyard-bench
variants=$("$binary" 1 | sed -n 's/.*parser variants: //p' | tr -d ',')
ir() {  # ir SCENARIO VARIANT FEEDS
    valgrind --tool=callgrind --callgrind-out-file="$binary.cg" "$binary" "$3" --parser-simd "$2" --only "$1" >/dev/null 2>&1
    grep -E '^(summary|totals):' "$binary.cg" | head -1 | awk '{print $2}'
}
printf "%-26s" scenario; for v in $variants; do printf " %10s" "$v"; done; echo
while IFS='|' read -r scenario per_feed; do
    printf "%-26s" "$scenario"
    for v in $variants; do
        a=$(ir "$scenario" "$v" "$n"); b=$(ir "$scenario" "$v" $((2 * n)))
        printf " %10d" $(( (b - a) / (n * per_feed) ))
    done
    echo
done <<'SCENARIOS'
plaintext keep-alive|1
plaintext pipelined x16|16
json keep-alive|1
users/:id keep-alive|1
browser-like headers|1
POST /echo 64 B body|1
SCENARIOS
