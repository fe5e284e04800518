#!/usr/bin/env bash
# Throughput with --pin compact against --pin none, alternating in one run.
#
#   experiments/pinning.sh [ENGINE] [ROUNDS] [DURATION] [THREADS]
#
# The server is NOT wrapped in taskset: with --pin compact its threads bind
# themselves (thread 0 on the first core), with --pin none the scheduler
# places them. wrk runs on the last CPU in both cases, 64 connections,
# keep-alive /plaintext.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${1:-epoll}; rounds=${2:-3}; duration=${3:-5s}; threads=${4:-1}
last_cpu=$(($(nproc) - 1)); port=18110
swift build -c release --product switchyard >/dev/null
declare -A rps
for round in $(seq 1 $rounds); do
    for pin in compact none; do
        .build/release/switchyard serve --engine $engine --threads $threads --pin $pin --port $port 2>/dev/null &
        server=$!
        sleep 0.7
        out=$(taskset -c $last_cpu wrk -t1 -c64 -d$duration http://127.0.0.1:$port/plaintext)
        rps[$pin]+="$(awk '/Requests\/sec/ {print $2}' <<<"$out") "
        kill -TERM $server; wait $server || true
    done
    echo "round $round of $rounds done" >&2
done
median() { tr ' ' '\n' | awk 'NF' | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
c=$(median <<<"${rps[compact]}"); n=$(median <<<"${rps[none]}")
echo "engine=$engine threads=$threads rounds=$rounds duration=$duration; wrk on CPU $last_cpu; medians"
printf "%-14s %12s %8s\n" "--pin" "req/s" ratio
printf "%-14s %12.0f %8s\n" none $n 1.00
printf "%-14s %12.0f %8.2f\n" compact $c $(awk -v a=$c -v b=$n 'BEGIN {print a / b}')
echo "samples: compact ${rps[compact]}| none ${rps[none]}"
