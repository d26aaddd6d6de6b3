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
    """Every job's shell sets PYTHONPATH to the workflow's src/ itself (shell.prefix), so a job
    whose environment lost PYTHONPATH, as conda jobs do, runs this checkout's package -- here a
    copy of it, which must win over the installed one."""
    import shutil

    from genrevae.workflow_support import job_shell_prefix

    assert "shell.prefix(job_shell_prefix(SRC_DIR))" in (REPO_ROOT / "workflow" / "rules" / "common.smk").read_text()
    copy = tmp_path / "checkout" / "src"
    shutil.copytree(REPO_ROOT / "src" / "genrevae", copy / "genrevae", ignore=shutil.ignore_patterns("__pycache__"))
    prefix = job_shell_prefix(copy).replace("{{", "{").replace("}}", "}")  # as Snakemake formats it
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    command = prefix + "python -c 'import genrevae; print(genrevae.__file__)'"
    out = subprocess.run(["bash", "-c", command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(copy / "genrevae" / "__init__.py")
    # and with a PYTHONPATH already set, the workflow's copy still comes first
    env["PYTHONPATH"] = str(REPO_ROOT / "src")
    out = subprocess.run(["bash", "-c", command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == str(copy / "genrevae" / "__init__.py")


def test_the_judges_weights_are_installed_the_same_way_everywhere() -> None:
    """musicnn cannot be a dependency (it declares numpy < 1.17): the README's set-up, CI and the
    conda env's post-deploy script each install it with the one command the judge names."""
    from genrevae.judge.weights import INSTALL_COMMAND

    readme = (REPO_ROOT / "README.md").read_text()
    quickstart = readme[readme.index("## Quickstart") : readme.index("## Configuration")]
    assert ".venv/bin/" + INSTALL_COMMAND in quickstart
    assert INSTALL_COMMAND.replace("pip install", "pip install --quiet") in (REPO_ROOT / ".ci" / "run").read_text()
    post_deploy = REPO_ROOT / "envs" / "tensorflow.post-deploy.sh"
    assert os.access(post_deploy, os.X_OK) and "python -m " + INSTALL_COMMAND in post_deploy.read_text()


def test_snakemake_itself_only_picks_the_interpreter(monkeypatch) -> None:
    """The one way jobs find the package is their shell's PYTHONPATH (above); what the
    Snakefile does to Snakemake's own environment is choose the jobs' Python, nothing else."""
    from genrevae.workflow_support import prefer_snakemakes_python

    monkeypatch.setenv("PATH", "/usr/bin")
    monkeypatch.delenv("PYTHONPATH", raising=False)
    prefer_snakemakes_python()
    assert os.environ["PATH"] == os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin"])
    assert "PYTHONPATH" not in os.environ
    common = (REPO_ROOT / "workflow" / "rules" / "common.smk").read_text()
    assert "os.environ" not in common and common.count("sys.path") == 1
