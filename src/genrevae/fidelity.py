"""Genre fidelity: do a genre's generated clips sound like that genre to a classifier of real clips?

A scikit-learn classifier (:func:`make_classifier`: standardisation + multinomial
logistic regression, deterministic) on clip-level features that capture dynamics as
well as timbre (:func:`genrevae.features.clip_features`: MFCC, delta-MFCC, spectral contrast and
chroma mean/std over frames; onset-strength statistics and autocorrelation peaks;
RMS-envelope statistics and autocorrelation peaks).  ``fidelity`` = share of a
genre's generated clips classified as that genre.  ``test_accuracy`` (fit on train,
scored on test) and ``cv_accuracy`` (stratified k-fold over all real clips, k =
min(``cv_folds``, smallest class)) say how far the classifier can be trusted.

A closed-set classifier must put every input into some genre: on the toy set it
called every phase-randomised clip "rock", so a generator of noise would score a
fidelity of 1 for rock.  With ``classifier_noise_class`` (default) the classifier
gets an extra class ``noise`` of phase-randomised *train* clips, and "none of the
genres" becomes a possible answer (``predicted_noise``).  Each control set (by
default ``phase_randomised``: phase-randomised *test* clips, other clips than the
noise class was fitted on) gets a column ``<control>_fidelity``: a classifier that
calls stationary noise a genre measures nothing, and this column shows it.

Generated clips are decoded from each genre's learned prior with the seeds ``seed, seed + 1,
...`` (:func:`genrevae.generation.generate_clips`): the first ones are the exported
``sample_NN`` clips.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from genrevae.config import section
from genrevae.features import clip_features, phase_randomise

__all__ = ["NOISE_CLASS", "make_classifier", "genre_fidelity", "genre_fidelity_clips", "genre_fidelity_files"]

#: Label of the classifier's extra class of stationary noise (phase-randomised train clips).
NOISE_CLASS = "noise"


def make_classifier(settings: Mapping[str, Any] | None = None):
    """Unfitted scikit-learn pipeline: ``StandardScaler`` + multinomial ``LogisticRegression(C=classifier_c)``.

    lbfgs from zero weights on a convex objective: deterministic (``random_state=0`` is
    set anyway).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    s = section("fidelity", settings)
    return make_pipeline(StandardScaler(), LogisticRegression(C=float(s["classifier_c"]), max_iter=10_000, random_state=0))


def _rows(f: Any, d: int) -> np.ndarray:
    f = np.asarray(f if f is not None else np.zeros((0, d)), np.float64)
    return f.reshape(len(f), -1) if len(f) else np.zeros((0, d))


