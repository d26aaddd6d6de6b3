"""What musicnn hears in a set of clips: tag probabilities and embeddings per 3 s patch.

:func:`judge` runs the front end (:mod:`.frontend`) and the trained port (:mod:`.weights`)
over every clip and keeps one row per patch, so that the two uses the judge was built for
are one call each:

- an embedding distance, FAD-style, over patches:
  ``genrevae.features.frechet_distance(judge(generated, sr).embeddings, judge(test, sr).embeddings)``;
- tag probabilities per clip or per set of clips (a genre):
  ``judge(clips, sr).clip_probabilities()`` and ``judge(clips, sr).mean_probabilities()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
from keras import ops

from genrevae.judge.frontend import patches
from genrevae.judge.tags import TAGS
from genrevae.judge.weights import load_musicnn

__all__ = ["Judgement", "judge"]


@dataclass(frozen=True)
class Judgement:
    """musicnn's output for ``n_clips`` clips, one row per 3 s patch (clip by clip, in time order).

    ``probabilities`` ``(n_patches, n_tags)`` are the sigmoid tag probabilities (``tags`` names
    the columns), ``embeddings`` ``(n_patches, 200)`` the penultimate layer, ``clip``
    ``(n_patches,)`` the index of the clip each patch was cut from.
    """

    model: str
    tags: tuple[str, ...]
    probabilities: np.ndarray
    embeddings: np.ndarray
    clip: np.ndarray
    n_clips: int

    def clip_probabilities(self) -> np.ndarray:
        """``(n_clips, n_tags)``: each clip's tag probabilities averaged over its patches.

        musicnn's own tagger (``top_tags``) summarises a song the same way, by averaging its
        taggram over time.
        """
        sums = np.zeros((self.n_clips, len(self.tags)))
        np.add.at(sums, self.clip, self.probabilities)
        return sums / np.bincount(self.clip, minlength=self.n_clips)[:, None]

    def mean_probabilities(self) -> dict[str, float]:
        """Each tag's probability averaged over clips (each clip counts alike, whatever its length)."""
        return dict(zip(self.tags, self.clip_probabilities().mean(axis=0).tolist()))

    def top_tags(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` tags of highest :meth:`mean_probabilities`, highest first."""
        return sorted(self.mean_probabilities().items(), key=lambda item: -item[1])[: int(k)]


def judge(
    waveforms: np.ndarray | Iterable[np.ndarray],
    sample_rate: int,
    model: str = "MTT_musicnn",
    batch_size: int = 16,
) -> Judgement:
    """musicnn's verdict on mono clips at ``sample_rate``: a :class:`Judgement`.

    ``waveforms`` is one clip ``(n_samples,)``, a ``(n_clips, n_samples)`` array (rows are read
    one at a time, so it may be memory-mapped) or any iterable of 1-D clips of any lengths,
    each at least one patch long (2.976 s).  Clips are resampled to 16 kHz as musicnn's
    extractor would (:func:`genrevae.judge.frontend.to_judge_rate`); ``model`` is
    ``"MTT_musicnn"`` or ``"MSD_musicnn"``; ``batch_size`` patches go through the network
    at a time (memory grows with it).
    """
    network = load_musicnn(model)
    clips = [waveforms] if isinstance(waveforms, np.ndarray) and waveforms.ndim == 1 else waveforms
    cut, owner = [], []
    for i, clip in enumerate(clips):
        cut.append(patches(np.asarray(clip), sample_rate))
        owner.append(np.full(len(cut[-1]), i))
    if not cut:
        raise ValueError("judge needs at least one clip")
    inputs = np.concatenate(cut)
    rows: dict[str, list[np.ndarray]] = {"probabilities": [], "penultimate": []}
    for start in range(0, len(inputs), int(batch_size)):
        out = network(inputs[start : start + int(batch_size)], training=False)
        for key, parts in rows.items():
            parts.append(ops.convert_to_numpy(out[key]))
    return Judgement(
        model=model,
        tags=TAGS[model],
        probabilities=np.concatenate(rows["probabilities"]),
        embeddings=np.concatenate(rows["penultimate"]),
        clip=np.concatenate(owner),
        n_clips=len(cut),
    )
