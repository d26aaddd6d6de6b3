"""Unit tests of the data stages: prepare (index, resampling, cropping, bad inputs) and split."""

from __future__ import annotations

import logging
import os
import threading
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


# ---------------------------------------------------------------- prepare: faulty files (issue 24, row 9)


def _cut(path: Path, seconds: float, sample_rate: int = 22050, frame_bytes: int = 2, header: int = 44) -> Path:
    """Keep the first ``seconds`` of a WAV's data, as a copy that stopped early would."""
    path.write_bytes(path.read_bytes()[: header + int(seconds * sample_rate) * frame_bytes])
    return path


@pytest.mark.parametrize(
    ("fmt", "subtype", "frame_bytes"),
    [("WAV", "PCM_16", 2), ("WAV", "FLOAT", 4), ("AIFF", "PCM_16", 2), ("RF64", "PCM_16", 2)],
)
def test_truncated_file_is_kept_but_flagged_with_both_lengths(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, fmt: str, subtype: str, frame_bytes: int
) -> None:
    genre = tmp_path / "jazz"
    write_tone(genre / "jazz.00000.wav", 30.0)
    t = np.arange(30 * 22050) / 22050
    cut = genre / "jazz.00001.wav"
    sf.write(str(cut), 0.5 * np.sin(2 * np.pi * 220 * t), 22050, format=fmt, subtype=subtype)
    header = len(cut.read_bytes()) - 30 * 22050 * frame_bytes  # data is the file's last chunk
    _cut(cut, 4.5, frame_bytes=frame_bytes, header=header)
    assert sf.info(str(cut)).frames == int(4.5 * 22050)  # libsndfile alone sees a whole 4.5 s file

    with caplog.at_level(logging.WARNING, logger="genrevae.prepare"):
        table, shard, tracks = prepare_genre([genre / "jazz.00000.wav", cut], "jazz", 2.0, 3000, 90001)
    row = table.set_index("track").loc["jazz.00001.wav"]
    assert row["status"] == "ok" and row["reason"] == ""  # what is there is audio: still usable
    assert row["frames"] == int(4.5 * 22050) and row["declared_frames"] == 30 * 22050
    assert row["warning"].startswith("truncated: holds 4.50 s") and "of the 30.00 s" in row["warning"]
    assert tracks.set_index("track").loc["jazz.00001.wav", "padded_samples"] == 90001 - 13500
    whole = table.set_index("track").loc["jazz.00000.wav"]
    assert whole["declared_frames"] == whole["frames"] and whole["warning"] == ""
    logged = [r.getMessage() for r in caplog.records]
    assert any(str(cut) in m and "4.50 s" in m and "30.00 s" in m for m in logged), logged
    # too short once cut: rejected, and the reason says why it is short
    rejected = prepare_file(cut, 20.0, 3000, 90001)
    assert rejected.row.status == "rejected" and rejected.row.reason.endswith("(truncated, see warning)")


@pytest.mark.parametrize(
    ("fmt", "subtype"),
    [("WAV", "PCM_16"), ("WAV", "FLOAT"), ("WAV", "IMA_ADPCM"), ("WAVEX", "PCM_24"), ("AIFF", "PCM_16"),
     ("RF64", "PCM_16"), ("W64", "PCM_16"), ("FLAC", "PCM_16"), ("OGG", "VORBIS"), ("MP3", "MPEG_LAYER_III")],
)  # fmt: skip
def test_whole_files_of_every_format_are_not_flagged_as_truncated(tmp_path: Path, fmt: str, subtype: str) -> None:
    path = tmp_path / f"a.{fmt.lower()}"
    t = np.arange(3 * 22050) / 22050
    sf.write(str(path), 0.5 * np.sin(2 * np.pi * 220 * np.stack([t, t], axis=1)), 22050, format=fmt, subtype=subtype)
    row = prepare_file(path, 1.0, 3000, 3001).row
    assert row.status == "ok" and row.warning == "" and row.declared_frames == row.frames


