"""End-to-end runs of the data half of the workflow with the real snakemake CLI."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import write_tone
from workflow_helpers import planned_jobs, snakemake, write_config

pytestmark = pytest.mark.workflow

DATA_JOBS = {"prepare", "split"}
# The data half only: the model half has its own end-to-end tests.
SPLITS = ("results/jazz/data/split.csv", "results/rock/data/split.csv")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _faulty_gtzan(root: Path) -> Path:
    """A GTZAN-shaped folder with the faults real data has."""
    data = root / "genres_original"
    for genre, freq in [("jazz", 220.0), ("rock", 330.0)]:
        for i in range(5):
            write_tone(data / genre / f"{genre}.{i:05d}.wav", 6.0, freq=freq + 10 * i)
    write_tone(data / "jazz" / "jazz.00005.wav", 5.9)  # a little short: zero-padded
    write_tone(data / "rock" / "rock.00005.wav", 6.0, sample_rate=44100, channels=2)
    (data / "jazz" / "jazz.00054.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(8))
    (data / "jazz" / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0 not audio")
    write_tone(data / "rock" / "rock.00006.wav", 1.0)  # far too short
    (data / "blues").mkdir()  # an empty genre folder is skipped, not fatal
    return data


def _jobs_by_rule(jobs: set[tuple[str, str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for rule, genre in jobs:
        if rule != "all":
            out.setdefault(rule, set()).add(genre)
    return out


def test_toy_dataset_runs_through_the_data_stages(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        toy={"genres": ["jazz", "rock"], "clips_per_genre": 4, "duration": 4.0},
        clip_seconds=3.0,
    )
    snakemake(tmp_path, "results/jazz/data/split.csv")

    wavs = sorted((tmp_path / "data/toy/jazz").glob("*.wav"))
    assert [w.name for w in wavs] == [f"jazz.{i:05d}.wav" for i in range(4)]
    info = sf.info(str(wavs[0]))
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (22050, 1, "PCM_16", 4 * 22050)
    shard = np.load(tmp_path / "results/jazz/data/clips.npy", mmap_mode="r", allow_pickle=False)
    assert shard.shape == (4, 9001) and shard.dtype == np.float32
    assert np.abs(shard).max() > 0.1
    split = pd.read_csv(tmp_path / "results/jazz/data/split.csv")
    assert set(split["subset"]) == {"train", "test"}
    assert not (tmp_path / "results/rock").exists()  # only the requested genre was built

    # The same toy seed gives byte-identical files in another directory.
    other = tmp_path / "again"
    other.mkdir()
    write_config(other, toy={"genres": ["jazz", "rock"], "clips_per_genre": 4, "duration": 4.0}, clip_seconds=3.0)
    snakemake(other, "data/toy/jazz/jazz.00000.wav")
    assert _digest(other / "data/toy/jazz/jazz.00000.wav") == _digest(wavs[0])


def test_faulty_gtzan_folder_and_incremental_rebuilds(tmp_path: Path) -> None:
    data = _faulty_gtzan(tmp_path)
    write_config(tmp_path, data_dir=str(data), clip_seconds=6.0, min_seconds=4.0)
    snakemake(tmp_path, *SPLITS)

    index = pd.read_csv(tmp_path / "results/jazz/data/index.csv", keep_default_na=False).set_index("track")
    assert index.loc["jazz.00054.wav", "status"] == "rejected"
    assert index.loc["cover.jpg", "reason"].startswith("cannot decode")
    assert "jazz.00054.wav" in (tmp_path / "results/logs/prepare/jazz.log").read_text()
    rock_tracks = pd.read_csv(tmp_path / "results/rock/data/tracks.csv")
    assert "rock.00006.wav" not in set(rock_tracks["track"])
    assert rock_tracks.set_index("track").loc["rock.00005.wav", "source_channels"] == 2
    jazz_tracks = pd.read_csv(tmp_path / "results/jazz/data/tracks.csv").set_index("track")
    assert jazz_tracks.loc["jazz.00005.wav", "padded_samples"] == pytest.approx(300, abs=2)
    assert not (tmp_path / "results/blues").exists()

    # 1. Nothing to do after a full run.
    assert _jobs_by_rule(planned_jobs(tmp_path, *SPLITS)) == {}
    split_before = pd.read_csv(tmp_path / "results/jazz/data/split.csv").set_index("track")["subset"]
    rock_shard = tmp_path / "results/rock/data/clips.npy"
    rock_mtime = rock_shard.stat().st_mtime_ns

    # 2. Changing one jazz file re-runs jazz only.
    time.sleep(0.01)
    write_tone(data / "jazz" / "jazz.00002.wav", 6.0, freq=500.0)
    assert _jobs_by_rule(planned_jobs(tmp_path, *SPLITS)) == {rule: {"jazz"} for rule in DATA_JOBS}
    snakemake(tmp_path, *SPLITS)

    # 3. Adding a jazz file re-runs jazz only and moves no other clip between train and test.
    write_tone(data / "jazz" / "jazz.00099.wav", 6.0, freq=600.0)
    assert _jobs_by_rule(planned_jobs(tmp_path, *SPLITS)) == {rule: {"jazz"} for rule in DATA_JOBS}
    snakemake(tmp_path, *SPLITS)
    split_after = pd.read_csv(tmp_path / "results/jazz/data/split.csv").set_index("track")["subset"]
    assert (split_after[split_before.index] == split_before).all()
    assert "jazz.00099.wav" in split_after.index

    # 4. Removing a rock file re-runs rock only.
    os.remove(data / "rock" / "rock.00001.wav")
    assert _jobs_by_rule(planned_jobs(tmp_path, *SPLITS)) == {rule: {"rock"} for rule in DATA_JOBS}
    snakemake(tmp_path, *SPLITS)
    assert rock_shard.stat().st_mtime_ns > rock_mtime
    rock_mtime = rock_shard.stat().st_mtime_ns

    # 5. A split parameter re-runs the splits of every genre, not the shards.
    write_config(tmp_path, data_dir=str(data), clip_seconds=6.0, min_seconds=4.0, split={"test_fraction": 0.5})
    assert _jobs_by_rule(planned_jobs(tmp_path, *SPLITS)) == {"split": {"jazz", "rock"}}
    snakemake(tmp_path, *SPLITS)
    assert rock_shard.stat().st_mtime_ns == rock_mtime
    assert _jobs_by_rule(planned_jobs(tmp_path, *SPLITS)) == {}


def test_missing_genre_and_bad_config_fail_clearly(tmp_path: Path) -> None:
    data = _faulty_gtzan(tmp_path)
    write_config(tmp_path, data_dir=str(data), genres=["metal"])
    result = snakemake(tmp_path, "--dry-run", check=False)
    assert result.returncode != 0
    assert "genre 'metal' does not exist" in result.stderr + result.stdout
    assert "genres that do: jazz, rock" in result.stderr + result.stdout

    write_config(tmp_path, data_dir=str(data), tarin={"steps": 2})
    result = snakemake(tmp_path, "--dry-run", check=False)
    assert result.returncode != 0 and "unknown config key 'tarin'" in result.stderr + result.stdout
    write_config(tmp_path, data_dir=str(data), train={"epochs": 2})  # training runs in steps now
    result = snakemake(tmp_path, "--dry-run", check=False)
    assert result.returncode != 0 and "unknown config key 'train.epochs'" in result.stderr + result.stdout

    write_config(tmp_path, data_dir=str(tmp_path / "no_such_folder"))
    result = snakemake(tmp_path, "--dry-run", check=False)
    assert result.returncode != 0 and "config key 'data_dir'" in result.stderr + result.stdout


def test_genre_without_usable_files_fails_with_the_reasons(tmp_path: Path) -> None:
    data = tmp_path / "genres_original"
    write_tone(data / "jazz" / "jazz.00000.wav", 6.0)
    write_tone(data / "jazz" / "jazz.00001.wav", 6.0, freq=330.0)  # not a byte-identical copy: prepare keeps only one
    (data / "metal").mkdir(parents=True)
    (data / "metal" / "metal.00000.wav").write_bytes(b"")
    write_config(tmp_path, data_dir=str(data), clip_seconds=6.0, min_seconds=4.0)
    result = snakemake(tmp_path, "results/metal/data/clips.npy", check=False)
    assert result.returncode != 0
    log = (tmp_path / "results/logs/prepare/metal.log").read_text()
    assert "genre 'metal' has no usable audio file" in log and "metal.00000.wav: empty file" in log
    assert not (tmp_path / "results/metal/data/clips.npy").exists()
    # The other genre still builds.
    snakemake(tmp_path, "results/jazz/data/split.csv")
