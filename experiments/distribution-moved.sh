#!/usr/bin/env bash
# The share of clients that move to another loop when a loop (8 -> 9) or a
# worker process (2 -> 3, two loops each) is added, for the hashing accept
# policies and, as the contrast, the kernel's plain reuseport hash (issue 26).
# Each client is a loopback source address that connects once; where it
# landed is read from the server's per-loop accepted counters
# (experiments/distribution_clients.py). Writes
# notebooks-data/distribution/moved.csv, which the distribution report reads.
#
# usage: experiments/distribution-moved.sh [CLIENTS]   (default 5000; about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SWITCHYARD_BIN:-.build/release/switchyard}
clients=${1:-5000}
out=notebooks-data/distribution/moved.csv
mkdir -p "$(dirname "$out")"
echo "policy,mode,before,after,clients,moved,share,ideal" >"$out"
for accept in hash reuseport-hash reuseport; do
    taskset -c 0 python3 experiments/distribution_clients.py "$bin" moved --engine epoll --accept "$accept" \
        --threads 8 --clients "$clients" | tee -a "$out"
done
for accept in hash reuseport-hash; do
    taskset -c 0 python3 experiments/distribution_clients.py "$bin" moved --engine epoll --accept "$accept" \
        --workers processes --processes 2 --threads 2 --clients "$clients" | tee -a "$out"
done
