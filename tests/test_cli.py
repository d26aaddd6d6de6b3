"""The `genrevae` command's own plumbing (each subcommand's work is tested with its module)."""

from __future__ import annotations

import subprocess
import sys
import time

from conftest import REPO_ROOT


def test_start_up_clock_counts_from_the_process_start() -> None:
    # The child sleeps before importing genrevae: a clock started at import would miss that time.
    code = "import time; time.sleep(0.6); from genrevae.cli import seconds_since_process_start as s; print(s())"
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    wall = time.monotonic() - started
    reported = float(result.stdout)
    assert 0.6 <= reported <= wall + 0.05, (reported, wall)
