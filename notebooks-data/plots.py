"""Standard plots and report for one sweep's results.

    python notebooks-data/plots.py notebooks-data/NAME     # what `make report NAME=...` runs

Reads NAME/results.csv (one row per measurement, see Sources/Experiments/README.md)
and NAME/metadata.json (and NAME/latency-heatmap.csv when the sweep wrote one, for the
latency heat maps), writes NAME/plots/*.png and *.svg and NAME/report.md.
tail.py adds the tail-latency section (mixes of /work?us=N classes), overload.py the
overload section it leads with (goodput within the SLO against capacity, /health p99),
distribution.py the accept-policy section (imbalance across loops against balls into
bins with one and two choices, clients moved when a loop or worker is added).
analysis.ipynb imports the same functions, so the notebook and the report agree.

Only rows with status "ok" are plotted; repetitions are reduced to their median,
with the spread (min to max) drawn as error bars, so one disturbed repetition
shows instead of hiding in a mean.
"""
from __future__ import annotations

import json
import math
import re
import sys
import textwrap
import tomllib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tail  # noqa: E402  (the tail-latency section, with queueing.py)
import overload  # noqa: E402  (the overload section: goodput within the SLO, /health p99)
import distribution  # noqa: E402  (the accept-policy section: imbalance against balls into bins, clients moved)

# What identifies a server configuration, and what describes the load.
CONFIG = ["engine", "threads", "pin", "accept", "flags"]
METRICS = ["rps", "p50_us", "p90_us", "p99_us", "p999_us", "max_us", "cpu_us_per_request",
           "ctx_switches_voluntary", "ctx_switches_involuntary", "peak_rss_kib"]


def load(folder: str | Path) -> pd.DataFrame:
    """results.csv as a DataFrame; "does not apply" cells become "-" so they group."""
    frame = pd.read_csv(Path(folder) / "results.csv", dtype={"threads": "string", "pin": "string",
                                                              "accept": "string", "flags": "string",
                                                              "arrivals": "string"})
    for column in ["threads", "pin", "accept", "flags"]:
        frame[column] = frame[column].fillna("-")
    frame["load"] = frame["rate"].apply(lambda r: "closed" if pd.isna(r) else f"{r:g}/s")
    # A skewed open loop (matrix.skew) is another load at the same rate.
    if "skew" in frame.columns:
        frame["skew"] = frame["skew"].fillna("").astype("string")
        frame["load"] = [load if not skew else f"{load} skew {skew}" for load, skew in zip(frame["load"], frame["skew"])]
    frame["status"] = frame["status"].astype("string")
    return frame


