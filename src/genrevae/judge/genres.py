"""Which of musicnn's tags name which genre, and the judge's genre verdict on a clip.

musicnn tags clips; it has no genre classifier.  A genre is judged by the tags that name it:
its score on a clip is the highest clip-level probability among its tags (of either model), and
the judge assigns the clip to the genre of highest score among :data:`GENRE_TAGS` -- a fixed
vocabulary (GTZAN's genres that have a tag, and electronic music), so that a genre's verdict
never depends on which other genres a run configures.  GTZAN's reggae has no tag in either
model and is not judged.

Tags carry different base rates (MSD's "rock" is its most frequent tag), so a verdict only
means something where the judge recognises the genre's *real* clips: every report carries that
control (:func:`genrevae.judge.genre_report.judge_genre`).
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import numpy as np

__all__ = ["GENRE_TAGS", "genre_key", "genre_tags", "genre_scores", "assign_genres"]

#: Genre -> (model, tag) pairs that name it.  Genre names are compared by :func:`genre_key`
#: (``Hip-Hop``, ``hip_hop`` and ``hiphop`` are one genre).
GENRE_TAGS: dict[str, tuple[tuple[str, str], ...]] = {
    "blues": (("MSD_musicnn", "blues"),),
    "classical": (("MTT_musicnn", "classical"), ("MTT_musicnn", "opera")),
    "country": (("MSD_musicnn", "country"), ("MTT_musicnn", "country")),
    "disco": (("MSD_musicnn", "dance"), ("MSD_musicnn", "funk"), ("MTT_musicnn", "dance")),
    "electronic": (
        ("MSD_musicnn", "electronic"), ("MSD_musicnn", "electro"), ("MSD_musicnn", "electronica"),
        ("MSD_musicnn", "House"), ("MTT_musicnn", "electronic"), ("MTT_musicnn", "techno"),
    ),
    "folk": (("MSD_musicnn", "folk"),),
    "hiphop": (("MSD_musicnn", "Hip-Hop"),),
    "jazz": (("MSD_musicnn", "jazz"),),
    "metal": (("MSD_musicnn", "metal"), ("MSD_musicnn", "heavy metal"), ("MTT_musicnn", "metal")),
    "pop": (("MSD_musicnn", "pop"), ("MTT_musicnn", "pop")),
    "punk": (("MSD_musicnn", "punk"),),
    "rock": (("MSD_musicnn", "rock"), ("MSD_musicnn", "classic rock"), ("MSD_musicnn", "hard rock"), ("MTT_musicnn", "rock")),
    "soul": (("MSD_musicnn", "soul"), ("MSD_musicnn", "rnb")),
}  # fmt: skip


def genre_key(name: str) -> str:
    """A genre name as :data:`GENRE_TAGS` spells it: lower case, letters and digits only."""
    return re.sub(r"[\W_]+", "", str(name)).lower()


def genre_tags(name: str) -> tuple[tuple[str, str], ...]:
    """The (model, tag) pairs naming genre ``name``; empty when no tag names it."""
    return GENRE_TAGS.get(genre_key(name), ())


def genre_scores(clip_probabilities: Mapping[str, np.ndarray], tags: Mapping[str, Sequence[str]]) -> np.ndarray:
    """``(n_clips, len(GENRE_TAGS))``: each clip's score for each genre of :data:`GENRE_TAGS`
    (in its order), the highest probability among the genre's tags.  ``clip_probabilities``
    maps a model to its ``(n_clips, n_tags)`` clip-level probabilities, ``tags`` to its tag
    names; tags of a model not given do not count."""
    n_clips = len(next(iter(clip_probabilities.values())))
    scores = np.zeros((n_clips, len(GENRE_TAGS)))
    for column, pairs in enumerate(GENRE_TAGS.values()):
        for model, tag in pairs:
            if model in clip_probabilities:
                probabilities = clip_probabilities[model][:, list(tags[model]).index(tag)]
                scores[:, column] = np.maximum(scores[:, column], probabilities)
    return scores


def assign_genres(scores: np.ndarray) -> list[str]:
    """The genre of highest score for each row of :func:`genre_scores`."""
    names = list(GENRE_TAGS)
    return [names[i] for i in np.argmax(scores, axis=1)]
