"""The workflow itself is clean: `snakemake --lint` finds nothing, snakefmt would change nothing."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO_ROOT


def test_snakemake_lint_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr


def test_snakefmt_is_clean() -> None:
    files = ["Snakefile", *sorted(str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "workflow/rules").glob("*.smk"))]
    result = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", *files], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