def medians(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per point: medians of the ok repetitions, with min/max and counts
    of ok and failed attempts. Points with no ok repetition keep a row (NaN metrics)."""
    # Group on text columns only: "load" stands for rate, whose NaN (closed
    # loop) would not match itself as a key.
    keys = CONFIG + ["connections", "pipeline", "load"]
    ok = frame[frame["status"] == "ok"]
    grouped = ok.groupby(keys, sort=False)
    table = grouped[METRICS].median()
    table["rps_min"] = grouped["rps"].min()
    table["rps_max"] = grouped["rps"].max()
    table["runs"] = grouped.size()
    table = table.reset_index()
    attempts = frame.groupby(keys, sort=False).agg(
        rate=("rate", "first"), failed=("status", lambda s: int((s == "failed").sum()))).reset_index()
    table = attempts.merge(table, on=keys, how="left")
    table["runs"] = table["runs"].fillna(0).astype(int)
    return table


def label(row) -> str:
    """A configuration as a legend entry: the engine plus whatever applies."""
    parts = [row["engine"]]
    if row["threads"] != "-":
        parts.append(f"{row['threads']}t")
    if row["pin"] not in ("-", "none"):
        parts.append(row["pin"])
    if row["accept"] not in ("-", "reuseport"):
        parts.append(row["accept"])
    if row["flags"] != "-":
        parts.append(row["flags"])
    return " ".join(parts)


def with_ratios(table: pd.DataFrame, baseline: str, baseline_flags: str = "-") -> pd.DataFrame:
    """Adds rps/p99/cpu ratios to `baseline` under the same load, as the summary the
    sweep prints does: another engine is compared to the baseline configuration that
    matches the most of flags, threads, pin, accept (in that order of weight); the
    baseline's own flag variants are compared to its `baseline_flags` variant."""
    out = table.copy()
    base = out[out["engine"] == baseline]
    weights = {"flags": 8, "threads": 4, "pin": 2, "accept": 1}
    columns = {"rps": "rps_ratio", "p99_us": "p99_ratio", "cpu_us_per_request": "cpu_ratio"}
    ratios = {name: [] for name in columns.values()}
    for _, row in out.iterrows():
        same = base[(base["connections"] == row["connections"]) & (base["pipeline"] == row["pipeline"])
                    & (base["load"] == row["load"])]
        is_reference = row["engine"] == baseline and row["flags"] == baseline_flags
        if row["engine"] == baseline:
            same = same[same["flags"] == baseline_flags]
        match = None
        if not is_reference and not same.empty:
            scores = same.apply(lambda b: sum(w for k, w in weights.items() if b[k] == row[k]), axis=1)
            match = same.loc[scores.idxmax()]
        for metric, name in columns.items():
            value = float("nan")
            if match is not None and pd.notna(match[metric]) and match[metric]:
                value = row[metric] / match[metric]
            ratios[name].append(value)
    for name, values in ratios.items():
        out[name] = values
    return out


def _flag_text(value) -> str:
    """A flag value as the runner writes it: true/false, integers without .0."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _thousands(axis_part) -> None:
    """Requests/s as 40k rather than 40000, so tick labels do not collide."""
    axis_part.set_major_formatter(FuncFormatter(lambda value, _: f"{value / 1000:g}k" if value else "0"))


def _save(figure, folder: Path, name: str, rect=None) -> list[Path]:
    """PNG (130 dpi) and SVG in folder/plots; `rect` is tight_layout's (room for a suptitle)."""
    plots = folder / "plots"
    plots.mkdir(exist_ok=True)
    paths = [plots / f"{name}.png", plots / f"{name}.svg"]
    figure.tight_layout(rect=rect)
    figure.savefig(paths[0], dpi=130)
    figure.savefig(paths[1])
    plt.close(figure)
    return paths


def _x_dimension(closed: pd.DataFrame) -> str | None:
    """The load dimension that varies in a closed-loop sweep (connections first)."""
    for key in ["connections", "pipeline"]:
        if closed[key].nunique() > 1:
            return key
    return None


def throughput_plot(table: pd.DataFrame, folder: Path | None = None):
    """Requests/s against connections (or pipeline depth), one line per configuration.
    With a single load point, one bar per configuration instead."""
    closed = table[table["rate"].isna()]
    if closed.empty:
        return None
    figure, axis = plt.subplots(figsize=(7, 4.2))
    x = _x_dimension(closed)
    if x is None:
        labels = [label(row) for _, row in closed.iterrows()]
        low = closed["rps"] - closed["rps_min"]
        high = closed["rps_max"] - closed["rps"]
        axis.bar(labels, closed["rps"], yerr=[low, high], capsize=4, color="#4878a8")
        first = closed.iloc[0]
        axis.set_title(f"Throughput, {int(first['connections'])} connections, pipeline {int(first['pipeline'])}")
    else:
        for name, group in closed.groupby(closed.apply(label, axis=1), sort=False):
            group = group.sort_values(x)
            axis.errorbar(group[x], group["rps"], yerr=[group["rps"] - group["rps_min"], group["rps_max"] - group["rps"]],
                          marker="o", capsize=3, label=name)
        axis.set_xscale("log", base=2)
        ticks = sorted(closed[x].unique())
        axis.set_xticks(ticks, [str(int(t)) for t in ticks])
        axis.minorticks_off()
        axis.set_xlabel("connections" if x == "connections" else "pipeline depth (requests in flight per connection)")
        axis.set_title(f"Throughput vs {x}")
        axis.legend()
    axis.set_ylabel("requests/s (median; bars: min–max)")
    _thousands(axis.yaxis)
    axis.grid(True, axis="y", alpha=0.3)
    return _save(figure, folder, "throughput") if folder else figure


def latency_plot(table: pd.DataFrame, folder: Path | None = None):
    """Open loop: p50, p99 and p99.9 latency against offered load, one colour per configuration
    (named in the right panel's legend; the left one names the line styles, so that it stays
    short however many configurations there are)."""
    opened = table[table["rate"].notna()]
    if opened.empty:
        return None
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"p50_us": ":", "p99_us": "-", "p999_us": "--"}
    for index, (name, group) in enumerate(opened.groupby(opened.apply(label, axis=1), sort=False)):
        group = group.sort_values("rate")
        colour = f"C{index}"
        for metric, style in styles.items():
            axes[0].plot(group["rate"], group[metric], style, marker="o", color=colour)
        axes[1].plot(group["rate"], group["rps"], marker="o", color=colour, label=name)
    keys = [Line2D([], [], color="black", linestyle=style,
                   label=metric.replace("_us", "").replace("p999", "p99.9")) for metric, style in styles.items()]
    top = opened["rate"].max()
    axes[1].plot([0, top], [0, top], color="grey", linewidth=0.8, label="offered = achieved")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("offered load (requests/s)")
    axes[0].set_ylabel("latency from intended send time (µs)")
    axes[0].set_title("Latency vs offered load (colours as on the right)")
    axes[0].legend(handles=keys, fontsize=7, handlelength=3.5)
    axes[1].set_xlabel("offered load (requests/s)")
    axes[1].set_ylabel("achieved requests/s")
    axes[1].set_title("Achieved vs offered")
    axes[1].legend(fontsize=7)
    for axis in axes:
        axis.grid(True, alpha=0.3)
        _thousands(axis.xaxis)
    _thousands(axes[1].yaxis)
    return _save(figure, folder, "latency") if folder else figure


