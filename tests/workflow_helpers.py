"""Run the real snakemake CLI on the repository's Snakefile in a temporary working directory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import REPO_ROOT

# The whole toy workflow at tiny widths and sizes, so end-to-end runs fit in CI on 2 cores.
TINY = {
    "toy": {"genres": ["jazz", "rock"], "clips_per_genre": 4, "duration": 4.0},
    "clip_seconds": 3.0,
    "model": {"conv": {"width": 4, "max_width": 8, "dilations": [1, 3], "latent_channels": 4}},
    "train": {"steps": 4, "checkpoint_every": 2, "batch_size": 2, "window_samples": 2048, "tensorboard_audio": 1},
    "prior": {"hidden": 8, "steps": 20, "batch_size": 4, "segment_frames": 16},
    "evaluate": {"iw_samples": 4},
    "render": {"n_generated": 2, "n_reconstructions": 1, "n_interpolations": 1, "interpolation_steps": 3},
    "quality": {"fidelity_n_generated": 2, "cv_folds": 2},
    "resources": {"train_threads": 1},
}


def write_config(workdir: Path, **config: object) -> Path:
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    """`snakemake -s <repo>/Snakefile --directory <workdir> --configfile <workdir>/config.yaml ...`."""
    command = [
        sys.executable, "-m", "snakemake",
        "-s", str(REPO_ROOT / "Snakefile"),
        "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"),
        "--cores", "2",
        *args,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def planned_jobs(workdir: Path, *targets: str, extra: tuple[str, ...] = ()) -> set[tuple[str, str]]:
    """(rule, genre) pairs a dry run would execute; rule `all` and other genre-less jobs give ''."""
    result = snakemake(workdir, "--dry-run", *extra, *targets)
    text = result.stdout + result.stderr
    jobs: set[tuple[str, str]] = set()
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", text):
        match = re.match(r"(?:local)?rule (\w+):", block.strip())
        if not match:
            continue
        genre = re.search(r"wildcards: .*?genre=([^,\s]+)", block)
        jobs.add((match.group(1), genre.group(1) if genre else ""))
    return jobs
