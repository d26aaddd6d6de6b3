"""The judge stage: what musicnn hears in one genre's generated clips, next to its real ones.

:func:`judge_genre` measures the same clip sets as the quality stage
(:func:`genrevae.quality.measured_clips`: the learned prior's clips, the real train and test
clips and the controls) with musicnn, which nobody here trained:

``embedding``
    A Frechet distance, as Frechet Audio Distance does, between Gaussians fitted to musicnn's
    penultimate-layer embeddings (200 values per 3 s patch) of the generated and the real test
    clips, with the same floor (train vs test) and ratio as the MFCC measure, and the same for
    every control.
``verdict``
    The genre the judge assigns each clip to (:mod:`genrevae.judge.genres`): the accuracy on the
    real *test* clips (the control: where the judge does not recognise real clips of the genre
    at our sample rate, ``trusted`` is false and the other shares mean nothing), the share of
    generated clips it assigns to the genre, and the same share for each control.
``top_tags``
    The five most probable tags of each set (averaged over clips), of every tag model.

Our clips are band-limited (3 kHz by default: nothing above 1.5 kHz); musicnn was trained on
full-band 16 kHz audio.  Real and generated clips are judged alike: upsampled to 16 kHz, so
both lack the same top octaves.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from genrevae.artifacts.shard import read_shard
from genrevae.config import ConfigError, section
from genrevae.judge.frontend import MIN_SAMPLES, SAMPLE_RATE
from genrevae.judge.genres import GENRE_TAGS, assign_genres, genre_key, genre_scores, genre_tags
from genrevae.judge.tags import TAGS
from genrevae.judge.verdict import Judgement, judge
from genrevae.features import frechet_or_nan, ratio_to_floor
from genrevae.quality import measured_clips

__all__ = ["judge_genre", "judge_genre_files"]

#: Tags listed per set in ``top_tags``.
_TOP = 5


def _top_tags(judgements: Mapping[str, Judgement]) -> list[list[Any]]:
    rows = [[model, tag, round(p, 4)] for model, j in judgements.items() for tag, p in j.top_tags(_TOP)]
    return sorted(rows, key=lambda row: -row[2])[:_TOP]


def _verdicts(judgements: Mapping[str, Judgement]) -> list[str]:
    probabilities = {model: j.clip_probabilities() for model, j in judgements.items()}
    return assign_genres(genre_scores(probabilities, TAGS))


def _share(assigned: list[str], genre: str) -> float | None:
    return sum(a == genre for a in assigned) / len(assigned) if assigned else None


def judge_genre(
    genre: str,
    generated: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    sample_rate: int,
    settings: Mapping[str, Any] | None = None,
    controls: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """The judge's report on one genre (see the module docstring); clip sets are ``(n, n_samples)``
    waveforms at ``sample_rate``, each clip at least one 3 s patch long."""
    s = section("judge", settings)
    embedding_model, tag_models = s["embedding_model"], list(dict.fromkeys(s["tag_models"]))
    sets = {"generated": generated, "test": test, **dict(controls or {})}

    def run(clips: np.ndarray, models: list[str]) -> dict[str, Judgement]:
        return {m: judge(clips, sample_rate, m, int(s["batch_size"])) for m in models}

    # Every set through every tag model; the embedding model also hears the train clips (the floor).
    heard = {name: run(clips, list(dict.fromkeys([embedding_model, *tag_models]))) for name, clips in sets.items()}
    embeddings = {name: judgements[embedding_model].embeddings for name, judgements in heard.items()}
    embeddings["train"] = run(train, [embedding_model])[embedding_model].embeddings
    floor = frechet_or_nan(embeddings["train"], embeddings["test"])
    distance = frechet_or_nan(embeddings["generated"], embeddings["test"])
    control_distances = {}
    for name in controls or {}:
        d = frechet_or_nan(embeddings[name], embeddings["test"])
        control_distances[name] = {"frechet_test": d, "ratio": ratio_to_floor(d, floor)}

    named_by = genre_tags(genre)
    judged_as = genre_key(genre) if named_by else None
    tag_heard = {name: {m: j for m, j in judgements.items() if m in tag_models} for name, judgements in heard.items()}
    assigned = {name: _verdicts(judgements) for name, judgements in tag_heard.items()}
    accuracy = _share(assigned["test"], judged_as) if judged_as else None
    return {
        "genre": genre,
        "judge": (
            f"musicnn 0.1.0 (Pons and Serra 2019; MTT and MSD taggers), Keras 3 port; clips upsampled from "
            f"{sample_rate} Hz to 16 kHz, so real and generated clips alike hold nothing above {sample_rate / 2:g} Hz"
        ),
        "embedding": {
            "model": embedding_model,
            "feature": "musicnn penultimate layer (200 values) per 3 s patch",
            "frechet_generated_test": distance,
            "frechet_train_test": floor,
            "ratio": ratio_to_floor(distance, floor),
            "frechet_generated_train": frechet_or_nan(embeddings["generated"], embeddings["train"]),
            "controls": control_distances,
            "n_patches": {name: int(len(e)) for name, e in embeddings.items()},
        },
        "verdict": {
            "judged_as": judged_as,
            "genre_tags": [list(pair) for pair in named_by],
            "tag_models": tag_models,
            "vocabulary": list(GENRE_TAGS),
            "real_test_accuracy": accuracy,
            "min_real_accuracy": float(s["min_real_accuracy"]),
            "trusted": accuracy is not None and accuracy >= float(s["min_real_accuracy"]),
            "generated_share": _share(assigned["generated"], judged_as) if judged_as else None,
            "controls": {name: _share(assigned[name], judged_as) if judged_as else None for name in controls or {}},
            "assigned": {name: dict(Counter(a).most_common()) for name, a in assigned.items()},
        },
        "top_tags": {name: _top_tags(judgements) for name, judgements in tag_heard.items()},
        "n_clips": {name: int(len(clips)) for name, clips in {**sets, "train": train}.items()},
        "sample_rate": int(sample_rate),
    }


def judge_genre_files(genre: str, model_path: Path, prior_path: Path, shard: Path, split: Path, settings: dict) -> dict[str, Any]:
    """:func:`judge_genre` of one genre's :func:`~genrevae.quality.measured_clips` (the quality
    stage's sets).  ``settings`` holds ``seed``, ``sample_rate``, ``quality``, ``prior`` and ``judge``."""
    s = section("judge", settings.get("judge"))
    clip_seconds = read_shard(shard).shape[1] / int(settings["sample_rate"])
    if clip_seconds * SAMPLE_RATE < MIN_SAMPLES:
        raise ConfigError(
            f"judge: clips of {clip_seconds:.3f} s are shorter than musicnn's {MIN_SAMPLES / SAMPLE_RATE:.3f} s patch; "
            "set clip_seconds to 3 or more"
        )
    sets = measured_clips(model_path, prior_path, shard, split, settings)
    result = judge_genre(genre, sets.generated, sets.train, sets.test, int(settings["sample_rate"]), s, sets.controls)
    result.update(seeds=list(sets.seeds), temperature=sets.temperature, settings={"judge": s})
    return result
