"""How good is the generated music?  Two offline measures on MFCC features (librosa).

Per genre (:func:`generation_quality`)
    The Frechet distance (as in FID / FAD: the 2-Wasserstein distance between Gaussians
    fitted to two feature sets) between frame-level MFCCs of clips generated from the
    prior and of the genre's real *test* clips, next to the same distance between the
    real *train* and test clips -- the floor a perfect generator of this genre would
    reach with as many clips -- and their ratio (1 = as close to the test set as real
    music of the genre; larger is worse).

Across genres (:func:`genre_fidelity`)
    A multinomial logistic regression on clip-level MFCC statistics (mean and standard
    deviation over frames, standardised with the training statistics) is fitted on the
    real train clips of every genre and applied to each genre's generated clips: the
    *fidelity* of a genre is the fraction of its generated clips the classifier assigns
    to that genre.  The classifier's accuracy on the real test clips says how much the
    number can be trusted.  The fit is full-batch gradient descent from zero weights: it
    is deterministic, no random seed involved.

Generated clips are decoded from the prior with the seeds ``seed, seed + 1, ...``
(:func:`genrevae.export.prior_latents`), so the first ones are exactly the exported
``sample_NN_seed<seed+NN>.wav`` clips (before peak-safe scaling and 16-bit rounding).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_QUALITY_SETTINGS",
    "resolve_quality_settings",
    "mfcc_frames",
    "clip_features",
    "gaussian_stats",
    "frechet_distance",
    "generation_quality",
    "generate_clips",
    "quality_genre_files",
    "fit_softmax_regression",
    "predict_proba",
    "genre_fidelity",
    "genre_fidelity_files",
    "json_text",
]

#: Defaults of the ``quality`` config section.
DEFAULT_QUALITY_SETTINGS: dict[str, Any] = {
    "n_generated": None,  # clips generated for the Frechet distance; None = as many as train clips
    "n_mfcc": 20,
    "n_fft": 512,
    "hop_length": 256,
    "n_mels": 40,
    "fidelity_n_generated": 16,
    "classifier_l2": 1.0e-3,
    "classifier_steps": 2000,
    "classifier_learning_rate": 0.5,
    "batch_size": 4,
}


def resolve_quality_settings(quality: dict | None) -> dict:
    """``quality`` settings with defaults filled in and values checked."""
    s = {**DEFAULT_QUALITY_SETTINGS, **(quality or {})}
    unknown = set(s) - set(DEFAULT_QUALITY_SETTINGS)
    if unknown:
        raise ValueError(f"unknown quality setting(s) {sorted(unknown)}")
    if s["n_generated"] is not None and int(s["n_generated"]) < 1:
        raise ValueError("quality.n_generated must be >= 1 or null")
    for key in ("n_mfcc", "n_fft", "hop_length", "n_mels", "fidelity_n_generated", "classifier_steps", "batch_size"):
        if int(s[key]) < 1:
            raise ValueError(f"quality.{key} must be >= 1, got {s[key]!r}")
    if float(s["classifier_l2"]) < 0 or float(s["classifier_learning_rate"]) <= 0:
        raise ValueError("quality.classifier_l2 must be >= 0 and quality.classifier_learning_rate > 0")
    return s


# ---------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------
def _mfcc(x: np.ndarray, sample_rate: int, s: Mapping[str, Any]) -> np.ndarray:
    import librosa

    return librosa.feature.mfcc(
        y=np.asarray(x, dtype=np.float32), sr=int(sample_rate), n_mfcc=int(s["n_mfcc"]),
        n_fft=int(s["n_fft"]), hop_length=int(s["hop_length"]), n_mels=int(s["n_mels"]),
        fmax=sample_rate / 2.0,
    )  # fmt: skip


def mfcc_frames(clips: np.ndarray, sample_rate: int, settings: Mapping[str, Any] | None = None) -> np.ndarray:
    """Frame-level MFCCs of every clip, stacked: float64 ``(n_clips * frames, n_mfcc)``.

    Clips are processed one at a time (``clips`` may be memory-mapped).
    """
    s = resolve_quality_settings(dict(settings or {}))
    rows = [_mfcc(x, sample_rate, s).T for x in clips]
    if not rows:
        return np.zeros((0, int(s["n_mfcc"])))
    return np.concatenate(rows).astype(np.float64)


def clip_features(clips: np.ndarray, sample_rate: int, settings: Mapping[str, Any] | None = None) -> np.ndarray:
    """Clip-level features: mean and standard deviation of each MFCC over the frames, ``(n_clips, 2 n_mfcc)``."""
    s = resolve_quality_settings(dict(settings or {}))
    rows = []
    for x in clips:
        m = _mfcc(x, sample_rate, s).astype(np.float64)
        rows.append(np.concatenate([m.mean(axis=1), m.std(axis=1)]))
    if not rows:
        return np.zeros((0, 2 * int(s["n_mfcc"])))
    return np.stack(rows)


# ---------------------------------------------------------------------------
# Frechet distance
# ---------------------------------------------------------------------------
def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(d,)`` and (unbiased) covariance ``(d, d)`` of feature rows ``(n, d)``, n >= 2."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"need at least 2 feature rows of shape (n, d), got {f.shape}")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def _sqrtm_psd(c: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((c + c.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    r"""Frechet distance between Gaussians fitted to feature sets ``a (n, d)`` and ``b (m, d)``.

    .. math::

        d^2 = \lVert \mu_a - \mu_b \rVert^2
              + \operatorname{Tr}\big(C_a + C_b - 2 (C_a^{1/2} C_b C_a^{1/2})^{1/2}\big)

    (the trace of ``(C_a C_b)^{1/2}`` equals that of the symmetric form, which is computed
    with eigendecompositions only: no scipy, no complex parts).  Returned as the squared
    distance, like FID/FAD, clipped at 0; identical sets give ~0.
    """
    mu_a, c_a = gaussian_stats(a)
    mu_b, c_b = gaussian_stats(b)
    root_a = _sqrtm_psd(c_a)
    middle = root_a @ c_b @ root_a
    eig = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    trace_sqrt = float(np.sum(np.sqrt(np.clip(eig, 0.0, None))))
    d2 = float(np.sum((mu_a - mu_b) ** 2) + np.trace(c_a) + np.trace(c_b) - 2.0 * trace_sqrt)
    return max(d2, 0.0)


def _rms(clips: np.ndarray) -> float:
    if len(clips) == 0:
        return float("nan")
    return float(np.mean([np.sqrt(np.mean(np.square(np.asarray(x, np.float64)))) for x in clips]))


def generation_quality(
    generated: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    sample_rate: int,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Frechet distances on frame-level MFCCs: generated vs test, train vs test (the floor), and their ratio.

    All three arguments are waveform arrays ``(n, n_samples)``.  The ratio is
    ``frechet_generated_test / frechet_train_test`` (NaN when the floor is 0).  Also
    reports generated vs train and each set's mean RMS (a near-silent generator shows up
    there first).
    """
    s = resolve_quality_settings(dict(settings or {}))
    f_gen = mfcc_frames(generated, sample_rate, s)
    f_train = mfcc_frames(train, sample_rate, s)
    f_test = mfcc_frames(test, sample_rate, s)
    fd_gen = frechet_distance(f_gen, f_test)
    fd_floor = frechet_distance(f_train, f_test)
    return {
        "feature": (
            f"frame-level MFCC (librosa): {s['n_mfcc']} coefficients, n_fft {s['n_fft']}, hop {s['hop_length']}, "
            f"{s['n_mels']} mel bands up to {sample_rate / 2:g} Hz"
        ),
        "frechet_generated_test": fd_gen,
        "frechet_train_test": fd_floor,
        "ratio": fd_gen / fd_floor if fd_floor > 0 else float("nan"),
        "frechet_generated_train": frechet_distance(f_gen, f_train),
        "n_clips": {"generated": int(len(generated)), "train": int(len(train)), "test": int(len(test))},
        "n_frames": {"generated": int(len(f_gen)), "train": int(len(f_train)), "test": int(len(f_test))},
        "rms": {"generated": _rms(generated), "train": _rms(train), "test": _rms(test)},
        "sample_rate": int(sample_rate),
    }


