"""The tail-latency report: p99 (overall and per request class) against offered load for each
engine, beside the partitioned (d-FCFS) and shared (c-FCFS) queueing bounds of queueing.py.

Used by plots.py for any sweep with a latency-by-class.csv and a mix of two or more
`/work?us=N` classes (experiments/stealing-tail.toml). The model's service times are each
class's work plus the per-request overhead measured in the sweep (server CPU per request
minus the mean work, median over the loaded points), slowed by the share of a CPU the load
generator took beside the workers (load_cpu_share); the capacity is 2 workers / E[S].
"""
from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

import queueing

WORK = re.compile(r"^/work\?us=(\d+)$")


def classes_of(spec: dict) -> list[tuple[str, float, float]] | None:
    """[(path, probability, work seconds)] when every mix entry is /work?us=N (two or more)."""
    mix = spec.get("matrix", {}).get("mix", [])
    if len(mix) < 2:
        return None
    total = sum(entry.get("weight", 1.0) for entry in mix)
    out = []
    for entry in mix:
        match = WORK.match(entry["path"])
        if not match:
            return None
        out.append((entry["path"], entry.get("weight", 1.0) / total, int(match.group(1)) * 1e-6))
    return out


def model(frame: pd.DataFrame, classes, workers: int = 2) -> dict:
    """The queueing model's inputs, from the measurements. The capacity is where the
    event-loop engines saturate in this sweep (the most requests/s any of them achieved);
    what the workers spend per request beyond the handlers' work (kernel, parsing,
    scheduling, and the load generator's preemptions on the CPU it shares) is then
    `workers / capacity - E[work]`, added to every class's service time."""
    ok = frame[(frame["status"] == "ok") & frame["rate"].notna()]
    mean_work = sum(p * s for _, p, s in classes)
    loops = ok[ok["engine"].isin(["stealing", "epoll", "io_uring"])]
    capacity = float((loops if not loops.empty else ok)["rps"].max())
    overhead = max(0.0, workers / capacity - mean_work)
    top = ok["rate"].max()
    loaded = ok[ok["rate"] >= 0.3 * top]
    share = float(loaded["load_cpu_share"].median()) if "load_cpu_share" in loaded else float("nan")
    cpu = loaded[loaded["engine"] == "epoll"]["cpu_us_per_request"].median()
    service = [(p, s + overhead) for _, p, s in classes]
    return {"overhead_us": overhead * 1e6, "load_cpu_share": share, "service": service,
            "capacity": capacity, "mean_work_us": mean_work * 1e6, "cpu_us": cpu}


def bounds(rates, service) -> pd.DataFrame:
    """Per rate: each model's overall and per-class p99 (µs), by formula and by simulation."""
    rows = []
    for rate in rates:
        for shared, name in ((False, "partitioned"), (True, "shared")):
            formula = queueing.p99(rate, service, shared)
            simulated = queueing.simulate(rate, service, shared, n=200_000) if formula else None
            row = {"rate": rate, "model": name}
            if formula:
                row["overall_formula"] = formula[1] * 1e6
                row["overall_sim"] = simulated[1] * 1e6
                for k, value in enumerate(formula[0]):
                    row[f"class{k}_formula"] = value * 1e6
                    row[f"class{k}_sim"] = simulated[0][k] * 1e6
            rows.append(row)
    return pd.DataFrame(rows)


def measured(folder: Path, frame: pd.DataFrame, classes) -> pd.DataFrame:
    """Median over repetitions of overall and per-class p99 (µs), per engine and rate."""
    ok = frame[(frame["status"] == "ok") & frame["rate"].notna()]
    table = ok.groupby(["engine", "rate"])["p99_us"].median().rename("overall").reset_index()
    by_class = pd.read_csv(folder / "latency-by-class.csv")
    by_class = by_class.merge(ok[["point_id", "repetition", "started_at", "engine", "rate"]],
                              on=["point_id", "repetition", "started_at"])
    for k, (path, _, _) in enumerate(classes):
        part = by_class[by_class["class"] == path].groupby(["engine", "rate"])["p99_us"].median()
        table = table.merge(part.rename(f"class{k}").reset_index(), on=["engine", "rate"], how="left")
    return table


