"""The GPU check: how fast the GTZAN preset trains on this machine's accelerator, and at which batch.

    bash benchmarks/gpu_check.sh                     # on the GPU machine (installs carried wheels first)
    python benchmarks/gpu_check.py --clips 4 --batch-sizes 2,4 --train-seconds 5 --tiny   # a CPU smoke run

It needs no internet, no Snakemake and no GTZAN: it synthesises one toy genre shaped like GTZAN
(``--clips`` 30 s clips at 3 kHz, 80/20 train/test), then

1. times the training step of ``config/gtzan_gpu.yaml``'s model and train settings (the step
   ``genrevae.train`` compiles) at batch sizes 16 to 1024, until one runs out of memory:
   compile time, seconds per step, windows/s, seconds of audio per second, peak device memory;
2. trains that genre with ``genrevae.train.train_genre`` for ``--train-seconds`` (checkpoints,
   test ELBO and all) at the preset's batch size, and reports steps/s and the test ELBO curve.

It prints a markdown table and writes everything to ``--out`` (JSON).  The backend is Keras' choice
(``KERAS_BACKEND``; gpu_check.sh sets jax): JAX compiles every step with XLA; TensorFlow as
``train.xla`` says.  Use the numbers to size ``config/gtzan_gpu.yaml``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_step import device_description, settings_from, time_train_steps  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
GENRE = "jazz"
TOY_RATE = 22050


def _clip(args: tuple[int, int, float, int, int]) -> np.ndarray:
    index, seed, seconds, sample_rate, n_samples = args
    from genrevae.prepare import resample_clip
    from genrevae.toy import synthesize_clip

    audio = synthesize_clip(GENRE, index, seed, TOY_RATE, seconds)
    return resample_clip(audio[:, None], TOY_RATE, sample_rate, n_samples)[0]


def make_toy_genre(out_dir: Path, n_clips: int, settings: dict[str, Any], clip_seconds: float, workers: int) -> tuple[Path, Path]:
    """``clips.npy`` and ``split.csv`` of ``n_clips`` toy clips (the prepare stage's resampling),
    every fifth clip a test clip."""
    import pandas as pd

    from genrevae.artifacts.shard import write_shard
    from genrevae.artifacts.split import write_split

    rate = int(settings["sample_rate"])
    n_samples = int(round(rate * clip_seconds)) + 1
    jobs = [(i, int(settings["seed"]), clip_seconds, rate, n_samples) for i in range(n_clips)]
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        clips = np.stack(list(pool.map(_clip, jobs)))
    out_dir.mkdir(parents=True, exist_ok=True)
    shard, split = out_dir / "clips.npy", out_dir / "split.csv"
    write_shard(clips.astype(np.float32), shard)
    subset = ["test" if i % 5 == 4 else "train" for i in range(n_clips)]
    write_split(pd.DataFrame({"clip": range(n_clips), "track": [f"{GENRE}.{i:05d}.wav" for i in range(n_clips)], "subset": subset}), split)
    return shard, split


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "config" / "gtzan_gpu.yaml")
    parser.add_argument("--clips", type=int, default=100, help="toy clips of the one genre (GTZAN has 100)")
    parser.add_argument("--clip-seconds", type=float, default=30.0)
    parser.add_argument("--batch-sizes", default="16,32,64,128,256,512,1024")
    parser.add_argument("--steps", type=int, default=20, help="steps per timed block")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-seconds", type=float, default=180.0, help="wall-clock budget of the training run (0: skip it)")
    parser.add_argument("--checkpoint-every", type=int, default=500)
    parser.add_argument("--threads", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--tiny", action="store_true", help="tiny widths (a smoke run on a CPU)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/genrevae-gpu-check"))
    parser.add_argument("--out", type=Path, default=None, help="JSON with every number (default: <workdir>/gpu_check.json)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    log = logging.getLogger("gpu_check")

    from genrevae import backend

    backend.configure_threads(args.threads)
    command_line = {"model": {"conv": {"width": 4, "max_width": 8, "latent_channels": 4, "dilations": [1, 3]}}} if args.tiny else None
    settings = settings_from(args.config, command_line)
    started = time.perf_counter()
    shard, split = make_toy_genre(args.workdir / "data", args.clips, settings, args.clip_seconds, args.threads)
    clips = np.load(shard, mmap_mode="r")
    log.info("synthesised %d clips of %d samples in %.1f s", *clips.shape, time.perf_counter() - started)

    report: dict[str, Any] = {
        "versions": backend.versions(),
        "devices": device_description(),
        "xla": "jit (always)" if backend.name() == "jax" else f"train.xla={settings['train']['xla']}",
        "config": str(args.config),
        "model": settings["model"],
        "window_samples": settings["train"]["window_samples"],
        "clips": list(clips.shape),
    }
    batch_sizes = [int(v) for v in args.batch_sizes.split(",")]
    report["steps"] = time_train_steps(settings, np.asarray(clips), batch_sizes, args.steps, args.repeats)

    if args.train_seconds > 0:
        from genrevae.train import train_genre

        run = dict(settings, train=dict(settings["train"], max_seconds=float(args.train_seconds), checkpoint_every=int(args.checkpoint_every),
                                        steps=10**7, tensorboard_audio=0))  # fmt: skip
        out_dir = args.workdir / "model"
        t0 = time.perf_counter()
        train_genre(shard, split, out_dir, run, args.threads, log)
        wall = time.perf_counter() - t0
        config = json.loads((out_dir / "config.json").read_text())
        import pandas as pd

        history = pd.read_csv(out_dir / "history.csv")
        steps_done = int(config["steps_done"])
        report["training"] = {
            "wall_s": wall,
            "steps": steps_done,
            "steps_per_s": steps_done / float(history["seconds"].sum()),
            "batch_size": int(settings["train"]["batch_size"]),
            "test_elbo_bits_per_sample": [
                (int(r.step), r.test_elbo / (config["n_samples"] * math.log(2.0))) for r in history.itertuples()
            ],
        }  # fmt: skip

    out = args.out or args.workdir / "gpu_check.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str))
    print(f"# GPU check: {report['versions']}, devices {report['devices']}, XLA {report['xla']}")
    print(f"model: {args.config.name} conv width {settings['model']['conv']['width']}, window {settings['train']['window_samples']} samples, "
          f"{clips.shape[0]} clips of {clips.shape[1]} samples\n")  # fmt: skip
    print("| batch | compile (s) | step (s) | windows/s | audio s/s | peak device memory (GiB) |")
    print("|---|---|---|---|---|---|")
    for row in report["steps"]:
        if "error" in row:
            print(f"| {row['batch_size']} | {row['error']} | | | | |")
            continue
        memory = "n/a" if row["peak_device_bytes"] is None else f"{row['peak_device_bytes'] / 2**30:.2f}"
        print(f"| {row['batch_size']} | {row['compile_s']:.1f} | {row['step_s']:.4f} | {row['windows_per_s']:.0f} | {row['audio_s_per_s']:.0f} | {memory} |")
    if "training" in report:
        t = report["training"]
        curve = ", ".join(f"{step}: {bits:.3f}" for step, bits in t["test_elbo_bits_per_sample"])
        print(f"\ntraining: {t['steps']} steps of {t['batch_size']} in {t['wall_s']:.0f} s ({t['steps_per_s']:.1f} steps/s); "
              f"test ELBO (bits/sample) by step: {curve}")  # fmt: skip
    print(f"\nall numbers: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
