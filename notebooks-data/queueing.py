"""Queueing bounds for the tail-latency experiment (shared/research/stealing-anchors.md, section 5).

Two FCFS models of a 2-worker server under Poisson arrivals with a discrete service-time
distribution (request classes):
- partitioned (d-FCFS): each worker its own queue, 2 x M/G/1 at half the rate, as an
  engine whose connections stay on one thread (epoll, io_uring);
- shared (c-FCFS): one queue for both, M/G/2, the ideal a work-stealing engine approaches.

Waiting-time tails: M/G/1 by Cramér-Lundberg, P(W > x) ~ C exp(-gamma x) with
lambda (M_S(gamma) - 1) = gamma and C = (1 - rho) / (lambda M_S'(gamma) - 1); M/G/2 by
Erlang C for P(W > 0) = 2 rho^2 / (1 + rho) and an exponential conditional wait whose mean
is the Lee-Longton/Allen-Cunneen one, ((1 + C^2) / 2) E[S] / (2 (1 - rho)). A class's p99
is its service time plus the wait's 99th percentile; the overall p99 solves
sum_i p_i P(W > t - s_i) = 0.01. `simulate` runs both models event by event as a check.
"""
from __future__ import annotations

import math
import random


def moments(classes):
    """classes: [(probability, service seconds)] -> (E[S], E[S^2])."""
    mean = sum(p * s for p, s in classes)
    second = sum(p * s * s for p, s in classes)
    return mean, second


def mg1_tail(rate, classes):
    """P(W > x) for one M/G/1 queue at `rate`; None when unstable."""
    mean, _ = moments(classes)
    rho = rate * mean
    if rho >= 1:
        return None
    mgf = lambda g: sum(p * math.exp(g * s) for p, s in classes)
    mgf_prime = lambda g: sum(p * s * math.exp(g * s) for p, s in classes)
    f = lambda g: rate * (mgf(g) - 1) - g
    # f(0) = 0, f'(0) = rho - 1 < 0, and f grows without bound: one positive root.
    low, high = 1e-9, 1.0
    while f(high) < 0:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if f(mid) < 0:
            low = mid
        else:
            high = mid
    gamma = (low + high) / 2
    constant = (1 - rho) / (rate * mgf_prime(gamma) - 1)
    return lambda x: 1.0 if x < 0 else min(1.0, constant * math.exp(-gamma * x))


def mg2_tail(rate, classes):
    """P(W > x) for one M/G/2 queue at `rate` (both workers); None when unstable."""
    mean, second = moments(classes)
    rho = rate * mean / 2
    if rho >= 1:
        return None
    squared_cv = second / mean ** 2 - 1
    waiting = 2 * rho ** 2 / (1 + rho)
    conditional_mean = (1 + squared_cv) / 2 * mean / (2 * (1 - rho))
    return lambda x: 1.0 if x < 0 else waiting * math.exp(-x / conditional_mean)


def _bisect(above, low, high):
    """The boundary of a decreasing condition: `above(t)` holds below it and not above it."""
    while above(high):
        high *= 2
    for _ in range(100):
        mid = (low + high) / 2
        if above(mid):
            low = mid
        else:
            high = mid
    return high


def _quantile(tail, q, offset=0.0):
    """Smallest t with tail(t - offset) <= 1 - q."""
    if tail(0) <= 1 - q:
        return offset
    return offset + _bisect(lambda x: tail(x) > 1 - q, 0.0, 1.0)


def p99(rate, classes, shared, q=0.99):
    """(per-class p99 list, overall p99) in seconds at total `rate` for 2 workers; None if unstable."""
    tail = mg2_tail(rate, classes) if shared else mg1_tail(rate / 2, classes)
    if tail is None:
        return None
    per_class = [_quantile(tail, q, s) for _, s in classes]
    # Overall: sum_i p_i tail(t - s_i) = 1 - q, a decreasing function of t.
    overall = lambda t: sum(p * tail(t - s) for p, s in classes)
    return per_class, _bisect(lambda t: overall(t) > 1 - q, 0.0, max(per_class) * 2 + 1e-3)


def simulate(rate, classes, shared, n=300_000, seed=1, q=0.99):
    """The same two models, event by event (Poisson arrivals, FCFS): (per-class p99s, overall p99)."""
    rng = random.Random(seed)
    free = [0.0, 0.0]
    t = 0.0
    samples = [[] for _ in classes]
    everything = []
    cumulative = []
    total = 0.0
    for p, _ in classes:
        total += p
        cumulative.append(total)
    for _ in range(n):
        t += rng.expovariate(rate)
        u = rng.random() * total
        k = next(i for i, c in enumerate(cumulative) if u <= c)
        server = (0 if free[0] <= free[1] else 1) if shared else rng.randrange(2)
        start = max(t, free[server])
        free[server] = start + classes[k][1]
        latency = free[server] - t
        samples[k].append(latency)
        everything.append(latency)
    pick = lambda values: sorted(values)[int(len(values) * q)] if values else float("nan")
    return [pick(v) for v in samples], pick(everything)


if __name__ == "__main__":
    mix = [(0.99, 108e-6), (0.01, 10008e-6)]
    for rate in (3000, 6000, 8000):
        for shared in (False, True):
            model = p99(rate, mix, shared)
            sim = simulate(rate, mix, shared)
            print(f"rate {rate} {'shared' if shared else 'partitioned'}: formula short {model[0][0]*1e3:.2f} ms "
                  f"overall {model[1]*1e3:.2f} ms; simulated short {sim[0][0]*1e3:.2f} overall {sim[1]*1e3:.2f}")