def genre_fidelity(
    train: Mapping[str, np.ndarray],
    test: Mapping[str, np.ndarray],
    generated: Mapping[str, np.ndarray],
    settings: Mapping[str, Any] | None = None,
    controls: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    noise: np.ndarray | None = None,
) -> pd.DataFrame:
    """Fidelity table from clip-level FEATURES per genre (see :func:`clip_features`).

    ``train``/``test``/``generated`` map each genre to a feature array ``(n, d)``; the
    genres are ``train``'s keys in sorted order.  ``controls`` maps control names to such
    per-genre mappings (e.g. ``{"phase_randomised": {genre: features}}``).  ``noise``
    (optional, ``(n, d)``): features of stationary-noise examples (phase-randomised train
    clips) that form an extra class :data:`NOISE_CLASS`; the controls must then come from
    other clips or other phases, or their column is trivially ~0.

    Columns: ``genre``, ``n_generated``, ``fidelity`` (share of the genre's generated clips
    classified as the genre), ``n_train``, ``n_test``, ``test_recall`` (the same share for
    its real test clips), ``test_accuracy`` (classifier fitted on all train clips, over
    all real test clips), ``cv_accuracy`` (mean accuracy over a stratified k-fold of all
    real clips, train + test, ``StratifiedKFold(k, shuffle=True, random_state=0)``, k =
    min(``cv_folds``, smallest genre); the noise examples join every training fold),
    ``cv_folds`` (k), then per control ``<control>_fidelity`` (share of the genre's
    control clips classified as the genre) and, with a noise class, ``<control>_as_noise``,
    then ``predicted_<class>`` (share of the generated clips assigned to each class,
    ``predicted_noise`` included).  The accuracies are the same in every row.  With a
    single genre nothing can be told apart: fidelities and accuracies are NaN.
    """
    from sklearn.model_selection import StratifiedKFold

    s = section("fidelity", settings)
    genres = sorted(train)
    if NOISE_CLASS in genres:
        raise ValueError(f"a genre may not be called {NOISE_CLASS!r} (the classifier's noise class)")
    k = len(genres)
    d = _rows(train[genres[0]], 0).shape[1] if genres else 0
    x_train = np.concatenate([_rows(train[g], d) for g in genres])
    y_train = np.concatenate([np.full(len(train[g]), i) for i, g in enumerate(genres)])
    x_noise = _rows(noise, d) if noise is not None else np.zeros((0, d))
    classes = genres + ([NOISE_CLASS] if len(x_noise) else [])
    y_noise = np.full(len(x_noise), len(genres))

    def fit(x: np.ndarray, y: np.ndarray):
        return make_classifier(s).fit(np.concatenate([x, x_noise]), np.concatenate([y, y_noise]))

    def predict(model, f: np.ndarray) -> np.ndarray:
        f = _rows(f, d)
        return model.predict(f) if len(f) else np.zeros(0, np.int64)

    model = fit(x_train, y_train) if k >= 2 else None

    correct = total = 0
    recalls = {}
    for i, g in enumerate(genres):
        t = _rows(test.get(g), d)
        if model is not None and len(t):
            hits = int(np.sum(predict(model, t) == i))
            recalls[g] = hits / len(t)
            correct, total = correct + hits, total + len(t)
        else:
            recalls[g] = float("nan")
    accuracy = correct / total if total and model is not None else float("nan")

    x_all = np.concatenate([x_train] + [_rows(test.get(g), d) for g in genres])
    y_all = np.concatenate([y_train] + [np.full(len(_rows(test.get(g), d)), i) for i, g in enumerate(genres)])
    counts = np.bincount(y_all, minlength=k) if k else np.zeros(0, np.int64)
    folds = int(min(int(s["cv_folds"]), counts.min())) if k >= 2 else 0
    cv_accuracy = float("nan")
    if folds >= 2:
        scores = []
        for fit_idx, score_idx in StratifiedKFold(folds, shuffle=True, random_state=0).split(x_all, y_all):
            scores.append(float(np.mean(predict(fit(x_all[fit_idx], y_all[fit_idx]), x_all[score_idx]) == y_all[score_idx])))
        cv_accuracy = float(np.mean(scores))

    rows = []
    for i, g in enumerate(genres):
        gen = _rows(generated.get(g), d)
        shares = {f"predicted_{h}": float("nan") for h in classes}
        fidelity = float("nan")
        if model is not None and len(gen):
            pred = predict(model, gen)
            fidelity = float(np.mean(pred == i))
            shares = {f"predicted_{h}": float(np.mean(pred == j)) for j, h in enumerate(classes)}
        control_columns = {}
        for name, per_genre in (controls or {}).items():
            c = _rows(per_genre.get(g), d)
            pred = predict(model, c) if model is not None and len(c) else None
            control_columns[f"{name}_fidelity"] = float(np.mean(pred == i)) if pred is not None else float("nan")
            if len(x_noise):
                control_columns[f"{name}_as_noise"] = (
                    float(np.mean(pred == len(genres))) if pred is not None else float("nan")
                )
        rows.append(
            {
                "genre": g,
                "n_generated": int(len(gen)),
                "fidelity": fidelity,
                "n_train": int(len(train[g])),
                "n_test": int(len(_rows(test.get(g), d))),
                "test_recall": recalls[g],
                "test_accuracy": accuracy,
                "cv_accuracy": cv_accuracy,
                "cv_folds": folds,
                **control_columns,
                **shares,
            }
        )
    return pd.DataFrame(rows)


def _genre_feature_sets(
    train: np.ndarray, test: np.ndarray, sample_rate: int, features: Mapping[str, Any], noise_class: bool, seed: int
) -> dict[str, np.ndarray]:
    """Features of one genre's real clips, its noise-class examples and its phase-randomised control."""
    out = {"train": clip_features(train, sample_rate, features), "test": clip_features(test, sample_rate, features)}
    if noise_class:
        out["noise"] = clip_features(phase_randomise(train, seed), sample_rate, features)
    out["phase_randomised"] = clip_features(phase_randomise(test, int(seed) + 1), sample_rate, features)
    return out


