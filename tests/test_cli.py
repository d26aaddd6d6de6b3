"""The `genrevae` command's own plumbing (each subcommand's work is tested with its module)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO_ROOT


def test_start_up_clock_counts_from_the_process_start() -> None:
    # The child sleeps before importing genrevae: a clock started at import would miss that time.
    code = "import time; time.sleep(0.6); from genrevae.cli import seconds_since_process_start as s; print(s())"
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    wall = time.monotonic() - started
    reported = float(result.stdout)
    assert 0.6 <= reported <= wall + 0.05, (reported, wall)


def test_model_jobs_take_the_genre_folder() -> None:
    import pytest

    from genrevae.cli import build_parser, cmd_prior

    parser = build_parser()
    common = ["--genre-dir", "results/jazz", "--shard", "s.npy", "--split", "split.csv", "--settings", "{}"]
    args = parser.parse_args(["prior", *common, "--out-dir", "out"])
    assert args.func is cmd_prior and str(args.genre_dir) == "results/jazz" and str(args.out_dir) == "out"
    # without --out/--out-dir a stage writes its own file of the genre folder
    assert parser.parse_args(["prior", *common]).out_dir is None
    for command, extra in (
        ("evaluate", []), ("quality", ["--genre", "jazz"]), ("judge", ["--genre", "jazz"]), ("export", []),
        ("figures", ["--genre", "jazz"]),
    ):  # fmt: skip
        assert str(parser.parse_args([command, *common, *extra]).genre_dir) == "results/jazz"
        # no loose model and prior files: the folder is the one way in
        for loose in (["--model", "m.keras"], ["--prior", "p.keras"]):
            with pytest.raises(SystemExit):
                parser.parse_args([command, *common, *extra, *loose])
        with pytest.raises(SystemExit):
            parser.parse_args([command, *common[2:], *extra])


def _genre_folder(root: Path, name: str, prior: bool) -> Path:
    """A genre folder holding (empty) model and, with ``prior``, prior files: enough for the checks
    the commands make before the backend starts."""
    from genrevae.artifacts.trained_genre import TrainedGenre

    genre = TrainedGenre(root / name)
    genre.model_dir.mkdir(parents=True)
    genre.model_file.write_bytes(b"")
    if prior:
        genre.prior_dir.mkdir()
        genre.prior_file.write_bytes(b"")
    return genre.path


def test_model_jobs_check_the_genre_folder_before_any_work(tmp_path: Path, caplog) -> None:
    from genrevae.cli import main

    jazz = _genre_folder(tmp_path, "jazz", prior=False)
    data = ["--shard", str(tmp_path / "s.npy"), "--split", str(tmp_path / "split.csv"), "--settings", "{}"]
    for argv, says in (
        (["evaluate", "--genre-dir", str(tmp_path / "blues")], "no trained model"),
        (["evaluate", "--genre-dir", str(jazz / "model")], f"give the genre folder {jazz}, not its model/ subfolder"),
        (["quality", "--genre", "jazz", "--genre-dir", str(jazz)], "no learned prior"),
        (["export", "--genre-dir", str(tmp_path)], "no trained model"),
    ):
        caplog.clear()
        assert main([*argv, *data]) == 1
        assert says in caplog.text, (argv, caplog.text)


def test_fidelity_needs_one_genre_folder_per_genre(tmp_path: Path, caplog) -> None:
    from genrevae.cli import main

    # the lists and the folders are checked before TensorFlow starts: a ConfigError is exit status 1
    jazz, rock = _genre_folder(tmp_path, "jazz", prior=True), _genre_folder(tmp_path, "rock", prior=False)
    lists = ["--shard", "x", "y", "--split", "s", "t", "--settings", "{}", "--out", str(tmp_path / "f.csv")]
    assert main(["fidelity", "--genre", "jazz", "rock", "--genre-dir", str(jazz), *lists]) == 1
    assert "one --genre-dir, --shard and --split per --genre" in caplog.text
    assert main(["fidelity", "--genre", "jazz", "rock", "--genre-dir", str(jazz), str(rock), *lists]) == 1
    assert f"{rock}: no learned prior" in caplog.text


def test_stage_settings_are_resolved_once_and_only_the_stages_own(tmp_path: Path, caplog) -> None:
    """`--settings` is resolved in one place (the schema's defaults under what was given) and
    holds exactly the stage's sections: a section the stage does not read is refused by name."""
    import re

    from genrevae.cli import main
    from genrevae.config import STAGE_SECTIONS, section, stage_sections

    resolved = stage_sections("evaluate", {"evaluate": {"iw_samples": 3}})
    assert list(resolved) == ["seed", "evaluate"]
    assert resolved["evaluate"] == section("evaluate", {"iw_samples": 3}) and resolved["seed"] == section("seed")
    jazz = _genre_folder(tmp_path, "jazz", prior=True)
    data = ["--genre-dir", str(jazz), "--shard", "s.npy", "--split", "split.csv"]
    assert main(["evaluate", *data, "--settings", '{"seed": 1, "train": {"steps": 5}}']) == 1
    assert "train is not read by this stage (it reads seed, evaluate)" in caplog.text
    caplog.clear()
    assert main(["quality", "--genre", "jazz", *data, "--settings", '{"quality": {"n_generated": 0}}']) == 1
    assert "quality.n_generated" in caplog.text  # the schema's check, before any work
    # the workflow sends each rule's stage exactly these sections, through one function
    rules = "\n".join(p.read_text() for p in (Path(__file__).parents[1] / "workflow" / "rules").glob("*.smk"))
    assert sorted(re.findall(r'settings=stage_settings\("(\w+)"\)', rules)) == sorted(STAGE_SECTIONS)
    assert "model_settings(" not in rules
