"""The benchmark stages of genrevae; `benchmarks/run.py` runs them and prints the table.

Every stage measures our way of doing a piece of work and, side by side in the same process
and run, a reference: the course report's naive way or a floor (the least the work can cost).
Side-by-side measurements are interleaved (ours, reference, ours, reference, ...) and repeated;
a row's time is the median over repetitions and its ratio the median of the per-repetition
ratios, so load from other work on a shared machine biases both sides alike.

Stages (row ids in brackets; see benchmarks/README.md for what each row means):

1. data   GTZAN-sized toy tree through `snakemake` prepare (index + shard, one pass) vs the report's librosa loop,
          and the read / decode floors                               [data.*]
2. train  training throughput per preset: our step on random windows (XLA off/on) vs the
          report's loop on whole clips                                  [train.*]
3. dag    `snakemake -n`, a no-op re-run and bare snakemake start-up  [dag.*]
4. e2e    the toy workflow from a clean results/ to results/index.html, TF start-up share [e2e.*]
5. gen    real-time factor of generation, batch 1 and 16, eager vs compiled  [gen.*]
6. scale  data prep and training steps at 1x, 2x and 4x the clip count  [scale.*]
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import yaml

import report_baseline

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
SAMPLE_RATE = 3000
TOY_RATE = 22050
TOY_SEED = 0
SEED = 123
THREADS = 2
SCALE_GENRE = "jazz"
TRAIN_GENRE = "jazz"
STAGES = ("data", "dag", "train", "gen", "e2e", "scale")

log = logging.getLogger("benchmarks")


# ---------------------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Size:
    name: str
    genres: tuple[str, ...]
    clips_per_genre: int
    duration: float  # seconds of each toy WAV
    clip_seconds: float  # the pipeline's clip length (config clip_seconds)
    repeats: int  # interleaved repetitions of side-by-side measurements (medians reported)
    train_repeats: int  # the same for the training blocks (short and noisy: more of them)
    batch_size: int
    train_steps: dict[str, int]  # timed steps per block, per preset
    conv: dict[str, Any]  # model.conv overrides ({} = the default width)
    window_samples: int | None  # train.window_samples of the training rows (None: the default, 8192)
    gen_seconds: float  # time budget per generation measurement
    scale_base: int  # clips of the 1x scaling point (one genre)
    import_repeats: int
    e2e_config: dict[str, Any] | None  # None: the repository's config.yaml, unchanged

    @property
    def n_samples(self) -> int:
        return int(round(SAMPLE_RATE * self.clip_seconds)) + 1


#: The tiny size's conv preset: 4 PQMF bands, one stride, one residual unit per resolution.
TINY_CONV = {"bands": 4, "width": 4, "max_width": 8, "latent_channels": 4, "strides": [4], "dilations": [1]}

#: A tiny end-to-end configuration (one genre, tiny model and prior) so the smoke test takes seconds.
TINY_E2E = {
    "toy": {"genres": ["jazz"], "clips_per_genre": 3, "duration": 4.0},
    "clip_seconds": 3.0,
    "model": {"conv": TINY_CONV},
    "train": {"steps": 2, "checkpoint_every": 2, "batch_size": 2, "window_samples": 1024, "tensorboard_audio": 0},
    "prior": {"hidden": 8, "steps": 10, "batch_size": 4, "segment_frames": 16},
    "evaluate": {"iw_samples": 2},
    "export": {"n_generated": 1, "n_reconstructions": 1, "n_interpolations": 1, "interpolation_steps": 2},
    "figures": {"n_reconstructions": 1},
    "fidelity": {"n_generated": 1},
    "resources": {"train_threads": 1},  # two 1-thread TF jobs at a time: their start-ups overlap
}

ALL_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")

SIZES = {
    "full": Size(
        name="full",
        genres=ALL_GENRES,
        clips_per_genre=100,
        duration=30.0,
        clip_seconds=30.0,
        repeats=3,
        train_repeats=5,
        batch_size=10,
        train_steps={"report": 30, "conv": 6},
        conv={},
        window_samples=None,
        gen_seconds=3.0,
        scale_base=100,
        import_repeats=3,
        e2e_config=None,
    ),
    "tiny": Size(
        name="tiny",
        genres=("jazz", "rock"),
        clips_per_genre=4,
        duration=4.0,
        clip_seconds=3.0,
        repeats=1,
        train_repeats=1,
        batch_size=2,
        train_steps={"report": 2, "conv": 2},
        conv=TINY_CONV,
        window_samples=2048,
        gen_seconds=0.0,
        scale_base=2,
        import_repeats=1,
        e2e_config=TINY_E2E,
    ),
}


# ---------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------
@dataclass
class Row:
    id: str
    case: str
    seconds: float
    rate: float
    unit: str
    ratio: float | None = None
    ratio_is: str = ""


@dataclass
class Context:
    size: Size
    workdir: Path
    rows: list[Row] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        ratio = f", ratio {row.ratio:.3g} ({row.ratio_is})" if row.ratio is not None else ""
        log.info("%-26s %10.4g s  %10.4g %s%s", row.id, row.seconds, row.rate, row.unit, ratio)
        return row

    def row(self, row_id: str) -> Row:
        return next(r for r in self.rows if r.id == row_id)

    @property
    def tree(self) -> Path:
        return self.workdir / "gtzan"

    def scale_tree(self, factor: int) -> Path:
        return self.workdir / f"scale-{factor}x"


def _med(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _paired(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """Median of the per-repetition ratios (each pair measured back to back)."""
    return float(statistics.median(a / b for a, b in zip(numerators, denominators)))


def _line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares fixed cost and cost per unit: y = fixed + per_unit * x."""
    per_unit, fixed = np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)
    return float(fixed), float(per_unit)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def run_snakemake(workdir: Path, *args: str, cores: int = THREADS) -> tuple[float, str]:
    """Run the real snakemake CLI on the repository's Snakefile in `workdir`; (seconds, output)."""
    command = [
        sys.executable, "-m", "snakemake",
        "-s", str(SNAKEFILE),
        "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"),
        "--cores", str(cores),
        *args,
    ]  # fmt: skip
    t0 = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise RuntimeError(f"snakemake {' '.join(args)} failed in {workdir} ({result.returncode}):\n{output[-4000:]}")
    return seconds, output