def generate_clips(model, n: int, seed: int, batch_size: int = 4) -> np.ndarray:
    """``n`` clips decoded from prior draws with seeds ``seed .. seed + n - 1``: ``(n, n_samples)`` float32."""
    from genrevae.export import decode_latents, prior_latents

    z = prior_latents(model.latent_shape, [int(seed) + i for i in range(int(n))])
    return decode_latents(model, z, batch_size)


def quality_genre_files(model_path: Path, shard: Path, split: Path, settings: dict) -> dict[str, Any]:
    """:func:`generation_quality` of one genre from its files.

    ``settings`` holds ``seed``, ``sample_rate`` and ``quality``; the result also echoes
    the seeds and the resolved ``quality`` settings.
    """
    from genrevae.export import load_model, read_split

    s = resolve_quality_settings(settings.get("quality"))
    sample_rate, seed = int(settings["sample_rate"]), int(settings["seed"])
    clips = np.load(Path(shard), mmap_mode="r")
    table = read_split(split, clips.shape[0])
    train, test = np.asarray(clips[table["train"]]), np.asarray(clips[table["test"]])
    if len(train) < 1 or len(test) < 1:
        raise ValueError(f"{split}: need at least one train and one test clip")
    n = int(s["n_generated"]) if s["n_generated"] is not None else len(train)
    model = load_model(model_path)
    generated = generate_clips(model, n, seed, int(s["batch_size"]))
    result = generation_quality(generated, train, test, sample_rate, s)
    result.update(seeds=[seed, seed + n - 1], settings=s)
    return result


