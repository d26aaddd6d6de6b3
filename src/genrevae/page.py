"""The listening page: one static HTML file to hear and compare what every genre's VAE makes.

:func:`write_listening_page` writes two files from the per-genre results:

``results/index.html``
    The full page.  Per genre: the evaluation metrics, the generation-quality numbers,
    ``<audio>`` players for the generated clips, the reconstructions next to their
    originals and the interpolations (all from the 22,050 Hz ``playback/`` copies, with a
    link to each model-rate file), and the figures; on top, the cross-genre fidelity
    table.  Everything is referenced by *relative* links, so the page works from disk
    (``file://``), from any static web server and inside a copied ``results/`` folder,
    with no network and no script.
``results/listening_report.html`` (optional)
    A self-contained variant for ``snakemake --report report.html``: the report shows an
    HTML result inside an iframe whose source is a ``data:`` URL, and Chromium refuses
    ``data:`` URLs over 2 MB in frames (measured: the frame stays blank).  So this variant
    embeds as many generated clips (model-rate WAVs, smaller) as fit under
    :data:`REPORT_PAGE_BUDGET` bytes and the tables; figures are in the report anyway.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import quote

import pandas as pd

__all__ = [
    "FIGURE_CAPTIONS",
    "METRIC_LABELS",
    "REPORT_PAGE_BUDGET",
    "GenreResults",
    "collect_genre",
    "relative_url",
    "render_page",
    "write_listening_page",
]

#: Chromium shows no ``data:`` URL over 2 MiB in a frame; the report base64-encodes the page
#: (4/3 larger), so the raw page must stay below 1.5 MiB; keep some margin.
REPORT_PAGE_BUDGET = 1_400_000
#: Lowest sample rate Chromium's media stack plays (measured: 2,000 Hz fails, 3,000 Hz plays).
BROWSER_MIN_RATE = 3000

FIGURE_CAPTIONS = {
    "samples_grid.png": "16 clips decoded from the prior after the last epoch (the seed report's picture).",
    "samples_evolution.gif": "The same 16 prior draws decoded before training and after every epoch.",
    "reconstructions.png": "Test clips (grey) and their reconstructions (blue): waveforms and log-mel spectrograms.",
    "loss_curves.png": "Training loss, test ELBO, KL and reconstruction term per epoch (nats per clip).",
    "latent_space.png": "Posterior means of the train and test clips in latent space.",
}

METRIC_LABELS = {
    "n_clips": "clips",
    "elbo_nats": "ELBO (nats per clip)",
    "elbo_bits_per_sample": "ELBO (bits per sample)",
    "iwae_nats": "IWAE bound (nats per clip)",
    "recon_nats": "reconstruction term E_q[log p(x|z)] (nats per clip)",
    "kl_nats": "KL(q(z|x) || p(z)) (nats per clip)",
    "active_units": "active latent units",
    "snr_db": "reconstruction SNR (dB)",
    "stft_distance": "multi-resolution STFT distance of reconstructions",
}

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em 2em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ccc; padding-top: 1em; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f0f0f0; }
.players { display: flex; flex-wrap: wrap; gap: 0.8em; }
.players figure, .pair figure { margin: 0; padding: 0.4em; border: 1px solid #ddd; border-radius: 4px; }
figcaption { font-size: 0.85em; color: #555; }
audio { width: 260px; display: block; }
.pair { display: flex; gap: 0.8em; align-items: flex-start; margin-bottom: 0.6em; }
.figures figure { margin: 0 0 1.5em; }
.figures img { max-width: 100%; height: auto; border: 1px solid #eee; }
.note { color: #666; font-size: 0.9em; }
"""


@dataclass
class GenreResults:
    """What the page shows of one genre (paths are as found on disk)."""

    name: str
    metrics: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    manifest: pd.DataFrame = field(default_factory=pd.DataFrame)
    generated_dir: Path = Path()
    figures: dict[str, Path] = field(default_factory=dict)


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8")) if Path(path).is_file() else {}