def plot(folder: Path, table: pd.DataFrame, theory: pd.DataFrame, classes, facts: dict):
    panels = [("overall", "all requests")] + [(f"class{k}", path) for k, (path, _, _) in enumerate(classes)]
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.4), sharey=False)
    for axis, (column, title) in zip(axes, panels):
        for index, (engine, group) in enumerate(table.groupby("engine", sort=False)):
            group = group.sort_values("rate")
            axis.plot(group["rate"], group[column], marker="o", color=f"C{index}", label=engine)
        for name, style in (("partitioned", "--"), ("shared", ":")):
            part = theory[theory["model"] == name].dropna(subset=[f"{column}_sim"])
            axis.plot(part["rate"], part[f"{column}_sim"], style, color="black", linewidth=1.2,
                      label=f"{name} queues (simulated)")
            axis.plot(part["rate"], part[f"{column}_formula"], style, color="grey", linewidth=0.8,
                      label=f"{name} queues (formula)")
        axis.axvline(facts["capacity"], color="red", linewidth=0.6)
        axis.set_yscale("log")
        axis.set_xlabel("offered load (requests/s)")
        axis.set_ylabel("p99 latency (µs)")
        axis.set_title(f"p99, {title}", fontsize=10)
        axis.grid(True, alpha=0.3)
    axes[0].legend(fontsize=7)
    figure.suptitle(f"Tail latency against the queueing bounds (capacity {facts['capacity']:,.0f} req/s, red)",
                    fontsize=11)
    figure.tight_layout()
    paths = []
    (folder / "plots").mkdir(exist_ok=True)
    for suffix in ("png", "svg"):
        path = folder / "plots" / f"tail.{suffix}"
        figure.savefig(path, dpi=110)
        paths.append(path)
    plt.close(figure)
    return paths


def _nearest(table: pd.DataFrame, engine: str, rate: float):
    rows = table[table["engine"] == engine]
    if rows.empty:
        return None
    return rows.iloc[(rows["rate"] - rate).abs().argsort().iloc[0]]


def section(folder: Path, frame: pd.DataFrame, spec: dict) -> list[str]:
    """The report's markdown for the tail experiment, or [] when the sweep is not one."""
    classes = classes_of(spec)
    if classes is None or not (folder / "latency-by-class.csv").exists():
        return []
    facts = model(frame, classes)
    table = measured(folder, frame, classes)
    rates = sorted(table["rate"].unique())
    theory = bounds(rates, facts["service"])
    paths = plot(folder, table, theory, classes, facts)
    short = min(range(len(classes)), key=lambda k: classes[k][2])
    slo = 10 * classes[short][2] * 1e6
    out = ["## Tail latency against the queueing bounds", "",
           f"Capacity: **{facts['capacity']:,.0f} requests/s**, the most the event-loop engines achieved here "
           f"(2 workers, mean work {facts['mean_work_us']:.0f} µs: {2e6 / facts['mean_work_us']:,.0f}/s if nothing else "
           f"cost anything). The {facts['overhead_us']:.0f} µs per request beyond the work (kernel, parsing, scheduling, "
           f"and the load generator, {facts['load_cpu_share'] * 100:.0f}% of a CPU at the loaded points, preempting "
           f"the worker it shares CPU 1 with) is added to each class's service time in the model; epoll's server CPU "
           f"per request there: {facts['cpu_us']:.0f} µs (the handlers spin on the wall clock, so preempted time is "
           "not CPU time). Lines: partitioned (2 x M/G/1) and shared (M/G/2) FCFS queues, simulated (black) and by "
           "the research note's formulas (grey).", "",
           f"![Tail latency](plots/{paths[0].name}) ([SVG](plots/{paths[1].name}))", ""]
    engines = list(dict.fromkeys(table["engine"]))
    if "stealing" in engines and "epoll" in engines:
        out += ["| load (of capacity) | rate | stealing p99 | epoll p99 | × | stealing short p99 | epoll short p99 | × |",
                "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for fraction in (0.5, 0.7, 0.8, 0.9):
            s = _nearest(table, "stealing", fraction * facts["capacity"])
            e = _nearest(table, "epoll", fraction * facts["capacity"])
            if s is None or e is None:
                continue
            out.append(f"| {fraction:.0%} ({s['rate'] / facts['capacity']:.0%}) | {s['rate']:,.0f} | {s['overall']:,.0f} | "
                       f"{e['overall']:,.0f} | {s['overall'] / e['overall']:.2f} | {s[f'class{short}']:,.0f} | "
                       f"{e[f'class{short}']:,.0f} | {s[f'class{short}'] / e[f'class{short}']:.2f} |")
        out.append("")
    out += [f"Highest offered load at which the short class ({classes[short][0]}) keeps p99 under {slo:,.0f} µs "
            "(10x its service time), measured rates only:", ""]
    for engine in engines:
        rows = table[(table["engine"] == engine) & (table[f"class{short}"] < slo)]
        best = rows["rate"].max() if not rows.empty else float("nan")
        out.append(f"- `{engine}`: {best:,.0f} requests/s" if best == best else f"- `{engine}`: none")
    for name in ("partitioned", "shared"):
        rows = theory[(theory["model"] == name) & (theory[f"class{short}_sim"] < slo)]
        out.append(f"- {name} queues (simulated): {rows['rate'].max():,.0f} requests/s" if not rows.empty
                   else f"- {name} queues (simulated): none")
    out.append("")
    return out
