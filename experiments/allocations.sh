#!/usr/bin/env bash
# Heap allocations per request of a running engine, over real sockets.
#
#   experiments/allocations.sh [ENGINE] [DURATION]
#
# Starts the server under an LD_PRELOAD malloc counter (malloc-count.c),
# warms it up with wrk, then counts allocations across a measured wrk run,
# keep-alive and 16-deep pipelined, and divides by the requests wrk completed.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${1:-epoll}; duration=${2:-5s}; port=18090
swift build -c release --product switchyard >/dev/null
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf $work' EXIT
cc -O2 -shared -fPIC -o $work/malloc-count.so experiments/malloc-count.c
cat > $work/pipeline.lua <<'LUA'
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, wrk.path) end
  req = table.concat(r)
end
request = function() return req end
LUA
LD_PRELOAD=$work/malloc-count.so taskset -c 0 .build/release/switchyard serve --engine "$engine" --port $port 2>$work/err &
pid=$!
sleep 1
count() { kill -USR2 $pid; sleep 0.2; grep -o "malloc-count: [0-9]*" $work/err | tail -1 | awk '{print $2}'; }
printf "%-10s %-12s %12s %12s %14s\n" engine mode requests allocations "per request"
for mode in keepalive pipelined; do
    script=""; [ $mode = pipelined ] && script="-s $work/pipeline.lua"
    for path in plaintext json; do
        taskset -c 1 wrk -t1 -c64 -d2s $script http://127.0.0.1:$port/$path >/dev/null   # warm-up: buffers, slots, caches
        before=$(count)
        out=$(taskset -c 1 wrk -t1 -c64 -d$duration $script http://127.0.0.1:$port/$path)
        after=$(count)
        requests=$(awk '/requests in/ {print $1}' <<<"$out")
        printf "%-10s %-12s %12s %12s %14s\n" $engine "$mode /$path" $requests $((after - before)) \
            $(awk -v a=$((after - before)) -v r=$requests 'BEGIN {printf "%.6f", a / r}')
    done
done
