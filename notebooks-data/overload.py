"""The overload report: goodput within the SLO, the low class's share of it and /health's
p99 against offered load, with the overload controller on and off (experiments/overload.toml).

Used by plots.py for the folder named `overload`, or any sweep whose latency-by-class.csv
has `within_slo` counts (`[load] slo`) and whose flags set `overload-control`.

- Capacity: per engine, the median requests/s of the ok closed-loop measurements in
  ../overload-capacity/results.csv (experiments/overload-capacity.toml, the same mix);
  without it, the offered rate of the 1x point.
- Goodput of a measurement: 2xx responses within the SLO, summed over classes, divided by
  the measured window (requests / rps, which is what the generator counted over; the
  spec's duration when that cannot be computed). A point's value is the median over its
  ok repetitions, as everywhere in plots.py.
- Classes are the server's default priorities (`--priority`): /health and /metrics
  critical, /work low, everything else normal.
- Load multiples are named after the nominal basis the spec's rates were chosen from
  (4,400 req/s: 2,200 is "0.5x"); the plots place each engine at rate / its own capacity.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

NOMINAL = 4400.0            # req/s: overload.toml's rates are 0.5, 1, 2 and 5 times this
GOALS = {2.0: 0.9, 5.0: 0.8}  # issue 12: goodput / capacity with the controller on, at 2x and 5x
DEFAULT_SLO = 0.050          # seconds, when neither metadata nor spec says
KEYS = ["point_id", "repetition", "started_at"]
POINT = ["engine", "rate", "controller"]
UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "": 1.0}


def role(path: str) -> str:
    """A mix path's priority class under the server's default `--priority` rules."""
    route = str(path).split("?", 1)[0]
    if route in ("/health", "/metrics"):
        return "critical"
    if route == "/work" or route.startswith("/work/"):
        return "low"
    return "normal"


def controller(flags) -> str:
    """"on" or "off" from a flags cell such as `overload-control=true` (off when absent)."""
    for part in str(flags).split(";"):
        key, _, value = part.partition("=")
        if key.strip() == "overload-control":
            return "on" if value.strip().lower() == "true" else "off"
    return "off"


def _seconds(text) -> float | None:
    """'50ms', '0.05 s', '500us' as seconds; None when it is not a duration."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ns|us|µs|ms|s)?\s*", str(text))
    if not match:
        return None
    return float(match.group(1)) * UNITS[match.group(2) or ""]


def settings(metadata: dict) -> dict[str, str]:
    """The runner's `settings` line (`duration=5 s; ...; load_slo=0.05 s`) as a dict."""
    out = {}
    for part in metadata.get("runner", {}).get("settings", "").split("; "):
        key, sep, value = part.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def slo_seconds(metadata: dict, spec: dict) -> float:
    for text in (settings(metadata).get("load_slo"), spec.get("load", {}).get("slo")):
        value = _seconds(text) if text is not None else None
        if value:
            return value
    return DEFAULT_SLO


def duration_seconds(metadata: dict, spec: dict) -> float:
    for text in (settings(metadata).get("duration"), spec.get("duration")):
        value = _seconds(text) if text is not None else None
        if value:
            return value
    return 5.0


def applies(folder: Path, frame: pd.DataFrame) -> bool:
    """The folder is named `overload`, or its per-class file counts responses within an SLO
    and its flags set overload-control."""
    if folder.name == "overload":
        return True
    path = folder / "latency-by-class.csv"
    if not path.exists() or "flags" not in frame.columns:
        return False
    if not frame["flags"].astype(str).str.contains("overload-control=", regex=False).any():
        return False
    by_class = pd.read_csv(path)
    return "within_slo" in by_class.columns and by_class["within_slo"].notna().any()


def one_x_rate(rates) -> float:
    """The spec's 1x rate: the one equal to the nominal basis, else the basis itself."""
    for rate in rates:
        if abs(rate / NOMINAL - 1) < 0.05:
            return float(rate)
    return NOMINAL


