"""The training step per Keras backend: seconds per step, windows and audio per second, memory.

    python benchmarks/train_step.py                              # TensorFlow vs JAX, 2 threads, default model
    python benchmarks/train_step.py --backends jax --batch-sizes 16,64 --threads 2
    python benchmarks/train_step.py --config config/gtzan_gpu.yaml --backends jax   # a preset's model

Each backend runs in its own process (Keras picks its backend once per process), on the same
random windows of the same synthetic clips, with the step ``genrevae.train`` itself compiles
(``train._make_steps``: per-sample ELBO + MR-STFT term, Adam).  The first step of each batch size
is the compile and is reported apart; then ``--steps`` steps are timed in ``--repeats`` blocks and
the median block gives the time per step.  Backends alternate block by block so that load from
other work on a shared machine hits all of them alike.  A script, not a test: it prints a table
and never fails for being slow.  ``gpu_check.py`` uses :func:`time_train_steps` on a GPU.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]


def settings_from(config_file: Path | None, command_line: dict[str, Any] | None = None) -> dict[str, Any]:
    """The resolved ``seed``, ``sample_rate``, ``model`` and ``train`` sections of a config file
    (the schema's defaults when None), with ``command_line`` laid over it as ``--config`` would."""
    import yaml

    from genrevae.config import resolve_config

    given = yaml.safe_load(Path(config_file).read_text()) if config_file else {}
    config = resolve_config(given, command_line=command_line)
    return {key: config[key] for key in ("seed", "sample_rate", "model", "train")}


def synthetic_clips(n_clips: int, n_samples: int, seed: int = 0) -> np.ndarray:
    """Clips with the level and spectrum slope of music (speed does not depend on what they hold)."""
    rng = np.random.default_rng(seed)
    white = rng.normal(size=(n_clips, n_samples)).astype(np.float32)
    return (0.1 * np.cumsum(white, axis=1) / np.sqrt(np.arange(1, n_samples + 1, dtype=np.float32))).astype(np.float32)


def device_memory() -> int | None:
    """Peak bytes in use on the first accelerator so far (JAX and PyTorch), or None (CPU, TensorFlow)."""
    from genrevae import backend

    if backend.name() == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform != "cpu":
            return int((device.memory_stats() or {}).get("peak_bytes_in_use", 0)) or None
    if backend.name() == "torch":
        import torch

        if torch.cuda.is_available():
            return int(torch.cuda.max_memory_allocated())
    return None


def device_description() -> str:
    from genrevae import backend

    if backend.name() == "jax":
        import jax

        return ", ".join(f"{d.platform}:{getattr(d, 'device_kind', d)}" for d in jax.devices())
    if backend.name() == "torch":
        import torch

        return f"cuda:{torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "cpu"
    import keras

    return ", ".join(d for d in keras.distribution.list_devices()) or "cpu"


class StepTimer:
    """One compiled training step of the settings' model at one batch size, timed in blocks."""

    def __init__(self, settings: dict[str, Any], clips: np.ndarray, batch_size: int):
        import keras

        from genrevae import backend
        from genrevae import train as training
        from genrevae.model import build_model

        keras.utils.set_random_seed(int(settings["seed"]))
        self.settings, self.clips, self.batch_size = settings, clips, int(batch_size)
        tr = dict(settings["train"], batch_size=int(batch_size))
        self.model = build_model(settings["model"], clips.shape[1])
        self.window = training.window_length(tr, clips.shape[1], fixed_length=settings["model"]["preset"] == "report")
        optimizer = keras.optimizers.Adam(learning_rate=float(tr["learning_rate"]))
        optimizer.build(self.model.trainable_variables)
        self.train_step, _ = training._make_steps(self.model, optimizer, tr)
        self.tr, self.step_count = tr, 0
        self._training, self._backend = training, backend

    def block(self, steps: int) -> float:
        """Run ``steps`` steps (windows drawn as train_genre draws them); wall seconds, waited for."""
        training, backend = self._training, self._backend
        idx = np.arange(len(self.clips))
        t0 = time.perf_counter()
        loss = None
        for _ in range(int(steps)):
            rows, offsets = training.window_batch(0, self.step_count, idx, self.batch_size, self.clips.shape[1], self.window)
            x = training.read_windows(self.clips, rows, offsets, self.window)
            kl = np.array(training.kl_weight_for_step(self.step_count, self.tr), dtype=np.float32)
            loss = self.train_step(x, backend.seed_pair((0, self.step_count)), kl)
            self.step_count += 1
        value = float(backend.to_numpy(loss))  # waits for the device
        if not math.isfinite(value):
            raise RuntimeError(f"the training loss became {value} at batch size {self.batch_size}")
        return time.perf_counter() - t0


def time_train_steps(settings: dict[str, Any], clips: np.ndarray, batch_sizes: list[int], steps: int, repeats: int) -> list[dict[str, Any]]:
    """A row per batch size: compile seconds, median seconds per step, windows/s, audio s/s, peak
    device memory; a batch size that runs out of memory gets ``error`` and ends the sweep."""
    rate = int(settings["sample_rate"])
    rows = []
    for batch_size in batch_sizes:
        try:
            t0 = time.perf_counter()
            timer = StepTimer(settings, clips, batch_size)
            timer.block(1)
            compile_s = time.perf_counter() - t0
            blocks = [timer.block(steps) / steps for _ in range(repeats)]
        except Exception as err:  # out of memory is the expected way a sweep ends
            rows.append({"batch_size": batch_size, "error": f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"})
            break
        step_s = float(np.median(blocks))
        rows.append({
            "batch_size": batch_size,
            "window_samples": timer.window,
            "compile_s": compile_s,
            "step_s": step_s,
            "step_s_blocks": blocks,
            "windows_per_s": batch_size / step_s,
            "audio_s_per_s": batch_size * timer.window / rate / step_s,
            "peak_device_bytes": device_memory(),
        })  # fmt: skip
    return rows


def _worker(args: argparse.Namespace) -> None:
    """One backend, one process: prints one JSON line per timed block."""
    from genrevae import backend

    backend.configure_threads(args.threads)
    settings = settings_from(args.config)
    clips = synthetic_clips(args.clips, int(settings["sample_rate"] * args.clip_seconds) + 1)
    timers = {}
    for batch_size in args.batch_sizes:
        t0 = time.perf_counter()
        timers[batch_size] = StepTimer(settings, clips, batch_size)
        timers[batch_size].block(1)
        print(json.dumps({"event": "compiled", "batch_size": batch_size, "seconds": time.perf_counter() - t0}), flush=True)
    for line in sys.stdin:  # one block per request, so that backends alternate
        batch_size = int(line)
        seconds = timers[batch_size].block(args.steps)
        print(json.dumps({"event": "block", "batch_size": batch_size, "step_s": seconds / args.steps}), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="tensorflow,jax", help="comma-separated Keras backends (default: %(default)s)")
    parser.add_argument("--batch-sizes", default="16", help="comma-separated (default: %(default)s, the schema's batch size)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10, help="steps per timed block")
    parser.add_argument("--repeats", type=int, default=5, help="timed blocks per backend and batch size")
    parser.add_argument("--config", type=Path, default=None, help="a config file whose model and train sections to use (default: the schema's)")
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--clip-seconds", type=float, default=30.0)
    parser.add_argument("--json", type=Path, default=None, help="also write the raw numbers here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.batch_sizes = [int(v) for v in args.batch_sizes.split(",")]
    if args.worker:
        _worker(args)
        return 0
    backends = args.backends.split(",")
    workers = {}
    for name in backends:
        command = [sys.executable, __file__, "--worker", "--threads", str(args.threads), "--steps", str(args.steps),
                   "--batch-sizes", ",".join(map(str, args.batch_sizes)), "--clips", str(args.clips), "--clip-seconds", str(args.clip_seconds)]  # fmt: skip
        if args.config:
            command += ["--config", str(args.config)]
        env = {**os.environ, "KERAS_BACKEND": name, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": f"{REPO_ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        workers[name] = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    compiled: dict[tuple[str, int], float] = {}
    for name, proc in workers.items():  # compiles run one backend at a time: the second waits for the first
        for _ in args.batch_sizes:
            event = json.loads(proc.stdout.readline())
            compiled[(name, event["batch_size"])] = event["seconds"]
    blocks: dict[tuple[str, int], list[float]] = {key: [] for key in compiled}
    for rep in range(args.repeats):
        order = backends[rep % len(backends):] + backends[: rep % len(backends)]
        for batch_size in args.batch_sizes:
            for name in order:
                proc = workers[name]
                proc.stdin.write(f"{batch_size}\n")
                proc.stdin.flush()
                blocks[(name, batch_size)].append(json.loads(proc.stdout.readline())["step_s"])
    for proc in workers.values():
        proc.stdin.close()
        proc.wait()
    settings = settings_from(args.config)
    from genrevae.sizes import window_length

    n_samples = int(settings["sample_rate"] * args.clip_seconds) + 1  # the clips the workers train on
    window = window_length(settings["train"], n_samples, fixed_length=settings["model"]["preset"] == "report")
    print(f"# Training step per backend ({args.threads} thread(s), {args.steps} steps x {args.repeats} blocks, window {window} samples)\n")
    print("| backend | batch | compile (s) | step (s, median) | windows/s | audio s/s | vs " + backends[0] + " |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for batch_size in args.batch_sizes:
        base = float(np.median(blocks[(backends[0], batch_size)]))
        for name in backends:
            step = float(np.median(blocks[(name, batch_size)]))
            rate = batch_size / step
            rows.append({"backend": name, "batch_size": batch_size, "compile_s": compiled[(name, batch_size)], "step_s": step, "blocks": blocks[(name, batch_size)]})
            print(f"| {name} | {batch_size} | {compiled[(name, batch_size)]:.1f} | {step:.4f} | {rate:.1f} | "
                  f"{rate * window / int(settings['sample_rate']):.1f} | {step / base:.2f}x |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