# ---------------------------------------------------------------------------
# Genre classifier
# ---------------------------------------------------------------------------
def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def fit_softmax_regression(
    x: np.ndarray, y: np.ndarray, n_classes: int, l2: float = 1e-3, steps: int = 2000, learning_rate: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    r"""Multinomial logistic regression by full-batch gradient descent from zero weights.

    Minimises ``mean_i -log softmax(x_i W + b)[y_i] + l2/2 |W|^2`` (a convex objective);
    ``x`` should be standardised.  Deterministic.  Returns ``(W (d, K), b (K,))``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    n, d = x.shape
    onehot = np.zeros((n, int(n_classes)))
    onehot[np.arange(n), y] = 1.0
    w = np.zeros((d, int(n_classes)))
    b = np.zeros(int(n_classes))
    for _ in range(int(steps)):
        err = _softmax(x @ w + b) - onehot
        w -= learning_rate * (x.T @ err / n + l2 * w)
        b -= learning_rate * err.mean(axis=0)
    return w, b


def predict_proba(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Class probabilities ``(n, K)`` of the fitted regression."""
    return _softmax(np.asarray(x, dtype=np.float64) @ w + b)


def genre_fidelity(
    train: Mapping[str, np.ndarray],
    test: Mapping[str, np.ndarray],
    generated: Mapping[str, np.ndarray],
    settings: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Fidelity table from clip-level FEATURES per genre (see :func:`clip_features`).

    ``train``/``test``/``generated`` map each genre to a feature array ``(n, d)``; the
    genres (classes) are ``train``'s keys in sorted order.  Columns: ``genre``,
    ``n_generated``, ``fidelity`` (share of the genre's generated clips classified as the
    genre), ``n_train``, ``n_test``, ``test_recall`` (the same share for its real test
    clips), ``test_accuracy`` (over all real test clips, the same in every row), then
    ``predicted_<genre>`` (share of the generated clips assigned to each genre).  With a
    single genre nothing can be told apart: fidelity and accuracies are NaN.
    """
    s = resolve_quality_settings(dict(settings or {}))
    genres = sorted(train)
    k = len(genres)
    x_train = np.concatenate([np.asarray(train[g], np.float64) for g in genres])
    y_train = np.concatenate([np.full(len(train[g]), i) for i, g in enumerate(genres)])
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)

    def scaled(f: np.ndarray) -> np.ndarray:
        return (np.asarray(f, np.float64).reshape(len(f), -1) - mean) / std

    if k >= 2:
        w, b = fit_softmax_regression(
            scaled(x_train), y_train, k, float(s["classifier_l2"]), int(s["classifier_steps"]),
            float(s["classifier_learning_rate"]),
        )  # fmt: skip

        def predict(f: np.ndarray) -> np.ndarray:
            return np.argmax(predict_proba(scaled(f), w, b), axis=1) if len(f) else np.zeros(0, np.int64)

    correct = total = 0
    recalls = {}
    for i, g in enumerate(genres):
        t = np.asarray(test.get(g, np.zeros((0, x_train.shape[1]))))
        if k >= 2 and len(t):
            hits = int(np.sum(predict(t) == i))
            recalls[g] = hits / len(t)
            correct, total = correct + hits, total + len(t)
        else:
            recalls[g] = float("nan")
    accuracy = correct / total if total and k >= 2 else float("nan")
    rows = []
    for i, g in enumerate(genres):
        gen = np.asarray(generated.get(g, np.zeros((0, x_train.shape[1]))))
        shares = {f"predicted_{h}": float("nan") for h in genres}
        fidelity = float("nan")
        if k >= 2 and len(gen):
            pred = predict(gen)
            fidelity = float(np.mean(pred == i))
            shares = {f"predicted_{h}": float(np.mean(pred == j)) for j, h in enumerate(genres)}
        rows.append(
            {
                "genre": g,
                "n_generated": int(len(gen)),
                "fidelity": fidelity,
                "n_train": int(len(train[g])),
                "n_test": int(len(test.get(g, []))),
                "test_recall": recalls[g],
                "test_accuracy": accuracy,
                **shares,
            }
        )
    return pd.DataFrame(rows)


def genre_fidelity_files(
    genres: Sequence[str],
    models: Sequence[Path],
    shards: Sequence[Path],
    splits: Sequence[Path],
    settings: dict,
) -> pd.DataFrame:
    """:func:`genre_fidelity` from each genre's files (same order in every list).

    ``settings`` holds ``seed``, ``sample_rate`` and ``quality``; each genre generates
    ``quality.fidelity_n_generated`` clips with the seeds ``seed, seed + 1, ...``.
    """
    from genrevae.export import load_model, read_split

    if not (len(genres) == len(models) == len(shards) == len(splits)):
        raise ValueError("genres, models, shards and splits must have the same length")
    s = resolve_quality_settings(settings.get("quality"))
    sample_rate, seed = int(settings["sample_rate"]), int(settings["seed"])
    train, test, generated = {}, {}, {}
    for genre, model_path, shard, split in zip(genres, models, shards, splits):
        clips = np.load(Path(shard), mmap_mode="r")
        table = read_split(split, clips.shape[0])
        train[genre] = clip_features(clips[table["train"]], sample_rate, s)
        test[genre] = clip_features(clips[table["test"]], sample_rate, s)
        model = load_model(model_path)
        gen = generate_clips(model, int(s["fidelity_n_generated"]), seed, int(s["batch_size"]))
        generated[genre] = clip_features(gen, sample_rate, s)
    return genre_fidelity(train, test, generated, s)


def json_text(result: Any) -> str:
    """``result`` as indented JSON with sorted keys, non-finite floats (NaN, inf) written as null."""
    import json

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, (float, np.floating)):
            return float(value) if math.isfinite(float(value)) else None
        if isinstance(value, np.integer):
            return int(value)
        return value

    return json.dumps(clean(result), indent=2, sort_keys=True, allow_nan=False) + "\n"
