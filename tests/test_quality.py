"""Unit tests of the generation-quality measures: Frechet distance and the genre-fidelity classifier."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genrevae.quality import (
    clip_features,
    fit_softmax_regression,
    frechet_distance,
    generation_quality,
    genre_fidelity,
    genre_fidelity_files,
    json_text,
    mfcc_frames,
    predict_proba,
    quality_genre_files,
    resolve_quality_settings,
)

RATE = 3000
N_SAMPLES = 3001


def _genre_clips(kind: str, n: int, seed: int) -> np.ndarray:
    """Synthetic 'genres' that MFCCs tell apart: low tones, high tones, and noise bursts."""
    rng = np.random.default_rng(seed)
    t = np.arange(N_SAMPLES) / RATE
    clips = []
    for _ in range(n):
        if kind == "low":
            f = rng.uniform(80, 160)
            x = 0.4 * np.sin(2 * np.pi * f * t) + 0.2 * np.sin(2 * np.pi * 2 * f * t)
        elif kind == "high":
            f = rng.uniform(700, 1000)
            x = 0.4 * np.sin(2 * np.pi * f * t)
        else:
            x = 0.3 * rng.standard_normal(N_SAMPLES) * (np.sin(2 * np.pi * 4 * t) > 0)
        clips.append(x + 0.01 * rng.standard_normal(N_SAMPLES))
    return np.stack(clips).astype(np.float32)


# ---------------------------------------------------------------- Frechet distance


def test_frechet_distance_of_identical_sets_is_zero() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((500, 8)) @ rng.standard_normal((8, 8))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(a, a[::-1].copy()) == pytest.approx(0.0, abs=1e-8)  # order does not matter


def test_frechet_distance_of_different_sets_is_positive_and_exact_for_known_cases() -> None:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((400, 4))
    shift = np.array([1.0, -2.0, 0.5, 0.0])
    # a pure shift leaves the covariance unchanged: the distance is |shift|^2 exactly
    assert frechet_distance(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-9)
    # 1-D Gaussians: (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2
    x = rng.standard_normal((5000, 1))
    y = 3.0 * rng.standard_normal((5000, 1)) + 1.0
    expected = (x.mean() - y.mean()) ** 2 + (x.std(ddof=1) - y.std(ddof=1)) ** 2
    assert frechet_distance(x, y) == pytest.approx(expected, rel=1e-9)
    b = rng.standard_normal((300, 4)) * 2
    assert frechet_distance(a, b) > 0.5
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-9)
    with pytest.raises(ValueError):
        frechet_distance(a[:1], b)


def test_generation_quality_compares_generated_with_the_floor() -> None:
    train, test = _genre_clips("low", 4, 1), _genre_clips("low", 3, 2)
    same = generation_quality(test, train, test, RATE)
    assert same["frechet_generated_test"] == pytest.approx(0.0, abs=1e-6)
    assert same["frechet_train_test"] > 0 and same["ratio"] == pytest.approx(0.0, abs=1e-6)
    other = generation_quality(_genre_clips("noise", 4, 3), train, test, RATE)
    assert other["frechet_generated_test"] > other["frechet_train_test"]
    assert other["ratio"] == pytest.approx(other["frechet_generated_test"] / other["frechet_train_test"])
    assert other["n_clips"] == {"generated": 4, "train": 4, "test": 3}
    frames_per_clip = 1 + N_SAMPLES // 256
    assert other["n_frames"]["test"] == 3 * frames_per_clip
    assert mfcc_frames(test, RATE).shape == (3 * frames_per_clip, 20)


def test_json_text_writes_non_finite_values_as_null() -> None:
    text = json_text({"ratio": float("nan"), "x": np.float32(1.5), "n": np.int64(3), "l": [float("inf")]})
    assert json.loads(text) == {"l": [None], "n": 3, "ratio": None, "x": 1.5}


# ---------------------------------------------------------------- genre fidelity


def test_softmax_regression_separates_separable_classes() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[3, 0], [-3, 0], [0, 3]])
    x = np.concatenate([c + rng.standard_normal((30, 2)) * 0.5 for c in centres])
    y = np.repeat(np.arange(3), 30)
    w, b = fit_softmax_regression(x, y, 3, l2=1e-3, steps=500)
    probabilities = predict_proba(x, w, b)
    assert probabilities.sum(axis=1) == pytest.approx(1.0)
    assert np.mean(np.argmax(probabilities, axis=1) == y) > 0.97
    w2, b2 = fit_softmax_regression(x, y, 3, l2=1e-3, steps=500)
    assert np.array_equal(w, w2) and np.array_equal(b, b2)  # deterministic


def test_fidelity_is_high_for_generators_that_match_their_genre() -> None:
    kinds = {"bass": "low", "flute": "high", "static": "noise"}
    train = {g: clip_features(_genre_clips(k, 6, i), RATE) for i, (g, k) in enumerate(kinds.items())}
    test = {g: clip_features(_genre_clips(k, 4, 10 + i), RATE) for i, (g, k) in enumerate(kinds.items())}
    good = {g: clip_features(_genre_clips(k, 5, 20 + i), RATE) for i, (g, k) in enumerate(kinds.items())}
    table = genre_fidelity(train, test, good)
    assert table["genre"].tolist() == ["bass", "flute", "static"]
    assert (table["fidelity"] >= 0.8).all()
    assert (table["test_accuracy"] >= 0.9).all() and (table["n_generated"] == 5).all()
    assert table[["predicted_bass", "predicted_flute", "predicted_static"]].sum(axis=1).to_numpy() == pytest.approx(1.0)

    # every genre's "generator" makes noise: only the noise genre keeps its fidelity
    noise = {g: clip_features(_genre_clips("noise", 5, 30 + i), RATE) for i, g in enumerate(kinds)}
    bad = genre_fidelity(train, test, noise).set_index("genre")
    assert bad.loc["bass", "fidelity"] <= 0.2 and bad.loc["flute", "fidelity"] <= 0.2
    assert bad.loc["static", "fidelity"] >= 0.8


def test_fidelity_with_a_single_genre_is_undefined() -> None:
    f = clip_features(_genre_clips("low", 3, 0), RATE)
    table = genre_fidelity({"jazz": f}, {"jazz": f}, {"jazz": f})
    assert len(table) == 1 and math.isnan(table["fidelity"].iloc[0]) and math.isnan(table["test_accuracy"].iloc[0])


def test_settings_are_checked() -> None:
    assert resolve_quality_settings(None)["n_mfcc"] == 20
    with pytest.raises(ValueError, match="unknown quality"):
        resolve_quality_settings({"mfcc": 3})
    with pytest.raises(ValueError):
        resolve_quality_settings({"n_generated": 0})


# ---------------------------------------------------------------- from files, with a tiny model


@pytest.fixture(scope="module")
def genre_files(tmp_path_factory) -> dict[str, dict[str, Path]]:
    import keras

    from genrevae.model import build_model

    root = tmp_path_factory.mktemp("genres")
    files = {}
    for i, (genre, kind) in enumerate([("jazz", "low"), ("rock", "noise")]):
        folder = root / genre
        folder.mkdir()
        np.save(folder / "clips.npy", _genre_clips(kind, 6, i))
        pd.DataFrame(
            {"clip": range(6), "track": [f"{genre}.{j:05d}.wav" for j in range(6)],
             "subset": ["train", "test", "train", "test", "train", "unused"]}
        ).to_csv(folder / "split.csv", index=False)  # fmt: skip
        keras.utils.set_random_seed(i)
        model = build_model({"preset": "conv", "conv": {"width": 4, "max_width": 8, "strides": [4, 4], "latent_channels": 4}}, N_SAMPLES)
        model.save(folder / "model.keras")
        files[genre] = {"model": folder / "model.keras", "shard": folder / "clips.npy", "split": folder / "split.csv"}
    return files


def test_quality_from_files_uses_the_exported_seeds(genre_files) -> None:
    f = genre_files["jazz"]
    settings = {"seed": 40, "sample_rate": RATE, "quality": {"n_generated": 2}}
    result = quality_genre_files(f["model"], f["shard"], f["split"], settings)
    assert result["seeds"] == [40, 41] and result["n_clips"] == {"generated": 2, "train": 3, "test": 2}
    assert result["frechet_generated_test"] > 0 and result["frechet_train_test"] > 0
    assert json.loads(json_text(result))["settings"]["n_generated"] == 2
    default = quality_genre_files(f["model"], f["shard"], f["split"], {"seed": 40, "sample_rate": RATE})
    assert default["n_clips"]["generated"] == 3  # as many as train clips
    assert default["frechet_generated_test"] == pytest.approx(
        quality_genre_files(f["model"], f["shard"], f["split"], {"seed": 40, "sample_rate": RATE})["frechet_generated_test"]
    )


def test_fidelity_from_files(genre_files) -> None:
    genres = sorted(genre_files)
    table = genre_fidelity_files(
        genres,
        [genre_files[g]["model"] for g in genres],
        [genre_files[g]["shard"] for g in genres],
        [genre_files[g]["split"] for g in genres],
        {"seed": 1, "sample_rate": RATE, "quality": {"fidelity_n_generated": 3}},
    )
    assert table["genre"].tolist() == genres and (table["n_generated"] == 3).all()
    assert table["test_accuracy"].iloc[0] == 1.0  # tones vs noise: trivially separable real clips
    assert table["fidelity"].between(0, 1).all()
