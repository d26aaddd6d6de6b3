"""Tests for the embedded toy GTZAN-like dataset generator (genrevae.toy)."""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genrevae import toy
from genrevae.toy import (
    DEFAULT_TOY_GENRES,
    TOY_GENRES,
    clip_filename,
    synthesize_clip,
    write_toy_genre,
)

SR = 22050
GTZAN = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")


@pytest.fixture(scope="module")
def librosa():
    return pytest.importorskip("librosa")


@functools.lru_cache(maxsize=None)
def _clip(genre: str, index: int, seed: int = 0, duration: float = 5.0) -> tuple[np.ndarray, dict]:
    """Cached (audio, info) so several tests can share the same renders."""
    audio, info = toy._render_clip(genre, index, seed, SR, duration)
    audio.flags.writeable = False
    return audio, info


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- API basics


def test_genre_constants():
    assert TOY_GENRES == GTZAN
    assert list(TOY_GENRES) == sorted(TOY_GENRES)
    assert DEFAULT_TOY_GENRES == ("classical", "disco", "jazz", "rock")
    assert set(DEFAULT_TOY_GENRES) <= set(TOY_GENRES)


def test_clip_filename():
    assert clip_filename("jazz", 3) == "jazz.00003.wav"
    assert clip_filename("rock", 0) == "rock.00000.wav"
    assert clip_filename("classical", 99) == "classical.00099.wav"
    assert clip_filename("pop", 12345) == "pop.12345.wav"


@pytest.mark.parametrize(
    "call",
    [
        lambda tmp: synthesize_clip("polka", 0, 0, duration=1.0),
        lambda tmp: clip_filename("Jazz", 0),
        lambda tmp: write_toy_genre(tmp, "dubstep", 1, 0, duration=1.0),
    ],
)
def test_unknown_genre_lists_supported_names(tmp_path, call):
    with pytest.raises(ValueError) as err:
        call(tmp_path)
    message = str(err.value)
    for name in TOY_GENRES:
        assert name in message
    assert not any(tmp_path.iterdir()), "nothing may be written for an unknown genre"


@pytest.mark.parametrize(
    "kwargs",
    [dict(index=-1), dict(seed=-5), dict(duration=0.0), dict(duration=-1.0), dict(sample_rate=0)],
)
def test_invalid_arguments(kwargs):
    args = dict(genre="rock", index=0, seed=0, sample_rate=SR, duration=1.0)
    args.update(kwargs)
    with pytest.raises(ValueError):
        synthesize_clip(**args)


# ---------------------------------------------------------- files on disk


def test_file_format_and_layout(tmp_path):
    paths = write_toy_genre(tmp_path, "jazz", 3, seed=11, duration=3.0)
    assert paths == [tmp_path / "jazz" / f"jazz.{i:05d}.wav" for i in range(3)]
    for p in paths:
        info = sf.info(str(p))
        assert info.format == "WAV"
        assert info.subtype == "PCM_16"
        assert info.samplerate == 22050
        assert info.channels == 1
        assert info.frames == 3 * 22050
    # atomic writes leave no temporary files behind
    assert sorted(x.name for x in (tmp_path / "jazz").iterdir()) == [p.name for p in paths]


def test_default_duration_is_30_seconds():
    audio = synthesize_clip("rock", 0, 0)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.shape == (30 * 22050,)
    assert 0.5 < np.max(np.abs(audio)) <= 0.9


def test_same_seed_gives_identical_bytes(tmp_path):
    a = write_toy_genre(tmp_path / "a", "disco", 2, seed=5, duration=3.0)
    b = write_toy_genre(tmp_path / "b", "disco", 2, seed=5, duration=3.0)
    assert [_sha(p) for p in a] == [_sha(p) for p in b]
    c = write_toy_genre(tmp_path / "c", "disco", 2, seed=6, duration=3.0)
    assert all(_sha(p) != _sha(q) for p, q in zip(a, c))


def test_clip_independent_of_n_clips_and_other_genres(tmp_path):
    alone = write_toy_genre(tmp_path / "one", "rock", 1, seed=3, duration=2.0)
    write_toy_genre(tmp_path / "many", "classical", 2, seed=3, duration=2.0)
    many = write_toy_genre(tmp_path / "many", "rock", 3, seed=3, duration=2.0)
    assert _sha(alone[0]) == _sha(many[0])
    # the file holds exactly the 16-bit rendering of synthesize_clip
    direct = synthesize_clip("rock", 2, 3, duration=2.0)
    stored, sr = sf.read(str(many[2]), dtype="float32")
    assert sr == SR
    assert np.max(np.abs(stored - direct)) < 2.0 / 32768


