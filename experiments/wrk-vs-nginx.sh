#!/usr/bin/env bash
# Side-by-side throughput and CPU cost of a Switchyard engine and nginx, in one
# run, alternating (A B A B ...) so drift hits both alike.
#
#   experiments/wrk-vs-nginx.sh [ENGINE] [ROUNDS] [DURATION] [CONNECTIONS]
#   e.g. experiments/wrk-vs-nginx.sh threads 3 5s 64
#
# Server pinned to CPU 0, one wrk thread on CPU 1. Reports, per server and mode
# (keep-alive, 16-deep pipelined): median requests/s, server CPU µs per request
# (utime+stime from /proc over the run), and the ratio to nginx. Needs wrk and
# nginx-light (installed if missing, when root).
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${1:-threads}; rounds=${2:-3}; duration=${3:-5s}; connections=${4:-64}
sy_port=18080; nginx_port=18081
for p in wrk nginx-light; do
    dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q "install ok installed" || {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $p >/dev/null; }
done
swift build -c release --product switchyard >/dev/null
work=$(mktemp -d)
trap 'kill $sy_pid 2>/dev/null; nginx -c $work/nginx.conf -s stop 2>/dev/null; rm -rf $work' EXIT

cat > $work/nginx.conf <<NGINX
worker_processes 1; worker_cpu_affinity 01; daemon on; pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000;
  server { listen 127.0.0.1:$nginx_port reuseport;
    location / { default_type text/plain; return 200 "Hello, World!"; } } }
NGINX
cat > $work/pipeline.lua <<'LUA'
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, "/plaintext") end
  req = table.concat(r)
end
request = function() return req end
LUA

taskset -c 0 .build/release/switchyard serve --engine "$engine" --port $sy_port --max-connections 4096 2>$work/sy.log &
sy_pid=$!
taskset -c 0 nginx -c $work/nginx.conf
sleep 1
nginx_pid=$(pgrep -P "$(cat $work/nginx.pid)" | head -1)

cpu_ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
hz=$(getconf CLK_TCK)

measure() {  # measure NAME PID PORT MODE -> "rps cpu_us_per_request"
    local pid=$2 port=$3 mode=$4 script=""
    [ "$mode" = pipelined ] && script="-s $work/pipeline.lua"
    local before after out rps requests
    before=$(cpu_ticks $pid)
    out=$(taskset -c 1 wrk -t1 -c$connections -d$duration $script http://127.0.0.1:$port/plaintext)
    after=$(cpu_ticks $pid)
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    echo "$rps $(awk -v t=$((after - before)) -v hz=$hz -v n=$requests 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')"
}

declare -A results
for round in $(seq 1 $rounds); do
    for mode in keepalive pipelined; do
        results[switchyard,$mode]+="$(measure switchyard $sy_pid $sy_port $mode);"
        results[nginx,$mode]+="$(measure nginx $nginx_pid $nginx_port $mode);"
    done
    echo "round $round of $rounds done" >&2
done

median() { tr ';' '\n' | awk -v c=$1 'NF {print $c}' | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo
echo "engine=$engine rounds=$rounds duration=$duration connections=$connections (server CPU 0, wrk CPU 1; medians)"
printf "%-22s %-10s %12s %16s %14s %14s\n" server mode "req/s" "CPU us/request" "req/s ratio" "CPU ratio"
for mode in keepalive pipelined; do
    n_rps=$(median 1 <<<"${results[nginx,$mode]}"); n_cpu=$(median 2 <<<"${results[nginx,$mode]}")
    s_rps=$(median 1 <<<"${results[switchyard,$mode]}"); s_cpu=$(median 2 <<<"${results[switchyard,$mode]}")
    printf "%-22s %-10s %12.0f %16.2f %14s %14s\n" nginx $mode $n_rps $n_cpu 1.00 1.00
    printf "%-22s %-10s %12.0f %16.2f %14.2f %14.2f\n" "switchyard/$engine" $mode $s_rps $s_cpu \
        $(awk -v a=$s_rps -v b=$n_rps 'BEGIN {print a / b}') $(awk -v a=$s_cpu -v b=$n_cpu 'BEGIN {print a / b}')
done
