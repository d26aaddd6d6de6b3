"""Sizes that a stage and the workflow's resource estimates both need: one definition each.

Training (:mod:`genrevae.train`), the figures and the page use them, and so does
:mod:`genrevae.resources`, which Snakemake imports at every DAG build.  They live here, in a module
that imports nothing, so the estimates need not import training (numpy, pandas, a Keras backend:
~0.7 s per build) and training's code inputs need not include the estimates (editing a resource
model must not retrain every genre).
"""

from __future__ import annotations

__all__ = ["N_EPOCH_SAMPLES", "window_length"]

#: Prior draws decoded at every training checkpoint (``epoch_samples.npy``) and clips in the
#: figures' learned-prior grid: one 4 x 4 waveform grid each.
N_EPOCH_SAMPLES = 16


def window_length(train_settings: dict, n_samples: int, fixed_length: bool) -> int:
    """Samples per training window: ``train.window_samples`` capped at the clip, or the whole
    clip when it is null or the model takes one fixed length (the ``report`` preset)."""
    window = train_settings["window_samples"]
    if fixed_length or window is None:
        return int(n_samples)
    return min(int(window), int(n_samples))