def capacities(folder: Path, engines, rates) -> tuple[dict[str, float], list[str]]:
    """Per engine: (capacity, where it came from); notes for the report when it is missing."""
    path = folder.parent / "overload-capacity" / "results.csv"
    fallback = one_x_rate(rates)
    found: dict[str, float] = {}
    notes: list[str] = []
    if path.exists():
        closed = pd.read_csv(path)
        closed = closed[(closed["status"] == "ok") & closed["rate"].isna()]
        found = closed.groupby("engine")["rps"].median().to_dict()
    else:
        notes.append(f"No capacity measurement (`{path.parent.name}/results.csv` is missing: run "
                     f"`make sweep NAME=overload-capacity`); the 1x offered rate, {fallback:,.0f} req/s, "
                     "stands in for every engine's capacity.")
    out = {}
    for engine in engines:
        if engine in found and found[engine] > 0:
            out[engine] = float(found[engine])
        else:
            out[engine] = fallback
            if path.exists():
                notes.append(f"`{engine}` has no ok measurement in `{path.parent.name}/results.csv`; "
                             f"its capacity is taken as the 1x offered rate, {fallback:,.0f} req/s.")
    return out, notes


def measurements(folder: Path, frame: pd.DataFrame, duration: float) -> pd.DataFrame:
    """One row per ok open-loop measurement: goodput, per-class rates, /health p99, 503s."""
    ok = frame[(frame["status"] == "ok") & frame["rate"].notna()].copy()
    ok["controller"] = ok["flags"].map(controller)
    usable = (ok["requests"] > 0) & (ok["rps"] > 0)
    ok["elapsed"] = (ok["requests"] / ok["rps"]).where(usable, duration)
    ok["started_at"] = ok["started_at"].astype(str)
    by_class = pd.read_csv(folder / "latency-by-class.csv", dtype={"started_at": str, "class": str})
    by_class["role"] = by_class["class"].map(role)
    by_class = by_class.merge(ok[KEYS + ["elapsed"]], on=KEYS)
    for column in ("within_slo", "responses_2xx"):
        by_class[column] = pd.to_numeric(by_class[column], errors="coerce")

    def per(grouped, column, name):
        return grouped[column].sum(min_count=1).rename(name)

    grouped = by_class.groupby(KEYS)
    parts = [per(grouped, "within_slo", "good")]
    for cls, column, name in (("low", "responses_2xx", "low_2xx"), ("low", "within_slo", "low_good"),
                              ("normal", "within_slo", "normal_good")):
        parts.append(per(by_class[by_class["role"] == cls].groupby(KEYS), column, name))
    critical = by_class[by_class["class"].str.split("?").str[0] == "/health"]
    if critical.empty:
        critical = by_class[by_class["role"] == "critical"]
    parts.append(critical.groupby(KEYS)["p99_us"].max().rename("health_p99_us"))
    counts = pd.concat(parts, axis=1).reset_index()
    extra = ["elapsed", "errors_non2xx", "errors_timeout", "rps", "outstanding", "schedule_sent", "schedule_late",
             "cpu_us_per_request"]
    out = ok[KEYS + POINT + extra].merge(counts, on=KEYS, how="left")
    for name in ("good", "low_2xx", "low_good", "normal_good"):
        out[name] = out[name] / out["elapsed"]
    out["rejected"] = out["errors_non2xx"] / out["elapsed"]
    out["timeouts"] = out["errors_timeout"] / out["elapsed"]
    out["late"] = out["schedule_late"] / out["schedule_sent"].where(out["schedule_sent"] > 0)
    return out