def collect_genre(results_dir: Path, genre: str) -> GenreResults:
    """Read one genre's ``metrics.json``, ``generation_quality.json``, ``generated/manifest.csv``
    and figure paths under ``results_dir/<genre>``; missing pieces are left empty."""
    base = Path(results_dir) / genre
    generated = base / "generated"
    manifest_path = generated / "manifest.csv"
    manifest = pd.read_csv(manifest_path, keep_default_na=False) if manifest_path.is_file() else pd.DataFrame()
    figures = {name: base / "figures" / name for name in FIGURE_CAPTIONS if (base / "figures" / name).is_file()}
    return GenreResults(
        name=genre,
        metrics=_read_json(base / "metrics.json"),
        quality=_read_json(base / "generation_quality.json"),
        manifest=manifest,
        generated_dir=generated,
        figures=figures,
    )


def relative_url(target: Path, page_dir: Path) -> str:
    """A relative, percent-encoded URL from a page in ``page_dir`` to ``target``."""
    rel = os.path.relpath(Path(target).resolve(), Path(page_dir).resolve())
    return quote(Path(rel).as_posix())


# ---------------------------------------------------------------------------
# HTML pieces
# ---------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        if abs(value) >= 1e4:
            return f"{value:,.0f}"
        return f"{value:.1f}" if abs(value) >= 100 else f"{value:.4g}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], caption: str | None = None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(_fmt(v))}</td>" for v in row) + "</tr>" for row in rows)
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _metrics_html(metrics: dict[str, Any]) -> str:
    if not metrics:
        return '<p class="note">No metrics.json.</p>'
    subsets = [k for k in ("test", "train") if isinstance(metrics.get(k), dict)]
    subsets += [k for k, v in metrics.items() if isinstance(v, dict) and k not in subsets and k != "settings"]
    keys: list[str] = []
    for subset in subsets:
        for key, value in metrics[subset].items():
            if key not in keys and isinstance(value, (int, float)) and not isinstance(value, bool):
                keys.append(key)
    keys.sort(key=lambda k: (list(METRIC_LABELS).index(k) if k in METRIC_LABELS else len(METRIC_LABELS), k))
    rows = [[METRIC_LABELS.get(k, k)] + [metrics[s].get(k) for s in subsets] for k in keys]
    out = _table(["metric"] + [f"{s} clips" for s in subsets], rows)
    extra = {k: v for k, v in metrics.items() if k not in subsets and k != "settings" and not isinstance(v, dict)}
    if extra:
        out += '<p class="note">' + "; ".join(
            f"{_e(k)}: {_e(v if isinstance(v, list) else _fmt(v))}" for k, v in sorted(extra.items())
        ) + "</p>"  # fmt: skip
    return out


def _quality_html(quality: dict[str, Any]) -> str:
    if not quality:
        return '<p class="note">No generation_quality.json.</p>'
    n = quality.get("n_clips", {})
    rms = quality.get("rms", {})
    rows = [
        ["Frechet distance, generated vs test", quality.get("frechet_generated_test")],
        ["Frechet distance, train vs test (floor)", quality.get("frechet_train_test")],
        ["ratio generated / floor (1 = as good as real music)", quality.get("ratio")],
        ["Frechet distance, generated vs train", quality.get("frechet_generated_train")],
        ["clips generated / train / test", f"{n.get('generated', '?')} / {n.get('train', '?')} / {n.get('test', '?')}"],
        [
            "mean RMS generated / train / test (full scale)",
            " / ".join(_fmt(rms.get(k)) for k in ("generated", "train", "test")),
        ],
    ]
    return _table(["measure", "value"], rows) + f'<p class="note">Features: {_e(quality.get("feature", ""))}.</p>'


def _fidelity_html(fidelity: pd.DataFrame | None) -> str:
    if fidelity is None or fidelity.empty:
        return '<p class="note">No genre_fidelity.csv.</p>'
    columns = list(fidelity.columns)
    rows = [[None if isinstance(v, float) and math.isnan(v) else v for v in row] for row in fidelity.itertuples(index=False)]
    return _table(columns, rows) + (
        '<p class="note">fidelity: share of a genre\'s generated clips that a logistic-regression genre '
        "classifier on MFCC statistics (trained on the real train clips of all genres) assigns to that genre; "
        "test_recall / test_accuracy: the same classifier on real test clips (how far it can be trusted).</p>"
    )


