"""Each file stages hand on has one reader and one writer (genrevae.artifacts), used everywhere."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO_ROOT
from genrevae.artifacts import ArtifactError
from genrevae.artifacts.index import INDEX_COLUMNS, read_index, write_index
from genrevae.artifacts.reports import json_text, read_report, write_report
from genrevae.artifacts.shard import read_shard, write_shard
from genrevae.artifacts.split import SPLIT_COLUMNS, read_split, write_split
from genrevae.artifacts.tracks import TRACK_COLUMNS, read_tracks, write_tracks

PACKAGE = REPO_ROOT / "src" / "genrevae"


def _split_csv(path: Path, clips, tracks, subsets) -> Path:
    pd.DataFrame({"clip": clips, "track": tracks, "subset": subsets}).to_csv(path, index=False)
    return path


def test_read_split_keeps_every_subset_and_names_each_row(tmp_path: Path) -> None:
    path = _split_csv(tmp_path / "split.csv", [3, 0, 1, 2], list("dabc"), ["train", "unused", "test", "train"])
    split = read_split(path, 5)
    assert split.train.tolist() == [2, 3] and split.test.tolist() == [1] and split.unused.tolist() == [0]
    assert split.train.dtype == np.int64
    assert split.tracks.tolist() == ["a", "b", "c", "d", ""] and split.track(2) == "c" and split.track(4) == "clip00004"


@pytest.mark.parametrize(
    ("clips", "subsets", "message"),
    [
        ([0, 1, 1], ["train", "train", "test"], "repeated clip"),
        ([0, 9], ["train", "test"], r"clip indices must lie in \[0, 4\)"),
        ([0, 1], ["train", "valid"], "unknown subset"),
        ([0, 1], ["train", "train"], "need at least one train and one test clip, got 2 and 0"),
    ],
)
def test_read_split_rejects_what_would_leak_or_break_a_stage(tmp_path: Path, clips, subsets, message) -> None:
    path = _split_csv(tmp_path / "split.csv", clips, [f"t{c}" for c in clips], subsets)
    with pytest.raises(ArtifactError, match=rf"^{tmp_path / 'split.csv'}: {message}"):
        read_split(path, 4)


def test_write_split_round_trips_and_checks_its_columns(tmp_path: Path) -> None:
    table = pd.DataFrame({"clip": [0, 1], "track": ["a.wav", "b.wav"], "subset": ["train", "test"]}, columns=SPLIT_COLUMNS)
    write_split(table, tmp_path / "split.csv")
    assert read_split(tmp_path / "split.csv", 2).track(1) == "b.wav"
    with pytest.raises(ArtifactError, match="columns"):
        write_split(table[["clip", "subset"]], tmp_path / "other.csv")
    assert not (tmp_path / "other.csv").exists()


def test_shard_reader_checks_shape_and_type(tmp_path: Path) -> None:
    clips = np.arange(12, dtype=np.float32).reshape(3, 4)
    write_shard(clips, tmp_path / "clips.npy")
    back = read_shard(tmp_path / "clips.npy")
    assert isinstance(back, np.memmap) and np.array_equal(back, clips)
    np.save(tmp_path / "wide.npy", clips.astype(np.float64))
    with pytest.raises(ArtifactError, match="expected float32"):
        read_shard(tmp_path / "wide.npy")
    np.save(tmp_path / "flat.npy", clips.ravel())
    with pytest.raises(ArtifactError, match=r"expected shape \(n_clips, n_samples\)"):
        read_shard(tmp_path / "flat.npy")
    with pytest.raises(ArtifactError, match="2-D float32"):
        write_shard(clips.ravel(), tmp_path / "bad.npy")


def test_index_and_tracks_tables_round_trip_in_column_order(tmp_path: Path) -> None:
    index = pd.DataFrame([{c: 0 for c in INDEX_COLUMNS} | {"track": "a.wav", "status": "ok", "reason": ""}])
    write_index(index[INDEX_COLUMNS[::-1]], tmp_path / "index.csv")
    assert list(read_index(tmp_path / "index.csv").columns) == INDEX_COLUMNS
    assert read_index(tmp_path / "index.csv")["reason"].tolist() == [""]  # not NaN
    tracks = pd.DataFrame([{c: 1 for c in TRACK_COLUMNS} | {"track": "a.wav"}])
    write_tracks(tracks, tmp_path / "tracks.csv")
    assert list(read_tracks(tmp_path / "tracks.csv").columns) == TRACK_COLUMNS
    pd.DataFrame({"track": ["a"]}).to_csv(tmp_path / "old.csv", index=False)
    with pytest.raises(ArtifactError, match=r"old.csv: missing column\(s\) \['path'"):
        read_index(tmp_path / "old.csv")


def test_reports_are_sorted_json_with_non_finite_numbers_as_null(tmp_path: Path) -> None:
    report = {"b": np.float32(0.5), "a": {"n": np.int64(3), "nan": math.nan, "inf": [math.inf]}}
    assert json_text(report) == json.dumps({"a": {"inf": [None], "n": 3, "nan": None}, "b": 0.5}, indent=2, sort_keys=True) + "\n"
    write_report(report, tmp_path / "metrics.json")
    assert read_report(tmp_path / "metrics.json")["a"]["n"] == 3
    with pytest.raises(ArtifactError, match="missing.json: no such report"):
        read_report(tmp_path / "missing.json")


def _calls(path: Path) -> list[str]:
    """Dotted names of every call in a module: np.load, pd.read_csv, json.dumps, ..."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            names.append(f"{node.func.value.id}.{node.func.attr}")
    return names


def test_only_the_artifact_modules_read_and_write_the_shared_files() -> None:
    """A bare np.load / pd.read_csv / json.dumps outside genrevae.artifacts would be a second
    reader or writer of a shared file. The exceptions are files one module owns alone."""
    own = {
        "train.py": {"json.dumps"},  # the fingerprints of its runs
        "checkpoints.py": {"np.load", "np.save", "json.dumps", "json.loads"},  # training's checkpoints, its own
        "write.py": {"pd.read_csv"},  # page/write.py: genre_fidelity.csv
        "files.py": {"np.save"},  # the atomic writer itself
        "cli.py": {"json.loads"},  # the --settings argument
        "workflow_support.py": {"json.dumps"},  # split lists passed on a command line
        "export.py": {"np.save"},  # latents/*.npy inside its own generated/ folder
        "backend.py": {"json.loads"},  # Keras' own keras.json, read to know the backend before Keras starts
    }
    shared = {"np.load", "np.save", "pd.read_csv", "json.dumps", "json.loads"}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "artifacts" in path.parts or "toy" in path.parts:
            continue
        found = shared & set(_calls(path))
        assert found <= own.get(path.name, set()), f"{path.name} reads or writes {sorted(found)} itself"
