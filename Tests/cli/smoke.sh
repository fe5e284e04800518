#!/usr/bin/env bash
# The CLI as an operator uses it: the real binary, real flags, a real socket,
# SIGTERM. Prints "N passed, N failed" and exits non-zero on any failure.
set -u
bin=${1:?usage: smoke.sh path/to/switchyard}
passed=0; failed=0
check() {  # check NAME CONDITION-COMMAND...
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}
contains() { grep -q -- "$2" <<<"$1"; }

out=$("$bin" engines 2>&1); check "engines lists threads as available" contains "$out" "threads *yes"
check "engines lists epoll" contains "$out" "epoll"
out=$("$bin" topology 2>&1); check "topology prints the machine" contains "$out" "Machine:"
out=$("$bin" topology --json 2>&1); check "topology --json lists processing units" contains "$out" '"processingUnits"'
out=$("$bin" serve --pin diagonal 2>&1); check "bad --pin names the flag and the forms" contains "$out" 'takes "none", "compact", "scatter" or "cpus:LIST"'
out=$("$bin" serve --pin cpus:4095 --port 0 2>&1); check "nonexistent CPU is named" contains "$out" "CPU 4095 does not exist"
out=$("$bin" serve --engine epoll --accept sideways 2>&1); check "bad --accept lists the values" contains "$out" "reuseport"
out=$("$bin" serve --engine epoll --accept p2c --balance hash 2>&1); check "--balance beside a policy that chooses is refused" contains "$out" "--balance hash applies only to --accept acceptor"
out=$("$bin" serve --engine threads --accept reuseport-hash 2>&1); check "a distribution policy with the threads engine is refused" contains "$out" "--accept reuseport-hash: the threads engine accepts on one listener"
out=$("$bin" serve --engine epoll --accept reuseport-cpu 2>&1); check "reuseport-cpu without --pin names --pin" contains "$out" "needs --pin"
out=$("$bin" serve --engine epoll --hash-port 2>&1); check "--hash-port without a hashing policy is refused" contains "$out" "--hash-port applies only to --accept hash or reuseport-hash"
out=$("$bin" serve --engine epoll --accept reuseport-hash --test-refuse-steering --port 0 2>&1); status=$?
check "a refused BPF program stops the start, naming the cause and --steering-fallback" contains "$out" "kernel refused the reuseport BPF program (SO_ATTACH_REUSEPORT_CBPF: Invalid argument); add --steering-fallback"
check "a refused BPF program exits non-zero" test $status -ne 0
out=$("$bin" serve --engine epoll --workers processes --processes 1 --accept reuseport-hash --test-refuse-steering --port 0 2>&1); status=$?
check "process mode: the supervisor's refused program stops it with exit 2" test $status -eq 2
check "process mode: ... naming the cause" contains "$out" "kernel refused the reuseport BPF program"
# Process mode with the acceptor's hash: the supervisor attaches the program
# across workers, and --steering-fallback is accepted by every worker too.
log=$(mktemp)
"$bin" serve --engine epoll --workers processes --processes 2 --accept hash --steering-fallback --port 0 2>"$log" &
pid=$!
for _ in $(seq 1 100); do grep -q "serving http" "$log" && break; sleep 0.1; done
url=$(grep -o "http://[^ ]*" "$log" | head -1)
for _ in $(seq 1 100); do [ "$(curl -s "${url}plaintext")" = "Hello, World!" ] && break; sleep 0.1; done
check "process mode, --accept hash --steering-fallback: the workers serve" test "$(curl -s "${url}plaintext")" = "Hello, World!"
check "process mode, --accept hash: the supervisor steers workers by address" contains "$(cat "$log")" "reuseport steering: hash over 2 listening sockets"
kill -TERM $pid; wait $pid
rm -f "$log"
out=$("$bin" --help 2>&1); check "--help lists subcommands" contains "$out" "serve"
out=$("$bin" serve --help 2>&1); check "serve --help documents --max-connections" contains "$out" "--max-connections"