AudioLink = Callable[[GenreResults, pd.Series], "tuple[str, str | None] | None"]


def _player(label: str, link: tuple[str, str | None] | None) -> str:
    if link is None:
        return f'<figure><figcaption>{_e(label)}</figcaption><p class="note">(not embedded)</p></figure>'
    src, download = link
    extra = f' <a href="{_e(download)}">model-rate WAV</a>' if download else ""
    return (
        f'<figure><figcaption>{_e(label)}{extra}</figcaption>'
        f'<audio controls preload="metadata" src="{_e(src)}"></audio></figure>'
    )


def _audio_html(genre: GenreResults, audio_link: AudioLink) -> str:
    m = genre.manifest
    if m.empty:
        return '<p class="note">No generated clips (generated/manifest.csv missing).</p>'
    parts = []
    samples = m[m["kind"] == "sample"]
    if len(samples):
        rate = samples["sample_rate"].iloc[0]
        parts.append(f'<h3>Generated clips</h3><p class="note">Decoded from z ~ N(0, I), {_e(rate)} Hz model output.</p>')
        players = "".join(
            _player(f"sample {i}, seed {r['seed']}", audio_link(genre, r)) for i, (_, r) in enumerate(samples.iterrows())
        )
        parts.append(f'<div class="players">{players}</div>')
    pairs = m[m["kind"].isin(["original", "reconstruction"])]
    if len(pairs):
        parts.append(
            '<h3>Reconstructions</h3><p class="note">Test clips (as the model sees them) and their '
            "reconstructions from the posterior mean.</p>"
        )
        for group, rows in pairs.groupby("group", sort=False):
            players = "".join(
                _player(f"{r['kind']}: {r['source_tracks']}", audio_link(genre, r))
                for _, r in rows.sort_values("kind").iterrows()  # original, then reconstruction
            )
            parts.append(f'<div class="pair">{players}</div>')
    interps = m[m["kind"] == "interpolation"]
    if len(interps):
        parts.append(
            '<h3>Interpolations</h3><p class="note">Decoded points on a path between the posterior means '
            "of two test clips.</p>"
        )
        for group, rows in interps.groupby("group", sort=False):
            tracks = str(rows["source_tracks"].iloc[0]).replace(";", " to ")
            players = "".join(_player(f"t = {float(r['t']):.2f}", audio_link(genre, r)) for _, r in rows.iterrows())
            parts.append(f'<h4>{_e(group)}: {_e(tracks)}</h4><div class="players">{players}</div>')
    return "".join(parts)


def _figures_html(genre: GenreResults, image_link: Callable[[Path], str | None]) -> str:
    parts = []
    for name, path in genre.figures.items():
        src = image_link(path)
        if src is None:
            continue
        parts.append(
            f'<figure><img src="{_e(src)}" alt="{_e(genre.name)}: {_e(name)}" loading="eager">'
            f"<figcaption>{_e(name)}: {_e(FIGURE_CAPTIONS[name])}</figcaption></figure>"
        )
    if not parts:
        return ""
    return '<h3>Figures</h3><div class="figures">' + "".join(parts) + "</div>"


