"""The six figures of a genre, listed once: the rule's outputs (``workflow/rules/render.smk``),
the files :func:`genrevae.figures.make_figures` writes, the page's captions
(:mod:`genrevae.page`) and the report's caption files (``workflow/report/<stem>.rst``, checked
by ``tests/test_figures.py``) all come from :data:`FIGURES`.

A module of its own, without matplotlib, so that the workflow and the page can read the list
without importing the plotting code.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import NamedTuple

from genrevae.sizes import N_EPOCH_SAMPLES

__all__ = ["Figure", "FIGURES"]


class Figure(NamedTuple):
    """One figure: ``key`` names it in the rule's outputs and in what ``make_figures`` returns,
    ``file`` is its name in ``results/<genre>/figures/``, ``caption`` its caption on the page."""

    key: str
    file: str
    caption: str

    @property
    def report_caption(self) -> str:
        """The report's caption file, relative to ``workflow/report/``: ``<stem>.rst``."""
        return PurePath(self.file).stem + ".rst"


#: In display order (the page shows them so).
FIGURES = (
    Figure(
        "grid",
        "samples_grid.png",
        f"{N_EPOCH_SAMPLES} clips generated from the genre's learned prior (the course report's picture).",
    ),
    Figure(
        "spectrograms",
        "spectrograms.png",
        "Log-mel spectrograms of two real test clips, two clips from the learned prior and two from N(0, I), "
        "one colour scale: notes are horizontal lines, onsets vertical ones, noise a flat smear.",
    ),
    Figure(
        "evolution",
        "samples_evolution.gif",
        f"{N_EPOCH_SAMPLES} fixed N(0, I) draws decoded before training and at every checkpoint.",
    ),
    Figure(
        "reconstructions",
        "reconstructions.png",
        "Test clips (grey) and their reconstructions (blue): waveforms and log-mel spectrograms.",
    ),
    Figure("loss", "loss_curves.png", "Training loss per sample, test ELBO, KL and reconstruction term over training steps."),
    Figure("latent", "latent_space.png", "Posterior means of the train and test clips in latent space."),
)
