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

# Serve on a free port, talk to it, stop it with SIGTERM.
log=$(mktemp)
"$bin" serve --port 0 --static-dir "$(dirname "$0")" 2>"$log" &
pid=$!
for _ in $(seq 1 100); do grep -q "serving http" "$log" && break; sleep 0.05; done
url=$(grep -o "http://[^ ]*" "$log" | head -1)
check "server announces its URL" test -n "$url"
check "GET /plaintext" test "$(curl -s "${url}plaintext")" = "Hello, World!"
check "GET /static serves a file" contains "$(curl -s "${url}static/smoke.sh")" "CLI as an operator"
check "405 carries Allow" contains "$(curl -si -X DELETE "${url}json")" "Allow: GET, HEAD"
check "metrics count the requests" contains "$(curl -s "${url}metrics")" 'switchyard_http_responses_total{status="200"}'
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