def cpu_plot(table: pd.DataFrame, folder: Path | None = None):
    """Server CPU time (user + system) per request, per configuration and load."""
    if table["cpu_us_per_request"].isna().all():
        return None
    figure, axis = plt.subplots(figsize=(7, 4.2))
    loads = table.apply(lambda r: f"c{int(r['connections'])} p{int(r['pipeline'])}"
                        + ("" if pd.isna(r["rate"]) else f" {r['rate']:g}/s"), axis=1)
    configs = table.apply(label, axis=1)
    pivot = pd.DataFrame({"load": loads, "config": configs, "cpu": table["cpu_us_per_request"]}) \
        .pivot_table(index="load", columns="config", values="cpu", sort=False)
    pivot.plot.bar(ax=axis, rot=30 if len(pivot) > 4 else 0)
    axis.set_xlabel("load (connections, pipeline depth, rate)")
    axis.set_ylabel("server CPU µs per request (median)")
    axis.set_title("CPU cost per request")
    axis.grid(True, axis="y", alpha=0.3)
    return _save(figure, folder, "cpu") if folder else figure


# latency-heatmap.csv: the server's own histograms, per second of each measured window.
HEATMAP_KEYS = ["point_id", "repetition", "started_at"]
HISTOGRAMS = {"request_duration": "request duration (first byte read to response queued)",
              "queue_delay": "queue delay (waited in the loop before being served)"}
CLASS_ORDER = ["critical", "normal", "low"]
HEATMAP_ROWS = 8  # points per figure; more are thinned evenly, keeping the first and last


def load_heatmap(folder: str | Path, frame: pd.DataFrame) -> pd.DataFrame | None:
    """latency-heatmap.csv joined to the ok measurements of `frame` (engine, rate, p99...),
    with le_seconds as a float (+Inf as inf); None when the sweep did not write one."""
    path = Path(folder) / "latency-heatmap.csv"
    if not path.exists():
        return None
    cells = pd.read_csv(path, dtype={"histogram": "string", "class": "string", "le_seconds": "string",
                                     "started_at": "string"})
    cells["le"] = cells["le_seconds"].astype(float)
    ok = frame[frame["status"] == "ok"][HEATMAP_KEYS + CONFIG + ["connections", "pipeline", "rate", "load", "p99_us"]]
    ok = ok.astype({"started_at": "string"})
    return cells.merge(ok, on=HEATMAP_KEYS)