def genre_fidelity_clips(
    train: Mapping[str, np.ndarray],
    test: Mapping[str, np.ndarray],
    generated: Mapping[str, np.ndarray],
    sample_rate: int,
    settings: Mapping[str, Any] | None = None,
    controls: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    seed: int = 0,
    features: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """:func:`genre_fidelity` from WAVEFORMS per genre (``(n, n_samples)`` arrays at ``sample_rate``).

    Adds, per genre: the noise class (with ``classifier_noise_class``: phase-randomised
    train clips, seed ``seed``) and the ``phase_randomised`` control (phase-randomised
    *test* clips, seed ``seed + 1``: other clips than the noise class saw), unless
    ``controls`` already has one.  ``controls`` maps names to per-genre waveforms
    (e.g. ``reconstructions``, ``gaussian_prior``).
    """
    s, feats = section("fidelity", settings), section("features", features)
    f_train, f_test, f_gen, noise = {}, {}, {}, []
    f_controls: dict[str, dict[str, np.ndarray]] = {"phase_randomised": {}}
    for g in sorted(train):
        sets = _genre_feature_sets(train[g], test.get(g, np.zeros((0, 1))), sample_rate, feats, s["classifier_noise_class"], seed)
        f_train[g], f_test[g] = sets["train"], sets["test"]
        f_controls["phase_randomised"][g] = sets["phase_randomised"]
        if "noise" in sets:
            noise.append(sets["noise"])
        if g in generated:
            f_gen[g] = clip_features(generated[g], sample_rate, feats)
    for name, per_genre in (controls or {}).items():
        f_controls[str(name)] = {g: clip_features(c, sample_rate, feats) for g, c in per_genre.items()}
    return genre_fidelity(f_train, f_test, f_gen, s, f_controls, np.concatenate(noise) if noise else None)


def genre_fidelity_files(
    genres: Sequence[str],
    models: Sequence[Path],
    priors: Sequence[Path],
    shards: Sequence[Path],
    splits: Sequence[Path],
    settings: dict,
) -> pd.DataFrame:
    """:func:`genre_fidelity` from each genre's files (same order in every list), as :func:`genre_fidelity_clips`.

    ``settings`` holds ``seed``, ``sample_rate``, ``features``, ``fidelity`` and ``prior``; each
    genre generates ``fidelity.n_generated`` clips from its learned prior with the seeds
    ``seed, seed + 1, ...`` (the exported ``sample_NN`` clips).  The
    noise class and the ``phase_randomised`` control use ``seed`` and ``seed + 1``.
    """
    from genrevae.artifacts.shard import read_shard
    from genrevae.artifacts.split import read_split
    from genrevae.generation import generate_clips
    from genrevae.model import load_model
    from genrevae.prior import load_prior

    if not (len(genres) == len(models) == len(priors) == len(shards) == len(splits)):
        raise ValueError("genres, models, priors, shards and splits must have the same length")
    temperature = float(settings["prior"]["temperature"])
    s, feats = section("fidelity", settings.get("fidelity")), section("features", settings.get("features"))
    sample_rate, seed = int(settings["sample_rate"]), int(settings["seed"])
    train, test, generated, noise = {}, {}, {}, []
    controls: dict[str, dict[str, np.ndarray]] = {"phase_randomised": {}}
    for genre, model_path, prior_path, shard, split in zip(genres, models, priors, shards, splits):
        clips = read_shard(shard)
        table = read_split(split, clips.shape[0])
        train_clips, test_clips = np.asarray(clips[table.train]), np.asarray(clips[table.test])
        sets = _genre_feature_sets(train_clips, test_clips, sample_rate, feats, s["classifier_noise_class"], seed)
        train[genre], test[genre] = sets["train"], sets["test"]
        controls["phase_randomised"][genre] = sets["phase_randomised"]
        if "noise" in sets:
            noise.append(sets["noise"])
        model, prior = load_model(model_path), load_prior(prior_path)
        gen = generate_clips(model, prior, int(s["n_generated"]), seed, "learned", temperature, batch_size=int(s["batch_size"]))
        generated[genre] = clip_features(gen, sample_rate, feats)
    return genre_fidelity(train, test, generated, s, controls, np.concatenate(noise) if noise else None)