def points(runs: pd.DataFrame, attempts: pd.DataFrame, capacity: dict[str, float],
           low_share: float) -> tuple[pd.DataFrame, dict[str, tuple[float, str]]]:
    """Medians per (engine, rate, controller), with the ratios; and each engine's low basis."""
    metrics = ["good", "low_2xx", "low_good", "normal_good", "health_p99_us", "rejected", "timeouts", "rps",
               "late", "outstanding", "cpu_us_per_request"]
    grouped = runs.groupby(POINT)
    table = grouped[metrics].median()
    table["good_min"] = grouped["good"].min()
    table["good_max"] = grouped["good"].max()
    table["runs"] = grouped.size()
    table = attempts.merge(table.reset_index(), on=POINT, how="left")
    table["runs"] = table["runs"].fillna(0).astype(int)
    table["capacity"] = table["engine"].map(capacity)
    table["nominal"] = table["rate"] / NOMINAL
    table["multiple"] = table["rate"] / table["capacity"]
    table["good_ratio"] = table["good"] / table["capacity"]
    basis = {}
    one = one_x_rate(sorted(table["rate"].unique()))
    for engine in table["engine"].unique():
        at = table[(table["engine"] == engine) & (table["rate"] == one) & (table["controller"] == "off")]
        if not at.empty and pd.notna(at["low_2xx"].iloc[0]) and at["low_2xx"].iloc[0] > 0:
            basis[engine] = (float(at["low_2xx"].iloc[0]), "its low 2xx/s at 1x with the controller off")
        else:
            basis[engine] = (capacity[engine] * low_share, f"capacity x {low_share:.2f} (the low share of the mix)")
    per_engine = table["engine"].map({e: b for e, (b, _) in basis.items()})
    table["low_ratio"] = table["low_2xx"] / per_engine
    table["low_good_ratio"] = table["low_good"] / per_engine
    # The spec's engine order, then load, then controller off before on.
    engines = {e: k for k, e in enumerate(dict.fromkeys(attempts["engine"]))}
    table["engine_order"] = table["engine"].map(engines)
    table = table.sort_values(["engine_order", "rate", "controller"], kind="stable").drop(columns="engine_order")
    return table.reset_index(drop=True), basis


def _multiple_axis(axis, table: pd.DataFrame) -> None:
    axis.set_xscale("log")
    ticks = sorted(table["nominal"].unique())
    axis.set_xticks(ticks, [f"{t:g}x" for t in ticks])
    axis.minorticks_off()
    axis.set_xlim(min(table["multiple"].min(), min(ticks)) / 1.25, max(table["multiple"].max(), max(ticks)) * 1.25)
    axis.set_xlabel("offered load, multiple of the engine's capacity (log)")
    axis.grid(True, alpha=0.3)


def _lines(axis, table: pd.DataFrame, column: str, errors: bool = False) -> None:
    engines = list(dict.fromkeys(table["engine"]))
    for index, engine in enumerate(engines):
        for state, style, marker in (("on", "-", "o"), ("off", "--", "s")):
            group = table[(table["engine"] == engine) & (table["controller"] == state)].dropna(subset=[column])
            group = group.sort_values("rate")
            if group.empty:
                continue
            kwargs = dict(linestyle=style, marker=marker, color=f"C{index}", markersize=5,
                          label=f"{engine}, controller {state}")
            if errors:
                scale = group["capacity"]
                axis.errorbar(group["multiple"], group[column],
                              yerr=[(group["good"] - group["good_min"]) / scale, (group["good_max"] - group["good"]) / scale],
                              capsize=3, **kwargs)
            else:
                axis.plot(group["multiple"], group[column], **kwargs)


def goodput_plot(folder: Path, table: pd.DataFrame, save):
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    _lines(axes[0], table, "good_ratio", errors=True)
    for nominal, level in GOALS.items():
        axes[0].axhline(level, color="grey", linestyle=":", linewidth=1)
        axes[0].text(0.99, level, f"goal at {nominal:g}x: {level:g}", transform=axes[0].get_yaxis_transform(),
                     ha="right", va="bottom", fontsize=7.5, color="grey")
    axes[0].axhline(1.0, color="black", linewidth=0.6)
    axes[0].set_ylim(-0.04, max(1.3, (table["good_max"] / table["capacity"]).max() * 1.08))
    axes[0].set_ylabel("goodput / capacity (bars: min–max of repetitions)")
    axes[0].set_title("Goodput: 2xx within the SLO, all classes (solid: controller on)", fontsize=10)
    _lines(axes[1], table, "low_good_ratio")
    axes[1].axhline(1.0, color="black", linewidth=0.6)
    axes[1].set_ylim(-0.04, max(1.2, table["low_good_ratio"].max() * 1.08))
    axes[1].set_ylabel("low 2xx within the SLO / low 2xx/s at 1x, off")
    axes[1].set_title("Low class (/work?us=300) within the SLO", fontsize=10)
    for axis in axes:
        _multiple_axis(axis, table)
    axes[0].legend(fontsize=7.5, loc="upper left")
    return save(figure, folder, "overload-goodput")


