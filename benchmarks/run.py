#!/usr/bin/env python
"""Run every genrevae benchmark, print one markdown table and write it with the machine description.

    python benchmarks/run.py                       # full size (20-40 min on 2 cores), writes benchmarks/RESULTS.md
    python benchmarks/run.py --size tiny --out /tmp/r.md    # seconds-to-a-minute smoke run
    python benchmarks/run.py --only data,dag --keep         # some stages; keep the generated data

Benchmarks never fail for being slow; they fail only when a stage cannot run. Each row compares
our way of doing a piece of work with the naive way (the course report's) or with a floor, measured
side by side in the same run; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench  # noqa: E402

HERE = Path(__file__).resolve().parent
COLUMNS = ("id", "case", "time (s)", "rate", "unit", "ratio", "ratio is")
#: Folders a run creates under its work directory (deleted at the end unless --keep).
OWN_FOLDERS = ("toy-pool", "gtzan", "scale-1x", "scale-2x", "scale-4x", "wf-gtzan", "wf-toy",
               "wf-scale-1x", "wf-scale-2x", "wf-scale-4x", "train", "train-scale-1x", "train-scale-2x",
               "train-scale-4x")  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Machine and load
# ---------------------------------------------------------------------------------------------
def _version(*names: str) -> str:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def machine() -> dict[str, Any]:
    try:
        import soundfile

        libsndfile = soundfile.__libsndfile_version__
    except Exception:  # noqa: BLE001 - informational only
        libsndfile = "?"
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gb": round(_ram_gb(), 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": _version("tensorflow", "tensorflow-cpu"),
        "keras": _version("keras"),
        "snakemake": _version("snakemake"),
        "librosa": _version("librosa"),
        "numpy": _version("numpy"),
        "soundfile": f"{_version('soundfile')} (libsndfile {libsndfile})",
        "soxr": _version("soxr"),
        "gpu": "none (no /dev/nvidia*)" if not list(Path("/dev").glob("nvidia*")) else "present, not used by these runs",
    }


def snakemake_plugins(measure: bool = True) -> dict[str, dict[str, Any]]:
    """Installed Snakemake executor plugins and how long importing each takes: Snakemake imports
    every installed executor plugin at start-up, so this is part of every snakemake call."""
    out = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] or ""
        if name.lower().replace("_", "-").startswith("snakemake-executor-plugin-"):
            out[name] = {"version": dist.version}
            if measure:
                module = name.lower().replace("-", "_")
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
                out[name]["import_s"] = round(time.perf_counter() - t0, 2)
    return out


class LoadMeter:
    """How busy the machine was while we ran: total CPU use from /proc/stat minus our own
    (this process and every waited-for descendant: snakemake and its jobs)."""

    def __init__(self) -> None:
        self.start = self._snapshot()

    @staticmethod
    def _snapshot() -> dict[str, float]:
        own = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                  for f in ("ru_utime", "ru_stime"))  # fmt: skip
        snap = {"wall": time.perf_counter(), "own": own, "load": os.getloadavg()[0]}
        try:
            fields = [float(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
            user, nice, system, idle, iowait, irq, softirq, steal = fields
            tick = os.sysconf("SC_CLK_TCK")
            snap["busy"] = (user + nice + system + irq + softirq) / tick
            snap["total"] = sum(fields) / tick
        except (OSError, ValueError, IndexError):
            pass
        return snap

    def report(self) -> dict[str, float]:
        end = self._snapshot()
        wall = end["wall"] - self.start["wall"]
        cores = os.cpu_count() or 1
        out = {
            "wall_s": wall,
            "load_avg_start": self.start["load"],
            "load_avg_end": end["load"],
            "own_share": (end["own"] - self.start["own"]) / (wall * cores),
        }
        if "busy" in end and "busy" in self.start:
            out["busy_share"] = (end["busy"] - self.start["busy"]) / max(end["total"] - self.start["total"], 1e-9)
            out["others_share"] = max(0.0, out["busy_share"] - out["own_share"])
        return out


# ---------------------------------------------------------------------------------------------
# Table
# ---------------------------------------------------------------------------------------------
def json_default(value: Any) -> Any:
    """``json.dumps``'s ``default`` for the benchmarks' payloads: paths and numpy scalars and arrays."""
    import numpy as np

    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def results_page(title: str, generated: str, script: str, header: list[str], table: str, notes: list[str]) -> str:
    """A benchmark's results file: title, how it was generated, the machine (``header``), the
    table and its notes."""
    return "\n".join([
        f"# {title}",
        "",
        generated,
        f"Written by `benchmarks/{script}`; method: `benchmarks/README.md`.",
        "",
        *header,
        "## Results",
        "",
        table,
        "",
        *[f"- {line}" for line in notes],
        "",
    ])  # fmt: skip


def fmt(x: float | None) -> str:
    if x is None:
        return ""
    if not math.isfinite(x):
        return str(x)
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 0.1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def markdown_table(rows: list[bench.Row]) -> str:
    order = {row_id: i for i, row_id in enumerate(bench.ROW_IDS)}
    rows = sorted(rows, key=lambda r: order.get(r.id, len(order)))
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(["---"] * len(COLUMNS)) + "|"]
    for r in rows:
        cells = [f"`{r.id}`", r.case.replace("|", "\\|"), fmt(r.seconds), fmt(r.rate), r.unit, fmt(r.ratio), r.ratio_is]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def key_findings(ctx: bench.Context) -> list[str]:
    have = {r.id: r for r in ctx.rows}
    out = []
    if {"data.ours", "data.job_startup", "data.report", "data.floor_read", "data.floor_decode"} <= have.keys():
        o, j, s, f, d = (have[k] for k in ("data.ours", "data.job_startup", "data.report", "data.floor_read",
                                           "data.floor_decode"))
        out.append(f"Data prep: ours {fmt(o.rate)} files/s vs the report's librosa loop {fmt(s.rate)} files/s "
                   f"({fmt(o.ratio)}x); the decode+resample kernel alone runs at {fmt(d.rate)} files/s and "
                   f"reading alone at {fmt(f.rate)} files/s, so ours is at {fmt(100 * o.rate / d.rate)}% of the "
                   f"kernel floor and {fmt(100 * o.rate / f.rate)}% of the read floor; job start-ups are about "
                   f"{fmt(j.rate)}% of its time.")
    for p in ("report", "conv"):
        ids = [f"train.{p}.{v}" for v in ("ours", "ours_xla", "report_loop")]
        if set(ids) <= have.keys():
            o, x, s = (have[k] for k in ids)
            out.append(f"Training, {p} preset: ours {fmt(o.rate)} s of audio per s (XLA on {fmt(x.rate)}) vs the "
                       f"report's loop {fmt(s.rate)}: {fmt(o.ratio)}x (XLA on {fmt(x.ratio)}x); "
                       f"{fmt(o.seconds)} s per step.")
    if {"dag.dry_run", "dag.noop", "dag.startup"} <= have.keys():
        out.append(f"Workflow overhead: `snakemake -n` {fmt(have['dag.dry_run'].seconds)} s "
                   f"({ctx.info.get('dag', {}).get('dag_jobs', '?')} jobs in the DAG), no-op re-run "
                   f"{fmt(have['dag.noop'].seconds)} s, bare snakemake start-up {fmt(have['dag.startup'].seconds)} s.")
    if {"e2e.wall", "e2e.tf_startup", "e2e.tf_jobs"} <= have.keys():
        out.append(f"End to end: {fmt(have['e2e.wall'].seconds)} s wall; TensorFlow jobs "
                   f"{fmt(have['e2e.tf_jobs'].seconds)} s, of which start-up ~{fmt(have['e2e.tf_startup'].rate)}%.")
    if "e2e.render_per_genre" in have:
        out.append(f"Render half per genre (evaluate, figures, quality, export): {fmt(have['e2e.render_per_genre'].seconds)} s "
                   "(target <= 30 s).")
    for p in ("report", "conv"):
        if f"gen.{p}.b16" in have:
            out.append(f"Generation, {p}: {fmt(have[f'gen.{p}.b1'].rate)}x real time at batch 1, "
                       f"{fmt(have[f'gen.{p}.b16'].rate)}x at batch 16 (compiled decode "
                       f"{fmt(have[f'gen.{p}.b16_compiled'].rate)}x).")
    if all(f"scale.{s}.4x" in have for s in ("data", "train")):
        out.append(f"Scaling 1x -> 4x clips: data prep time x{fmt(have['scale.data.4x'].ratio)} (linear would be x4), "
                   f"training step time x{fmt(have['scale.train.4x'].ratio)} (random windows: flat would be x1).")
    return out


def plugin_lines(plugins: dict[str, dict[str, Any]]) -> list[str]:
    if not plugins:
        return []
    text = ", ".join(
        f"{name} {p['version']}" + (f" (import {p['import_s']:.1f} s)" if "import_s" in p else "")
        for name, p in sorted(plugins.items())
    )
    return [f"- Snakemake executor plugins installed: {text}; Snakemake imports them at every start-up "
            "(compare `dag.startup`)."]


PACKAGE_NAMES = {"snakemake": "Snakemake", "librosa": "librosa", "numpy": "NumPy", "soundfile": "soundfile", "soxr": "soxr"}


def machine_lines(mach: dict, packages: tuple[str, ...]) -> list[str]:
    """The "## Machine" heading and its CPU, OS and version lines (TensorFlow, Keras and ``packages``)."""
    versions = ", ".join(f"{PACKAGE_NAMES.get(p, p)} {mach[p]}" for p in packages)
    return [
        "## Machine",
        "",
        f"- CPU: {mach['cpu']}, {mach['cores']} cores ({mach['usable_cores']} usable), {mach['ram_gb']} GB RAM, "
        f"GPU: {mach['gpu']}",
        f"- OS: {mach['os']}",
        f"- Python {mach['python']}, TensorFlow {mach['tensorflow']}, Keras {mach['keras']}, {versions}",
    ]


def results_markdown(ctx: bench.Context, command: str, mach: dict[str, Any], load: dict[str, float]) -> str:
    size = ctx.size
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    others = load.get("others_share")
    load_line = (
        f"- Load: other processes used {100 * others:.0f}% of the {mach['cores']} cores during the run "
        f"(we used {100 * load['own_share']:.0f}%); load average {load['load_avg_start']:.1f} at the start, "
        f"{load['load_avg_end']:.1f} at the end."
        if others is not None
        else f"- Load average {load['load_avg_start']:.1f} at the start, {load['load_avg_end']:.1f} at the end."
    )
    tree = ctx.info.get("tree", {})
    lines = [
        "# genrevae benchmarks",
        "",
        f"Generated by `{command}` on {date} in {load['wall_s'] / 60:.1f} min (size `{size.name}`).",
        "Written by `benchmarks/run.py`; do not edit by hand. What each row measures and how to read it:",
        "`benchmarks/README.md`.",
        "",
        *machine_lines(mach, ("snakemake", "librosa", "numpy", "soundfile", "soxr")),
        load_line,
        *plugin_lines(ctx.info.get("snakemake_plugins", {})),
        *(["- **Stages overlapped (`--overlap`): the times below are not measurements, only a smoke test.**"]
          if ctx.info.get("overlapped") else []),
        ("- The machine was shared with other work: absolute times are pessimistic and noisy."
         if others is None or others >= 0.05 else
         "- Other processes were nearly idle, but this is a virtual machine on a shared host: absolute "
         "times still vary (a step can take twice as long for tens of seconds).")
        + f" Ratios are measured side by side: interleaved and repeated ({size.repeats} times, training blocks "
        f"{size.train_repeats}); each row's time is the median and its ratio the median of the "
        "per-repetition ratios.",
    ]
    if tree:
        lines.append(
            f"- Data: synthetic GTZAN-shaped tree from `genrevae.toy.write_toy_genre`, {tree['files']} WAVs "
            f"({tree['bytes'] / 1e9:.2f} GB, 22,050 Hz 16-bit mono), in the page cache (warm reads)."
        )
    lines += ["", "## Results", "", markdown_table(ctx.rows), "", "## Key rows", ""]
    lines += [f"- {s}" for s in key_findings(ctx)]
    stage_s = ctx.info.get("stage_seconds", {})
    if stage_s:
        lines.append("- Wall time per stage in this run: " + ", ".join(f"{k} {v:.0f} s" for k, v in stage_s.items())
                     + (f" (toy data: {tree['generation_seconds']:.0f} s, {'reused' if tree['reused'] else 'written'})"
                        if tree else "") + ".")
    lines += [
        "",
        "Columns: `time (s)` is the wall time of what the case names (per step, per call or per run);",
        "`rate` is the matching throughput; `ratio` compares the row with the row named in `ratio is`.",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/run.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(bench.SIZES), default="full")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md", help="markdown file to write")
    parser.add_argument("--json", type=Path, help="also write the raw numbers as JSON")
    parser.add_argument("--workdir", type=Path, help="scratch folder (default /tmp/genrevae-bench-<size>)")
    parser.add_argument("--only", help=f"comma-separated stages of {','.join(bench.STAGES)} (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the generated data and workflow folders")
    parser.add_argument("--overlap", action="store_true",
                        help="run the e2e stage alongside the others (faster; timings then mean nothing: smoke tests)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("genrevae").setLevel(logging.WARNING)

    stages = bench.STAGES if not args.only else tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = set(stages) - set(bench.STAGES)
    if unknown:
        parser.error(f"unknown stage(s) {sorted(unknown)}; choose from {', '.join(bench.STAGES)}")
    size = bench.SIZES[args.size]
    workdir = (args.workdir or Path(f"/tmp/genrevae-bench-{size.name}")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    free_gb = shutil.disk_usage(workdir).free / 1e9
    need_gb = 1.4e-3 * (len(size.genres) * size.clips_per_genre + 3 * size.scale_base) * size.duration / 30 * 1.5
    if free_gb < need_gb:
        raise SystemExit(f"{workdir}: {free_gb:.1f} GB free, the {size.name} run needs about {need_gb:.1f} GB")

    command = "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    ctx = bench.Context(size=size, workdir=workdir)
    mach = machine()
    meter = LoadMeter()
    ctx.info["snakemake_plugins"] = snakemake_plugins(measure=not args.overlap)
    if args.overlap:
        ctx.info["overlapped"] = True

    def run_stage(stage: str) -> None:
        logging.info("== stage %s ==", stage)
        t0 = time.perf_counter()
        bench.RUNNERS[stage](ctx)
        ctx.info.setdefault("stage_seconds", {})[stage] = round(time.perf_counter() - t0, 1)

    background: threading.Thread | None = None
    errors: list[BaseException] = []
    try:
        bench.make_trees(ctx)
        if args.overlap and "e2e" in stages:
            def run_background() -> None:
                try:
                    run_stage("e2e")
                except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
                    errors.append(exc)

            background = threading.Thread(target=run_background, name="e2e", daemon=True)
            background.start()
        for stage in bench.STAGES:  # fixed order, whatever --only lists
            if stage in stages and not (background is not None and stage == "e2e"):
                run_stage(stage)
        if background is not None:
            background.join()
            if errors:
                raise errors[0]
    finally:
        if background is not None:
            background.join()
        if not args.keep:
            for name in OWN_FOLDERS:
                shutil.rmtree(workdir / name, ignore_errors=True)
            try:
                workdir.rmdir()
            except OSError:
                pass
    load = meter.report()
    text = results_markdown(ctx, command.strip(), mach, load)
    print("\n" + markdown_table(ctx.rows) + "\n")
    for line in key_findings(ctx):
        print("- " + line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    if args.json:
        payload = {
            "size": size.name,
            "machine": mach,
            "load": load,
            "rows": [vars(r) for r in ctx.rows],
            "info": ctx.info,
        }
        args.json.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    print(f"\nwrote {args.out}" + (f" and {args.json}" if args.json else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
