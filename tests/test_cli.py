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


def test_model_jobs_take_the_learned_prior() -> None:
    import pytest

    from genrevae.cli import build_parser, cmd_prior

    parser = build_parser()
    common = ["--model", "m.keras", "--shard", "s.npy", "--split", "split.csv", "--settings", "{}"]
    args = parser.parse_args(["prior", *common, "--out-dir", "out"])
    assert args.func is cmd_prior and str(args.out_dir) == "out" and not hasattr(args, "prior")
    # the prior is required where generated clips are made from it, optional where N(0, I) still works
    for command, extra in (("quality", ["--genre", "jazz", "--out", "q.json"]),):
        assert str(parser.parse_args([command, *common, *extra, "--prior", "p.keras"]).prior) == "p.keras"
        with pytest.raises(SystemExit):
            parser.parse_args([command, *common, *extra])
    # the figures read the genre folder's model, prior, history and epoch samples and write into it
    figures = ["figures", "--genre", "jazz", "--shard", "s.npy", "--split", "split.csv", "--settings", "{}"]
    assert str(parser.parse_args([*figures, "--genre-dir", "results/jazz"]).genre_dir) == "results/jazz"
    with pytest.raises(SystemExit):
        parser.parse_args(figures)
    for command, extra in (("evaluate", ["--out", "m.json"]), ("export", ["--out-dir", "g"])):
        assert parser.parse_args([command, *common, *extra]).prior is None
        assert str(parser.parse_args([command, *common, *extra, "--prior", "p.keras"]).prior) == "p.keras"


def test_fidelity_needs_one_prior_per_genre() -> None:
    from genrevae.cli import main

    # the lists are checked before TensorFlow starts: a ConfigError is exit status 1
    argv = ["fidelity", "--genre", "jazz", "rock", "--model", "a", "b", "--prior", "pa", "--shard", "x", "y",
            "--split", "s", "t", "--settings", "{}", "--out", "f.csv"]  # fmt: skip
    assert main(argv) == 1