out=$("$bin" serve --engine nope 2>&1); status=$?
check "unknown engine exits non-zero" test $status -ne 0
check "unknown engine names flag and allowed values" contains "$out" "--engine 'nope' is unknown; allowed values: auto, threads"

# io_uring: the probe's findings, bad sizes, and refusals forced by the
# test-only SWITCHYARD_URING_PROBE_FAIL so they run where io_uring works.
out=$("$bin" engines 2>&1); check "engines shows the io_uring probe" contains "$out" "provided-buffer rings"
out=$("$bin" serve --engine io_uring --uring-buffers 3 2>&1); check "bad --uring-buffers names the flag" contains "$out" "--uring-buffers 3: must be a power of two"
out=$("$bin" serve --uring-recv sideways 2>&1); check "bad --uring-recv lists the values" contains "$out" "multishot"
out=$("$bin" serve --help 2>&1); check "serve --help lists the io_uring switches" contains "$out" "--uring-zc-threshold"
out=$("$bin" engines 2>&1); check "engines lists stealing" contains "$out" "stealing"
out=$("$bin" serve --engine stealing --steal-queue 3 2>&1); check "bad --steal-queue names the flag" contains "$out" "--steal-queue 3: must be a power of two"
out=$("$bin" serve --steal-readiness sideways 2>&1); check "bad --steal-readiness lists the values" contains "$out" "per-worker"
out=$("$bin" serve --head-timeout 1x 2>&1); check "a bad duration names the flag" contains "$out" "head-timeout"
out=$("$bin" load http://127.0.0.1:1/ --duration 0ms 2>&1); check "load --duration 0ms: must be more than 0" contains "$out" "--duration 0s: must be more than 0 seconds"
for cause in eperm:"permission denied" enosys:"not implemented" enomem:"locked memory" opcode:RECV:"IORING_OP_RECV"; do
    code=${cause%:*}; text=${cause##*:}
    out=$(SWITCHYARD_URING_PROBE_FAIL=$code "$bin" serve --engine io_uring --port 0 2>&1); status=$?
    check "forced $code: --engine io_uring exits non-zero" test $status -ne 0
    check "forced $code: the message names the cause ($text) and the remedy" contains "$out" "$text.*--engine epoll"
done
log=$(mktemp)
SWITCHYARD_URING_PROBE_FAIL=eperm "$bin" serve --port 0 2>"$log" &
pid=$!
for _ in $(seq 1 100); do grep -q "serving http" "$log" && break; sleep 0.05; done
check "forced eperm: --engine auto falls back to epoll and says why" contains "$(cat "$log")" "auto chose epoll: io_uring is not usable here: io_uring_setup: permission denied"
check "forced eperm: the fallback serves" test "$(curl -s "$(grep -o "http://[^ ]*" "$log" | head -1)plaintext")" = "Hello, World!"
kill -TERM $pid; wait $pid; rm -f "$log"
out=$("$bin" serve --port 70000 2>&1); check "bad port names the flag" contains "$out" "--port 70000"
out=$("$bin" serve --max-connections 0 2>&1); check "bad cap names the flag" contains "$out" "--max-connections 0"
out=$("$bin" serve --threads x 2>&1); check "non-numeric threads names the flag" contains "$out" "--threads"
out=$("$bin" serve --static-dir /no/such/dir --port 0 2>&1); check "missing static dir names the flag" contains "$out" "--static-dir /no/such/dir"
out=$("$bin" serve --parser-simd neon --port 0 2>&1); status=$?
check "bad --parser-simd exits 64" test $status -eq 64
check "bad --parser-simd names the flag and the values" contains "$out" "--parser-simd neon: allowed values are auto, avx2, sse42, scalar"
out=$("$bin" config check "$(dirname "$0")/../../experiments/config/switchyard.example.toml" --parser-simd scalar 2>&1)
check "config check shows --parser-simd (live)" contains "$out" "parser-simd *= scalar *# flag (live)"

# Serve on a free port, talk to it, stop it with SIGTERM.
log=$(mktemp)
"$bin" serve --port 0 --static-dir "$(dirname "$0")" 2>"$log" &
pid=$!
for _ in $(seq 1 100); do grep -q "serving http" "$log" && break; sleep 0.05; done
url=$(grep -o "http://[^ ]*" "$log" | head -1)
check "server announces its URL" test -n "$url"
check "GET /plaintext" test "$(curl -s "${url}plaintext")" = "Hello, World!"
check "GET /static serves a file" contains "$(curl -s "${url}static/smoke.sh")" "CLI as an operator"
check "HEAD /static: validators and Accept-Ranges, no body" contains "$(curl -sI "${url}static/smoke.sh")" "Accept-Ranges: bytes"
check "GET /static with a Range: 206 and just those bytes" test "$(curl -s -r 0-10 "${url}static/smoke.sh")" = "#!/usr/bin/"
etag=$(curl -sI "${url}static/smoke.sh" | tr -d '\r' | sed -n 's/^ETag: //p')
check "If-None-Match with the ETag: 304" test "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "${url}static/smoke.sh")" = 304
check "405 carries Allow" contains "$(curl -si -X DELETE "${url}json")" "Allow: GET, HEAD"
check "metrics count the requests" contains "$(curl -s "${url}metrics")" 'switchyard_http_responses_total{status="200"}'
check "switchyard_info says which parser variant runs" contains "$(curl -s "${url}metrics")" 'parser_simd="\(scalar\|sse42\|avx2\)"'
# Same port twice: the second server must refuse with a clear message.
port=${url##*:}; port=${port%/}
out=$("$bin" serve --port "$port" 2>&1); check "busy port gives a clear error" contains "$out" "Address already in use"
out=$("$bin" load "${url}plaintext" --duration 0.5 --connections 4 --json 2>&1)
check "load: closed loop reports latency as JSON" contains "$out" '"p99"'
out=$("$bin" load "${url}json" --duration 0.5 --rate 200 --arrivals poisson 2>&1)
check "load: open loop at a fixed rate" contains "$out" "Requests/sec"
out=$("$bin" load "${url}plaintext" --mix bad 2>&1)
check "load: bad --mix names the flag" contains "$out" "--mix bad"
kill -TERM $pid
wait $pid; status=$?
check "SIGTERM exits 0" test $status -eq 0
check "shutdown is logged" contains "$(cat "$log")" "stopping gracefully"
out=$("$bin" load http://127.0.0.1:9/ --duration 0.3 2>&1); status=$?
check "load: refused target exits non-zero" test $status -ne 0
check "load: refused target says so" contains "$out" "refused"
check "load: the error is an operator message at error level, like serve's" \
    test "$(grep -c '^switchyard: error: nothing succeeded' <<<"$out")" -eq 1
rm -f "$log"

# The epoll engine, pinned, two loops.
log=$(mktemp)
"$bin" serve --engine epoll --threads 2 --pin compact --port 0 2>"$log" &
pid=$!
for _ in $(seq 1 100); do grep -q "serving http" "$log" && break; sleep 0.05; done
url=$(grep -o "http://[^ ]*" "$log" | head -1)
check "epoll: GET /json" test "$(curl -s "${url}json")" = '{"message":"Hello, World!"}'
check "epoll: metrics show the placement" contains "$(curl -s "${url}metrics")" 'pin="compact"'
kill -TERM $pid; wait $pid; status=$?
check "epoll: SIGTERM exits 0" test $status -eq 0
rm -f "$log"

out=$("$bin" serve --max-connections-per-address=-1 2>&1); check "bad --max-connections-per-address names the flag" contains "$out" "--max-connections-per-address -1: must be 0 (no limit) or more"
out=$("$bin" serve --engine io_uring --uring-direct-descriptors --max-connections-per-address 2 2>&1)
check "per-address limit with direct descriptors is refused with the reason" contains "$out" "--uring-direct-descriptors does not give"

# Configuration: the shipped example, precedence, and every error path.
example="$(cd "$(dirname "$0")/../.." && pwd)/experiments/config/switchyard.example.toml"
out=$("$bin" config check "$example" 2>&1); status=$?
check "config check: the example file is valid" test $status -eq 0
check "config check: values from the file are attributed to it" contains "$out" "keep-alive-timeout *= 1m *# file $example (live)"
check "config check: untouched settings are defaults" contains "$out" "uring-sq-entries *= 256 *# default"
out=$(SWITCHYARD_THREADS=3 "$bin" config check "$example" --threads 4 2>&1)
check "config check: a flag wins over the environment" contains "$out" "threads *= 4 *# flag"
out=$(SWITCHYARD_THREADS=3 "$bin" config check "$example" 2>&1)
check "config check: the environment wins over the file" contains "$out" "threads *= 3 *# environment SWITCHYARD_THREADS"
missing=""
for flag in $("$bin" serve --help | grep -oE "^  --(\[no-\])?[a-z0-9-]+" | sed 's/ //g; s/--\[no-\]/--/; s/^--//'); do
    case $flag in config|exit-with-parent|help) continue ;; esac
    grep -q "^$flag " <<<"$out" || missing="$missing $flag"
done
check "config: every serve flag is a configuration key${missing:+ (missing:$missing)}" test -z "$missing"
conf=$(mktemp --suffix .toml)
printf 'read-timout = "1s"\n' >"$conf"; out=$("$bin" config check "$conf" 2>&1); status=$?
check "config: unknown key is named, with the nearest one" contains "$out" "unknown key 'read-timout' (did you mean read-timeout?)"
check "config: an invalid file exits 2" test $status -eq 2
printf 'threads = 0\n' >"$conf"; out=$("$bin" serve --config "$conf" 2>&1); status=$?
check "config: a bad value names the key and the file" contains "$out" "--threads 0: must be at least 1 \[set by key 'threads' in $conf\]"
check "config: serve refuses it with status 2" test $status -eq 2
printf 'accept = "sideways"\n' >"$conf"; out=$("$bin" config check "$conf" 2>&1)
check "config: a bad choice lists the allowed values" contains "$out" "reuseport"
printf 'uring-bundle = "yes"\n' >"$conf"; out=$("$bin" config check "$conf" 2>&1)
check "config: an on/off key wants true or false" contains "$out" "write uring-bundle = true or false"
printf '[uring\n' >"$conf"; out=$("$bin" config check "$conf" 2>&1)
check "config: TOML syntax errors have a position" contains "$out" "$conf:1"
out=$(SWITCHYARD_STEAL_FIRST=maybe "$bin" config check "$example" 2>&1)
check "config: a bad boolean variable is named" contains "$out" "environment SWITCHYARD_STEAL_FIRST: 'maybe' is not on or off"
out=$(SWITCHYARD_THREDS=2 "$bin" config check "$example" 2>&1)
check "config: an unknown SWITCHYARD_ variable is reported" contains "$out" "SWITCHYARD_THREDS is not a setting and is ignored (did you mean SWITCHYARD_THREADS?)"
out=$("$bin" serve --config /no/such.toml 2>&1)
check "config: a missing file is named" contains "$out" "--config /no/such.toml: cannot read the file"

# SIGHUP in one process: a live setting applies (shedding starts), a restart-only one is reported,
# an invalid file keeps the running configuration.
printf 'engine = "epoll"\nport = 0\n' >"$conf"
log=$(mktemp)
"$bin" serve --config "$conf" 2>"$log" &
pid=$!
for _ in $(seq 1 100); do grep -q "serving http" "$log" && break; sleep 0.05; done
url=$(grep -o "http://[^ ]*" "$log" | head -1)
printf 'engine = "epoll"\nport = 0\nshed-above = 1\nmax-connections = 10\n' >"$conf"
kill -HUP $pid
for _ in $(seq 1 100); do grep -q "reloaded" "$log" && break; sleep 0.05; done
check "reload: the live setting is applied and logged" contains "$(cat "$log")" "applied shed-above 0 -> 1"
check "reload: a restart-only setting is reported" contains "$(cat "$log")" "needs a restart to take effect.*max-connections 1024 -> 10"
out=$(curl -s "${url}metrics")
check "reload: /metrics shows generation 2" contains "$out" "switchyard_config_generation 2"
p=${url##*:}; p=${p%/}
exec 7<>/dev/tcp/127.0.0.1/$p  # holds the one connection shed-above allows
sleep 0.2
check "reload: shedding now answers 503" contains "$(curl -si "${url}health")" "503"
exec 7>&-
printf 'threads = "many"\n' >"$conf"
kill -HUP $pid
for _ in $(seq 1 100); do grep -q "reload rejected" "$log" && break; sleep 0.05; done
check "reload: an invalid file is rejected and logged" contains "$(cat "$log")" "reload rejected, keeping configuration generation 2"
sleep 0.2
check "reload: /metrics shows the rejection" contains "$(curl -s "${url}metrics")" "switchyard_config_last_reload_success 0"
kill -TERM $pid; wait $pid; status=$?
check "reload: the server still stops cleanly" test $status -eq 0
rm -f "$log"

# Process mode: an invalid reload keeps the workers; worker metrics are merged.
printf 'engine = "epoll"\nworkers = "processes"\nprocesses = 2\n' >"$conf"
log=$(mktemp)
"$bin" serve --config "$conf" --port 0 2>"$log" &
pid=$!
for _ in $(seq 1 100); do [ "$(grep -c "serving http" "$log")" -ge 2 ] && break; sleep 0.05; done
url=$(grep -o "http://[^ ]*" "$log" | head -1)
check "process mode: the supervisor announces its workers" contains "$(cat "$log")" "supervising 2 worker processes"
out=$(curl -s "${url}metrics")
check "process mode: /metrics shows both workers" test "$(grep -c '^switchyard_connections_total{process="[01]"' <<<"$out")" -eq 2
check "process mode: /metrics shows the supervisor" contains "$out" 'switchyard_supervisor_workers{process="supervisor"} 2'
printf 'threads = "many"\n' >"$conf"; kill -HUP $pid
for _ in $(seq 1 100); do grep -q "reload rejected" "$log" && break; sleep 0.05; done
check "process mode: an invalid reload is rejected" contains "$(cat "$log")" "reload rejected, keeping configuration generation 1"
check "process mode: still serving after it" test "$(curl -s "${url}plaintext")" = "Hello, World!"
kill -TERM $pid; wait $pid; status=$?
check "process mode: SIGTERM drains the workers and exits 0" test $status -eq 0
check "process mode: no worker outlives the supervisor" test -z "$(pgrep -f "serve --config $conf")"
rm -f "$log" "$conf"

# The restart limit: past it a worker is given up; with none left the supervisor stops (status 1).
log=$(mktemp)
SWIFT_BACKTRACE=enable=no "$bin" serve --engine epoll --workers processes --processes 1 --restart-limit 1 \
    --enable-crash-route --port 0 2>"$log" &
pid=$!
for _ in $(seq 1 100); do grep -q "serving http" "$log" && break; sleep 0.05; done
url=$(grep -o "http://[^ ]*" "$log" | head -1)
curl -s -m 5 "${url}crash" >/dev/null
for _ in $(seq 1 200); do [ "$(grep -c "serving http" "$log")" -ge 2 ] && break; sleep 0.05; done
check "restart: a crashed worker is restarted after a back-off" contains "$(cat "$log")" "killed by signal 4 (Illegal instruction); restarting in 100 ms"
curl -s -m 5 "${url}crash" >/dev/null
wait $pid; status=$?
check "restart limit: the slot is given up and the supervisor exits 1" test $status -eq 1
check "restart limit: the operator is told why" contains "$(cat "$log")" "past --restart-limit 1: no more restarts"
rm -f "$log"

# Sent versus answered across SIGTERM (every engine), a reload and a crash (process mode).
if [ -n "${PYTHON:-}" ] || command -v python3 >/dev/null; then
    py=${PYTHON:-python3}
    for engine in $("$bin" engines 2>&1 | awk 'NR > 1 && NF == 0 {exit} NR > 1 && $2 == "yes" {print $1}'); do
        out=$("$py" "$(dirname "$0")/lossless.py" "$bin" sigterm --engine "$engine" --threads 2 2>&1); status=$?
        check "lossless SIGTERM ($engine): $(head -1 <<<"$out")" test $status -eq 0
        [ $status -eq 0 ] || echo "$out" | tail -n 20
    done
    # Clients that reconnect after Connection: close keep connecting while
    # the workers drain: refused is fine, accepted and then reset is not.
    for engine in $("$bin" engines 2>&1 | awk 'NR > 1 && NF == 0 {exit} NR > 1 && $2 == "yes" {print $1}'); do
        out=$("$py" "$(dirname "$0")/lossless.py" "$bin" sigterm-reconnect --engine "$engine" --threads 2 \
              --workers processes --processes 2 2>&1); status=$?
        check "lossless SIGTERM, reconnecting clients, process mode ($engine): $(head -1 <<<"$out")" test $status -eq 0
        [ $status -eq 0 ] || echo "$out" | tail -n 20
    done
    # The acceptor policy: one listener whose thread hands connections out.
    out=$("$py" "$(dirname "$0")/lossless.py" "$bin" sigterm-reconnect --engine epoll --threads 2 --accept acceptor 2>&1); status=$?
    check "lossless SIGTERM, reconnecting clients, --accept acceptor (epoll): $(head -1 <<<"$out")" test $status -eq 0
    [ $status -eq 0 ] || echo "$out" | tail -n 20
    for engine in $("$bin" engines 2>&1 | awk 'NR > 1 && NF == 0 {exit} NR > 1 && $2 == "yes" {print $1}'); do
        out=$("$py" "$(dirname "$0")/lossless.py" "$bin" reload --engine "$engine" --threads 2 2>&1); status=$?
        check "lossless reload, process mode ($engine): $(head -1 <<<"$out")" test $status -eq 0
        [ $status -eq 0 ] || echo "$out" | tail -n 20
    done
    # Connection distribution across worker processes: a hashing policy keeps
    # each client address on its (process, loop), across a worker's restart.
    for engine in $("$bin" engines 2>&1 | awk 'NR > 1 && NF == 0 {exit} NR > 1 && $2 == "yes" && $1 != "threads" {print $1}'); do
        for accept in reuseport-hash hash; do
            out=$("$py" "$(dirname "$0")/../../experiments/distribution_clients.py" "$bin" restart --engine "$engine" --accept "$accept" 2>&1); status=$?
            check "process mode, --accept $accept ($engine): $(head -1 <<<"$out")" test $status -eq 0
            [ $status -eq 0 ] || echo "$out" | tail -n 20
        done
    done
    # p2c and least-loaded choose over every worker's loops, handing sockets between workers.
    for engine in $("$bin" engines 2>&1 | awk 'NR > 1 && NF == 0 {exit} NR > 1 && $2 == "yes" && $1 != "threads" {print $1}'); do
        for accept in p2c least-loaded; do
            out=$("$py" "$(dirname "$0")/../../experiments/distribution_clients.py" "$bin" level --engine "$engine" --accept "$accept" 2>&1); status=$?
            check "process mode, --accept $accept ($engine): $(head -1 <<<"$out")" test $status -eq 0
            [ $status -eq 0 ] || echo "$out" | tail -n 20
        done
    done
    out=$(SWIFT_BACKTRACE=enable=no "$py" "$(dirname "$0")/lossless.py" "$bin" crash --engine epoll 2>&1); status=$?
    check "crash contained, worker restarted: $(head -1 <<<"$out")" test $status -eq 0
    [ $status -eq 0 ] || echo "$out" | tail -n 20
fi

# Pool decay: a burst of clients that each send before reading leaves its
# buffers free in the pool; after a quiet interval they go back (every event loop).
for engine in $("$bin" engines 2>&1 | awk 'NR > 1 && NF == 0 {exit} NR > 1 && $2 == "yes" && $1 != "threads" {print $1}'); do
    log=$(mktemp)
    "$bin" serve --engine "$engine" --threads 1 --pool-decay 100ms --pool-keep 0 --port 0 2>"$log" &
    pid=$!
    for _ in $(seq 1 100); do grep -q "serving http" "$log" && break; sleep 0.05; done
    url=$(grep -o "http://[^ ]*" "$log" | head -1)
    port=$(sed 's|.*:\([0-9]*\)/$|\1|' <<<"$url")
    python3 "$(dirname "$0")/../../experiments/idle_clients.py" "$port" 64 /plaintext 64 >"$log.clients" &
    clients=$!
    for _ in $(seq 1 100); do grep -q ready "$log.clients" 2>/dev/null && break; sleep 0.05; done
    released=0
    for _ in $(seq 1 60); do
        released=$(curl -s "${url}metrics" | awk '/^switchyard_pool_released_bytes_total / {print $2}')
        [ "${released:-0}" -gt 0 ] && break
        sleep 0.1
    done
    check "pool decay ($engine): a burst's buffers go back after a quiet interval (released ${released:-0} bytes)" test "${released:-0}" -gt 0
    kill $clients 2>/dev/null; wait $clients 2>/dev/null
    kill -TERM $pid; wait $pid
    rm -f "$log" "$log.clients"
done

# IPv6: a server on ::1 and the load generator with a bracketed URL.
if grep -q "^0\{31\}1 .* lo$" /proc/net/if_inet6 2>/dev/null; then
    log=$(mktemp)
    "$bin" serve --host ::1 --port 0 2>"$log" &
    pid=$!
    for _ in $(seq 1 100); do grep -q "serving http" "$log" && break; sleep 0.05; done
    url=$(grep -o "http://[^ ]*" "$log" | head -1)
    out=$("$bin" load "${url}plaintext" --duration 0.3 --connections 2 2>&1)
    check "load: IPv6 target ($url)" contains "$out" "Requests/sec"
    out=$("$bin" load "http://[::1/x" --duration 0.3 2>&1)
    check "load: unclosed IPv6 bracket is named" contains "$out" "needs its closing ]"
    kill -TERM $pid; wait $pid
    rm -f "$log"
fi

# Sweeps: the spec is checked before anything runs; a tiny real sweep over two
# engines writes a well-formed results.csv; the report and the notebook read it.
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$("$bin" sweep "$root/experiments/quick.toml" --list 2>&1)
check "sweep --list expands quick.toml" test "$(grep -c "rep " <<<"$out")" -ge 6
spec=$(mktemp --suffix=.toml)
printf 'name = "cli"\n[matrix]\nengines = ["threads", "epol"]\n' >"$spec"
out=$("$bin" sweep "$spec" 2>&1); status=$?
check "sweep: bad spec exits 2" test $status -eq 2
check "sweep: bad spec names the key and the engines" contains "$out" 'matrix.engines\[1\]: unknown engine "epol"; known: threads, epoll'
out=$("$bin" sweep /no/such/spec.toml 2>&1)
check "sweep: missing spec is named" contains "$out" "cannot read the spec /no/such/spec.toml"
out=$("$bin" sweep "$root/experiments/quick.toml" --server-cpus 0 --load-cpus 0 2>&1)
check "sweep: overlapping CPU sets are refused" contains "$out" "overlap on CPU 0"
printf 'name = "cli"\nduration = 0.5\nwarmup = 0.2\nrepetitions = 1\n[matrix]\nengines = ["threads", "epoll"]\nconnections = [4, 8]\n' >"$spec"
data=$(mktemp -d)
out=$("$bin" sweep "$spec" --output "$data" 2>&1); status=$?
check "sweep: two engines succeed" test $status -eq 0
check "sweep: prints the summary table" contains "$out" "req/s × threads"
check "sweep: results.csv has a header and 4 rows" test "$(wc -l <"$data/cli/results.csv")" -eq 5
check "sweep: every row is ok" test "$(grep -c ',ok,' "$data/cli/results.csv")" -eq 4
check "sweep: metadata records the commit" contains "$(cat "$data/cli/metadata.json")" '"git_commit"'
out=$("$bin" sweep "$spec" --output "$data" 2>&1)
check "sweep: a rerun resumes" contains "$out" "4 of 4 measurements already in"
# A sweep killed outright (SIGKILL, as a CI timeout does) must not leave its
# server running: servers it starts ask for a parent-death signal.
printf 'name = "orphan"\nduration = 30\nwarmup = 0\nrepetitions = 1\n[matrix]\nengines = ["epoll"]\nconnections = [2]\n' >"$spec"
"$bin" sweep "$spec" --output "$data" >/dev/null 2>&1 &
sweep_pid=$!
server=""
for _ in $(seq 1 200); do server=$(pgrep -P $sweep_pid -f "serve --engine epoll" | head -1); [ -n "$server" ] && break; sleep 0.05; done
check "sweep: the server runs as its child" test -n "$server"
kill -9 $sweep_pid; wait $sweep_pid 2>/dev/null
gone() { ! kill -0 "$1" 2>/dev/null || grep -q ') Z' "/proc/$1/stat" 2>/dev/null; }
for _ in $(seq 1 200); do gone "$server" && break; sleep 0.05; done
check "sweep killed with SIGKILL: its server exits too" gone "$server"
if [ -n "${PYTHON:-}" ]; then
    # Absolute (the notebook check runs from another folder), but not resolved:
    # a venv's python is a symlink, and only its own path finds the venv.
    case $PYTHON in /*) ;; */*) PYTHON=$PWD/$PYTHON ;; esac
    out=$("$PYTHON" "$root/notebooks-data/plots.py" "$data/cli" 2>&1)
    check "report: writes report.md" contains "$(cat "$data/cli/report.md" 2>/dev/null)" "## Throughput"
    check "report: PNG and SVG plots" test -s "$data/cli/plots/throughput.png" -a -s "$data/cli/plots/cpu.svg"
    # The notebook's code cells, run in order against the same sweep.
    out=$(cd "$data" && "$PYTHON" - "$root/notebooks-data" <<'PY' 2>&1
import json, sys
sys.path.insert(0, sys.argv[1])
notebook = json.load(open(sys.argv[1] + "/analysis.ipynb"))
code = "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code")
code = "\n".join(line for line in code.splitlines() if not line.startswith("%")).replace('NAME = "quick"', 'NAME = "cli"')
exec(compile(code, "analysis.ipynb", "exec"), {"display": lambda value: None})
print("notebook ran")
PY
)
    check "notebook: every code cell runs" contains "$out" "notebook ran"
    contains "$out" "notebook ran" || tail -n 15 <<<"$out"
fi
rm -rf "$spec" "$data"

echo "cli: $passed passed, $failed failed"
[ $failed -eq 0 ]
