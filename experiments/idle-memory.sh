#!/usr/bin/env bash
# Resident memory per idle keep-alive connection, for each engine and nginx.
#
#   [SWITCHYARD_BIN=PATH] experiments/idle-memory.sh [CONNECTIONS] [BURST]     (defaults 10000, 500)
#
# Each server gets CONNECTIONS clients that make one request and then stay
# connected and idle, in two modes: one at a time, and in bursts of BURST
# clients that each send their request before any response is read (a
# reconnect storm: every connection of a burst holds buffers at once).
# Reported after a quiet 1.5 s (the pools' decay, --pool-decay 500ms, runs
# within two intervals): (RSS with the clients - RSS after a warm-up of 1,000
# requests) / CONNECTIONS. Kernel socket memory is not in RSS; this measures
# what the server process itself keeps per connection. io_uring's
# provided-buffer ring is resident from start-up, so it is in both readings
# and not in the figure; its fixed size per loop is printed beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10000}
burst=${2:-500}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -gt $((count + 200)) ] || { echo "need an fd limit above $((count + 200)); the hard limit here is $(ulimit -Hn)"; exit 1; }
# SWITCHYARD_BIN measures another build (an earlier commit's, side by side).
bin=${SWITCHYARD_BIN:-.build/release/switchyard}
[ -n "${SWITCHYARD_BIN:-}" ] || swift build -c release --product switchyard >/dev/null
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; [ -f $work/nginx.pid ] && kill $(cat $work/nginx.pid) 2>/dev/null || true; sleep 0.5; rm -rf $work' EXIT
rss_kb() { awk '/VmRSS/ {print $2}' /proc/$1/status; }

measure() {  # measure NAME PID PORT MODE (1: one by one, else the burst size)
    local name=$1 pid=$2 port=$3 mode=$4 before after clients
    # Warm-up: one connection's worth of buffers, and 1,000 requests.
    curl -s "http://127.0.0.1:$port/plaintext?[1-1000]" -o /dev/null
    sleep 1.5
    before=$(rss_kb $pid)
    python3 experiments/idle_clients.py $port $count /plaintext $mode > $work/clients.out &
    clients=$!
    while ! grep -q ready $work/clients.out 2>/dev/null; do
        kill -0 $clients 2>/dev/null || { echo "$name: clients failed"; return; }
        sleep 0.2
    done
    sleep 1.5
    after=$(rss_kb $pid)
    kill $clients; wait $clients 2>/dev/null || true
    printf "%-36s %-12s %10d KiB %10d KiB %10.0f B\n" "$name" "$([ $mode = 1 ] && echo "one by one" || echo "bursts $mode")" \
        $before $after $(awk -v a=$after -v b=$before -v n=$count 'BEGIN {print (a - b) * 1024 / n}')
}

printf "%-36s %-12s %14s %14s %12s\n" server clients "RSS before" "RSS idle" "per conn."
for variant in epoll stealing io_uring "io_uring --uring-recv single" threads; do
    for mode in 1 $burst; do
        "$bin" serve --engine $variant --threads 1 --port 18100 --max-connections $((count + 100)) \
            --pin cpus:0 2>$work/sy.log &
        server=$!
        sleep 1
        ring=$(curl -s http://127.0.0.1:18100/metrics | awk '/^switchyard_uring_buffer_ring_bytes / {print $2}')
        measure "switchyard/${variant/ --uring-recv /:}${ring:+ (+$((ring / 1024)) KiB ring)}" $server 18100 $mode
        kill -TERM $server; wait $server || true
    done
done

cat > $work/nginx.conf <<NGINX
worker_processes 1; worker_cpu_affinity 01; daemon on; pid $work/nginx.pid; worker_rlimit_nofile $(ulimit -n);
error_log $work/error.log;
events { worker_connections $((count + 100)); }
http { access_log off; keepalive_requests 10000000; keepalive_timeout 600;
  server { listen 127.0.0.1:18101;
    location / { default_type text/plain; return 200 "Hello, World!"; } } }
NGINX
for mode in 1 $burst; do
    nginx -c $work/nginx.conf
    sleep 1
    measure nginx "$(pgrep -P "$(cat $work/nginx.pid)" | head -1)" 18101 $mode
    kill $(cat $work/nginx.pid); sleep 0.5
done
