#!/usr/bin/env bash
# Is `switchyard load` a bottleneck? It and wrk drive the same server in
# turns (A B A B ...), each with one thread on the last CPU, 64 connections,
# 16-deep pipelining against /plaintext; the server (epoll) is on CPU 0.
#
#   experiments/loadgen-vs-wrk.sh [ROUNDS] [DURATION_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}; seconds=${2:-5}; port=18150; last=$(($(nproc) - 1))
swift build -c release --product switchyard >/dev/null
work=$(mktemp -d)
trap 'kill $server 2>/dev/null; rm -rf $work' EXIT
cat > $work/pipeline.lua <<'LUA'
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, wrk.path) end
  req = table.concat(r)
end
request = function() return req end
LUA
.build/release/switchyard serve --engine epoll --pin cpus:0 --port $port 2>/dev/null &
server=$!
sleep 1
wrk_rps=""; load_rps=""
for round in $(seq 1 $rounds); do
    wrk_rps+="$(taskset -c $last wrk -t1 -c64 -d${seconds}s -s $work/pipeline.lua http://127.0.0.1:$port/plaintext | awk '/Requests\/sec/ {print $2}') "
    load_rps+="$(taskset -c $last .build/release/switchyard load http://127.0.0.1:$port/plaintext --connections 64 --pipeline 16 --duration $seconds | awk '/Requests\/sec/ {print $2}') "
    echo "round $round of $rounds done" >&2
done
median() { tr ' ' '\n' | awk 'NF' | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
w=$(median <<<"$wrk_rps"); l=$(median <<<"$load_rps")
printf "%-18s %12s %8s\n" client "req/s" ratio
printf "%-18s %12.0f %8s\n" wrk $w 1.00
printf "%-18s %12.0f %8.2f\n" "switchyard load" $l $(awk -v a=$l -v b=$w 'BEGIN {print a / b}')
echo "samples: wrk $wrk_rps| switchyard load $load_rps"