def _server_bounds(high: float) -> list[float]:
    """The server's bucket upper bounds (seconds) up to `high`, as LatencyBuckets.upperBound in
    Sources/Metrics/LatencyHistograms.swift lays them out: whole microseconds, 0-3 µs one
    bucket each, then four per power of two (7, 9, 11, 13, 15, 19 ... µs). Only used to give
    buckets that no measurement filled a row of their own, so a gap does not stretch the
    bucket above it."""
    out = [float(us) for us in range(4)]
    octave = 2
    while octave <= 26 and (1 << octave) * 1e-6 <= high:  # LatencyBuckets.maxOctave
        out += [float((1 << octave) + (quarter + 1) * (1 << (octave - 2)) - 1) for quarter in range(4)]
        octave += 1
    return [us * 1e-6 for us in out if us * 1e-6 <= high * (1 + 1e-3)]


def _bucket_grid(bounds: pd.Series) -> list[float]:
    """Sorted upper bounds, one per row, from the lowest to the highest the file holds: the
    server's bounds in between, plus any bound the file holds that the layout does not know
    (it still gets its own row, at its place)."""
    seen = sorted(set(bounds)) or [1e-6]  # only +Inf rows: any one finite row to stand under it
    grid: list[float] = []
    for bound in sorted(seen + [b for b in _server_bounds(seen[-1]) if b >= seen[0]]):
        if not grid or bound > grid[-1] * (1 + 1e-3) + 1e-12:  # the same bound, printed differently
            grid.append(bound)
    return grid


