"""The accept-policy section of a report (issue 26): how evenly each policy
spreads connections and work over the loops, against balls into bins.

Figures, from results.csv (medians of the repetitions):
- imbalance_connections: busiest loop's live connections over the mean, at
  the measured window's end;
- imbalance_busy: busiest loop's busy time over the mean, over the window;
- p99 and server CPU per request.

Theory: m balls placed one by one on n loops, the expected busiest over the
mean, by simulation (numpy): one random choice and the less loaded of two
random choices. What m is depends on the policy:
- `reuseport` hashes each connection's 4-tuple: one random choice per
  connection; `p2c` two choices per connection; `round-robin` and
  `least-loaded` keep every loop within one connection of the others when
  nothing closes (max/mean = ceil(m/n)/(m/n)). Here m is the load's
  connections plus one: the runner's /metrics connection is open when the
  end of the window is read.
- `hash` and `reuseport-hash` place client *addresses*: m is the number of
  distinct addresses (`[load] source-addresses`, at most the connections),
  each carrying connections/addresses connections, so max/mean is that of
  m balls (the scrape's connection joins the loop of 127.0.0.1's connections).

moved.csv (experiments/distribution-moved.sh): the share of client addresses
that landed on another loop after a loop (or worker process) was added,
against the ideal 1/(N+1).
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

POLICY_ORDER = ["reuseport", "reuseport-cpu", "reuseport-hash", "hash", "p2c", "round-robin", "least-loaded", "acceptor"]
ONE_CHOICE = {"reuseport", "reuseport-hash", "hash"}


def applies(frame: pd.DataFrame) -> bool:
    return "imbalance_connections" in frame.columns and frame["accept"].nunique() > 1 \
        and frame["imbalance_connections"].notna().any()


def balls_into_bins(m: int, n: int, choices: int, trials: int = 400, seed: int = 1) -> float:
    """Expected max/mean after m balls go one by one into n bins, each to
    the least loaded of `choices` bins drawn at random."""
    rng = np.random.default_rng(seed)
    ratios = []
    for _ in range(trials):
        bins = np.zeros(n, dtype=np.int64)
        if choices == 1:
            bins = np.bincount(rng.integers(0, n, m), minlength=n)
        else:
            draws = rng.integers(0, n, (m, choices))
            for row in draws:
                bins[row[np.argmin(bins[row])]] += 1
        ratios.append(bins.max() / (m / n))
    return float(np.mean(ratios))


def balls(policy: str, connections: int, sources: int) -> int:
    if policy in ("hash", "reuseport-hash"):
        return min(connections, sources) if sources > 0 else 1
    return connections + 1


def expected(policy: str, connections: int, sources: int, loops: int) -> float:
    m = balls(policy, connections, sources)
    if policy in ("round-robin", "least-loaded"):
        return math.ceil(m / loops) / (m / loops)
    if policy in ONE_CHOICE:
        return balls_into_bins(m, loops, 1, 400 if m <= 1000 else 60)
    if policy == "p2c":
        return balls_into_bins(m, loops, 2, 400 if m <= 1000 else 60)
    return float("nan")


def theory(connections: list[int], loops: int, sources: int) -> pd.DataFrame:
    """The curves drawn beside the measurements: one choice and two choices
    for m = connections + 1, and one choice over the client addresses."""
    rows = []
    for m in connections:
        trials = 400 if m <= 1000 else 60
        rows.append({"connections": m, "one": balls_into_bins(m + 1, loops, 1, trials),
                     "addresses": balls_into_bins(balls("hash", m, sources), loops, 1, trials),
                     "two": balls_into_bins(m + 1, loops, 2, trials),
                     "even": math.ceil((m + 1) / loops) / ((m + 1) / loops)})
    return pd.DataFrame(rows)


def table(frame: pd.DataFrame) -> pd.DataFrame:
    ok = frame[frame["status"] == "ok"].copy()
    ok["skew"] = ok["skew"].fillna("").replace("", "none") if "skew" in ok.columns else "none"
    keys = ["accept", "threads", "connections", "skew"]
    grouped = ok.groupby(keys, sort=False)
    out = grouped[["imbalance_connections", "imbalance_busy", "imbalance_accepted", "p99_us", "cpu_us_per_request", "rps"]].median()
    out["runs"] = grouped.size()
    out = out.reset_index()
    out["order"] = out["accept"].map(lambda a: POLICY_ORDER.index(a) if a in POLICY_ORDER else 99)
    out["uniform_first"] = out["skew"] != "none"
    return out.sort_values(["uniform_first", "connections", "order"]).drop(columns=["order", "uniform_first"])


def plot(folder: Path, measured: pd.DataFrame, bounds: pd.DataFrame, save) -> list[Path]:
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    uniform = measured[measured["skew"] == "none"]
    for policy, group in uniform.groupby("accept", sort=False):
        group = group.sort_values("connections")
        axes[0].plot(group["connections"], group["imbalance_connections"], marker="o", label=policy)
        axes[1].plot(group["connections"], group["imbalance_busy"], marker="o", label=policy)
    axes[0].plot(bounds["connections"], bounds["one"], "k--", label="theory: one random choice")
    axes[0].plot(bounds["connections"], bounds["addresses"], "k-.", label="theory: one choice per client address")
    axes[0].plot(bounds["connections"], bounds["two"], "k:", label="theory: two choices")
    axes[0].plot(bounds["connections"], bounds["even"], color="grey", linewidth=0.8, label="theory: in turn")
    skewed = measured[measured["skew"] != "none"]
    for policy, group in skewed.groupby("accept", sort=False):
        group = group.sort_values("connections")
        axes[2].plot(group["connections"], group["imbalance_busy"], marker="o", label=policy)
    titles = ["Live connections, uniform load", "Busy time, uniform load",
              f"Busy time, skewed load ({', '.join(sorted(set(skewed['skew']))) or 'none'})"]
    for axis, title in zip(axes, titles):
        axis.set_xscale("log")
        axis.set_xlabel("connections")
        axis.set_ylabel("busiest loop / mean")
        axis.set_title(title)
        axis.grid(True, alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=7)
    return save(figure, folder, "distribution-imbalance")


def moved_section(folder: Path) -> list[str]:
    path = folder / "moved.csv"
    if not path.exists():
        return ["`moved.csv` is missing: run `experiments/distribution-moved.sh` for the clients-moved figures.", ""]
    moved = pd.read_csv(path)
    out = ["### Clients moved when a loop or worker is added", "",
           "Each client is a loopback source address that connects once before and once after the change "
           "(`experiments/distribution-moved.sh`); ideal is 1/(N+1): only the new loop's share moves.", "",
           "| policy | change | clients | moved | share | ideal 1/(N+1) | share / ideal |",
           "|---|---|---:|---:|---:|---:|---:|"]
    for _, row in moved.iterrows():
        change = f"{row['mode']} {row['before']} → {row['after']}"
        out.append(f"| `{row['policy']}` | {change} | {row['clients']:,} | {row['moved']:,} | {row['share']:.3f} | "
                   f"{row['ideal']:.3f} | {row['share'] / row['ideal']:.2f} |")
    return out + [""]


def section(folder: Path, frame: pd.DataFrame, spec: dict, save) -> list[str]:
    """The report's markdown for an accept-policy sweep, or [] when the sweep is not one."""
    folder = Path(folder)
    if not applies(frame):
        return []
    sources = int(spec.get("load", {}).get("source-addresses", 0))
    measured = table(frame)
    loops = int(pd.to_numeric(measured["threads"], errors="coerce").max())
    bounds = theory(sorted(measured["connections"].unique()), loops, sources)
    paths = plot(folder, measured, bounds, save)
    out = ["## Connection distribution across loops", "",
           f"Busiest loop over the mean across {loops} loops (1.00 is perfect). Theory for live connections: "
           "balls into bins with one random choice (`reuseport` per connection; `hash` and `reuseport-hash` per "
           f"client address, {sources or 'one'} addresses here, so at most that many balls) and with two "
           "(`p2c`); `round-robin` and `least-loaded` stay within one connection. The load's connections "
           "plus the runner's own /metrics connection are counted (one more than the column says). "
           "Accepted: over the server's life, which for long-lived connections is the warm-up's.", "",
           f"![Imbalance](plots/{paths[0].name}) ([SVG](plots/{paths[1].name}))", "",
           "| skew | connections | policy | connections max/mean | theory | busy max/mean | accepted max/mean | "
           "p99 µs | CPU µs/req | runs |",
           "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    cache: dict = {}
    for _, row in measured.iterrows():
        m = row["connections"]
        key = (row["accept"], m)
        if key not in cache:
            cache[key] = expected(row["accept"], int(m), sources, loops)
        theory_value = cache[key]
        out.append(f"| {row['skew']} | {m:,} | `{row['accept']}` | {row['imbalance_connections']:.2f} | "
                   f"{theory_value:.2f} | {row['imbalance_busy']:.2f} | {row['imbalance_accepted']:.2f} | "
                   f"{row['p99_us']:.0f} | {row['cpu_us_per_request']:.2f} | {row['runs']:.0f} |")
    out.append("")
    out += moved_section(folder)
    return out
