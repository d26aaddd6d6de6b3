"""Writing the listening page and its report variant: collect the results, write the
thumbnails, then render once with relative links (``index.html``) and once with embedded clips
chosen by the budget (the report variant).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Sequence
from urllib.parse import quote

import pandas as pd

from genrevae.page.budget import REPORT_PAGE_BUDGET, _embedded_file, _report_selection
from genrevae.page.collect import GenreResults, TransferClip, collect_genre, collect_transfers
from genrevae.page.render import _THUMBNAIL_NOTE, ClipLink, render_page
from genrevae.page.thumbnails import _Thumbnails


def relative_url(target: Path, page_dir: Path) -> str:
    """A relative, percent-encoded URL from a page in ``page_dir`` to ``target``."""
    rel = os.path.relpath(Path(target).resolve(), Path(page_dir).resolve())
    return quote(Path(rel).as_posix())


def _data_uri(path: Path, mime: str) -> str:
    return _bytes_uri(Path(path).read_bytes(), mime)


def _bytes_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def write_listening_page(
    results_dir: Path,
    genres: Sequence[str],
    out_html: Path,
    fidelity_csv: Path | None = None,
    report_html: Path | None = None,
    budget: int = REPORT_PAGE_BUDGET,
    thumbnails_dir: Path | None = None,
    transfer_sources: Sequence[str] | None = None,
) -> None:
    """Write the listening page ``out_html`` (relative links) and, if given, the
    self-contained report variant ``report_html`` (at most ``budget`` bytes).

    With ``thumbnails_dir`` (``results/thumbnails``), every player of the page gets a
    spectrogram thumbnail there, the folder written afresh; the report variant embeds the
    thumbnails of its clips either way.  ``transfer_sources`` are the transfer sources to show
    (the workflow passes the ones it built; default: every source found on disk), see
    :func:`~genrevae.page.collect.collect_transfers`."""
    from genrevae.files import write_text

    results_dir, out_html = Path(results_dir), Path(out_html)
    data = [collect_genre(results_dir, g) for g in genres]
    transfers = collect_transfers(results_dir, genres, transfer_sources)
    fidelity = pd.read_csv(fidelity_csv) if fidelity_csv and Path(fidelity_csv).is_file() else None
    page_dir = out_html.parent
    thumbnails = _Thumbnails(results_dir)

    thumbnail_files: dict[Path, Path] = {}
    if thumbnails_dir is not None:
        wavs = [g.generated_dir / str(f) for g in data if not g.manifest.empty for f in g.manifest["file"]]
        for row in transfers:
            wavs += [c.wav for c in ([row.original] if row.original else []) + list(row.outputs.values())]
        thumbnail_files = thumbnails.write(wavs, Path(thumbnails_dir))

    def thumbnail_url(wav: Path) -> str | None:
        return relative_url(thumbnail_files[wav], page_dir) if wav in thumbnail_files else None

    def audio_link(genre: GenreResults, row: pd.Series) -> ClipLink:
        wav = genre.generated_dir / str(row["file"])
        playback = relative_url(genre.generated_dir / str(row["playback_file"]), page_dir)
        return ClipLink(playback, relative_url(wav, page_dir), thumbnail_url(wav))

    def transfer_link(clip: TransferClip) -> ClipLink:
        player = clip.player_file
        download = relative_url(clip.wav, page_dir) if clip.wav.is_file() and player != clip.wav else None
        return ClipLink(relative_url(player, page_dir), download, thumbnail_url(clip.wav))

    intro = (
        "<p>One variational autoencoder per genre, trained on raw waveforms, and a learned prior over its "
        "latent frames (a GRU or a causal transformer) to generate from; the same seeds decoded from N(0, I) are the baseline. "
        "Players use 22,050 Hz "
        "copies of the model-rate clips (browsers refuse very low rates); the links lead to the "
        "model-rate files. Clips are DC-free and were only ever scaled down to stay below full scale.</p>"
    )
    if thumbnail_files:
        intro += _THUMBNAIL_NOTE
    page = render_page(
        data, fidelity, audio_link, lambda p: relative_url(p, page_dir), intro=intro,
        transfers=transfers, transfer_link=transfer_link,
    )  # fmt: skip
    write_text(page, out_html)

    if report_html is None:
        return
    intro_report = (
        "<p>Self-contained excerpt of <code>results/index.html</code> for the Snakemake report (which cannot "
        "show pages over 2 MB): the tables and as many generated clips as fit (learned prior and N(0, I) "
        "baseline of the same seed side by side), at the model rate, each with its spectrogram thumbnail. "
        "Open <code>results/index.html</code> for every clip, the transfers and the figures.</p>" + _THUMBNAIL_NOTE
    )
    empty = render_page(data, fidelity, lambda g, r: None, lambda p: None, intro=intro_report)
    chosen = _report_selection(data, budget - len(empty.encode("utf-8")), thumbnails.png)

    def embed_audio(genre: GenreResults, row: pd.Series) -> ClipLink | None:
        if (genre.name, str(row["file"])) not in chosen:
            return None
        png = thumbnails.png(genre.generated_dir / str(row["file"]))
        thumbnail = _bytes_uri(png, "image/png") if png else None
        return ClipLink(_data_uri(genre.generated_dir / _embedded_file(row), "audio/wav"), None, thumbnail)

    write_text(render_page(data, fidelity, embed_audio, lambda p: None, intro=intro_report), report_html)
