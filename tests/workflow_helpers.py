"""Run the real snakemake CLI on the repository's Snakefile in a temporary working directory."""

from __future__ import annotations

import os
import re
import shutil
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


#: What a copy of the workflow needs: the Snakefile and everything it includes, reads or runs.
WORKFLOW_PARTS = ("Snakefile", "workflow", "src", "envs", "profiles")


def copy_workflow(dest: Path) -> Path:
    """A copy of the workflow (:data:`WORKFLOW_PARTS`) in ``dest``, for tests that edit its code:
    they edit the copy, never the source tree.  Returns the copy's Snakefile."""
    for part in WORKFLOW_PARTS:
        source = REPO_ROOT / part
        if source.is_dir():
            shutil.copytree(source, dest / part, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, dest / part)
    return dest / "Snakefile"


def snakemake(
    workdir: Path,
    *args: str,
    check: bool = True,
    timeout: float = 900,
    snakefile: Path = REPO_ROOT / "Snakefile",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """`snakemake -s <snakefile> --directory <workdir> --configfile <workdir>/config.yaml ...`
    (the repository's Snakefile unless another is given, e.g. a :func:`copy_workflow`), with
    ``env`` added to this process's environment (e.g. ``{"KERAS_BACKEND": "jax"}``)."""
    command = [
        sys.executable, "-m", "snakemake",
        "-s", str(snakefile),
        "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"),
        "--cores", "2",
        *args,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def planned_jobs(
    workdir: Path, *targets: str, extra: tuple[str, ...] = (), snakefile: Path = REPO_ROOT / "Snakefile"
) -> set[tuple[str, str]]:
    """(rule, genre) pairs a dry run would execute; rule `all` and other genre-less jobs give ''."""
    result = snakemake(workdir, "--dry-run", *extra, *targets, snakefile=snakefile)
    text = result.stdout + result.stderr
    jobs: set[tuple[str, str]] = set()
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", text):
        match = re.match(r"(?:local)?rule (\w+):", block.strip())
        if not match:
            continue
        genre = re.search(r"wildcards: .*?genre=([^,\s]+)", block)
        jobs.add((match.group(1), genre.group(1) if genre else ""))
    return jobs
