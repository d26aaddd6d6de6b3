#!/usr/bin/env python
"""Quality per compute: the old default model (b5dd85e), the new default and variants of it, side by side.

    python benchmarks/quality_per_compute.py                        # jazz + rock, budgets 1, 2, 5 min
    python benchmarks/quality_per_compute.py --budgets 1,2,5,10     # ... and 10 min
    python benchmarks/quality_per_compute.py --models amplitude,istft   # the decoder heads at equal training time
    python benchmarks/quality_per_compute.py --size tiny --out /tmp/qpc   # smoke run, about a minute
    python benchmarks/quality_per_compute.py --models new,kl0.1-stft30 --steps 1000 --genres jazz   # objectives at equal steps

For each genre (toy data written by `genrevae.toy.write_toy_genre` with the current default toy
settings, then indexed, sharded and split with the package's own functions) both models train
ONE trajectory each on the same shard: train to the first budget of training seconds, copy
model.keras (a snapshot), extend the same run to the next budget, and so on. The training seconds
are the trainers' own (the sum of history.csv `seconds`: steps, test ELBO and prior draws,
checkpoint writes and start-up excluded), read back after every call, never guessed.

- old: `git archive <--old-commit>` into the scratch dir, run with PYTHONPATH=<scratch>/old/src
  (its own classes, its own schema defaults); epochs unbounded and extended with its
  `train.max_seconds` = the budget (it stops at the first epoch end past the budget).
- new: the working tree's package, schema defaults (`genrevae.config.resolve_config`); extended by
  raising `train.steps`, the step count planned from the measured cost (seconds = a + b * steps
  per call, fitted on a throwaway probe run and on the calls so far).
- a variant (`VARIANTS`): the working tree's package like new, with its settings laid over the
  defaults; its own probe run. The decoder heads (`amplitude`, `istft`: `model.conv.head`) and the
  training objectives `kl<B>-stft<W>` (`train.kl_beta` B in 1, 0.3, 0.1 and `train.stft_weight` W in
  1, 10, 30; issue 20's sweep).

`--steps` gives the budgets in gradient steps instead of minutes (step-trained models only, no
probe): the objectives' steps cost the same (the loss computes the same terms whatever their
weights), so equal steps is equal compute, and it stays so when other processes load the machine.

At each snapshot, on the genre's test clips: the test ELBO of the history row (single sample,
bits per sample), reconstructions from the posterior mean (MR-STFT distance with the default
sizes, and Frechet-MFCC ratio), clips generated from N(0, I) (both models) and from the learned
prior fitted by `fit_prior_files` with the default prior settings (new model; its fit time is
reported separately, not added to the training seconds). Frechet ratio = Frechet distance of
frame-level MFCCs to the test clips / the same for the real train clips (1 = as close as real
music of the genre; `genrevae.quality.generation_quality`). Every measure is computed by the
current package for both models, from the waveforms each model's own package decoded.

Each model runs in its own long-lived worker process (this script with `--worker`), so
TensorFlow starts once per model. The two models alternate (old first at odd budgets, new first at
even ones). Writes quality_per_compute.{md,json,png} into --out; prints the table; deletes the
scratch dir at the end unless --keep. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import io
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tarfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
THIS = Path(__file__).resolve()
sys.path.insert(0, str(HERE))
from run import json_default, machine_lines, results_page  # noqa: E402 - the suite's shared helpers
REPO = HERE.parent
OLD_COMMIT = "b5dd85e"
#: Every model the script knows, in table order: the old commit, the new default, then variants of
#: the new default (the working tree's package with these settings laid over the size's config).
VARIANTS: dict[str, dict[str, Any]] = {
    **{head: {"model": {"conv": {"head": head}}} for head in ("amplitude", "istft")},
    **{f"kl{beta:g}-stft{weight:g}": {"train": {"kl_beta": beta, "stft_weight": weight}}
       for beta in (1.0, 0.3, 0.1) for weight in (1.0, 10.0, 30.0)},
}  # fmt: skip
MODELS = ("old", "new", *VARIANTS)
DEFAULT_MODELS = ("old", "new")
#: The worker that computes every measure (the current package with the default settings).
MEASURER = "new"
THREADS = 2
#: Epoch limit of the old trainer: unbounded in practice, `train.max_seconds` stops it.
OLD_EPOCHS = 10**6
#: A new-model call that ends below (1 - TOLERANCE) x the budget gets a top-up call (at most MAX_TOPUPS).
TOLERANCE = 0.1
MAX_TOPUPS = 2
#: Folders a run creates under its scratch dir (deleted at the start and, unless --keep, at the end).
OWN_FOLDERS = ("old", "toy", "data", "logs", *(f"probe-{kind}" for kind in MODELS if kind != "old"), "runs", "snapshots",
               "clips", "priors")  # fmt: skip
COLUMNS = ("genre", "model", "budget", "train s", "steps/epochs", "test ELBO (bits/sample)", "recon MR-STFT",
           "recon Frechet ratio", "generated Frechet ratio, N(0, I)", "generated Frechet ratio, learned prior",
           "prior fit s", "segment ratio: recon / learned prior", "note ratio: recon / learned prior")  # fmt: skip

log = logging.getLogger("benchmarks.quality_per_compute")


# ---------------------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Size:
    name: str
    genres: tuple[str, ...]
    budgets_min: tuple[float, ...]
    config: dict[str, Any]  # overrides of the current config (toy data, clip length, model, train, prior)
    old_config: dict[str, Any]  # overrides of the old commit's config (its schema)
    probe_steps: int  # the new trainer's cost probe: p steps, then 2p more, on a throwaway run


#: Tiny widths and sizes for both models: the smoke test's run takes about a minute.
TINY_NEW = {
    "toy": {"clips_per_genre": 3, "duration": 4.0},
    "clip_seconds": 3.0,
    "model": {"conv": {"bands": 4, "width": 4, "max_width": 8, "strides": [8], "kernel_size": 5, "dilations": [1],
                       "latent_channels": 2}},
    "train": {"window_samples": 512, "batch_size": 2, "checkpoint_every": 20, "kl_warmup_steps": 10,
              "stft_sizes": [64, 128], "tensorboard_audio": 0},
    "prior": {"hidden": 8, "mixtures": 2, "steps": 20, "batch_size": 4, "segment_frames": 16, "var_order": 1},
}  # fmt: skip
TINY_OLD = {
    "model": {"conv": {"width": 4, "max_width": 8, "latent_channels": 4, "strides": [4, 4], "res_blocks": 0}},
    "train": {"batch_size": 2},
}

SIZES = {
    "full": Size("full", ("jazz", "rock"), (1.0, 2.0, 5.0), {}, {}, probe_steps=50),
    "tiny": Size("tiny", ("jazz",), (0.05, 0.1), TINY_NEW, TINY_OLD, probe_steps=5),
}


def _strict(value: Any) -> Any:
    """`value` with every NaN or infinity replaced by None (strict JSON)."""
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


# ---------------------------------------------------------------------------------------------
# Worker: one process per model, running that model's package (PYTHONPATH), JSON lines on stdin/stdout
# ---------------------------------------------------------------------------------------------
def worker_main(kind: str, threads: int, overrides: dict[str, Any]) -> int:
    """Serve requests (one JSON object per line on stdin, one reply per line on stdout) with the
    `genrevae` package on PYTHONPATH: the old commit's for kind "old", the working tree's for the others."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else written to stdout (TensorFlow, Keras) goes to the log
    sys.stdout = sys.stderr
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=f"%(asctime)s {kind} %(name)s: %(message)s")
    wlog = logging.getLogger(f"quality_per_compute.{kind}")

    import genrevae
    from genrevae.config import resolve_config
    try:  # the package of this commit, or an older commit's (the `old` worker), whose module was genrevae.training
        from genrevae.backend import configure_threads
        from genrevae.train import train_genre
    except ImportError:
        try:
            from genrevae.train import configure_threads, train_genre
        except ImportError:
            from genrevae.training import configure_threads, train_genre

    configure_threads(threads)
    import keras
    import pandas as pd

    config = resolve_config(copy.deepcopy(overrides))
    settings = {key: copy.deepcopy(config[key]) for key in ("seed", "sample_rate", "model", "train")}
    wlog.info("worker %s: package %s, settings %s", kind, genrevae.__file__, json.dumps(settings))

    def subsets(shard: str, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Read here, not with the package's reader: this worker runs the old commit's package too,
        # whose readers live elsewhere. The shard and split formats are the same in both.
        clips = np.load(Path(shard), mmap_mode="r")
        table = pd.read_csv(split, keep_default_na=False)
        rows = {name: np.sort(table.loc[table["subset"] == name, "clip"].to_numpy()) for name in ("train", "test")}
        return clips, rows["train"], rows["test"]

    def test_clips(shard: str, split: str) -> np.ndarray:
        clips, _, test_idx = subsets(shard, split)
        return np.asarray(clips[test_idx], dtype=np.float32)

    def op_settings() -> dict[str, Any]:
        return {"settings": settings, "package": genrevae.__file__}

    def op_train(shard: str, split: str, out_dir: str, steps: int | None = None, max_seconds: float | None = None) -> dict[str, Any]:
        s = copy.deepcopy(settings)
        if kind != "old":
            s["train"]["steps"] = int(steps)
        else:
            s["train"]["epochs"] = OLD_EPOCHS
            s["train"]["max_seconds"] = float(max_seconds)
        t0 = time.perf_counter()
        train_genre(Path(shard), Path(split), Path(out_dir), s, threads, wlog)
        wall = time.perf_counter() - t0
        history = pd.read_csv(Path(out_dir) / "history.csv").to_dict("records")
        info = json.loads((Path(out_dir) / "config.json").read_text())
        keras.backend.clear_session()
        return {"history": history, "parameters": info["parameters"], "n_train": info["n_train"],
                "n_samples": info["n_samples"], "wall_s": wall}  # fmt: skip

    def op_clips(model: str, shard: str, split: str, out: str, n_generated: int, seed: int, batch_size: int,
                 prior: dict | None = None, prior_dir: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Decode the test reconstructions and the generated clips of one snapshot into `out` (npz)."""
        test = test_clips(shard, split)
        t0 = time.perf_counter()
        reply: dict[str, Any] = {}
        if kind != "old":
            from genrevae.generation import decode_latents, generate_clips, posterior_means
            from genrevae.model import load_model

            vae = load_model(Path(model))
            arrays = {
                "recon": decode_latents(vae, posterior_means(vae, test, batch_size), batch_size, length=test.shape[1]),
                "gaussian": generate_clips(vae, None, n_generated, seed, "gaussian", batch_size=batch_size),
            }
            if prior is not None:
                from genrevae.prior import fit_prior_files, load_prior

                fit = fit_prior_files(Path(model), Path(shard), Path(split), Path(prior_dir), {"seed": seed, "prior": prior}, wlog)
                learned = load_prior(Path(prior_dir) / "prior.keras")
                arrays["learned"] = generate_clips(vae, learned, n_generated, seed, "learned", float(prior["temperature"]),
                                                   batch_size=batch_size)  # fmt: skip
                reply.update(prior_fit_s=fit["fit_seconds"], prior_steps=fit["history"][-1]["step"],
                             prior_test_nll_per_frame={k: v["nll_per_frame"] for k, v in fit["report"]["test"].items()
                                                       if isinstance(v, dict) and "nll_per_frame" in v})  # fmt: skip
        else:
            from genrevae.export import decode_latents, load_model, posterior_means
            from genrevae.quality import generate_clips

            vae = load_model(Path(model))
            arrays = {
                "recon": decode_latents(vae, posterior_means(vae, test, batch_size), batch_size),
                "gaussian": generate_clips(vae, n_generated, seed, batch_size),
            }
        np.savez(out, **{k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()})
        keras.backend.clear_session()
        reply["decode_and_prior_s"] = time.perf_counter() - t0
        return reply

    def op_measure(clips: str, shard: str, split: str, sample_rate: int, seed: int, features: dict) -> dict[str, Any]:
        """Every measure of one snapshot, with the current package (new worker only)."""
        from genrevae.losses import multi_resolution_stft_distance
        from genrevae.quality import generation_quality, phase_randomised_control

        data, train_idx, test_idx = subsets(shard, split)
        train, test = np.asarray(data[train_idx]), np.asarray(data[test_idx])
        with np.load(clips) as f:
            arrays = {k: f[k] for k in f.files}
        controls = {"reconstructions": arrays["recon"], **phase_randomised_control(train, seed)}
        if "learned" in arrays:
            controls["learned_prior"] = arrays["learned"]
        q = generation_quality(arrays["gaussian"], train, test, sample_rate, features, controls)
        stft = np.asarray(multi_resolution_stft_distance(test, arrays["recon"]), dtype=np.float64)
        return {"recon_stft": float(stft.mean()), "recon_stft_per_clip": stft.tolist(), "quality": q}

    handlers = {"settings": op_settings, "train": op_train, "clips": op_clips, "measure": op_measure}
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        op = request.pop("op")
        if op == "quit":
            break
        try:
            reply = {"ok": True, **handlers[op](**request)}
        except Exception:  # noqa: BLE001 - sent to the parent, which raises it
            reply = {"ok": False, "error": traceback.format_exc()}
            wlog.error("%s failed:\n%s", op, reply["error"])
        proto.write(json.dumps(reply, default=json_default) + "\n")
    return 0


class Worker:
    """The parent's handle on one worker process."""

    def __init__(self, kind: str, src: Path, threads: int, overrides: dict[str, Any], log_path: Path):
        self.kind, self.log_path = kind, log_path
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH", "")) if p)
        self._log = open(log_path, "w")
        command = [sys.executable, str(THIS), "--worker", kind, "--threads", str(threads),
                   "--overrides", json.dumps(overrides)]  # fmt: skip
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                     text=True, env=env, cwd=REPO)  # fmt: skip

    def _tail(self) -> str:
        try:
            return "".join(self.log_path.read_text().splitlines(keepends=True)[-40:])
        except OSError:
            return ""

    def call(self, op: str, **request: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps({"op": op, **request}, default=json_default) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            raise RuntimeError(f"the {self.kind} worker died during {op!r}; the end of {self.log_path}:\n{self._tail()}")
        reply = json.loads(line)
        if not reply.pop("ok"):
            raise RuntimeError(f"the {self.kind} worker failed in {op!r}:\n{reply['error']}")
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write('{"op": "quit"}\n')
                self.proc.stdin.close()
                self.proc.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# ---------------------------------------------------------------------------------------------
# Data and the old package
# ---------------------------------------------------------------------------------------------
def extract_old(commit: str, dest: Path) -> tuple[Path, str]:
    """`git archive <commit> src workflow/schemas` into dest (the working tree is not touched);
    returns the old package's source folder and the full commit hash."""
    full = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", f"{commit}^{{commit}}"],
                          check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    archive = subprocess.run(["git", "-C", str(REPO), "archive", full, "src", "workflow/schemas"],
                             check=True, capture_output=True).stdout  # fmt: skip
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest / "src", full


def prepare_genre(cfg: dict[str, Any], genre: str, workdir: Path, threads: int) -> dict[str, Any]:
    """Toy WAVs -> index -> shard -> split, with the package's own functions and the resolved config."""
    from genrevae.prepare import prepare_genre
    from genrevae.split import split_table, split_tracks
    from genrevae.files import write_csv, write_npy
    from genrevae.toy import write_toy_genre

    toy = cfg["toy"]
    t0 = time.perf_counter()
    files = write_toy_genre(workdir / "toy", genre, toy["clips_per_genre"], toy["seed"], toy["sample_rate"], toy["duration"])
    folder = workdir / "data" / genre
    index, shard, tracks = prepare_genre(
        files, genre, cfg["min_seconds"], cfg["sample_rate"], cfg["n_samples"], cfg["clip_offset_seconds"], threads
    )
    write_csv(index, folder / "index.csv")
    write_npy(shard, folder / "clips.npy")
    write_csv(tracks, folder / "tracks.csv")
    split = cfg["split"]
    kwargs: dict[str, Any] = {"seed": split["seed"], "genre": genre}
    if genre in split["lists"]:  # the same precedence as the workflow's split_arguments
        kwargs["lists"] = split["lists"][genre]
    elif split["test_count"] is not None:
        kwargs["test_count"] = split["test_count"]
    else:
        kwargs["test_fraction"] = split["test_fraction"]
    table = split_table(tracks, split_tracks(tracks["track"].tolist(), sha256=tracks["sha256"].astype(str).tolist(), **kwargs))
    write_csv(table, folder / "split.csv")
    counts = table["subset"].value_counts().to_dict()
    return {
        "shard": folder / "clips.npy",
        "split": folder / "split.csv",
        "n_train": int(counts.get("train", 0)),
        "n_test": int(counts.get("test", 0)),
        "n_samples": int(shard.shape[1]),
        "seconds": time.perf_counter() - t0,
    }


# ---------------------------------------------------------------------------------------------
# Trajectories
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Budget:
    """How far a trajectory is trained before a snapshot: training minutes, or gradient steps."""

    value: float
    unit: str  # "min" or "steps"

    @property
    def label(self) -> str:
        return f"{self.value:g} {self.unit}"

    @property
    def tag(self) -> str:
        return f"{self.value:g}{self.unit}"


@dataclass
class Trajectory:
    kind: str
    genre: str
    out_dir: Path
    rows: list[dict[str, Any]] = field(default_factory=list)  # history.csv after the latest call
    calls: list[dict[str, Any]] = field(default_factory=list)  # per call: units and seconds it added
    batch_size: int = 1
    parameters: int | None = None
    n_train: int | None = None
    last_snapshot: dict[str, Any] | None = None  # the row of the latest snapshot

    @property
    def seconds(self) -> float:
        return float(sum(r["seconds"] for r in self.rows))

    @property
    def units(self) -> int:
        """Steps (new) or epochs (old) done."""
        return int(self.rows[-1]["step" if self.kind != "old" else "epoch"]) if self.rows else 0


def train_call(worker: Worker, traj: Trajectory, data: dict[str, Any], target_s: float | None, **request: Any) -> None:
    before_s, before_u = traj.seconds, traj.units
    t0 = time.perf_counter()
    reply = worker.call("train", shard=data["shard"], split=data["split"], out_dir=traj.out_dir, **request)
    traj.rows, traj.parameters, traj.n_train = reply["history"], reply["parameters"], reply["n_train"]
    call = {"target_s": target_s, "units": traj.units - before_u, "seconds": traj.seconds - before_s,
            "wall_s": time.perf_counter() - t0, **request}  # fmt: skip
    traj.calls.append(call)
    log.info("%s %s: +%d %s in %.1f training s (%.1f s wall) -> %d, %.1f s (target %s s)", traj.kind, traj.genre,
             call["units"], "steps" if traj.kind != "old" else "epochs", call["seconds"], call["wall_s"], traj.units,
             traj.seconds, "-" if target_s is None else f"{target_s:.1f}")  # fmt: skip


def fit_cost(calls: list[dict[str, Any]]) -> tuple[float, float]:
    """Seconds of one new-trainer call = a + b * steps, least squares over the calls given
    (a: compiling the step in the fresh model, the extra test-ELBO row; b: per step)."""
    u = np.array([c["units"] for c in calls if c["units"] > 0], dtype=float)
    s = np.array([c["seconds"] for c in calls if c["units"] > 0], dtype=float)
    if len(set(u.tolist())) >= 2:
        b, a = np.polyfit(u, s, 1)
        if b > 0 and a >= 0:
            return float(a), float(b)
    return 0.0, float(s.sum() / u.sum())


def old_call_overhead(trajectories: list[Trajectory]) -> tuple[float, float] | None:
    """The old trainer's cost per call: the mean seconds of the first epoch of each call (it
    compiles the step) and the median of the other epochs; None without both kinds."""
    firsts, others = [], []
    for traj in trajectories:
        starts, done = set(), 0
        for call in traj.calls:
            starts.add(done + 1)
            done += call["units"]
        for row in traj.rows:
            (firsts if int(row["epoch"]) in starts else others).append(float(row["seconds"]))
    if not firsts or not others:
        return None
    return float(np.mean(firsts)), float(np.median(others))


def probe_new(worker: Worker, data: dict[str, Any], steps: int, out_dir: Path) -> dict[str, Any]:
    """A throwaway run of the new trainer with one model's settings (p steps, then extended by 2p)
    to measure its cost per call and per step before the first budget: the measured trajectories
    then need one call per budget."""
    probe = Trajectory(worker.kind, "probe", out_dir)
    train_call(worker, probe, data, None, steps=steps)
    train_call(worker, probe, data, None, steps=3 * steps)
    a, b = fit_cost(probe.calls)
    shutil.rmtree(out_dir, ignore_errors=True)
    log.info("%s trainer probe: %.2f s per call + %.3f s per step (%.1f steps/s)", worker.kind, a, b, 1 / b)
    return {"calls": probe.calls, "seconds_per_call": a, "seconds_per_step": b}


def advance(traj: Trajectory, budget: Budget, worker: Worker, data: dict[str, Any], probe_calls: list[dict[str, Any]]) -> None:
    """Extend `traj` to the budget: its training seconds, or its steps."""
    if budget.unit == "steps":
        if traj.units < budget.value:
            train_call(worker, traj, data, None, steps=int(budget.value))
        return
    target_s = 60.0 * budget.value
    if traj.kind == "old":
        if traj.seconds < target_s:  # the old trainer stops at the first epoch end past max_seconds
            train_call(worker, traj, data, target_s, max_seconds=target_s)
        return
    for _ in range(1 + MAX_TOPUPS):
        if traj.seconds >= (1 - TOLERANCE) * target_s:
            return
        a, b = fit_cost(probe_calls + traj.calls)
        add = max(1, round((target_s - traj.seconds - a) / b))
        train_call(worker, traj, data, target_s, steps=traj.units + add)
    if traj.seconds < (1 - TOLERANCE) * target_s:
        log.warning("%s %s: %.1f s after %d top-ups, short of %.1f s", traj.kind, traj.genre, traj.seconds, MAX_TOPUPS, target_s)


def snapshot(traj: Trajectory, budget: Budget, data: dict[str, Any], workers: dict[str, Worker], cfg: dict[str, Any],
             workdir: Path) -> dict[str, Any]:  # fmt: skip
    previous = traj.last_snapshot
    if previous is not None and previous["units"] == traj.units:  # the run already went past this budget too
        log.info("%s %s @ %s: no training since the previous snapshot; its measures are repeated", traj.kind,
                 traj.genre, budget.label)  # fmt: skip
        traj.last_snapshot = {**previous, "budget": budget.label, "budget_value": budget.value, "repeated": True}
        return traj.last_snapshot
    tag = f"{traj.kind}-{traj.genre}-{budget.tag}"
    model = workdir / "snapshots" / f"{tag}.keras"
    model.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(traj.out_dir / "model.keras", model)
    clips = workdir / "clips" / f"{tag}.npz"
    clips.parent.mkdir(parents=True, exist_ok=True)
    q = cfg["quality"]
    n_generated = int(q["n_generated"]) if q["n_generated"] is not None else data["n_train"]
    decoded = workers[traj.kind].call(
        "clips", model=model, shard=data["shard"], split=data["split"], out=clips, n_generated=n_generated,
        seed=cfg["seed"], batch_size=q["batch_size"], prior=cfg["prior"] if traj.kind != "old" else None,
        prior_dir=workdir / "priors" / tag,
    )  # fmt: skip
    measured = workers[MEASURER].call("measure", clips=clips, shard=data["shard"], split=data["split"],
                                   sample_rate=cfg["sample_rate"], seed=cfg["seed"], features=cfg["features"])  # fmt: skip
    quality = measured["quality"]
    last = traj.rows[-1]
    learned = quality["controls"].get("learned_prior")
    row = {
        "genre": traj.genre,
        "model": traj.kind,
        "budget": budget.label,
        "budget_value": budget.value,
        "train_s": traj.seconds,
        "units": traj.units,
        "unit": "steps" if traj.kind != "old" else "epochs",
        "steps": traj.units if traj.kind != "old" else traj.units * math.ceil(data["n_train"] / traj.batch_size),
        "calls": len(traj.calls),
        "elbo_nats": float(last["test_elbo"]),
        "elbo_bits": float(last["test_elbo"]) / (data["n_samples"] * math.log(2.0)),
        "recon_stft": measured["recon_stft"],
        "recon_ratio": quality["controls"]["reconstructions"]["ratio"],
        "gen_gaussian_ratio": quality["ratio"],
        "gen_learned_ratio": None if learned is None else learned["ratio"],
        "phase_randomised_ratio": quality["controls"]["phase_randomised"]["ratio"],
        "recon_segment_ratio": quality["controls"]["reconstructions"]["segment_ratio"],
        "learned_segment_ratio": None if learned is None else learned["segment_ratio"],
        "recon_note_ratio": quality["controls"]["reconstructions"]["note_ratio"],
        "learned_note_ratio": None if learned is None else learned["note_ratio"],
        "phase_randomised_note_ratio": quality["controls"]["phase_randomised"]["note_ratio"],
        "frechet_floor": quality["frechet_train_test"],
        "prior_fit_s": decoded.get("prior_fit_s"),
        "decoded": decoded,
        "recon_stft_per_clip": measured["recon_stft_per_clip"],
        "quality": quality,
        "repeated": False,
    }
    traj.last_snapshot = row
    log.info("%s %s @ %s: %.1f s, %d %s, ELBO %.4f bits/sample, recon MR-STFT %.3f, ratios recon %.3g, "
             "N(0,I) %.3g, learned %s", traj.kind, traj.genre, budget.label, row["train_s"], row["units"], row["unit"],
             row["elbo_bits"], row["recon_stft"], row["recon_ratio"], row["gen_gaussian_ratio"],
             "-" if learned is None else f"{learned['ratio']:.3g}")  # fmt: skip
    return row


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------
def markdown_table(rows: list[dict[str, Any]], fmt) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(["---"] * len(COLUMNS)) + "|"]
    def pair(a: float | None, b: float | None) -> str:
        return "" if a is None or b is None else f"{fmt(a)} / {fmt(b)}"

    for r in sorted(rows, key=lambda r: (r["genre"], r["budget_value"], MODELS.index(r["model"]))):
        unit = r["unit"] if r["units"] != 1 else r["unit"][:-1]
        cells = [r["genre"], r["model"], r["budget"], fmt(r["train_s"]), f"{r['units']} {unit}",
                 f"{r['elbo_bits']:.4f}", fmt(r["recon_stft"]), fmt(r["recon_ratio"]), fmt(r["gen_gaussian_ratio"]),
                 "" if r["gen_learned_ratio"] is None else fmt(r["gen_learned_ratio"]),
                 "" if r["prior_fit_s"] is None else fmt(r["prior_fit_s"]),
                 pair(r["recon_segment_ratio"], r["learned_segment_ratio"]),
                 pair(r["recon_note_ratio"], r["learned_note_ratio"])]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def control_lines(rows: list[dict[str, Any]], fmt) -> list[str]:
    out = []
    for genre in sorted({r["genre"] for r in rows}):
        first = next(r for r in rows if r["genre"] == genre)
        out.append(f"{genre}: Frechet floor (real train vs test clips) {fmt(first['frechet_floor'])}; phase-randomised "
                   f"train clips (stationary noise with the real spectrum) reach a ratio of "
                   f"{fmt(first['phase_randomised_ratio'])} (note ratio {fmt(first['phase_randomised_note_ratio'])}): "
                   "a generator beats noise only below it.")  # fmt: skip
    return out


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    palette = plt.get_cmap("tab20").colors
    colors = {kind: palette[i % len(palette)] for i, kind in enumerate(MODELS)}
    genres = sorted({r["genre"] for r in rows})
    markers = dict(zip(genres, "os^Dv<>p*h"))
    panels = (
        ("elbo_bits", "test ELBO (bits/sample, higher is better)", False),
        ("recon_stft", "test reconstructions: MR-STFT distance (lower is better)", False),
        ("recon_ratio", "test reconstructions: Frechet-MFCC ratio (1 = real clips)", True),
        ("gen_gaussian_ratio", "generated: Frechet-MFCC ratio (solid N(0, I), dashed learned prior)", True),
    )
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5), constrained_layout=True)
    for ax, (key, title, log_y) in zip(axes.ravel(), panels):
        for kind in MODELS:
            for genre in genres:
                pts = sorted((r for r in rows if r["model"] == kind and r["genre"] == genre), key=lambda r: r["train_s"])
                if not pts:
                    continue
                xs = [r["train_s"] for r in pts]
                ax.plot(xs, [r[key] for r in pts], color=colors[kind], marker=markers[genre], label=f"{kind} {genre}")
                if key == "gen_gaussian_ratio" and pts[0]["gen_learned_ratio"] is not None:
                    ax.plot(xs, [r["gen_learned_ratio"] for r in pts], color=colors[kind], marker=markers[genre],
                            linestyle="--", label=f"{kind} {genre}, learned prior")  # fmt: skip
        if key in ("recon_ratio", "gen_gaussian_ratio"):
            for genre in genres:
                value = next(r["phase_randomised_ratio"] for r in rows if r["genre"] == genre)
                if math.isfinite(value) and value > 0:
                    ax.axhline(value, color="gray", linestyle=":", linewidth=1)
                    ax.annotate(f"phase-randomised {genre}", (0.01, value), xycoords=("axes fraction", "data"),
                                fontsize=7, color="gray", va="bottom")  # fmt: skip
        values = [r[key] for r in rows if r[key] is not None and math.isfinite(r[key])]
        if log_y and values and min(values) > 0:
            ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("training seconds (history.csv)")
        ax.grid(True, alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    axes[1, 1].legend(fontsize=7)
    kinds = [k for k in MODELS if any(r["model"] == k for r in rows)]
    fig.suptitle(f"Quality per compute: {', '.join(kinds)}; one trajectory per model x genre")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def results_markdown(command: str, size: Size, mach: dict[str, Any], load: dict[str, float], table: str,
                     notes: list[str]) -> str:  # fmt: skip
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    others = load.get("others_share")
    load_line = (f"- Load: other processes used {100 * others:.0f}% of the {mach['cores']} cores during the run "
                 f"(we used {100 * load['own_share']:.0f}%); load average {load['load_avg_start']:.1f} at the start, "
                 f"{load['load_avg_end']:.1f} at the end." if others is not None else
                 f"- Load average {load['load_avg_start']:.1f} at the start, {load['load_avg_end']:.1f} at the end.")  # fmt: skip
    generated = f"Generated by `{command}` on {date} in {load['wall_s'] / 60:.1f} min (size `{size.name}`)."
    header = [*machine_lines(mach, ("librosa", "numpy")), load_line, ""]
    return results_page("Quality per compute", generated, "quality_per_compute.py", header, table, notes)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------
def remove_own_folders(workdir: Path) -> None:
    for name in OWN_FOLDERS:
        shutil.rmtree(workdir / name, ignore_errors=True)


def _budgets(text: str) -> tuple[float, ...]:
    values = tuple(sorted({float(v) for v in text.split(",") if v.strip()}))
    if not values or values[0] <= 0:
        raise argparse.ArgumentTypeError("budgets must be positive minutes, e.g. 1,2,5")
    return values


def _steps(text: str) -> tuple[int, ...]:
    try:
        values = tuple(sorted({int(v) for v in text.split(",") if v.strip()}))
    except ValueError:
        values = ()
    if not values or values[0] <= 0:
        raise argparse.ArgumentTypeError(f"--steps must be positive whole step counts, e.g. 500,1000; got {text!r}")
    return values


def _models(text: str) -> tuple[str, ...]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    unknown = sorted(set(names) - set(MODELS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"models must be some of {', '.join(MODELS)}, got {text!r}")
    return tuple(k for k in MODELS if k in names)


def model_overrides(kind: str, size: Size) -> dict[str, Any]:
    """The settings a model's worker lays over the schema's defaults (a variant's over the size's)."""
    from genrevae.config import _lay_over  # the schema resolver's own deep merge

    if kind == "old":
        return size.old_config
    return _lay_over(copy.deepcopy(size.config), VARIANTS.get(kind, {}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/quality_per_compute.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    budget_kind = parser.add_mutually_exclusive_group()
    budget_kind.add_argument("--budgets", type=_budgets, help="training budgets in minutes (default 1,2,5; tiny 0.05,0.1)")
    budget_kind.add_argument("--steps", type=_steps, help="training budgets in gradient steps instead (not for old)")
    parser.add_argument("--genres", help="comma-separated toy genres (default jazz,rock; tiny jazz)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "quality_per_compute",
                        help="folder for quality_per_compute.{md,json,png}")  # fmt: skip
    parser.add_argument("--workdir", type=Path, help="scratch folder (default /tmp/genrevae-qpc-<size>)")
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--old-commit", default=OLD_COMMIT, help="the old default model's commit")
    parser.add_argument("--models", type=_models, default=DEFAULT_MODELS,
                        help=f"comma-separated, of {', '.join(MODELS)} (default {','.join(DEFAULT_MODELS)})")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (runs, snapshots, clips)")
    parser.add_argument("--worker", choices=MODELS, help=argparse.SUPPRESS)
    parser.add_argument("--overrides", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker, args.threads, json.loads(args.overrides))

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("genrevae").setLevel(logging.WARNING)
    sys.path.insert(0, str(HERE))
    import run as suite  # machine description, load meter, number format

    from genrevae.config import resolve_config

    size = SIZES[args.size]
    genres = tuple(g.strip() for g in args.genres.split(",") if g.strip()) if args.genres else size.genres
    if args.steps:
        if "old" in args.models:
            parser.error("--steps: the old model trains in epochs; leave it out of --models or give --budgets")
        budgets = tuple(Budget(float(v), "steps") for v in args.steps)
    else:
        budgets = tuple(Budget(v, "min") for v in (args.budgets or size.budgets_min))
    cfg = resolve_config(copy.deepcopy(size.config))
    workdir = (args.workdir or Path(f"/tmp/genrevae-qpc-{size.name}")).resolve()
    out = args.out.resolve()
    command = "python benchmarks/quality_per_compute.py " + " ".join(argv if argv is not None else sys.argv[1:])
    mach, meter = suite.machine(), suite.LoadMeter()

    models = args.models
    workers: dict[str, Worker] = {}
    rows: list[dict[str, Any]] = []
    trajectories: dict[tuple[str, str], Trajectory] = {}
    info: dict[str, Any] = {}
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        remove_own_folders(workdir)
        sources = {kind: REPO / "src" for kind in (*models, MEASURER) if kind != "old"}
        if "old" in models:
            sources["old"], info["old_commit"] = extract_old(args.old_commit, workdir / "old")
        (workdir / "logs").mkdir()
        workers = {  # all start now: their imports overlap with the data preparation
            kind: Worker(kind, src, args.threads, model_overrides(kind, size), workdir / "logs" / f"worker-{kind}.log")
            for kind, src in sources.items()
        }
        data = {genre: prepare_genre(cfg, genre, workdir, args.threads) for genre in genres}
        for genre, d in data.items():
            log.info("data %s: %d train / %d test clips of %d samples (%.1f s)", genre, d["n_train"], d["n_test"],
                     d["n_samples"], d["seconds"])  # fmt: skip
        info["settings"] = {kind: w.call("settings") for kind, w in workers.items()}
        for kind in info["settings"]:
            if kind != "old":
                info["settings"][kind].update(prior=cfg["prior"], quality=cfg["quality"], features=cfg["features"],
                                              toy=cfg["toy"], split=cfg["split"])  # fmt: skip
        info["probe"] = {kind: probe_new(workers[kind], data[genres[0]], size.probe_steps, workdir / f"probe-{kind}")
                         for kind in models if kind != "old" and budgets[0].unit == "min"}  # fmt: skip
        for kind in models:
            for genre in genres:
                batch = info["settings"][kind]["settings"]["train"]["batch_size"]
                trajectories[(kind, genre)] = Trajectory(kind, genre, workdir / "runs" / f"{kind}-{genre}", batch_size=batch)
        for i, budget in enumerate(budgets):
            for genre in genres:
                for kind in models if i % 2 == 0 else models[::-1]:
                    traj = trajectories[(kind, genre)]
                    probe_calls = info["probe"].get(kind, {}).get("calls", [])
                    advance(traj, budget, workers[kind], data[genre], probe_calls)
                    rows.append(snapshot(traj, budget, data[genre], workers, cfg, workdir))
        info["data"] = {g: {k: v for k, v in d.items() if k not in ("shard", "split")} for g, d in data.items()}
    finally:
        for worker in workers.values():
            worker.close()
        if not args.keep:
            remove_own_folders(workdir)
            try:
                workdir.rmdir()
            except OSError:  # not empty: something else lives there
                pass
    load = meter.report()

    table = markdown_table(rows, suite.fmt)
    costs = {kind: fit_cost([c for t in trajectories.values() if t.kind == kind for c in t.calls]
                            + info["probe"].get(kind, {}).get("calls", []))
             for kind in models if kind != "old"}  # fmt: skip
    old_cost = old_call_overhead([t for t in trajectories.values() if t.kind == "old"])
    params = {t.kind: t.parameters for t in trajectories.values()}
    described = [f"old ({info['old_commit'][:7]})" if kind == "old" else
                 kind if kind == "new" else f"{kind} (new with {json.dumps(VARIANTS[kind])})" for kind in models]  # fmt: skip
    per_call = "; ".join(f"{kind} about {a:.1f} s more than its steps ({b * 1000:.0f} ms per step)" for kind, (a, b) in costs.items())
    notes = control_lines(rows, suite.fmt) + [
        "Models: " + ", ".join(f"{name} {params.get(kind) or 0:,} parameters" for name, kind in zip(described, models))
        + f"; {args.threads} threads each, one at a time.",
        f"Training seconds are the trainers' own (history.csv); each budget is one call that extends the run. Each call "
        f"of the step-based trainer costs {per_call or 'nothing measured'} (step compilation and one extra test-ELBO "
        "row), which an uninterrupted run would not spend"
        + ("." if old_cost is None else f"; the old trainer's first epoch in a call takes {old_cost[0]:.1f} s, its "
           f"other epochs {old_cost[1]:.1f} s (median)."),
        "ELBO: the single-sample test ELBO of the snapshot's history row. Frechet ratio: Frechet distance of "
        "frame-level MFCCs to the test clips / the real train clips' (1 = as close as real music). Segment and note "
        "ratios: the same over 3 s segments' structure and note statistics (`generation_quality.json`'s "
        "`segment_ratio`, `note_ratio`). Prior fit seconds are not part of the training seconds.",
    ]  # fmt: skip
    print("\n" + table + "\n")
    for line in notes:
        print("- " + line)
    out.mkdir(parents=True, exist_ok=True)
    (out / "quality_per_compute.md").write_text(results_markdown(command.strip(), size, mach, load, table, notes))
    payload = {
        "command": command.strip(),
        "size": size.name,
        "genres": list(genres),
        "budgets": [b.label for b in budgets],
        "threads": args.threads,
        "machine": mach,
        "load": load,
        **info,
        "rows": rows,
        "trajectories": {f"{t.kind}-{t.genre}": {"history": t.rows, "calls": t.calls, "parameters": t.parameters,
                                                 "n_train": t.n_train} for t in trajectories.values()},
    }  # fmt: skip
    (out / "quality_per_compute.json").write_text(json.dumps(_strict(payload), indent=1, default=json_default) + "\n")
    plot(rows, out / "quality_per_compute.png")
    print(f"\nwrote {out / 'quality_per_compute.md'}, quality_per_compute.json and quality_per_compute.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