def render_page(
    genres: Sequence[GenreResults],
    fidelity: pd.DataFrame | None,
    audio_link: AudioLink,
    image_link: Callable[[Path], str | None],
    title: str = "genrevae: listening page",
    intro: str = "",
) -> str:
    """The page as one HTML string.

    ``audio_link(genre, manifest_row)`` returns ``(src, model_rate_link_or_None)`` for an
    ``<audio>`` player or ``None`` to leave it out; ``image_link(path)`` returns an
    ``<img>`` source or ``None`` to leave the figure out.
    """
    nav = " ".join(f'<a href="#genre-{_e(g.name)}">{_e(g.name)}</a>' for g in genres)
    sections = []
    for g in genres:
        sections.append(
            f'<section id="genre-{_e(g.name)}"><h2>{_e(g.name)}</h2>'
            f"<h3>Evaluation</h3>{_metrics_html(g.metrics)}"
            f"<h3>Generation quality</h3>{_quality_html(g.quality)}"
            f"{_audio_html(g, audio_link)}{_figures_html(g, image_link)}</section>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{_e(title)}</h1>{intro}<nav>{nav}</nav></header>"
        f'<section id="fidelity"><h2>Genre fidelity (all genres)</h2>{_fidelity_html(fidelity)}</section>'
        + "".join(sections)
        + '<footer><p class="note">Written by genrevae. A static page: no server, no network, no script.</p>'
        "</footer></body></html>\n"
    )


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _report_selection(genres: Sequence[GenreResults], budget: int) -> set[tuple[str, str]]:
    """(genre, file) of the clips to embed while their base64 size fits ``budget``: generated
    samples round-robin over the genres, then reconstruction pairs, then interpolations
    (a pair or an interpolation is embedded whole or not at all)."""
    units: list[tuple[GenreResults, list[pd.Series]]] = []
    for kinds in (("sample",), ("original", "reconstruction"), ("interpolation",)):
        queues = []
        for g in genres:
            if g.manifest.empty:
                queues.append([])
                continue
            rows = g.manifest[g.manifest["kind"].isin(kinds)]
            key = "file" if kinds == ("sample",) else "group"
            queues.append([[r for _, r in group.iterrows()] for _, group in rows.groupby(key, sort=False)])
        for i in range(max((len(q) for q in queues), default=0)):
            units += [(g, q[i]) for g, q in zip(genres, queues) if i < len(q)]
    chosen: set[tuple[str, str]] = set()
    used = 0
    for g, rows in units:
        paths = [g.generated_dir / _embedded_file(r) for r in rows]
        if not all(p.is_file() for p in paths):
            continue
        cost = sum(4 * ((p.stat().st_size + 2) // 3) + 300 for p in paths)
        if used + cost <= budget:
            chosen |= {(g.name, str(r["file"])) for r in rows}
            used += cost
    return chosen


def _embedded_file(row: pd.Series) -> str:
    return str(row["file"]) if int(row["sample_rate"]) >= BROWSER_MIN_RATE else str(row["playback_file"])


def write_listening_page(
    results_dir: Path,
    genres: Sequence[str],
    out_html: Path,
    fidelity_csv: Path | None = None,
    report_html: Path | None = None,
    budget: int = REPORT_PAGE_BUDGET,
) -> None:
    """Write the listening page ``out_html`` (relative links) and, if given, the
    self-contained report variant ``report_html`` (at most ``budget`` bytes)."""
    from genrevae.files import write_text

    results_dir, out_html = Path(results_dir), Path(out_html)
    data = [collect_genre(results_dir, g) for g in genres]
    fidelity = pd.read_csv(fidelity_csv) if fidelity_csv and Path(fidelity_csv).is_file() else None
    page_dir = out_html.parent

    def audio_link(genre: GenreResults, row: pd.Series) -> tuple[str, str | None]:
        playback = relative_url(genre.generated_dir / str(row["playback_file"]), page_dir)
        return playback, relative_url(genre.generated_dir / str(row["file"]), page_dir)

    intro = (
        "<p>One variational autoencoder per genre, trained on raw waveforms. Players use 22,050 Hz "
        "copies of the model-rate clips (browsers refuse very low rates); the links lead to the "
        "model-rate files. Clips are DC-free and were only ever scaled down to stay below full scale.</p>"
    )
    write_text(render_page(data, fidelity, audio_link, lambda p: relative_url(p, page_dir), intro=intro), out_html)

    if report_html is None:
        return
    intro_report = (
        "<p>Self-contained excerpt of <code>results/index.html</code> for the Snakemake report (which cannot "
        "show pages over 2 MB): the tables and as many generated clips as fit, at the model rate. "
        "Open <code>results/index.html</code> for every clip and figure.</p>"
    )
    empty = render_page(data, fidelity, lambda g, r: None, lambda p: None, intro=intro_report)
    chosen = _report_selection(data, budget - len(empty.encode("utf-8")))

    def embed_audio(genre: GenreResults, row: pd.Series) -> tuple[str, str | None] | None:
        if (genre.name, str(row["file"])) not in chosen:
            return None
        return _data_uri(genre.generated_dir / _embedded_file(row), "audio/wav"), None

    write_text(render_page(data, fidelity, embed_audio, lambda p: None, intro=intro_report), report_html)
