"""`--sdm conda`: the env files hold pyproject.toml's dependencies at its versions, and every job
finds the workflow's own package without the PYTHONPATH that Snakemake strips from conda jobs.

conda itself is not installed here (only PyPI is reachable), so the envs are not built; what can
be checked without it is checked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from conftest import REPO_ROOT
from workflow_helpers import TINY, write_config

#: PyPI name -> conda-forge name where they differ.
CONDA_NAMES = {"soundfile": "pysoundfile", "soxr": "soxr-python", "matplotlib": "matplotlib-base", "tensorflow": "tensorflow-cpu"}
#: What no job needs (the jobs run inside Snakemake, they do not import it).
NOT_IN_JOBS = {"snakemake"}
#: Only the model stages need these.
MODEL_ONLY = {"tensorflow", "tensorboard", "keras"}


def _requirement(text: str) -> tuple[str, str]:
    name, spec = re.match(r"\s*([A-Za-z0-9_.\-\[\]]+)\s*(.*)", text).groups()
    return name.split("[")[0].lower(), spec.replace(" ", "")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    return dict(_requirement(d) for d in project["dependencies"])


def _env(name: str) -> dict[str, str]:
    spec = yaml.safe_load((REPO_ROOT / "envs" / f"{name}.yaml").read_text())
    out = {}
    for item in spec["dependencies"]:
        for entry in item["pip"] if isinstance(item, dict) else [item]:
            package, version = _requirement(entry)
            if package not in ("python", "pip"):
                out[package] = version
    return out


def _expected(stage_packages: set[str]) -> dict[str, str]:
    return {CONDA_NAMES.get(k, k): v for k, v in _pyproject().items() if k in stage_packages}


def test_env_files_match_pyproject() -> None:
    dependencies = set(_pyproject()) - NOT_IN_JOBS
    assert _env("tensorflow") == _expected(dependencies)
    assert _env("audio") == _expected(dependencies - MODEL_ONLY)


def test_rules_use_only_the_two_envs() -> None:
    text = "\n".join(p.read_text() for p in (REPO_ROOT / "workflow" / "rules").glob("*.smk"))
    assert set(re.findall(r'conda:\s*\n\s*"([^"]+)"', text)) == {"../../envs/audio.yaml", "../../envs/tensorflow.yaml"}


def test_jobs_find_the_package_without_pythonpath(tmp_path: Path) -> None:
    """The command line of every job sets PYTHONPATH to the workflow's src/ itself, so a job whose
    environment lost PYTHONPATH (as conda jobs do) still runs this checkout's package."""
    config = write_config(tmp_path, **TINY)
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--directory", str(tmp_path),
         "--configfile", str(config), "--cores", "1", "-n", "-p", "results/jazz/data/split.csv"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    commands = [line.split("Shell command: ", 1)[1] for line in result.stdout.splitlines() if "Shell command: " in line]
    assert len(commands) == 4  # toy, index, shard, split
    prefix = f"PYTHONPATH={REPO_ROOT / 'src'}${{PYTHONPATH:+:$PYTHONPATH}} python -m genrevae "
    assert all(c.startswith(prefix) for c in commands), commands
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    probe = prefix.replace(" -m genrevae ", " -c 'import genrevae; print(genrevae.__file__)'")
    out = subprocess.run(["bash", "-c", f"set -u; {probe}"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(REPO_ROOT / "src" / "genrevae" / "__init__.py")