def _duration(seconds: float) -> str:
    """A latency as people say it: 250 µs, 2 ms, 1.5 s."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def _duration_ticks(low: float, high: float) -> list[float]:
    """1, 2, 5 steps per decade over a short range, decades only over a long one."""
    steps = (1,) if high / low > 1e3 else (1, 2, 5)
    ticks, decade = [], 10 ** math.floor(math.log10(low))
    while decade <= high:
        ticks += [decade * s for s in steps if low <= decade * s <= high]
        decade *= 10
    return ticks


def _pick_measurements(cells: pd.DataFrame, pick: str) -> list[tuple[pd.Series, int]]:
    """One measurement per point, points sorted by configuration, connections, pipeline depth and
    rate: the repetition with the highest p99 ("worst", so a disturbed repetition shows, as the
    error bars elsewhere do) or the median one. Returns (measurement row, repetitions of that point)."""
    runs = cells.drop_duplicates(HEATMAP_KEYS).copy()
    runs["config"] = runs.apply(label, axis=1)
    runs = runs.sort_values(["config", "connections", "pipeline", "rate", "p99_us"], kind="stable")
    chosen = []
    for _, reps in runs.groupby("point_id", sort=False):
        index = len(reps) - 1 if pick == "worst" else (len(reps) - 1) // 2
        chosen.append((reps.iloc[index], len(reps)))
    if len(chosen) > HEATMAP_ROWS:
        step = (len(chosen) - 1) / (HEATMAP_ROWS - 1)
        chosen = [chosen[round(k * step)] for k in range(HEATMAP_ROWS)]
    return chosen


def heatmap_plot(cells: pd.DataFrame, engine: str, folder: Path | None = None, by_class: bool = False,
                 pick: str = "worst"):
    """Latency against time for one engine: x = second of the measured window, y = histogram
    bucket (log), colour = requests in that bucket that second (log; blank = none). One row
    per point, one column per histogram (per histogram and class with `by_class`).

    `cells` is load_heatmap's frame for the whole sweep: the buckets, seconds and colour scale
    come from all of it, so the figures of different engines can be compared by eye."""
    own = cells[cells["engine"] == engine]
    if own.empty:
        return None
    classes = list(dict.fromkeys(own["class"]))
    classes = [c for c in CLASS_ORDER if c in classes] + [c for c in classes if c not in CLASS_ORDER]
    histograms = [h for h in HISTOGRAMS if h in set(own["histogram"])] + \
                 [h for h in dict.fromkeys(own["histogram"]) if h not in HISTOGRAMS]
    columns = [(h, c) for h in histograms for c in (classes if by_class else [None])]
    grid = _bucket_grid(cells.loc[cells["le"] != math.inf, "le"])
    # Where each row is drawn: at its bound, except the 0 µs bucket (a request that did not
    # wait), which a log axis cannot place: it becomes the bottom row, labelled "0".
    shown = list(grid)
    zero = shown[0] <= 0
    if zero:
        shown[0] = shown[1] / 2 if len(shown) > 1 else 1e-6
    # Rows: one per bucket, then a blank one, then +Inf; its height is 1/30 of the range
    # (or a bucket's, if taller) so it stays visible however many buckets there are.
    lower = shown[0] ** 2 / shown[1] if len(shown) > 1 else shown[0] / 2
    step = max(shown[-1] / shown[-2] if len(shown) > 1 else 2, (shown[-1] / lower) ** (1 / 30))
    edges = [lower] + shown + [shown[-1] * step, shown[-1] * step ** 2]
    seconds = int(cells["second"].max()) + 1
    by = ["point_id", "repetition", "started_at", "histogram", "second", "le"] + (["class"] if by_class else [])
    top = cells.groupby(by)["count"].sum().max()  # the brightest cell anywhere, for a shared scale
    norm = LogNorm(vmin=1, vmax=max(top, 2))
    colours = plt.get_cmap("viridis").copy()
    colours.set_bad("white")

    chosen = _pick_measurements(own, pick)
    width = [4.2 if len(columns) <= 2 else 2.5] * len(columns)
    figure = plt.figure(figsize=(sum(width) + 1.8, 0.9 + 2.1 * len(chosen)))
    layout = figure.add_gridspec(len(chosen), len(columns) + 1, width_ratios=width + [0.12])
    mesh = None
    first = None
    for row, (run, repetitions) in enumerate(chosen):
        measurement = own[(own["point_id"] == run["point_id"]) & (own["repetition"] == run["repetition"])
                          & (own["started_at"] == run["started_at"])]
        for column, (histogram, cls) in enumerate(columns):
            axis = figure.add_subplot(layout[row, column], sharex=first, sharey=first)
            first = first or axis
            part = measurement[measurement["histogram"] == histogram]
            if cls is not None:
                part = part[part["class"] == cls]
            counts = np.zeros((len(grid) + 2, seconds))
            finite = part[part["le"] != math.inf]
            rows = np.searchsorted(grid, finite["le"].to_numpy() * (1 - 1e-4))  # its own row, see _bucket_grid
            np.add.at(counts, (rows, finite["second"].to_numpy()), finite["count"].to_numpy())
            overflow = part[part["le"] == math.inf]
            np.add.at(counts, (len(grid) + 1, overflow["second"].to_numpy()), overflow["count"].to_numpy())
            # Rasterized: in the SVG the cells are one image, not up to 60 x 100 shapes per panel.
            mesh = axis.pcolormesh(range(seconds + 1), edges, np.ma.masked_equal(counts, 0),
                                   norm=norm, cmap=colours, shading="flat", rasterized=True)
            axis.axhline(edges[-2], color="grey", linewidth=0.5)
            axis.set_yscale("log")
            axis.set_ylim(edges[0], edges[-1])
            axis.set_xlim(0, seconds)
            # The long names fit two columns; the per-class figure's six take the short ones.
            name = HISTOGRAMS.get(histogram, histogram) if row == 0 and len(columns) <= 2 else histogram
            axis.set_title(name + (f", {cls}" if cls else ""), fontsize=8)
            axis.tick_params(labelsize=7, labelleft=column == 0)  # y is shared: label it once
            if column == 0:
                which = "highest p99" if pick == "worst" else "median p99"
                # A label longer than the row is tall (flags in the configuration) would run into
                # its neighbours': it gets lines of its own.
                point = f"c{int(run['connections'])} p{int(run['pipeline'])} {run['load']}"
                head = f"{run['config']}, {point}" if len(run["config"]) + len(point) <= 34 \
                    else "\n".join(textwrap.wrap(run["config"], 28, break_on_hyphens=False) + [point])
                axis.set_ylabel(f"{head}\nrep {run['repetition']} of {repetitions} ({which})", fontsize=7.5)
            if row == len(chosen) - 1:
                axis.set_xlabel("second of the measured window", fontsize=8)
    special = [(edges[-2] * step ** 0.5, "> max")] + ([((edges[0] * edges[1]) ** 0.5, "0")] if zero else [])
    # A tick within 8% of the axis of a special row's label would print over it (7 pt on ~1.5 in).
    near = math.log(edges[-1] / edges[0]) * 0.08
    ticks = [(t, _duration(t)) for t in _duration_ticks(edges[0], shown[-1])
             if all(abs(math.log(t / at)) > near for at, _ in special)]
    ticks = sorted(ticks + special)
    first.set_yticks([t for t, _ in ticks], [text for _, text in ticks])
    first.yaxis.set_minor_locator(NullLocator())
    first.xaxis.set_major_locator(MaxNLocator(integer=True))
    bar = figure.colorbar(mesh, cax=figure.add_subplot(layout[:, -1]))
    bar.set_label("requests in the bucket\nduring that second")  # two lines: a one-row figure is short
    thinned = "" if len(chosen) == own["point_id"].nunique() else f", {len(chosen)} of {own['point_id'].nunique()} points"
    figure.suptitle(f"Server-side latency over time, {engine}" + (" by class" if by_class else "") + thinned,
                    fontsize=11)
    name = f"heatmap-{re.sub(r'[^A-Za-z0-9_.-]', '-', engine)}" + ("-by-class" if by_class else "")
    # tight_layout leaves the suptitle over the first row's titles in a tall figure: keep room for it.
    top = 1 - (0.2 if len(chosen) > 1 else 0) / figure.get_figheight()
    return _save(figure, folder, name, rect=(0, 0, 1, top)) if folder else figure


def heatmaps(folder: Path, frame: pd.DataFrame) -> list[str]:
    """The report's "Latency heat maps" section, or [] when the sweep wrote no latency-heatmap.csv."""
    cells = load_heatmap(folder, frame)
    if cells is None:
        return []
    out = ["## Latency heat maps", ""]
    if cells.empty:
        return out + ["latency-heatmap.csv has no rows for the ok measurements.", ""]
    out += ["How to read them: each cell counts the requests whose server-side latency fell in that bucket "
            "during that second of the measured window (summed over classes; blank: none), so a stall is a "
            "vertical stripe reaching high buckets and a queue build-up is a band drifting upward over time. "
            "Each row is one point's repetition with the highest p99; all figures share buckets and colour scale.", ""]
    several = 2 <= cells["class"].nunique() <= 3  # one class: the split would repeat the sum
    for engine in dict.fromkeys(cells["engine"]):
        paths = heatmap_plot(cells, engine, folder)
        out += [f"![Latency heat map, {engine}](plots/{paths[0].name})", f"([SVG](plots/{paths[1].name})"]
        if several:
            split = heatmap_plot(cells, engine, folder, by_class=True)
            out[-1] += f"; by class: [PNG](plots/{split[0].name}), [SVG](plots/{split[1].name}))"
        else:
            out[-1] += ")"
        out.append("")
    return out


