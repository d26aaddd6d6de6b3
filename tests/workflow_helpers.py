"""Run the real snakemake CLI on the repository's Snakefile in a temporary working directory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import REPO_ROOT

# The whole toy workflow at tiny widths and sizes, so end-to-end runs fit in CI on 2 cores; the
# same file is the README's smoke test.
TINY_CONFIG = REPO_ROOT / "tests" / "config" / "tiny.yaml"
TINY = yaml.safe_load(TINY_CONFIG.read_text())


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