def test_seed_does_not_depend_on_python_hash_randomisation():
    code = (
        "import hashlib; from genrevae.toy import synthesize_clip; "
        "print(hashlib.sha256(synthesize_clip('jazz', 4, 9, duration=1.0).tobytes()).hexdigest())"
    )
    expected = hashlib.sha256(synthesize_clip("jazz", 4, 9, duration=1.0).tobytes()).hexdigest()
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    real_write = sf.write

    def broken_write(file, data, *args, **kwargs):
        real_write(file, data[: len(data) // 2], *args, **kwargs)  # a half-written file ...
        raise OSError("disk full")  # ... and then the process dies

    monkeypatch.setattr(toy.sf, "write", broken_write)
    with pytest.raises(OSError):
        write_toy_genre(tmp_path, "classical", 1, seed=0, duration=1.0)
    assert list((tmp_path / "classical").iterdir()) == []


# ------------------------------------------------------------- the audio


@pytest.mark.parametrize("genre", TOY_GENRES)
def test_level_dc_and_length(genre):
    audio = synthesize_clip(genre, 1, 2, duration=3.0)
    assert audio.dtype == np.float32
    assert audio.shape == (3 * SR,)
    assert np.all(np.isfinite(audio))
    peak = float(np.max(np.abs(audio)))
    assert 0.5 < peak <= 0.95
    assert abs(float(np.mean(audio, dtype=np.float64))) < 1e-3
    assert float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) > 0.03  # not near-silent


def test_other_sample_rates():
    for sr in (16000, 44100):
        audio = synthesize_clip("disco", 0, 0, sample_rate=sr, duration=1.5)
        assert audio.shape == (int(round(1.5 * sr)),)
        assert 0.5 < np.max(np.abs(audio)) <= 0.9


@pytest.mark.parametrize("genre", DEFAULT_TOY_GENRES)
def test_clips_within_a_genre_differ(genre):
    clips = [_clip(genre, i) for i in range(3)]
    tempos = [info["tempo"] for _, info in clips]
    assert len(set(np.round(tempos, 3))) == 3
    for i in range(3):
        for j in range(i + 1, 3):
            a, b = clips[i][0], clips[j][0]
            assert np.mean(np.abs(a - b)) > 0.02
            assert abs(np.corrcoef(a, b)[0, 1]) < 0.5


def test_music_not_noise(librosa):
    noise = np.random.default_rng(0).standard_normal(5 * SR).astype(np.float32) * 0.3
    noise_flatness = float(librosa.feature.spectral_flatness(y=noise).mean())
    assert noise_flatness > 0.3
    for genre in TOY_GENRES:
        audio, _ = _clip(genre, 0)
        flatness = float(librosa.feature.spectral_flatness(y=audio).mean())
        assert flatness < 0.1, (genre, flatness)
        assert flatness < 0.2 * noise_flatness


@pytest.mark.parametrize("genre", ["rock", "disco", "pop"])
def test_drum_genres_have_the_set_tempo(librosa, genre):
    """librosa's beat tracker recovers the tempo the clip was synthesised at."""
    for index in range(2):
        audio, info = _clip(genre, index, duration=10.0)
        est = float(np.atleast_1d(librosa.beat.beat_track(y=audio, sr=SR)[0])[0])
        ratios = [est / info["tempo"] * k for k in (1.0, 0.5, 2.0)]
        assert min(abs(r - 1.0) for r in ratios) < 0.06, (genre, index, info["tempo"], est)


def test_genres_are_distinguishable(librosa):
    def features(genre, index):
        audio, _ = _clip(genre, index)
        centroid = float(librosa.feature.spectral_centroid(y=audio, sr=SR).mean())
        _, perc = librosa.effects.hpss(audio)
        perc_ratio = float(np.sum(perc.astype(np.float64) ** 2) / np.sum(audio.astype(np.float64) ** 2))
        return centroid, perc_ratio

    classical = [features("classical", i) for i in range(2)]
    for genre in ("rock", "disco"):
        other = [features(genre, i) for i in range(2)]
        # brighter: distorted guitars / hi-hats vs. low-passed strings
        assert min(c for c, _ in other) > 1.4 * max(c for c, _ in classical), genre
        # drums: much larger percussive share of the energy
        assert min(p for _, p in other) > 0.04, genre
        assert min(p for _, p in other) > 5 * max(p for _, p in classical), genre
    assert max(p for _, p in classical) < 0.02