def health_plot(folder: Path, table: pd.DataFrame, slo: float, save):
    figure, axis = plt.subplots(figsize=(7, 4.6))
    table = table.assign(health_p99_ms=table["health_p99_us"] / 1000)
    _lines(axis, table, "health_p99_ms")
    axis.axhline(slo * 1000, color="red", linewidth=1, label=f"SLO {slo * 1000:g} ms")
    axis.set_yscale("log")
    axis.set_ylabel("/health p99 (ms, log; from intended send time)")
    axis.set_title("/health (critical, never shed) p99 latency", fontsize=10)
    _multiple_axis(axis, table)
    axis.legend(fontsize=7.5, loc="upper left")
    return save(figure, folder, "overload-health-p99")


def _ms(us: float) -> str:
    if us != us:
        return "–"
    return f"{us / 1000:,.1f}" if us < 100_000 else f"{us / 1000:,.0f}"


def _number(value, fmt: str) -> str:
    return "–" if value is None or value != value else format(value, fmt)


def _load(r) -> str:
    return f"{r['nominal']:g}x ({r['rate']:,.0f}/s)"


def _table(table: pd.DataFrame) -> list[str]:
    """The goodput table: what the issue's goals are about."""
    out = ["| engine | load | offered / capacity | controller | goodput (req/s) | goodput / capacity | low 2xx/s "
           "| low 2xx / basis | low in SLO / basis | normal goodput/s | /health p99 (ms) | 503s/s |",
           "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for _, r in table.iterrows():
        out.append(f"| {r['engine']} | {_load(r)} | {r['multiple']:.2f} | {r['controller']} "
                   f"| {_number(r['good'], ',.0f')} | {_number(r['good_ratio'], '.2f')} "
                   f"| {_number(r['low_2xx'], ',.0f')} | {_number(r['low_ratio'], '.2f')} "
                   f"| {_number(r['low_good_ratio'], '.2f')} | {_number(r['normal_good'], ',.0f')} "
                   f"| {_ms(r['health_p99_us'])} | {_number(r['rejected'], ',.0f')} |")
    return out


def _queue_table(table: pd.DataFrame) -> list[str]:
    """Where the queue was: answered/s, late sends, what was left unanswered, CPU per response."""
    timeouts = table["timeouts"].fillna(0).gt(0).any()
    out = ["| engine | load | controller | answered/s | sends late | unanswered at end | server CPU µs/response"
           + (" | timeouts/s |" if timeouts else " |"),
           "|---|---|---|---:|---:|---:|---:|" + ("---:|" if timeouts else "")]
    for _, r in table.iterrows():
        out.append(f"| {r['engine']} | {_load(r)} | {r['controller']} | {_number(r['rps'], ',.0f')} "
                   f"| {_number(r['late'] * 100, '.0f')}% | {_number(r['outstanding'], ',.0f')} "
                   f"| {_number(r['cpu_us_per_request'], '.0f')} |"
                   + (f" {_number(r['timeouts'], ',.0f')} |" if timeouts else ""))
    return out


def _rejected(row) -> str:
    return "no 503s" if not row["rejected"] else f"{row['rejected']:,.0f} 503s/s"


def _at(table: pd.DataFrame, engine: str, nominal: float, state: str):
    rows = table[(table["engine"] == engine) & ((table["nominal"] - nominal).abs() < 0.05) & (table["controller"] == state)]
    return rows.iloc[0] if not rows.empty and rows.iloc[0]["runs"] > 0 else None


def _spread(row) -> str:
    """The repetitions' range of goodput / capacity, when it is wide enough to matter."""
    low, high = row["good_min"] / row["capacity"], row["good_max"] / row["capacity"]
    return f", repetitions {low:.2f}–{high:.2f}" if high - low >= 0.1 else ""


def goals_table(table: pd.DataFrame, slo: float) -> list[str]:
    """Per engine, controller on: each goal met or not, with the value."""
    heads = [f"goodput at {n:g}x ≥ {g:g} x capacity" for n, g in GOALS.items()]
    out = ["| engine | " + " | ".join(heads) + f" | /health p99 < {slo * 1000:g} ms at every load |",
           "|---|" + "---|" * (len(GOALS) + 1)]
    for engine in dict.fromkeys(table["engine"]):
        cells = []
        for nominal, goal in GOALS.items():
            row = _at(table, engine, nominal, "on")
            cells.append("not measured" if row is None else
                         f"{'yes' if row['good_ratio'] >= goal else '**no**'} ({row['good_ratio']:.2f})")
        on = table[(table["engine"] == engine) & (table["controller"] == "on")]["health_p99_us"].dropna()
        cells.append("not measured" if on.empty else
                     f"{'yes' if (on < slo * 1e6).all() else '**no**'} (worst {_ms(on.max())} ms)")
        out.append(f"| {engine} | " + " | ".join(cells) + " |")
    return out


def verdict(table: pd.DataFrame, slo: float) -> list[str]:
    """One line per engine: the goals with the controller on, then what the controller-off points show."""
    out = []
    limit = slo * 1e6
    for engine in dict.fromkeys(table["engine"]):
        parts = []
        for nominal, goal in GOALS.items():
            row = _at(table, engine, nominal, "on")
            if row is None:
                parts.append(f"{nominal:g}x not measured")
                continue
            met = "met" if row["good_ratio"] >= goal else "**not met**"
            text = (f"goodput at {nominal:g}x {row['good_ratio']:.2f} of capacity{_spread(row)} (goal {goal:g}: {met}; "
                    f"low class {row['low_ratio']:.2f} of its basis served, {row['low_good_ratio']:.2f} within the SLO)")
            if row["good_ratio"] < goal and row["late"] > 0.05:
                text += (f"; it answered {row['rps']:,.0f} req/s of the {row['rate']:,.0f} offered, but {row['late']:.0%} of "
                         f"sends waited for a free connection (all 512 busy) and {row['outstanding']:,.0f} requests were "
                         "unanswered at the end: the queue formed in the generator, out of the controller's sight")
            parts.append(text)
        at_on, at_off = _at(table, engine, 1.0, "on"), _at(table, engine, 1.0, "off")
        if at_on is not None and at_off is not None:
            parts.append(f"at 1x it sheds {at_on['rejected']:,.0f} req/s, goodput {at_on['good_ratio']:.2f} of capacity "
                         f"(off: {at_off['good_ratio']:.2f})")
        on = table[(table["engine"] == engine) & (table["controller"] == "on") & (table["runs"] > 0)]
        if on["health_p99_us"].isna().all():
            parts.append("no controller-on /health measurement")
        else:
            over = on[on["health_p99_us"] >= limit]
            if over.empty:
                worst = on.loc[on["health_p99_us"].idxmax()]
                parts.append(f"/health p99 under {slo * 1000:g} ms at every load: met (worst {_ms(worst['health_p99_us'])} ms "
                             f"at {worst['nominal']:g}x)")
            else:
                listed = ", ".join(f"{r['nominal']:g}x {_ms(r['health_p99_us'])} ms" for _, r in over.iterrows())
                parts.append(f"/health p99 under {slo * 1000:g} ms at every load: **not met** ({listed})")
        out.append(f"- `{engine}`, controller on: " + "; ".join(parts) + ".")
        off = table[(table["engine"] == engine) & (table["controller"] == "off") & (table["runs"] > 0)]
        if off.empty:
            continue
        text = []
        for nominal in sorted(GOALS):
            row = _at(table, engine, nominal, "off")
            if row is not None:
                text.append(f"at {nominal:g}x goodput {row['good_ratio']:.2f} of capacity although it answered "
                            f"{row['rps']:,.0f} req/s ({_rejected(row)}; low {row['low_ratio']:.2f} of its "
                            f"basis), none within the SLO: /health p99 {_ms(row['health_p99_us'])} ms, {row['late']:.0%} of sends "
                            f"late, {row['outstanding']:,.0f} requests unanswered at the end")
        over = off[off["health_p99_us"] >= limit]
        first = f"; /health is over the SLO from {over['nominal'].min():g}x" if not over.empty else ""
        out.append(f"- `{engine}`, controller off: " + "; ".join(text) + first + ".")
    return out


def section(folder: Path, frame: pd.DataFrame, spec: dict, metadata: dict, save) -> list[str]:
    """The report's markdown for the overload experiment, or [] when the sweep is not one.
    `save` is plots.py's _save (tight layout, PNG at 130 dpi and SVG in plots/)."""
    folder = Path(folder)
    if not applies(folder, frame):
        return []
    out = ["## Overload: goodput within the SLO, and /health", ""]
    if not (folder / "latency-by-class.csv").exists():
        return out + ["latency-by-class.csv is missing: goodput cannot be computed.", ""]
    slo = slo_seconds(metadata, spec)
    duration = duration_seconds(metadata, spec)
    opened = frame[frame["rate"].notna()].copy()
    if opened.empty:
        return out + ["No open-loop measurement: nothing to compare with capacity.", ""]
    opened["controller"] = opened["flags"].map(controller)
    attempts = opened.groupby(POINT, sort=False).agg(failed=("status", lambda s: int((s == "failed").sum()))).reset_index()
    engines = list(dict.fromkeys(opened["engine"]))
    capacity, notes = capacities(folder, engines, sorted(opened["rate"].unique()))
    mix = spec.get("matrix", {}).get("mix", [])
    total = sum(entry.get("weight", 1.0) for entry in mix) or 1.0
    low_share = sum(entry.get("weight", 1.0) for entry in mix if role(entry["path"]) == "low") / total if mix else 0.7
    runs = measurements(folder, frame, duration)
    if runs.empty:
        return out + notes + ["", "No ok open-loop measurement.", ""]
    table, basis = points(runs, attempts, capacity, low_share)
    if table["good"].isna().all():
        return out + notes + ["", "latency-by-class.csv has no `within_slo` counts (the spec sets no `[load] slo`).", ""]
    goodput = goodput_plot(folder, table, save)
    health = health_plot(folder, table, slo, save)
    elapsed = runs["elapsed"]
    out += [f"Goodput: 2xx responses within the **{slo * 1000:g} ms** SLO (latency from the intended send time), summed "
            f"over classes, per second of the measured window (requests / rps: {elapsed.min():.2f}–{elapsed.max():.2f} s; "
            f"the spec says {duration:g} s); medians of the ok repetitions. Capacity per engine"
            + (": the median closed-loop requests/s of `overload-capacity` on the same mix, " if not notes
               else " (not all measured, see below): ")
            + ", ".join(f"`{e}` {c:,.0f}" for e, c in capacity.items())
            + f" req/s. Loads are named after the nominal basis of {NOMINAL:,.0f} req/s the rates were chosen from; "
            "\"offered / capacity\" is the engine's own multiple, which the figures use.", ""]
    out += notes + ([""] if notes else [])
    wanted = int(spec.get("repetitions", 0) or 0)
    short = table[(table["runs"] < wanted) | (table["failed"] > 0)]
    if not short.empty:
        out += ["Points with fewer ok repetitions than the spec's " + str(wanted) + ": "
                + ", ".join(f"{r['engine']} {_load(r)} {r['controller']} ({r['runs']} ok, {r['failed']} failed)"
                            for _, r in short.iterrows()) + ".", ""]
    out += ["**Goodput can exceed capacity.** Capacity is measured on the whole mix, whose cost is mostly the low class "
            "(300 µs of CPU each); a controller that sheds low requests leaves the CPU to the cheap normal ones, so "
            "requests/s within the SLO can pass the mix's capacity while much of the expensive work is refused. So the "
            "low class's 2xx/s is also given as a fraction of a basis, and of that the part within the SLO: "
            + ", ".join(f"`{e}` {b:,.0f}/s ({why})" for e, (b, why) in basis.items()) + ".", ""]
    out += _table(table) + [""]
    out += ["503s/s: non-2xx responses, the controller's `503 Retry-After: 1` (it sheds low requests after "
            "`--overload-target`, normal ones after `--overload-normal-target`, /health never). Where the queue was:", ""]
    out += _queue_table(table) + [""]
    out += ["\"Sends late\": sends more than the generator's slack after their intended time (no free connection among "
            "the 512); \"unanswered at end\": requests in flight or due and waiting for a connection when the window "
            "closed. A late share above a few percent means the queue grew in the generator, not in the server.", ""]
    out += ["Against the goals (issue 12: with the controller on, goodput at 2x ≥ 0.9 x capacity and at 5x ≥ 0.8 x "
            f"capacity; /health p99 under the {slo * 1000:g} ms SLO at every load):", ""]
    out += goals_table(table, slo) + [""] + verdict(table, slo) + [""]
    out += [f"![Goodput against offered load](plots/{goodput[0].name}) ([SVG](plots/{goodput[1].name}))", "",
            f"![/health p99 against offered load](plots/{health[0].name}) ([SVG](plots/{health[1].name}))", ""]
    return out
