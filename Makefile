# Switchyard: the two commands a newcomer needs are `make run` and `make test`.
# Both install missing system packages first (`make deps`, idempotent).

SWIFT      ?= swift
PYTHON     ?= python3
HOST       ?= 127.0.0.1
PORT       ?= 8080
ENGINE     ?= epoll
SERVE_ARGS ?=
NAME       ?= quick
SWEEP_ARGS ?=
BENCH_ITERATIONS ?= 1000000
FUZZ_SECONDS ?= 60

# Debian packages the project needs: liburing and hwloc for the engines and
# placement, curl and procps (pgrep) for the CLI smoke test, valgrind for instruction counts,
# nginx-light as the reference server the sweeps measure beside ours,
# python3-venv for the plotting environment.
# python3-h11 is the second HTTP/1.1 parser the differential check compares with.
# prometheus brings promtool, the exposition parser a real scrape uses, which
# checks /metrics (installed without its recommends: the checker is what we need,
# not a node exporter).
APT_PACKAGES := liburing-dev libhwloc-dev pkg-config curl procps valgrind nginx-light python3 python3-venv python3-h11
APT_BARE_PACKAGES := prometheus

# The plotting environment: pandas and matplotlib in a virtualenv of the
# project's own, so the system Python stays untouched.
VENV        := .venv
VENV_PYTHON := $(VENV)/bin/python
PY_PACKAGES := pandas matplotlib

BIN := ./.build/release/switchyard

.PHONY: deps build run serve sweep report venv test test-unit test-cli test-differential test-tsan perf-check fuzz fuzz-build bench clean help

help:
	@echo "make run                  the quick comparison: every available engine and nginx (experiments/quick.toml), its table and report"
	@echo "make serve ENGINE=threads SERVE_ARGS='--max-connections 64'   one server on http://$(HOST):$(PORT)/"
	@echo "make sweep NAME=latency   run experiments/NAME.toml (resumes; SWEEP_ARGS=--fresh starts over)"
	@echo "make report NAME=latency  plots (PNG+SVG) and notebooks-data/NAME/report.md"
	@echo "make test                 install what is missing, run every Swift test suite, then the CLI smoke test"
	@echo "make perf-check           instructions per request of every event-loop engine (callgrind) against Tests/perf/thresholds.txt"
	@echo "make test-tsan            the run-queue stress tests and the stealing engine's end-to-end tests under ThreadSanitizer"
	@echo "make bench                parse+route+serialize micro-benchmark (ns and heap allocations per request)"
	@echo "make fuzz FUZZ_SECONDS=600  libFuzzer over the HTTP/1.1 session (default 60 s; crashes land in .build/fuzz-artifacts)"

deps:
	@missing=""; bare=""; for p in $(APT_PACKAGES) $(APT_BARE_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" && continue; \
	    case " $(APT_BARE_PACKAGES) " in *" $$p "*) bare="$$bare $$p" ;; *) missing="$$missing $$p" ;; esac; \
	done; \
	if [ -n "$$missing$$bare" ]; then \
	    echo "installing:$$missing$$bare"; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	    $$SUDO apt-get update -qq || exit 1; \
	    if [ -n "$$missing" ]; then DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null || exit 1; fi; \
	    if [ -n "$$bare" ]; then DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$bare >/dev/null || exit 1; fi; \
	fi

build: deps
	$(SWIFT) build -c release --product switchyard

# The main job: measure the engines side by side (fresh each time; the last
# results are kept as results.csv.N), then plot them and print the table.
run: build venv
	@$(BIN) sweep experiments/quick.toml --fresh $(SWEEP_ARGS); status=$$?; \
	test "$$(wc -l < notebooks-data/quick/results.csv 2>/dev/null || echo 0)" -gt 1 || exit $$status; \
	$(VENV_PYTHON) notebooks-data/plots.py notebooks-data/quick >/dev/null || exit 1; \
	echo; \
	echo "Report: notebooks-data/quick/report.md (plots in notebooks-data/quick/plots/)"; \
	exit $$status

serve: build
	@echo "Serving on http://$(HOST):$(PORT)/ (try /plaintext, /json, /metrics); Ctrl-C stops."
	$(BIN) serve --engine $(ENGINE) --host $(HOST) --port $(PORT) $(SERVE_ARGS)

sweep: build
	$(BIN) sweep experiments/$(NAME).toml $(SWEEP_ARGS)

report: venv
	$(VENV_PYTHON) notebooks-data/plots.py notebooks-data/$(NAME)

venv: $(VENV)/.installed

$(VENV)/.installed: | deps
	$(PYTHON) -m venv $(VENV)
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check $(PY_PACKAGES)
	touch $@

test: deps test-unit test-cli test-differential

test-unit:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

test-cli: venv
	$(SWIFT) build --product switchyard
	PYTHON=$(CURDIR)/$(VENV_PYTHON) bash Tests/cli/smoke.sh ./.build/debug/switchyard
	bash Tests/cli/metrics-format.sh ./.build/debug/switchyard

# Our session against Python's h11 over the seed corpus (Debian's h11, the
# system interpreter: the plotting venv does not have it).
test-differential: deps
	$(SWIFT) build --product switchyard
	/usr/bin/python3 Tests/fuzz/differential.py --replay "./.build/debug/switchyard http-replay" \
	    --corpus Tests/fuzz/corpus --known Tests/fuzz/known-differences.txt

# The regression guard: the release build's instructions per request, every
# event-loop engine, against the committed thresholds (fails past +2%).
perf-check: build
	bash Tests/perf/check.sh $(BIN)

# libFuzzer + AddressSanitizer over the session (Sources/SwitchyardFuzz), in
# its own build directory. Seeds: the corpus, each file whole (split seed 0)
# and split (seed 1); what the fuzzer adds goes to .build/fuzz-corpus.
FUZZ_BIN := .build/fuzz/release/SwitchyardFuzz
fuzz-build: deps
	$(SWIFT) build -c release --scratch-path .build/fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING --product SwitchyardFuzz

fuzz: fuzz-build
	@mkdir -p .build/fuzz-corpus .build/fuzz-seeds .build/fuzz-artifacts
	@for f in Tests/fuzz/corpus/*.http Tests/fuzz/regressions/*; do \
	    n=$$(basename $$f); \
	    { printf '\000\000\000\000'; cat "$$f"; } > .build/fuzz-seeds/whole-$$n; \
	    { printf '\001\000\000\000'; cat "$$f"; } > .build/fuzz-seeds/split-$$n; \
	done
	@SWIFT_BACKTRACE=enable=no $(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
	    -artifact_prefix=.build/fuzz-artifacts/ .build/fuzz-corpus .build/fuzz-seeds; status=$$?; \
	if [ $$status -ne 0 ]; then \
	    echo "fuzz: the session broke an invariant; the input is in .build/fuzz-artifacts/. Copy it into Tests/fuzz/regressions/ and fix it."; \
	fi; exit $$status

# ThreadSanitizer over the lock-free run queue and the engine that uses it
# (a separate build directory, so the ordinary build is not rebuilt).
test-tsan: deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build/tsan
	$(SWIFT) test --skip-build --sanitize=thread --scratch-path .build/tsan --filter 'StealingEngineTests|StealingTests'

bench: deps
	$(SWIFT) build -c release --product switchyard-bench
	./.build/release/switchyard-bench $(BENCH_ITERATIONS)

clean:
	rm -rf .build $(VENV)
