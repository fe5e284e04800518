# Switchyard: the two commands a newcomer needs are `make run` and `make test`.
# Both install missing system packages first (`make deps`, idempotent).

SWIFT      ?= swift
HOST       ?= 127.0.0.1
PORT       ?= 8080
ENGINE     ?= epoll
SERVE_ARGS ?=
BENCH_ITERATIONS ?= 1000000

# Debian packages the project needs: liburing and hwloc for the engines and
# placement, curl for the CLI smoke test, valgrind for instruction counts.
APT_PACKAGES := liburing-dev libhwloc-dev pkg-config curl valgrind

.PHONY: deps build run serve test test-unit test-cli bench clean help

help:
	@echo "make run    build (release) and serve the demo app with the default engine on http://$(HOST):$(PORT)/"
	@echo "make test   install what is missing, run the unit, router and end-to-end suites, then the CLI smoke test"
	@echo "make serve ENGINE=threads SERVE_ARGS='--max-connections 64'"
	@echo "make bench  parse+route+serialize micro-benchmark (ns and heap allocations per request)"

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps
	$(SWIFT) build -c release --product switchyard

run: build
	@echo "Serving on http://$(HOST):$(PORT)/ (try /plaintext, /json, /metrics); Ctrl-C stops."
	./.build/release/switchyard serve --engine $(ENGINE) --host $(HOST) --port $(PORT) $(SERVE_ARGS)

serve: run

test: deps test-unit test-cli

test-unit:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

test-cli:
	$(SWIFT) build --product switchyard
	bash Tests/cli/smoke.sh ./.build/debug/switchyard

bench: deps
	$(SWIFT) build -c release --product switchyard-bench
	./.build/release/switchyard-bench $(BENCH_ITERATIONS)

clean:
	rm -rf .build
