"""The listening page: one static HTML file to hear and compare what every genre's VAE makes.

:func:`write_listening_page` writes two files from the per-genre results:

``results/index.html``
    The full page.  Per genre: the evaluation metrics (ELBO and IWAE under N(0, I) and under
    the learned prior), the learned prior's held-out likelihood next to N(0, I) and a VAR
    baseline (``prior/prior.json``), the generation-quality numbers with their controls,
    ``<audio>`` players for the clips generated from the learned prior, the same seeds
    decoded from N(0, I) (the baseline), the reconstructions next to their originals and the
    interpolations (all from the 22,050 Hz ``playback/`` copies, with a link to each
    model-rate file), and the figures; on top, the cross-genre fidelity table and then the
    transfers (below).  Everything is referenced by *relative* links, so the page works from
    disk (``file://``), from any static web server and inside a copied ``results/`` folder,
    with no network and no script.
``results/thumbnails/`` (with ``thumbnails_dir``)
    Look before you listen: beside every player, a small log-mel spectrogram of its clip
    (:func:`genrevae.spectrum.spectrogram_thumbnail`, computed from the model-rate WAV), one
    fixed colour scale for all of them, so notes (horizontal lines), onsets (vertical lines)
    or their absence show at a glance.  One PNG per clip at the clip's path relative to
    ``results/`` (``<genre>/generated/<stem>.png``, ``<genre>/transfer/<source>.png``,
    ``transfer/sources/<source>.png``); the folder is written afresh on every run (a temp
    folder moved into place), so no thumbnail of an older run survives.  Without
    ``thumbnails_dir`` the page has no thumbnails.
Transfers (section ``#transfers``, only when there are any)
    Source clips re-synthesised through every genre's VAE, read from
    ``results/transfer/sources/<source>.{wav,json}`` (and ``playback/``) and
    ``results/<genre>/transfer/<source>.{wav,json}`` (and ``playback/``); every part is
    optional.  One table row per source: the original (player, thumbnail, description),
    then one column "as <genre>" per configured genre: the transfer's player and thumbnail
    with its strength, prior and seed, or "-" where there is none (a source is usually not
    transferred into its own genre).
``results/listening_report.html`` (optional)
    A self-contained variant for ``snakemake --report report.html``: the report shows an
    HTML result inside an iframe whose source is a ``data:`` URL, and Chromium refuses
    ``data:`` URLs over 2 MB in frames (measured: the frame stays blank).  So this variant
    embeds as many generated clips (model-rate WAVs, smaller) with their thumbnails (PNG
    ``data:`` URIs, counted in the cost) as fit under :data:`REPORT_PAGE_BUDGET` bytes --
    learned-prior and N(0, I) clips of the same seed side by side, so the excerpt always has
    some of each -- and the tables; figures are in the report anyway.  It leaves the
    transfers out (they would compete with the generated clips for the same 1.4 MB; the
    page has them all).

Modules
-------
One concern each, so that a reader (and the workflow's code inputs) can tell them apart:

* :mod:`genrevae.page.collect` -- reading one run's results from disk: :func:`collect_genre`,
  :func:`collect_transfers` and what they return.
* :mod:`genrevae.page.render` -- the HTML: :func:`render_page` from collected results and link
  functions, touching no file.
* :mod:`genrevae.page.thumbnails` -- the spectrogram thumbnails, rendered once per clip and
  written as a fresh folder.
* :mod:`genrevae.page.budget` -- which clips the self-contained report variant embeds within
  :data:`REPORT_PAGE_BUDGET` bytes (a greedy knapsack).
* :mod:`genrevae.page.write` -- :func:`write_listening_page`: the two pages on disk, with
  relative links or embedded clips.

Importing the package imports them all (the names below are its interface), so a command
that imports ``genrevae.page`` depends on every one of them
(:func:`genrevae.workflow_support.command_code` follows these absolute imports).
"""

from genrevae.page.budget import BROWSER_MIN_RATE, REPORT_PAGE_BUDGET
from genrevae.page.collect import GenreResults, TransferClip, TransferRow, collect_genre, collect_transfers
from genrevae.page.render import CONTROL_LABELS, FIGURE_CAPTIONS, METRIC_LABELS, PRIOR_ROWS, ClipLink, render_page
from genrevae.page.thumbnails import _Thumbnails
from genrevae.page.write import relative_url, write_listening_page

__all__ = [
    "FIGURE_CAPTIONS",
    "METRIC_LABELS",
    "REPORT_PAGE_BUDGET",
    "ClipLink",
    "GenreResults",
    "TransferClip",
    "TransferRow",
    "collect_genre",
    "collect_transfers",
    "relative_url",
    "render_page",
    "write_listening_page",
]