def write_workflow_config(workdir: Path, config: dict[str, Any]) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def clean_workflow(workdir: Path) -> None:
    """Remove results/ and Snakemake's metadata, so the next run starts from scratch."""
    for name in ("results", ".snakemake"):
        shutil.rmtree(workdir / name, ignore_errors=True)


def job_total(output: str) -> int:
    """The `total` of Snakemake's job stats table (0 when nothing is to be done)."""
    match = re.search(r"^total\s+(\d+)\s*$", output, flags=re.MULTILINE)
    return int(match.group(1)) if match else 0


def executed_rules(output: str) -> list[str]:
    """Rule name of every job a Snakemake run printed (`rule x:` / `localrule x:` headers)."""
    return re.findall(r"^\s*(?:local)?rule (\w+):\s*$", output, flags=re.MULTILINE)


def tensorflow_rules() -> set[str]:
    """Rules whose jobs run TensorFlow: those declaring the tensorflow conda env."""
    rules: set[str] = set()
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        blocks = re.split(r"^(?=rule \w+:)", smk.read_text(), flags=re.MULTILINE)
        for block in blocks:
            match = re.match(r"rule (\w+):", block)
            if match and "envs/tensorflow.yaml" in block:
                rules.add(match.group(1))
    return rules


def time_command(command: Sequence[str], repeats: int) -> float:
    """Median wall time of a command over `repeats` runs."""
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        subprocess.run(list(command), check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return float(statistics.median(times))


def timed_calls(fn: Callable[[], object], budget: float, min_calls: int = 2) -> float:
    """Seconds per call of `fn` (already warmed up): at least `min_calls`, until `budget` s."""
    calls, t0 = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - t0
        if calls >= min_calls and elapsed >= budget:
            return elapsed / calls


# ---------------------------------------------------------------------------------------------
# Synthetic GTZAN-sized data
# ---------------------------------------------------------------------------------------------
def _link_or_copy(src: Path, dst: Path) -> None:
    if dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def make_trees(ctx: Context) -> None:
    """Write the toy pool with `genrevae.toy.write_toy_genre` (2 processes), then hard-link the
    GTZAN-sized tree (`genres` x `clips_per_genre`) and the 1x/2x/4x scaling trees (one genre).

    A clip depends only on (seed, genre, index), so clips 0..99 of the 400-clip jazz pool are the
    very files `write_toy_genre(tree, "jazz", 100, seed)` writes. The pool is reused when its
    stamp matches (same sizes, same sources of the toy package).
    """
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing

    import genrevae.toy as toy

    size = ctx.size
    pool = ctx.workdir / "toy-pool"
    counts = {g: size.clips_per_genre for g in size.genres}
    counts[SCALE_GENRE] = max(counts.get(SCALE_GENRE, 0), 4 * size.scale_base)
    stamp = {
        "counts": counts,
        "duration": size.duration,
        "rate": TOY_RATE,
        "seed": TOY_SEED,
        # a clip depends on every module of the toy package, so an edit to any one renews the pool
        "toy_sources_sha256": hashlib.sha256(
            b"".join(p.read_bytes() for p in sorted(Path(toy.__file__).parent.rglob("*.py")))
        ).hexdigest(),
    }
    stamp_file = pool / "STAMP.json"
    t0 = time.perf_counter()
    reused = stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp
    if not reused:
        shutil.rmtree(pool, ignore_errors=True)
        pool.mkdir(parents=True)
        context = multiprocessing.get_context("spawn")  # never fork a process that may hold TF
        with ProcessPoolExecutor(max_workers=THREADS, mp_context=context) as ex:
            jobs = [
                ex.submit(toy.write_toy_genre, pool, g, n, TOY_SEED, TOY_RATE, size.duration)
                for g, n in sorted(counts.items(), key=lambda kv: -kv[1])
            ]
            for job in jobs:
                job.result()
        stamp_file.write_text(json.dumps(stamp))
    seconds = time.perf_counter() - t0
    for genre in size.genres:
        for i in range(size.clips_per_genre):
            name = toy.clip_filename(genre, i)
            _link_or_copy(pool / genre / name, ctx.tree / genre / name)
    for factor in (1, 2, 4):
        for i in range(factor * size.scale_base):
            name = toy.clip_filename(SCALE_GENRE, i)
            _link_or_copy(pool / SCALE_GENRE / name, ctx.scale_tree(factor) / SCALE_GENRE / name)
    files = sorted(ctx.tree.glob("*/*.wav"))
    total_bytes = sum(p.stat().st_size for p in files)
    ctx.info["tree"] = {
        "path": str(ctx.tree),
        "files": len(files),
        "bytes": total_bytes,
        "generation_seconds": round(seconds, 1),
        "reused": reused,
    }
    log.info("toy tree: %d files, %.2f GB, %s in %.0f s", len(files), total_bytes / 1e9, "reused" if reused else "written", seconds)


def _warm_page_cache(files: Sequence[Path]) -> None:
    for path in files:
        with open(path, "rb") as handle:
            while handle.read(1 << 22):
                pass


def _gtzan_config(ctx: Context, data_dir: Path) -> dict[str, Any]:
    return {
        "data_dir": str(data_dir),
        "genres": [],
        "seed": SEED,
        "sample_rate": SAMPLE_RATE,
        "clip_seconds": ctx.size.clip_seconds,
        "resources": {"train_threads": THREADS},  # data_threads: the default (1), genres side by side
    }


# ---------------------------------------------------------------------------------------------
# 1. Data preparation
# ---------------------------------------------------------------------------------------------
def floor_read(files: Sequence[Path], threads: int = THREADS) -> float:
    """Seconds to decode every file with soundfile and nothing else."""
    import soundfile as sf

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(lambda p: sf.read(str(p), dtype="float32"), files):
            pass
    return time.perf_counter() - t0


def floor_decode(files: Sequence[Path], n_samples: int, threads: int = THREADS) -> float:
    """Seconds of the prepare stage's per-file kernel alone (`genrevae.prepare.load_clip`: decode,
    down-mix, soxr HQ to 3 kHz, crop/pad), in one process: no index, hashing, job start-up."""
    from genrevae.prepare import load_clip

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(lambda p: load_clip(p, SAMPLE_RATE, n_samples), files):
            pass
    return time.perf_counter() - t0


def bench_data(ctx: Context) -> None:
    size = ctx.size
    files = sorted(ctx.tree.glob("*/*.wav"))
    n = len(files)
    wf = ctx.workdir / "wf-gtzan"
    write_workflow_config(wf, _gtzan_config(ctx, ctx.tree))
    targets = [f"results/{g}/data/clips.npy" for g in size.genres]
    _warm_page_cache(files)
    t0 = time.perf_counter()
    report_baseline.report_load(str(files[0]), SAMPLE_RATE, size.clip_seconds, size.n_samples)
    seed_warmup = time.perf_counter() - t0
    ours, seed, read, decode = [], [], [], []
    n_jobs = len(size.genres)  # one prepare job per genre
    t_job = time_command([sys.executable, "-m", "genrevae", "--help"], size.import_repeats)
    for _ in range(size.repeats):
        clean_workflow(wf)
        ours.append(run_snakemake(wf, *targets)[0])
        seed.append(report_baseline.report_data_loop(files, SAMPLE_RATE, size.clip_seconds, size.n_samples))
        read.append(floor_read(files))
        decode.append(floor_decode(files, size.n_samples))
    shard = np.load(wf / "results" / size.genres[0] / "data" / "clips.npy", mmap_mode="r")
    if shard.shape != (size.clips_per_genre, size.n_samples):
        raise RuntimeError(f"unexpected shard shape {shard.shape}")
    t_ours, t_seed, t_read, t_decode = map(_med, (ours, seed, read, decode))
    what = f"{n} files ({len(size.genres)} genres x {size.clips_per_genre}, {size.duration:g} s at 22,050 Hz)"
    ctx.add(Row("data.ours", f"ours: `snakemake --cores 2` prepare (index + shard, one pass) -> clips.npy, {what}",
                t_ours, n / t_ours, "files/s", _paired(seed, ours), "speed-up vs data.report"))
    ctx.add(Row("data.job_startup", f"of which job start-up: {n_jobs} jobs x `python -m genrevae --help` "
                f"({t_job:.2f} s each)", n_jobs * t_job, 100 * n_jobs * t_job / t_ours, "% of data.ours"))
    ctx.add(Row("data.report", f"seed: Python loop of `librosa.load(sr=3000, duration={size.clip_seconds:g})`, 1 thread "
                f"(first call {seed_warmup:.1f} s, not counted)", t_seed, n / t_seed, "files/s"))
    ctx.add(Row("data.floor_read", "floor: `soundfile.read` of each file, 2 threads, in-process",
                t_read, n / t_read, "files/s", _paired(ours, read), "headroom: floor speed / ours"))
    ctx.add(Row("data.floor_decode", "floor: decode + soxr to 3 kHz (`prepare.load_clip`), 2 threads, in-process",
                t_decode, n / t_decode, "files/s", _paired(ours, decode), "headroom: floor speed / ours"))
    ctx.info["data"] = {"ours_s": ours, "seed_s": seed, "read_s": read, "decode_s": decode, "job_startup_s": t_job}


# ---------------------------------------------------------------------------------------------
# 3. Workflow overhead
# ---------------------------------------------------------------------------------------------
def bench_dag(ctx: Context) -> None:
    """On the GTZAN-sized workdir left by bench_data (its data targets are built)."""
    size = ctx.size
    wf = ctx.workdir / "wf-gtzan"
    targets = [f"results/{g}/data/clips.npy" for g in size.genres]
    if not all((wf / t).is_file() for t in targets):
        write_workflow_config(wf, _gtzan_config(ctx, ctx.tree))
        run_snakemake(wf, *targets)
    n_files = len(list(ctx.tree.glob("*/*.wav")))
    dry, noop, start = [], [], []
    jobs = all_jobs = 0
    for _ in range(size.repeats):
        seconds, out = run_snakemake(wf, "-n")
        dry.append(seconds)
        jobs = job_total(out)
        seconds, out = run_snakemake(wf, *targets)
        if "Nothing to be done" not in out:
            raise RuntimeError(f"the re-run of the data targets was not a no-op:\n{out[-3000:]}")
        noop.append(seconds)
        start.append(time_command([sys.executable, "-m", "snakemake", "--version"], 1))
    _, out = run_snakemake(wf, "-n", "--forceall")
    all_jobs = job_total(out)
    t_dry, t_noop, t_start = map(_med, (dry, noop, start))
    ctx.add(Row("dag.dry_run", f"`snakemake -n`, all {len(size.genres)} genres, {n_files} WAVs, data built: "
                f"{jobs} jobs to run, {all_jobs} in the whole DAG", t_dry, all_jobs / t_dry, "DAG jobs/s",
                _paired(dry, start), "time / dag.startup"))
    ctx.add(Row("dag.noop", f"no-op re-run of the {len(targets)} clips.npy targets ({n_files} input WAVs checked)",
                t_noop, n_files / t_noop, "inputs/s", _paired(noop, start), "time / dag.startup"))
    ctx.add(Row("dag.startup", "floor: `python -m snakemake --version` (interpreter + snakemake import)",
                t_start, 1 / t_start, "runs/s"))
    ctx.info["dag"] = {"jobs_to_run": jobs, "dag_jobs": all_jobs, "dry_s": dry, "noop_s": noop, "startup_s": start}


# ---------------------------------------------------------------------------------------------
# 2. Training throughput
# ---------------------------------------------------------------------------------------------
def _train_inputs(ctx: Context, wf: Path, genre: str, workdir: Path) -> tuple[Path, Path, list[str]]:
    """Shard, a split (the last ~10 % of clips as test) and every clip's source path."""
    import pandas as pd

    shard = wf / "results" / genre / "data" / "clips.npy"
    tracks = pd.read_csv(wf / "results" / genre / "data" / "tracks.csv", keep_default_na=False)
    n = len(tracks)
    n_test = max(1, n // 10)
    split = pd.DataFrame(
        {"clip": tracks["clip"], "track": tracks["track"], "subset": ["train"] * (n - n_test) + ["test"] * n_test}
    )
    workdir.mkdir(parents=True, exist_ok=True)
    split_path = workdir / "split.csv"
    split.to_csv(split_path, index=False)
    return shard, split_path, list(tracks["path"])


def _settings(ctx: Context, preset: str, **train: Any) -> dict[str, Any]:
    """Training settings of the benchmarks: the defaults (MR-STFT term included) at the size's
    batch and window."""
    window = {} if ctx.size.window_samples is None else {"window_samples": ctx.size.window_samples}
    return {
        "seed": SEED,
        "sample_rate": SAMPLE_RATE,
        "model": {"preset": preset, "conv": dict(ctx.size.conv)},
        "train": {"batch_size": ctx.size.batch_size, **window, **train},
    }


#: One step's data: the clip rows and window offsets of `genrevae.train.window_batch`.
Batch = tuple[np.ndarray, np.ndarray]


class OursLoop:
    """The step loop of `genrevae.train.train_genre`, built from the module's own pieces
    (`read_shard`, `read_split` of `genrevae.artifacts`, `window_length`, `window_batch`, `read_windows`, `_make_steps`,
    `kl_weight_for_step`): per step, random windows read from the memory-mapped shard ->
    `tf.constant` -> compiled step with fixed signature (`training_loss`: per-sample ELBO + the
    MR-STFT term), `float(loss)` per step. Without the per-checkpoint test ELBO, prior samples,
    checkpoint and TensorBoard writes."""

    def __init__(self, shard: Path, split: Path, settings: dict[str, Any], xla: bool, share: "OursLoop | None" = None):
        import keras

        from genrevae import train as training
        from genrevae.artifacts.shard import read_shard
        from genrevae.artifacts.split import read_split
        from genrevae.config import sections
        from genrevae.model import build_model

        self.training = training
        s = sections(settings, training.SECTIONS)
        self.train_settings = tr = {**s["train"], "xla": bool(xla)}
        self.clips = read_shard(shard)
        self.train_idx = read_split(split, self.clips.shape[0]).train
        self.batch_size = int(tr["batch_size"])
        self.seed = int(s["seed"])
        self.window = training.window_length(tr, self.clips.shape[1], fixed_length=s["model"]["preset"] == "report")
        if share is not None:  # another compiled step over the same model and optimizer
            self.model, self.optimizer = share.model, share.optimizer
        else:
            keras.utils.set_random_seed(self.seed)
            self.model = build_model(s["model"], self.clips.shape[1])
            self.optimizer = keras.optimizers.Adam(
                learning_rate=float(tr["learning_rate"]), beta_1=float(tr["beta_1"]),
                beta_2=float(tr["beta_2"]), epsilon=float(tr["epsilon"]),
            )  # fmt: skip
            self.optimizer.build(self.model.trainable_variables)
        self.train_step, _ = training._make_steps(self.model, self.optimizer, tr)
        self.draws = 0
        self.step_count = 0

    def batches(self, steps: int, clips_subset: np.ndarray | None = None) -> list[Batch]:
        """`steps` steps of windows, drawn as `train_genre` draws them (fresh steps every call)."""
        idx = self.train_idx if clips_subset is None else clips_subset
        first, self.draws = self.draws, self.draws + int(steps)
        return [
            self.training.window_batch(self.seed, t, idx, self.batch_size, self.clips.shape[1], self.window)
            for t in range(first, first + int(steps))
        ]

    def block(self, batches: list[Batch], clips: np.ndarray | None = None) -> float:
        import tensorflow as tf

        data = self.clips if clips is None else clips
        t0 = time.perf_counter()
        for rows, offsets in batches:
            x = tf.constant(self.training.read_windows(data, rows, offsets, self.window))
            kl = tf.constant(self.training.kl_weight_for_step(self.step_count, self.train_settings), tf.float32)
            loss = float(self.train_step(x, tf.constant([self.seed, self.step_count], tf.int32), kl))
            self.step_count += 1
            if not math.isfinite(loss):
                raise RuntimeError(f"benchmark training loss became {loss}")
        return time.perf_counter() - t0


def bench_train(ctx: Context) -> None:
    import keras
    import pandas as pd

    from genrevae.backend import configure_threads
    from genrevae.train import train_genre

    configure_threads(THREADS)
    size = ctx.size
    wf = ctx.workdir / "wf-gtzan"
    if not (wf / "results" / TRAIN_GENRE / "data" / "tracks.csv").is_file():
        write_workflow_config(wf, _gtzan_config(ctx, ctx.tree))
        run_snakemake(wf, f"results/{TRAIN_GENRE}/data/clips.npy")
    shard, split, paths = _train_inputs(ctx, wf, TRAIN_GENRE, ctx.workdir / "train")
    bs = size.batch_size
    ctx.info["train"] = {}
    for preset in ("report", "conv"):
        steps = size.train_steps[preset]
        settings = _settings(ctx, preset)
        # Set-up and the first (tracing / compiling) step of each variant.
        variants: dict[str, Any] = {}
        setup: dict[str, float] = {}
        # One model for all three loops (speed does not depend on the weights' values).
        for name, xla in (("ours", False), ("ours_xla", True)):
            t0 = time.perf_counter()
            loop = OursLoop(shard, split, settings, xla, share=variants.get("ours"))
            loop.block(loop.batches(1))
            setup[name] = time.perf_counter() - t0
            variants[name] = loop
        warm = variants["ours"]
        window = warm.window
        t0 = time.perf_counter()
        report_loop = report_baseline.ReportTrainingLoop(warm.model, paths, size.n_samples, SAMPLE_RATE, size.clip_seconds, SEED)
        report_loop.block([rows for rows, _ in warm.batches(1)])
        setup["report_loop"] = time.perf_counter() - t0
        # One untimed step of each variant first: TensorFlow re-instantiates a compiled function
        # the first time it runs after another function was traced (seconds, once), which a
        # process training one model (train_genre) pays once per run, not per step.
        for name in ("ours", "ours_xla", "report_loop"):
            batches = warm.batches(1)
            if name == "report_loop":
                report_loop.block([rows for rows, _ in batches])
            else:
                variants[name].block(batches)
        # Interleaved timed blocks, the order rotating per repetition; within a repetition every
        # variant sees the same clips in the same order: ours a random window of each (as
        # train_genre), the report's loop the whole clip.
        names = ["ours", "ours_xla", "report_loop"]
        per_step: dict[str, list[float]] = {name: [] for name in names}
        for rep in range(size.train_repeats):
            batches = warm.batches(steps)
            for name in names[rep % 3:] + names[: rep % 3]:
                if name == "report_loop":
                    seconds = report_loop.block([rows for rows, _ in batches])
                else:
                    seconds = variants[name].block(batches)
                per_step[name].append(seconds / steps)
        best = {name: _med(v) for name, v in per_step.items()}
        # Throughput in seconds of audio trained on per second: ours trains on windows, the report on whole clips.
        audio = {"ours": bs * window / SAMPLE_RATE, "ours_xla": bs * window / SAMPLE_RATE,
                 "report_loop": bs * size.n_samples / SAMPLE_RATE}  # fmt: skip

        def speed_up(name: str) -> float:
            times = [audio[name] / t for t in per_step[name]], [audio["report_loop"] / t for t in per_step["report_loop"]]
            return _paired(*times)

        params = variants["ours"].model.count_params()
        count = f"{params / 1e6:.2f} M" if params >= 10_000 else f"{params:,}"
        label = f"{preset} preset{'' if preset == 'report' or not size.conv else ' (tiny width)'}, " \
                f"{count} params, batch {bs}, {THREADS} threads; time per step"
        ours_data = f"random {window}-sample windows" if window < size.n_samples else f"whole {window}-sample clips"
        ctx.add(Row(f"train.{preset}.ours", f"ours, XLA off (default): {ours_data} read from the mmap shard, compiled "
                    f"step, per-sample ELBO + MR-STFT loss; {label} (build + trace + first step {setup['ours']:.1f} s)",
                    best["ours"], audio["ours"] / best["ours"], "audio s/s", speed_up("ours"),
                    "audio throughput vs report loop"))
        ctx.add(Row(f"train.{preset}.ours_xla", f"ours, XLA on (`train.xla: true`), {ours_data}; {label} "
                    f"(trace + XLA compile + first step {setup['ours_xla']:.1f} s)",
                    best["ours_xla"], audio["ours_xla"] / best["ours_xla"], "audio s/s", speed_up("ours_xla"),
                    "audio throughput vs report loop"))
        ctx.add(Row(f"train.{preset}.report_loop", "report loop: whole clips (the same clips), librosa in tf.data via "
                    f"`py_func` every epoch, `np.asarray` per batch, `@tf.function` step, no XLA; {label}",
                    best["report_loop"], audio["report_loop"] / best["report_loop"], "audio s/s"))
        traces = report_loop.traces()
        del variants, report_loop, warm, loop
        keras.backend.clear_session()
        # The public entry point, start-up included: `steps` steps and one checkpoint.
        out_dir = ctx.workdir / "train" / f"train_genre-{preset}"
        shutil.rmtree(out_dir, ignore_errors=True)
        quiet = logging.getLogger("benchmarks.train_genre")
        quiet.setLevel(logging.WARNING)
        t0 = time.perf_counter()
        train_genre(shard, split, out_dir, _settings(ctx, preset, steps=steps, checkpoint_every=steps), THREADS, quiet)
        wall = time.perf_counter() - t0
        block_s = float(pd.read_csv(out_dir / "history.csv")["seconds"].iloc[0])
        rate = steps * audio["ours"] / wall
        ctx.add(Row(f"train.{preset}.train_genre", f"`train_genre`, {steps} steps and one checkpoint, all included: "
                    f"start-up + checkpoint + model save {wall - block_s:.1f} s, steps {block_s:.1f} s (trace, steps, "
                    "test ELBO, 16 prior samples); time per step", wall / steps, rate, "audio s/s",
                    rate / (audio["ours"] / best["ours"]), "rate / train.ours rate"))
        keras.backend.clear_session()
        ctx.info["train"][preset] = {"per_step_s": per_step, "setup_s": setup, "report_loop_traces": traces,
                                     "window_samples": window, "train_genre_wall_s": wall,
                                     "train_genre_block_s": block_s}


# ---------------------------------------------------------------------------------------------
# 5. Generation speed
# ---------------------------------------------------------------------------------------------
def bench_gen(ctx: Context) -> None:
    import keras
    import tensorflow as tf

    from genrevae.config import sections
    from genrevae.model import build_model
    from genrevae.backend import configure_threads
    from genrevae.train import SECTIONS

    configure_threads(THREADS)
    size = ctx.size
    audio_s = size.n_samples / SAMPLE_RATE
    for preset in ("report", "conv"):
        s = sections(_settings(ctx, preset), SECTIONS)
        keras.utils.set_random_seed(SEED)
        model = build_model(s["model"], size.n_samples)
        decode = tf.function(
            lambda z: model.waveform(model.decode(z, training=False)),
            input_signature=[tf.TensorSpec((None, *model.latent_shape), tf.float32)],
        )
        times: dict[str, list[float]] = {}
        for batch in (1, 16):
            counter = iter(range(10**9))
            eager = lambda b=batch: model.sample(b, seed=(SEED, next(counter)), batch_size=b)  # noqa: E731
            z = tf.random.stateless_normal((batch, *model.latent_shape), seed=(SEED, batch))
            compiled = lambda z=z: decode(z).numpy()  # noqa: E731
            eager()  # warm-up (and the trace of the compiled decode)
            compiled()
            for _ in range(size.repeats):
                times.setdefault(f"b{batch}", []).append(timed_calls(eager, size.gen_seconds))
                times.setdefault(f"b{batch}_compiled", []).append(timed_calls(compiled, size.gen_seconds))
        best = {key: _med(v) for key, v in times.items()}
        batch_of = {key: 16 if key.startswith("b16") else 1 for key in times}
        rtf = {key: batch_of[key] * audio_s / t for key, t in best.items()}
        for key, what, ref in (
            ("b1", "ours: `model.sample(1)` (eager decode, as export/quality use)", None),
            ("b16", "ours: `model.sample(16, batch_size=16)` (eager)", "b1"),
            ("b1_compiled", "reference: `tf.function` decode + waveform, batch 1", "b1"),
            ("b16_compiled", "reference: `tf.function` decode + waveform, batch 16", "b16"),
        ):
            ctx.add(Row(f"gen.{preset}.{key}", f"{preset}: {what}; {audio_s:.1f} s clips, time per call",
                        best[key], rtf[key], "x real time",
                        None if ref is None else _paired(times[ref], times[key]) * batch_of[key] / batch_of[ref],
                        "" if ref is None else f"RTF / gen.{preset}.{ref} RTF"))
        ctx.info.setdefault("gen", {})[preset] = times
        del model, decode
        keras.backend.clear_session()


# ---------------------------------------------------------------------------------------------
# 4. End to end
# ---------------------------------------------------------------------------------------------
def _tsv_seconds(path: Path) -> float:
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    return float(lines[1].split("\t")[header.index("s")])


def _logged_startups(logs: Path, rules: set[str]) -> list[float]:
    """The start-up times the jobs of `rules` logged (see `genrevae.cli.STARTUP_LOG_PATTERN`)."""
    from genrevae.cli import STARTUP_LOG_PATTERN

    found = []
    for rule in sorted(rules):
        for log in sorted((logs / rule).glob("*.log")):
            found += [float(m) for m in STARTUP_LOG_PATTERN.findall(log.read_text())]
    return found


#: The per-genre jobs after training and the prior: what `e2e.render_per_genre` adds up.
RENDER_RULES = ("evaluate", "figures", "quality", "export")


def bench_e2e(ctx: Context) -> None:
    size = ctx.size
    wf = ctx.workdir / "wf-toy"
    shutil.rmtree(wf, ignore_errors=True)
    wf.mkdir(parents=True)
    if size.e2e_config is None:
        shutil.copy(REPO / "config.yaml", wf / "config.yaml")
    else:
        write_workflow_config(wf, size.e2e_config)
    config = yaml.safe_load((wf / "config.yaml").read_text())
    toy = {"genres": ["classical", "disco", "jazz", "rock"], "clips_per_genre": 10, **(config.get("toy") or {})}
    toy_files = [f"data/toy/{g}/{g}.{i:05d}.wav" for g in toy["genres"] for i in range(toy["clips_per_genre"])]
    t_toy, _ = run_snakemake(wf, *toy_files)  # the toy dataset itself, before the clock starts
    clean_workflow(wf)
    wall, out = run_snakemake(wf)
    if not (wf / "results" / "index.html").is_file():
        raise RuntimeError("the end-to-end run did not write results/index.html")
    rules = executed_rules(out)
    tf_rules = tensorflow_rules()
    n_tf = sum(1 for r in rules if r in tf_rules)
    n_jobs = sum(1 for r in rules if r != "all")
    per_rule: dict[str, float] = {}
    for tsv in sorted((wf / "results" / "benchmarks").glob("*/*.tsv")):
        per_rule[tsv.parent.name] = per_rule.get(tsv.parent.name, 0.0) + _tsv_seconds(tsv)
    tf_job_s = sum(v for k, v in per_rule.items() if k in tf_rules)
    all_tsv_s = sum(per_rule.values())
    top = sorted(((v, k) for k, v in per_rule.items() if k in tf_rules), reverse=True)[:3]
    # Each TensorFlow job logs its own start-up (process start -> TensorFlow ready, genrevae.cli).
    startups = _logged_startups(wf / "results" / "logs", tf_rules)
    if len(startups) != n_tf:
        raise RuntimeError(f"found {len(startups)} 'start-up took' lines in the logs of {n_tf} TensorFlow jobs")
    startup = sum(startups)
    from genrevae.config import resolve_config

    resolved = resolve_config(config)
    steps, preset = resolved["train"]["steps"], resolved["model"]["preset"]
    what = (f"toy workflow, {'default' if size.e2e_config is None else 'tiny'} config ({len(toy['genres'])} "
            f"genre(s) x {toy['clips_per_genre']} clips, {preset} preset, {steps} training steps + learned prior)")
    ctx.add(Row("e2e.wall", f"{what}: clean results/ -> results/index.html, `--cores 2`, {n_jobs} jobs "
                f"(toy WAVs made beforehand in {t_toy:.0f} s)", wall, 60 * n_jobs / wall, "jobs/min"))
    ctx.add(Row("e2e.tf_jobs", f"{n_tf} TensorFlow jobs ({', '.join(sorted(tf_rules))}): sum of their "
                f"Snakemake benchmark times (all benchmarked jobs: {all_tsv_s:.0f} s; jobs may overlap)", tf_job_s, 100 * tf_job_s / wall,
                "% of wall"))
    ctx.add(Row("e2e.tf_startup", f"TF start-up: process start -> TensorFlow ready, as each of the {n_tf} jobs logs it "
                f"({_med(startups):.2f} s median, {min(startups):.2f}-{max(startups):.2f} s)",
                startup, 100 * startup / tf_job_s, "% of TF job time"))
    ctx.add(Row("e2e.tf_work", "TF jobs' work: TF job time minus TF start-up (largest: "
                + ", ".join(f"{k} {v:.0f} s in {rules.count(k)} jobs" for v, k in top) + ")", tf_job_s - startup,
                100 * (tf_job_s - startup) / tf_job_s, "% of TF job time"))
    # The render half of one genre after its model and prior exist (issue: <= 30 s per toy genre).
    genres = len(toy["genres"])
    render = {rule: per_rule.get(rule, 0.0) / genres for rule in RENDER_RULES}
    render_startups = _logged_startups(wf / "results" / "logs", set(RENDER_RULES))
    ctx.add(Row("e2e.render_per_genre", "render half per genre, after training and prior: "
                + ", ".join(f"{rule} {render[rule]:.0f} s" for rule in RENDER_RULES)
                + f" (mean of {genres} genres; of which TF start-up {sum(render_startups) / genres:.0f} s)",
                sum(render.values()), 100 * sum(render.values()) / (tf_job_s / genres), "% of TF job time per genre"))
    ctx.info["e2e"] = {"jobs": n_jobs, "tf_jobs": n_tf, "startup_s": startups, "toy_data_s": t_toy,
                       "rules": {r: rules.count(r) for r in sorted(set(rules))}, "rule_seconds": per_rule}


# ---------------------------------------------------------------------------------------------
# 6. Scaling
# ---------------------------------------------------------------------------------------------
def bench_scale(ctx: Context) -> None:
    import keras

    from genrevae.artifacts.shard import read_shard
    from genrevae.artifacts.split import read_split
    from genrevae.backend import configure_threads

    configure_threads(THREADS)
    size = ctx.size
    factors = (1, 2, 4)
    data: dict[int, list[float]] = {k: [] for k in factors}
    wfs = {k: ctx.workdir / f"wf-scale-{k}x" for k in factors}
    for k in factors:
        write_workflow_config(wfs[k], _gtzan_config(ctx, ctx.scale_tree(k)))
        _warm_page_cache(sorted(ctx.scale_tree(k).glob("*/*.wav")))
    for _ in range(size.repeats):
        for k in factors:
            clean_workflow(wfs[k])
            data[k].append(run_snakemake(wfs[k], f"results/{SCALE_GENRE}/data/clips.npy")[0])
    t_data = {k: _med(v) for k, v in data.items()}
    fixed, per_file = _line([k * size.scale_base for k in factors], [t_data[k] for k in factors])
    for k in factors:
        n = k * size.scale_base
        fit = f"; line fit: {fixed:.1f} s fixed + {1000 * per_file:.1f} ms/file" if k == 4 else ""
        ctx.add(Row(f"scale.data.{k}x", f"data prep (prepare via snakemake), 1 genre x {n} clips{fit}",
                    t_data[k], n / t_data[k], "files/s", _paired(data[k], data[1]), "time / 1x time"))
    # Training steps (conv, steady state: the step is traced once, on the 1x shard). Training runs
    # in steps on random windows, so a step's cost should not grow with the clip count: the same
    # number of steps is timed on each shard (the old rows timed one epoch, which did).
    inputs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    loop = None
    for k in factors:
        shard, split, _ = _train_inputs(ctx, wfs[k], SCALE_GENRE, ctx.workdir / f"train-scale-{k}x")
        clips = read_shard(shard)
        inputs[k] = (clips, read_split(split, clips.shape[0]).train)
        if loop is None:
            loop = OursLoop(shard, split, _settings(ctx, "conv"), xla=False)
            loop.block(loop.batches(1))
        ctx.info.setdefault("scale", {})[f"train_clips_{k}x"] = int(len(inputs[k][1]))
    steps = size.train_steps["conv"]
    runs: dict[int, list[float]] = {k: [] for k in factors}
    # The order alternates between repetitions: a stretch of slow machine (this shared host at
    # times runs every step at half speed for tens of seconds) then hits different sizes.
    for rep in range(size.repeats):
        for k in factors if rep % 2 == 0 else factors[::-1]:
            clips, train_idx = inputs[k]
            runs[k].append(loop.block(loop.batches(steps, train_idx), clips) / steps)
    per_step = {k: _med(v) for k, v in runs.items()}
    for k in factors:
        n_train = ctx.info["scale"][f"train_clips_{k}x"]
        ctx.add(Row(f"scale.train.{k}x", f"{steps} training steps, conv{' (tiny)' if size.conv else ''}, XLA off, "
                    f"random {loop.window}-sample windows of {n_train} train clips, batch {size.batch_size}; time per step",
                    per_step[k], size.batch_size * loop.window / SAMPLE_RATE / per_step[k], "audio s/s",
                    _paired(runs[k], runs[1]), "time / 1x time"))
    ctx.info.setdefault("scale", {}).update({"data_s": data, "step_s": runs})
    del loop
    keras.backend.clear_session()


RUNNERS: dict[str, Callable[[Context], None]] = {
    "data": bench_data,
    "dag": bench_dag,
    "train": bench_train,
    "gen": bench_gen,
    "e2e": bench_e2e,
    "scale": bench_scale,
}

#: Every row id a complete run produces, in table order.
ROW_IDS: tuple[str, ...] = (
    "data.ours", "data.job_startup", "data.report", "data.floor_read", "data.floor_decode",
    *(f"train.{p}.{v}" for p in ("report", "conv") for v in ("ours", "ours_xla", "report_loop", "train_genre")),
    "dag.dry_run", "dag.noop", "dag.startup",
    "e2e.wall", "e2e.tf_jobs", "e2e.tf_startup", "e2e.tf_work", "e2e.render_per_genre",
    *(f"gen.{p}.{v}" for p in ("report", "conv") for v in ("b1", "b16", "b1_compiled", "b16_compiled")),
    *(f"scale.{s}.{k}x" for s in ("data", "train") for k in (1, 2, 4)),
)  # fmt: skip
