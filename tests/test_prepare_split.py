"""Unit tests of the data stages: prepare (index, resampling, cropping, bad inputs) and split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import write_tone
from genrevae.artifacts.shard import read_shard, write_shard
from genrevae.prepare import DataError, load_clip, prepare_file, prepare_genre
from genrevae.split import split_table, split_tracks, track_hash

# ---------------------------------------------------------------- prepare: index


def test_index_records_every_file_with_status_and_reason(tmp_path: Path) -> None:
    genre = tmp_path / "jazz"
    write_tone(genre / "jazz.00000.wav", 30.0)
    write_tone(genre / "jazz.00001.wav", 29.9)  # GTZAN has clips a little under 30 s
    write_tone(genre / "jazz.00002.wav", 30.0, sample_rate=44100, channels=2)
    (genre / "jazz.00054.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage" + bytes(64))
    (genre / "notes.txt").write_text("not audio at all\n")
    (genre / "empty.wav").write_bytes(b"")
    write_tone(genre / "short.wav", 3.0)
    sf.write(str(genre / "silent.wav"), np.zeros(22050 * 25, dtype=np.float32), 22050)

    table, shard, tracks = prepare_genre(sorted(genre.iterdir()), "jazz", 20.0, 3000, 90001, threads=2)

    assert list(table["track"]) == sorted(p.name for p in genre.iterdir())
    by_track = table.set_index("track")
    ok = by_track[by_track["status"] == "ok"].index.tolist()
    assert ok == ["jazz.00000.wav", "jazz.00001.wav", "jazz.00002.wav"]
    assert by_track.loc["jazz.00002.wav", "channels"] == 2
    assert by_track.loc["jazz.00002.wav", "sample_rate"] == 44100
    assert by_track.loc["jazz.00001.wav", "duration_s"] == pytest.approx(29.9, abs=1e-4)
    assert by_track.loc["jazz.00000.wav", "frames"] == 30 * 22050
    assert "cannot decode" in by_track.loc["jazz.00054.wav", "reason"]
    assert f"Error opening '{genre / 'jazz.00054.wav'}'" in by_track.loc["jazz.00054.wav", "reason"]  # the file, not a buffer
    assert "cannot decode" in by_track.loc["notes.txt", "reason"]
    assert by_track.loc["empty.wav", "reason"].startswith("empty file")
    assert by_track.loc["short.wav", "reason"].startswith("too short: 3.00 s")
    assert by_track.loc["silent.wav", "reason"].startswith("silent")
    assert (by_track.loc[ok, "reason"] == "").all()
    assert by_track.loc["jazz.00000.wav", "sha256"] != by_track.loc["jazz.00001.wav", "sha256"]
    assert len(by_track.loc["notes.txt", "sha256"]) == 64  # hashed even when rejected
    # the usable files, and only they, became the shard's rows, in the index's order
    assert list(tracks["track"]) == ok and shard.shape == (3, 90001)
    assert list(tracks["sha256"]) == by_track.loc[ok, "sha256"].tolist()


def test_index_sha256_matches_file_content(tmp_path: Path) -> None:
    import hashlib

    path = write_tone(tmp_path / "a.wav", 1.0)
    prepared = prepare_file(path, 0.5, 3000, 3001)
    assert prepared.row.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert prepared.row.size_bytes == path.stat().st_size
    # the one pass cuts the same clip as decoding the file on its own
    clip, resampled, _ = load_clip(path, 3000, 3001)
    assert np.array_equal(prepared.clip, clip) and prepared.resampled_samples == resampled
    rejected = prepare_file(path, 5.0, 3000, 3001)
    assert rejected.clip is None and rejected.row.reason.startswith("too short")


# ---------------------------------------------------------------- resample / crop / pad


@pytest.mark.parametrize(
    ("seconds", "source_rate", "channels"),
    [(30.0, 22050, 1), (29.9, 22050, 1), (30.0, 44100, 2), (31.0, 16000, 1), (30.0, 3000, 1)],
)
def test_load_clip_has_exact_length_whatever_the_source(
    tmp_path: Path, seconds: float, source_rate: int, channels: int
) -> None:
    path = write_tone(tmp_path / "x.wav", seconds, source_rate, channels)
    clip, resampled, rate = load_clip(path, 3000, 90001)
    assert clip.shape == (90001,) and clip.dtype == np.float32
    assert rate == source_rate
    assert abs(resampled - seconds * 3000) <= 2
    kept = min(resampled, 90001)
    assert np.all(clip[kept:] == 0.0)  # zero padding, nothing else
    assert np.abs(clip[: kept - 100]).max() > 0.3  # the tone survived resampling


def test_load_clip_downmixes_stereo_and_keeps_the_tone(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "st.wav", 2.0, 44100, channels=2, freq=200.0)  # 200 + 400 Hz
    clip, _, _ = load_clip(path, 3000, 6001)
    spectrum = np.abs(np.fft.rfft(clip[:6000]))
    freqs = np.fft.rfftfreq(6000, 1 / 3000)
    top = sorted(freqs[np.argsort(spectrum)[-2:]])
    assert top == pytest.approx([200.0, 400.0], abs=1.0)
    # Each channel is 0.5 * sin, so the mono mean of the two has amplitude ~0.25 per tone.
    assert spectrum.max() / 3000 == pytest.approx(0.25, rel=0.05)


def test_load_clip_offset_and_crop(tmp_path: Path) -> None:
    sr = 3000
    ramp = (np.arange(10 * sr) / (10 * sr)).astype(np.float32)
    path = tmp_path / "ramp.wav"
    sf.write(str(path), ramp, sr, subtype="FLOAT")
    clip, resampled, _ = load_clip(path, sr, 2 * sr, offset_seconds=3.0)
    assert resampled == 10 * sr
    np.testing.assert_allclose(clip, ramp[3 * sr : 5 * sr], atol=1e-6)


def test_shard_is_float32_memory_mappable_and_tracks_lengths(tmp_path: Path) -> None:
    genre = tmp_path / "rock"
    write_tone(genre / "rock.00000.wav", 4.0)
    write_tone(genre / "rock.00001.wav", 2.5, sample_rate=44100, channels=2)
    (genre / "rock.00002.wav").write_text("nope")
    _, shard, tracks = prepare_genre(sorted(genre.iterdir()), "rock", 2.0, sample_rate=3000, n_samples=9001, threads=2)
    path = tmp_path / "clips.npy"
    write_shard(shard, path)
    loaded = read_shard(path)
    assert loaded.shape == (2, 9001) and loaded.dtype == np.float32
    assert list(tracks["track"]) == ["rock.00000.wav", "rock.00001.wav"]
    assert list(tracks["clip"]) == [0, 1]
    assert list(tracks["padded_samples"]) == [0, 9001 - 7500]
    assert list(tracks["kept_samples"]) == [9001, 7500]
    assert list(tracks["source_channels"]) == [1, 2]


def test_shard_of_a_genre_without_usable_files_names_the_files(tmp_path: Path) -> None:
    genre = tmp_path / "blues"
    (genre).mkdir()
    (genre / "a.wav").write_bytes(b"")
    with pytest.raises(DataError, match=r"genre 'blues' has no usable audio file.*a.wav: empty"):
        prepare_genre([genre / "a.wav"], "blues", 1.0, 3000, 100)


# ---------------------------------------------------------------- split


def _names(n: int, genre: str = "jazz") -> list[str]:
    return [f"{genre}.{i:05d}.wav" for i in range(n)]


def test_split_is_deterministic_disjoint_and_roughly_the_fraction() -> None:
    names = _names(1000)
    a = split_tracks(names, seed=7, test_fraction=0.3)
    b = split_tracks(list(reversed(names)), seed=7, test_fraction=0.3)
    assert a == b
    n_test = sum(v == "test" for v in a.values())
    assert 240 < n_test < 360
    assert split_tracks(names, seed=8, test_fraction=0.3) != a


def test_adding_or_removing_clips_moves_no_other_clip() -> None:
    before = split_tracks(_names(40), seed=1, test_fraction=0.3)
    after = split_tracks(_names(40) + ["jazz.10000.wav", "jazz.10001.wav"], seed=1, test_fraction=0.3)
    removed = split_tracks(_names(40)[1:], seed=1, test_fraction=0.3)
    assert all(after[t] == s for t, s in before.items())
    assert all(before[t] == s for t, s in removed.items())


def test_tiny_genre_keeps_a_clip_on_each_side() -> None:
    for seed in range(50):
        split = split_tracks(_names(2), seed=seed, test_fraction=0.3)
        assert sorted(split.values()) == ["test", "train"]
    with pytest.raises(DataError, match="at least 2"):
        split_tracks(_names(1), seed=0, test_fraction=0.3)


def test_split_by_count_takes_the_lowest_hashes() -> None:
    names = _names(20)
    split = split_tracks(names, seed=3, test_count=5)
    test = sorted(t for t, s in split.items() if s == "test")
    assert test == sorted(sorted(names, key=lambda t: track_hash(t, 3))[:5])
    with pytest.raises(DataError, match="split.test_count"):
        split_tracks(names, seed=3, test_count=20)


def test_explicit_lists_and_their_errors() -> None:
    names = _names(10)
    split = split_tracks(names, 0, lists={"train": names[:3], "test": names[3:5]}, genre="jazz")
    assert [split[n] for n in names] == ["train"] * 3 + ["test"] * 2 + ["unused"] * 5
    with pytest.raises(DataError, match=r"jazz.00001.wav listed in both"):
        split_tracks(names, 0, lists={"train": names[:3], "test": names[1:2]}, genre="jazz")
    with pytest.raises(DataError, match=r"jazz.00054.wav"):
        split_tracks(names, 0, lists={"train": names[:3], "test": ["jazz.00054.wav"]}, genre="jazz")


def test_split_table_asserts_disjoint_and_non_empty() -> None:
    tracks = pd.DataFrame({"clip": [0, 1, 2], "track": _names(3)})
    table = split_table(tracks, {"jazz.00000.wav": "train", "jazz.00001.wav": "test", "jazz.00002.wav": "unused"})
    assert list(table["subset"]) == ["train", "test", "unused"]
    with pytest.raises(AssertionError):
        split_table(tracks, dict.fromkeys(_names(3), "train"))


def test_atomic_path_leaves_nothing_behind_on_error(tmp_path: Path) -> None:
    from genrevae.files import atomic_path

    target = tmp_path / "out" / "model.keras"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert tmp.suffix == ".keras" and tmp.parent == target.parent
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert list(target.parent.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole" and list(target.parent.iterdir()) == [target]
