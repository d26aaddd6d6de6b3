"""Quality at equal steps per Keras backend: the same toy genre trained by the workflow under each
backend and several training seeds, so the backends' difference can be read against the seeds'.

    python benchmarks/backend_quality.py                        # jazz, TF and JAX, seeds 1 and 2, 600 steps
    python benchmarks/backend_quality.py --steps 3000 --seeds 1,2,3 --genre rock

Each (backend, seed) is one run of the real workflow (``snakemake --cores 2`` to
``results/<genre>/generation_quality.json`` and ``metrics.json``) in its own work directory with
``KERAS_BACKEND`` set; only the top-level ``seed`` (initial weights, windows, noise) changes
between seeds, the toy data and the split are the same.  The table gives the test ELBO and the
quality measures of each run, and per backend the mean; the spread between seeds of one backend
is the run-to-run noise the backends' difference is to be read against.
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
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
#: (column, where in generation_quality.json / metrics.json)
MEASURES = (
    ("test ELBO (bits/sample)", None),
    ("learned-prior Frechet ratio", ("ratio",)),
    ("N(0, I) Frechet ratio", ("controls", "gaussian_prior", "ratio")),
    ("reconstruction Frechet ratio", ("controls", "reconstructions", "ratio")),
    ("learned-prior note ratio", ("note_ratio",)),
)


def _get(report: dict[str, Any], path: tuple[str, ...]) -> float:
    value: Any = report
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, (int, float)) else math.nan


def run_one(workdir: Path, backend: str, seed: int, genre: str, steps: int, prior_steps: int, cores: int) -> dict[str, float]:
    workdir.mkdir(parents=True, exist_ok=True)
    config = {
        "genres": [genre],
        "seed": int(seed),
        "toy": {"genres": [genre]},
        "train": {"steps": int(steps), "checkpoint_every": max(1, int(steps) // 2)},
        "prior": {"steps": int(prior_steps)},
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    targets = [f"results/{genre}/generation_quality.json", f"results/{genre}/metrics.json"]
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(workdir / "config.yaml"), "--cores", str(cores), *targets]  # fmt: skip
    t0 = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": backend})
    if result.returncode != 0:
        raise RuntimeError(f"{backend} seed {seed} failed:\n{result.stderr[-4000:]}")
    quality = json.loads((workdir / targets[0]).read_text())
    metrics = json.loads((workdir / targets[1]).read_text())
    n_samples = json.loads((workdir / f"results/{genre}/model/config.json").read_text())["n_samples"]
    row = {"wall_s": time.perf_counter() - t0}
    for name, path in MEASURES:
        if path is None:
            row[name] = metrics["test"]["elbo_nats"] / (n_samples * math.log(2.0))
        else:
            row[name] = _get(quality, path)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="tensorflow,jax")
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--genre", default="jazz")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--prior-steps", type=int, default=500)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/genrevae-backend-quality"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    backends, seeds = args.backends.split(","), [int(s) for s in args.seeds.split(",")]
    rows = []
    for seed in seeds:  # seeds outermost: a slow hour hits both backends alike
        for backend in backends:
            row = run_one(args.workdir / f"{backend}-{seed}", backend, seed, args.genre, args.steps, args.prior_steps, args.cores)
            rows.append({"backend": backend, "seed": seed, **row})
            print(f"{backend} seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), file=sys.stderr, flush=True)
    names = [name for name, _ in MEASURES]
    print(f"# Quality at equal steps per backend: toy {args.genre}, {args.steps} training steps, {args.prior_steps} prior steps\n")
    print("| backend | seed | " + " | ".join(names) + " | wall (s) |")
    print("|---|---|" + "---|" * (len(names) + 1))
    for r in rows:
        print(f"| {r['backend']} | {r['seed']} | " + " | ".join(f"{r[n]:.3f}" for n in names) + f" | {r['wall_s']:.0f} |")
    for backend in backends:
        mine = [r for r in rows if r["backend"] == backend]
        means = [float(np.mean([r[n] for r in mine])) for n in names]
        spread = [float(np.ptp([r[n] for r in mine])) for n in names]
        print(f"| {backend} | mean (range) | " + " | ".join(f"{m:.3f} ({s:.3f})" for m, s in zip(means, spread)) + " | |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
