#!/usr/bin/env bash
# /metrics as a Prometheus server reads it: `promtool check metrics` (the
# parser a real scrape uses, plus its lint) must be silent for every engine,
# for process mode's merged text, during a worker restart and after a reload.
# A scrape that promtool rejects is dropped whole by Prometheus.
# Prints "N passed, N failed" and exits non-zero on any failure.
set -u
bin=${1:?usage: metrics-format.sh path/to/switchyard}
passed=0; failed=0
check() {  # check NAME CONDITION-COMMAND...
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}
if ! command -v promtool >/dev/null; then
    echo "FAIL promtool is missing: make deps installs it (Debian package prometheus)"
    echo "metrics format: 0 passed, 1 failed"
    exit 1
fi

# promtool's verdict on one scrape: empty and status 0 when clean.
verdict=""
scrape() {  # scrape URL: sets $verdict to promtool's complaints, if any
    local text
    text=$(curl -s -m 5 "${1}metrics")
    if [ -z "$text" ]; then verdict="empty scrape"; return; fi
    verdict=$(promtool check metrics <<<"$text" 2>&1) || verdict="${verdict:-promtool failed}"
}
clean() { [ -z "$verdict" ] || { echo "     promtool: $verdict" | head -5; return 1; }; }

start() {  # start LOG ARGS...: runs serve, waits for its URL(s), sets $pid and $url
    local log=$1 want=1; shift
    case " $* " in *" --processes 2 "*) want=2 ;; esac
    "$bin" serve --port 0 "$@" 2>"$log" &
    pid=$!
    for _ in $(seq 1 200); do [ "$(grep -c "serving http" "$log")" -ge $want ] && break; sleep 0.05; done
    url=$(grep -o "http://[^ ]*" "$log" | head -1)
}

log=$(mktemp)
for engine in $("$bin" engines 2>&1 | awk 'NR > 1 && NF == 0 {exit} NR > 1 && $2 == "yes" {print $1}'); do
    start "$log" --engine "$engine" --threads 2
    curl -s "${url}plaintext" "${url}nope" >/dev/null
    scrape "$url"
    check "promtool: $engine, one process" clean
    kill -TERM $pid; wait $pid
done

# Process mode: the merged text of two workers and the supervisor.
conf=$(mktemp --suffix=.toml)
printf 'engine = "epoll"\nworkers = "processes"\nprocesses = 2\n' >"$conf"
start "$log" --config "$conf"
curl -s "${url}plaintext" "${url}json" >/dev/null
scrape "$url"
check "promtool: process mode" clean
# A worker killed: the scrape meets its stale socket and then its successor.
victim=$(pgrep -P $pid | head -1)
kill -KILL "$victim"
scrape "$url"
check "promtool: process mode while a worker restarts" clean
for _ in $(seq 1 100); do [ "$(grep -c "serving http" "$log")" -ge 3 ] && break; sleep 0.05; done
scrape "$url"
check "promtool: process mode after the restart" clean
printf 'engine = "epoll"\nworkers = "processes"\nprocesses = 2\nshed-above = 0\n' >"$conf"
kill -HUP $pid
for _ in $(seq 1 100); do grep -q "generation 2" "$log" && break; sleep 0.05; done
sleep 0.3
scrape "$url"
check "promtool: process mode after a reload" clean
out=$(curl -s "${url}metrics")
check "process mode: each worker's switchyard_info names its process once" \
    test "$(grep -c '^switchyard_info{generation="[0-9]*",.*process="[01]"' <<<"$out")" -eq 2
kill -TERM $pid; wait $pid
rm -f "$log" "$conf"

echo "metrics format: $passed passed, $failed failed"
[ $failed -eq 0 ]
