#!/usr/bin/env bash
# Side-by-side throughput and server CPU per request of several servers, in
# one run, alternating rounds (A B C A B C ...) so drift hits all alike.
#
#   experiments/side-by-side.sh [-r ROUNDS] [-d DURATION] [-c "64 512"] [-m "keepalive pipelined"] [-p PATH] \
#       NAME='COMMAND with {port}' NAME='...' ...
#   e.g. experiments/side-by-side.sh epoll='.build/release/switchyard serve --engine epoll --port {port}' \
#        io_uring='.build/release/switchyard serve --engine io_uring --port {port}' nginx=nginx
#
# The name `nginx` alone starts the reference nginx (1 worker, `return 200`);
# `nginx-static=DIR` starts one serving DIR at /static/ with `sendfile on` and
# `tcp_nopush on` (compare with `serve --static-dir DIR`). -p sets the path
# every request asks for (default /plaintext), e.g. -p /static/64k.bin.
# Every server runs pinned to CPU 0, one wrk thread on CPU 1. Reports per
# server, mode and connection count: median req/s, server CPU µs per request
# (utime+stime of the server's processes from /proc over each run), wrk's
# p99 latency, and each as a ratio to the first server named. Needs wrk (and
# nginx-light for nginx).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3; duration=5s; conns="64"; modes="keepalive pipelined"; path=/plaintext
while getopts "r:d:c:m:p:" opt; do
    case $opt in r) rounds=$OPTARG ;; d) duration=$OPTARG ;; c) conns=$OPTARG ;; m) modes=$OPTARG ;; p) path=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n 2,15p "$0"; exit 2; }
command -v wrk >/dev/null || { echo "side-by-side: wrk is missing (apt-get install wrk)" >&2; exit 1; }
work=$(mktemp -d)
names=(); pids=(); ports=()
cleanup() { for p in "${pids[@]}"; do kill -TERM -- -$p 2>/dev/null || true; done; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT
cat > $work/pipeline.lua <<'LUA'
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, "PATH") end
  req = table.concat(r)
end
request = function() return req end
LUA
sed -i "s|PATH|$path|" $work/pipeline.lua
port=18180
for spec in "$@"; do
    name=${spec%%=*}; cmd=${spec#*=}; port=$((port + 1))
    if [ "$spec" = nginx ]; then
        cat > $work/nginx.conf <<NGINX
worker_processes 1; daemon off; pid $work/nginx.pid; error_log $work/nginx-error.log;
events { worker_connections 65536; }
http { access_log off; keepalive_requests 10000000;
  server { listen 127.0.0.1:$port reuseport backlog=4096;
    location / { default_type text/plain; return 200 "Hello, World!"; } } }
NGINX
        cmd="nginx -c $work/nginx.conf"
    fi
    if [ "${spec%%=*}" = nginx-static ]; then
        dir=$(realpath "${spec#*=}")
        cat > $work/nginx-static.conf <<NGINX
worker_processes 1; daemon off; pid $work/nginx-static.pid; error_log $work/nginx-static-error.log;
events { worker_connections 65536; }
http { access_log off; keepalive_requests 10000000; sendfile on; tcp_nopush on; include /etc/nginx/mime.types;
  server { listen 127.0.0.1:$port reuseport backlog=4096;
    location /static/ { alias $dir/; } } }
NGINX
        cmd="nginx -c $work/nginx-static.conf"
    fi
    cmd=${cmd//\{port\}/$port}
    setsid taskset -c 0 bash -c "exec $cmd" >"$work/$name.log" 2>&1 &
    names+=("$name"); pids+=($!); ports+=($port)
done
for i in "${!names[@]}"; do
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/${ports[$i]}) 2>/dev/null && break; sleep 0.1; done
done
hz=$(getconf CLK_TCK)
group_ticks() {  # utime+stime of every process in the group led by $1
    local t=0
    for p in $(pgrep -g "$1"); do t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null || echo 0))); done
    echo $t
}
declare -A results
for round in $(seq 1 $rounds); do
    for mode in $modes; do
        for c in $conns; do
            for i in "${!names[@]}"; do
                script=""; [ "$mode" = pipelined ] && script="-s $work/pipeline.lua"
                before=$(group_ticks ${pids[$i]})
                out=$(taskset -c 1 wrk -t1 -c$c -d$duration --latency $script http://127.0.0.1:${ports[$i]}$path)
                after=$(group_ticks ${pids[$i]})
                rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
                n=$(awk '/requests in/ {print $1}' <<<"$out")
                cpu=$(awk -v t=$((after - before)) -v hz=$hz -v n=$n 'BEGIN {printf "%.3f", t / hz * 1e6 / n}')
                p99=$(awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                      print (u == "us") ? v : (u == "ms") ? v * 1000 : v * 1e6 }' <<<"$out")
                results[${names[$i]},$mode,$c]+="$rps $cpu $p99;"
            done
        done
    done
    echo "round $round of $rounds done" >&2
done
median() { tr ';' '\n' | awk -v c=$1 'NF {print $c}' | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "rounds=$rounds duration=$duration path=$path (servers on CPU 0, wrk -t1 on CPU 1; medians; ratios to ${names[0]})"
printf "%-16s %-10s %6s %12s %10s %9s %10s %10s %10s\n" server mode conns "req/s" "CPU us/req" "p99 us" "rps ratio" "CPU ratio" "p99 ratio"
for mode in $modes; do
    for c in $conns; do
        b_rps=$(median 1 <<<"${results[${names[0]},$mode,$c]}"); b_cpu=$(median 2 <<<"${results[${names[0]},$mode,$c]}")
        b_p99=$(median 3 <<<"${results[${names[0]},$mode,$c]}")
        for name in "${names[@]}"; do
            rps=$(median 1 <<<"${results[$name,$mode,$c]}"); cpu=$(median 2 <<<"${results[$name,$mode,$c]}")
            p99=$(median 3 <<<"${results[$name,$mode,$c]}")
            printf "%-16s %-10s %6s %12.0f %10.3f %9.0f %10.3f %10.3f %10.3f\n" "$name" $mode $c $rps $cpu $p99 \
                $(awk -v a=$rps -v b=$b_rps 'BEGIN {print a / b}') $(awk -v a=$cpu -v b=$b_cpu 'BEGIN {print a / b}') \
                $(awk -v a=$p99 -v b=$b_p99 'BEGIN {print a / b}')
        done
    done
done