def test_float_file_far_beyond_full_scale_is_rejected_with_its_peak(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    genre = tmp_path / "rock"
    write_tone(genre / "rock.00000.wav", 3.0)
    t = np.arange(3 * 22050) / 22050
    loud = genre / "rock.00001.wav"
    sf.write(str(loud), (50 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 22050, subtype="FLOAT")
    hot = genre / "rock.00002.wav"  # a master's inter-sample overs: headroom, kept
    sf.write(str(hot), (1.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 22050, subtype="FLOAT")

    with caplog.at_level(logging.WARNING, logger="genrevae.prepare"):
        table, shard, tracks = prepare_genre(sorted(genre.iterdir()), "rock", 2.0, 3000, 9001)
    by_track = table.set_index("track")
    assert by_track.loc["rock.00001.wav", "status"] == "rejected"
    assert by_track.loc["rock.00001.wav", "reason"].startswith("samples far beyond full scale: peak 50 > 2")
    assert by_track.loc["rock.00001.wav", "peak"] == pytest.approx(50.0, rel=1e-3)
    assert by_track.loc["rock.00000.wav", "peak"] == pytest.approx(0.5, rel=1e-3)
    assert by_track.loc["rock.00002.wav", "status"] == "ok"
    assert by_track.loc["rock.00002.wav", "warning"] == "peak 1.3 above full scale 1.0, kept as is"
    assert list(tracks["track"]) == ["rock.00000.wav", "rock.00002.wav"] and shard.shape == (2, 9001)
    logged = [r.getMessage() for r in caplog.records]
    assert any(str(loud) in m and "peak 50" in m for m in logged), logged


def test_paths_that_are_not_regular_files_get_their_own_reason_and_never_hang(tmp_path: Path) -> None:
    genre = tmp_path / "blues"
    write_tone(genre / "blues.00000.wav", 3.0)
    (genre / "dangling.wav").symlink_to(genre / "moved-away.wav")
    (genre / "null.wav").symlink_to(os.devnull)
    (genre / "zero.wav").symlink_to("/dev/zero")
    (genre / "folder.wav").mkdir()
    (genre / "loop.wav").symlink_to(genre / "loop.wav")
    fifo = genre / "pipe.wav"
    os.mkfifo(fifo)

    def unblock() -> None:  # a reader stuck opening the FIFO gets an empty stream, not a hung test
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass  # nobody is reading it: nothing to unblock

    timer = threading.Timer(5.0, unblock)
    timer.start()
    try:
        names = [*sorted(p.name for p in genre.iterdir()), "gone.wav"]
        table, shard, _ = prepare_genre([genre / n for n in names], "blues", 1.0, 3000, 3001, threads=2)
    finally:
        timer.cancel()
    reason = table.set_index("track")["reason"]
    assert reason["dangling.wav"] == f"dangling symbolic link (to '{genre / 'moved-away.wav'}', which does not exist)"
    assert reason["pipe.wav"] == "not a regular file (FIFO)"
    assert reason["null.wav"] == reason["zero.wav"] == "not a regular file (character device)"
    assert reason["folder.wav"] == "not a regular file (directory)"
    assert reason["loop.wav"] == "cannot read: Too many levels of symbolic links"
    assert reason["gone.wav"] == "file does not exist"
    assert list(table["track"]) == sorted(names) and shard.shape == (1, 3001)


def test_byte_identical_files_keep_only_the_first_copy_and_say_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    genre = tmp_path / "jazz"
    for i in range(4):
        write_tone(genre / f"jazz.{i:05d}.wav", 3.0, freq=200.0 + 30 * i)
    (genre / "jazz.00007.wav").write_bytes((genre / "jazz.00001.wav").read_bytes())
    (genre / "jazz.00009.wav").write_bytes((genre / "jazz.00001.wav").read_bytes())
    (genre / "junk.wav").write_bytes(b"not audio")
    (genre / "junk copy.wav").write_bytes(b"not audio")

    with caplog.at_level(logging.WARNING, logger="genrevae.prepare"):
        table, shard, tracks = prepare_genre(sorted(genre.iterdir()), "jazz", 1.0, 3000, 3001)
    by_track = table.set_index("track")
    copies = ["jazz.00007.wav", "jazz.00009.wav"]
    assert (by_track.loc[copies, "duplicate_of"] == "jazz.00001.wav").all()
    assert (by_track.loc[copies, "status"] == "rejected").all()
    assert by_track.loc["jazz.00007.wav", "reason"].startswith("byte-identical copy of jazz.00001.wav (same SHA-256)")
    assert by_track.loc["jazz.00001.wav", "duplicate_of"] == "" and by_track.loc["jazz.00001.wav", "status"] == "ok"
    # a rejected file's copy keeps its own reason, and still names the first copy
    assert by_track.loc["junk.wav", "duplicate_of"] == "junk copy.wav"
    assert by_track.loc["junk.wav", "reason"].startswith("cannot decode")
    assert list(tracks["track"]) == [f"jazz.{i:05d}.wav" for i in range(4)] and shard.shape == (4, 3001)
    logged = [r.getMessage() for r in caplog.records]
    assert any(
        f"2 byte-identical copies of {genre / 'jazz.00001.wav'}" in m
        and f"{genre / copies[0]}, {genre / copies[1]}; only the first is used" in m
        for m in logged
    ), logged
    summary = "genre jazz: 3 duplicate file(s) (index.csv column duplicate_of), 2 of them left out of the shard"
    assert summary in logged, logged


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


def test_byte_identical_tracks_share_the_side_of_their_first_member() -> None:
    names = _names(60)
    digests = [f"{i:064x}" for i in range(60)]
    # 5 groups of copies, each named so that its first member comes first in name order
    for first, copy in [(0, 31), (2, 47), (5, 6), (10, 59), (20, 21)]:
        digests[copy] = digests[first]
    for seed in range(20):
        alone = split_tracks(names, seed=seed, test_fraction=0.3)
        grouped = split_tracks(list(reversed(names)), seed=seed, test_fraction=0.3, sha256=list(reversed(digests)))
        for first, copy in [(0, 31), (2, 47), (5, 6), (10, 59), (20, 21)]:
            assert grouped[names[copy]] == grouped[names[first]] == alone[names[first]]
        groups = {d: {grouped[n] for n, dd in zip(names, digests) if dd == d} for d in set(digests)}
        assert all(len(sides) == 1 for sides in groups.values())
        counted = split_tracks(names, seed=seed, test_count=10, sha256=digests)
        assert len({d for n, d in zip(names, digests) if counted[n] == "test"}) == 10  # distinct clips
    with pytest.raises(DataError, match=r"1 distinct usable clip\(s\) \(3 clips, all with the same bytes\)"):
        split_tracks(_names(3), seed=0, test_fraction=0.3, sha256=["ab" * 32] * 3)


def test_explicit_lists_may_not_split_byte_identical_tracks() -> None:
    names = _names(6)
    digests = ["a" * 64, "b" * 64, "c" * 64, "a" * 64, "d" * 64, "e" * 64]
    ok = split_tracks(names, 0, lists={"train": names[:4], "test": names[4:]}, genre="jazz", sha256=digests)
    assert ok[names[0]] == ok[names[3]] == "train"
    with pytest.raises(DataError, match=r"jazz.00000.wav \(train\) and jazz.00003.wav \(test\) are byte-identical"):
        split_tracks(names, 0, lists={"train": names[:3], "test": names[3:]}, genre="jazz", sha256=digests)


def test_split_table_refuses_byte_identical_clips_on_both_sides() -> None:
    tracks = pd.DataFrame({"clip": [0, 1, 2], "track": _names(3), "sha256": ["a" * 64, "b" * 64, "a" * 64]})
    assignment = {"jazz.00000.wav": "train", "jazz.00001.wav": "train", "jazz.00002.wav": "test"}
    leak = r"byte-identical clips in train and test: jazz.00000.wav = jazz.00002.wav$"
    with pytest.raises(AssertionError, match=leak):
        split_table(tracks, assignment)
    assignment["jazz.00002.wav"] = "unused"
    assignment["jazz.00001.wav"] = "test"
    assert list(split_table(tracks, assignment)["subset"]) == ["train", "test", "unused"]


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