def _markdown(table: pd.DataFrame, columns: list[tuple[str, str, str]]) -> str:
    lines = ["| " + " | ".join(title for _, title, _ in columns) + " |",
             "|" + "|".join("---" if fmt == "s" else "---:" for _, _, fmt in columns) + "|"]
    for _, row in table.iterrows():
        cells = []
        for key, _, fmt in columns:
            value = row[key]
            if fmt == "s" or isinstance(value, str):
                cells.append(str(value))
            elif pd.isna(value):
                cells.append("–")
            else:
                cells.append(format(value, fmt))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(folder: str | Path) -> Path:
    """Writes plots and report.md for the sweep in `folder`; returns the report's path."""
    folder = Path(folder)
    frame = load(folder)
    metadata = json.loads((folder / "metadata.json").read_text())
    spec = tomllib.loads(metadata.get("spec", ""))
    engines = spec.get("matrix", {}).get("engines", [])
    table = medians(frame)
    measured = table[table["runs"] > 0]
    present = [e for e in engines if e in set(measured["engine"])]
    baseline = present[0] if present else None
    if baseline is not None:
        variants = spec.get("matrix", {}).get("flags") or [{}]
        first = ";".join(f"{k}={_flag_text(v)}" for k, v in sorted(variants[0].items())) or "-"
        table = with_ratios(table, baseline, first)
    table["config"] = [label(row) for _, row in table.iterrows()]
    measured = table[table["runs"] > 0]
    figures = []
    if not measured.empty:
        figures = [("Throughput", throughput_plot(measured, folder)), ("Latency", latency_plot(measured, folder)),
                   ("CPU per request", cpu_plot(measured, folder))]
    runner = metadata.get("runner", {})
    out = [f"# Sweep `{metadata.get('experiment')}`", ""]
    if spec.get("description"):
        out += [spec["description"], ""]
    out += [
        f"- Measured: {frame['started_at'].min()} to {frame['started_at'].max()} (UTC), "
        f"{len(frame)} measurements ({int((frame['status'] == 'ok').sum())} ok, "
        f"{int((frame['status'] == 'failed').sum())} failed)",
        f"- Each: {spec.get('warmup', '?')} s warm-up, {spec.get('duration', '?')} s measured, "
        f"{spec.get('repetitions', '?')} repetitions interleaved; medians below",
        f"- Server CPUs {runner.get('server_cpus', '?')}, load generator CPUs {runner.get('load_cpus', '?')} "
        f"({runner.get('load_threads', '?')} threads)",
        f"- Commit `{metadata.get('git_commit')}`, {metadata.get('swift_version')}",
        f"- {metadata.get('cpu_model')}, {metadata.get('kernel')}",
    ]
    skipped = {k[len("skipped_"):]: v for k, v in runner.items() if k.startswith("skipped_")}
    for engine, reason in skipped.items():
        out.append(f"- Skipped `{engine}`: {reason}")
    # The overload experiment leads with its own section; the generic table follows.
    lead = overload.section(folder, frame, spec, metadata, _save)
    if lead:
        out += [""] + lead
        while out[-1] == "":
            out.pop()
    out += ["", "## Results", ""]
    if baseline is not None:
        out += [f"Ratios are to `{baseline}` under the same load (connections, pipeline depth, rate).", ""]
    columns = [("config", "server", "s"), ("connections", "conns", ".0f"), ("pipeline", "pipe", ".0f"),
               ("load", "load", "s"), ("runs", "ok runs", ".0f"), ("failed", "failed", ".0f"), ("rps", "req/s", ",.0f"), ("p50_us", "p50 µs", ".0f"),
               ("p99_us", "p99 µs", ".0f"), ("p999_us", "p99.9 µs", ".0f"), ("cpu_us_per_request", "CPU µs/req", ".2f"),
               ("rps_ratio", "req/s ×", ".2f"), ("p99_ratio", "p99 ×", ".2f"), ("cpu_ratio", "CPU ×", ".2f")]
    out += [_markdown(table, [c for c in columns if c[0] in table.columns]), ""]
    failures = frame[frame["status"] == "failed"]
    if not failures.empty:
        out += ["## Failed measurements", ""]
        for _, row in failures.iterrows():
            out.append(f"- `{row['point_id']}` rep {row['repetition']}: {row['reason']}")
        out.append("")
    for title, paths in figures:
        if paths:
            out += [f"## {title}", "", f"![{title}](plots/{paths[0].name})", f"([SVG](plots/{paths[1].name}))", ""]
    out += heatmaps(folder, frame)
    if "load_cpu_share" in frame.columns:
        out += tail.section(folder, frame, spec)
    out += distribution.section(folder, frame, spec, _save)
    path = folder / "report.md"
    path.write_text("\n".join(out))
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: plots.py notebooks-data/NAME")
    target = Path(sys.argv[1])
    if not (target / "results.csv").exists():
        sys.exit(f"{target}/results.csv does not exist: run `switchyard sweep experiments/{target.name}.toml` first")
    print(report(target))
