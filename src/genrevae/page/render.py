"""The listening page's HTML: :func:`render_page` builds the page as one string from collected
results and link functions (relative links or embedded ``data:`` URIs are the caller's
choice), so the same renderer writes both the page and its report variant and reads no file.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import pandas as pd

from genrevae.figure_list import FIGURES
from genrevae.page.collect import GenreResults, TransferClip, TransferRow
from genrevae.spectrum import COLORMAP, THUMBNAIL_DB_LIMITS, THUMBNAIL_SIZE

#: The page's caption of each figure file, in display order (from :data:`genrevae.figure_list.FIGURES`).
FIGURE_CAPTIONS = {figure.file: figure.caption for figure in FIGURES}

#: Row labels of the metrics table, in display order.  A nested block of a subset (e.g.
#: ``learned_prior``) appears as ``<block>.<key>``; its rows sit next to the N(0, I) ones.
METRIC_LABELS = {
    "n_clips": "clips",
    "elbo_nats": "ELBO (N(0, I) prior, nats per clip)",
    "learned_prior.elbo_nats": "ELBO under the learned prior (nats per clip)",
    "elbo_bits_per_sample": "ELBO (N(0, I) prior, bits per sample)",
    "learned_prior.elbo_bits_per_sample": "ELBO under the learned prior (bits per sample)",
    "iwae_nats": "IWAE bound (N(0, I) prior, nats per clip)",
    "learned_prior.iwae_nats": "IWAE bound under the learned prior (nats per clip)",
    "recon_nats": "reconstruction term E_q[log p(x|z)] (nats per clip)",
    "kl_nats": "KL(q(z|x) || p(z)) (N(0, I) prior, nats per clip)",
    "learned_prior.kl_nats": "KL(q(z|x) || p(z)) under the learned prior (nats per clip)",
    "kl_analytic_nats": "KL(q(z|x) || N(0, I)) in closed form (nats per clip)",
    "active_units": "active latent units",
    "snr_db": "reconstruction SNR (dB)",
    "stft_distance": "multi-resolution STFT distance of reconstructions",
}

#: Rows of the learned-prior table: key in ``prior.json``'s report and its label
#: (``{order}`` is the VAR order, ``{network}`` the learned prior's network).
PRIOR_ROWS = (
    ("standard_normal", "N(0, I)"),
    ("var", "VAR({order}) (linear baseline)"),
    ("learned", "learned ({network})"),
)

#: ``prior.network`` as the page names it; a prior.json without the setting is a GRU's.
NETWORK_LABELS = {"gru": "GRU", "transformer": "causal transformer"}

#: Names of the generation-quality controls, in display order (others follow as they are called).
CONTROL_LABELS = {
    "phase_randomised": "phase-randomised real train clips (same spectrum, no dynamics)",
    "gaussian_prior": "decoded from N(0, I) (the old baseline)",
    "reconstructions": "reconstructions of test clips (the ceiling)",
}

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em 2em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ccc; padding-top: 1em; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f0f0f0; }
caption { text-align: left; white-space: nowrap; padding-bottom: 0.3em; }
.players { display: flex; flex-wrap: wrap; gap: 0.8em; }
.players figure, .pair figure { margin: 0; padding: 0.4em; border: 1px solid #ddd; border-radius: 4px; }
figcaption { font-size: 0.85em; color: #555; }
audio { width: 260px; display: block; }
.pair { display: flex; gap: 0.8em; align-items: flex-start; margin-bottom: 0.6em; }
.figures figure { margin: 0 0 1.5em; }
.figures img { max-width: 100%; height: auto; border: 1px solid #eee; }
.note { color: #666; font-size: 0.9em; }
.clip { display: flex; gap: 0.4em; align-items: center; }
img.thumb { display: block; border: 1px solid #ddd; }
.scroll { overflow-x: auto; }
table.transfers th, table.transfers td { text-align: left; vertical-align: top; }
table.transfers td.missing { text-align: center; vertical-align: middle; color: #999; }
table.transfers figure { margin: 0; max-width: 230px; }
table.transfers .clip { flex-direction: column; align-items: flex-start; }
table.transfers audio { width: 220px; }
"""

_THUMBNAIL_NOTE = (
    '<p class="note">Beside every player: the clip\'s log-mel spectrogram, computed from its model-rate file '
    "(time left to right, low frequencies at the bottom, up to half the model's sample rate). Every thumbnail "
    f"has the same colour scale ({COLORMAP}: black at {THUMBNAIL_DB_LIMITS[0]:+.0f} dB or below, brightest at "
    f"{THUMBNAIL_DB_LIMITS[1]:+.0f} dB, the loudest band of a full-scale sine), so notes (horizontal lines) and "
    "onsets (vertical lines), or their absence, show before you listen; silence is black.</p>"
)


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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _metrics_html(metrics: dict[str, Any]) -> str:
    if not metrics:
        return '<p class="note">No metrics.json.</p>'
    subsets = [k for k in ("test", "train") if isinstance(metrics.get(k), dict)]
    subsets += [k for k, v in metrics.items() if isinstance(v, dict) and k not in subsets and k != "settings"]
    # one row per number; a nested block of numbers (learned_prior: {...}) gives rows "<block>.<key>"
    flat: dict[str, dict[str, Any]] = {}
    for subset in subsets:
        values = flat.setdefault(subset, {})
        for key, value in metrics[subset].items():
            if _is_number(value):
                values[key] = value
            elif isinstance(value, dict):
                values.update({f"{key}.{k}": v for k, v in value.items() if _is_number(v)})
    keys: list[str] = []
    for subset in subsets:
        keys += [k for k in flat[subset] if k not in keys]
    keys.sort(key=lambda k: (list(METRIC_LABELS).index(k) if k in METRIC_LABELS else len(METRIC_LABELS), k))
    rows = [[METRIC_LABELS.get(k, k)] + [flat[s].get(k) for s in subsets] for k in keys]
    out = _table(["metric"] + [f"{s} clips" for s in subsets], rows)
    if any(k.startswith("learned_prior.") for k in keys):
        out += (
            '<p class="note">The same draws z ~ q(z|x) scored under both priors: each ELBO and IWAE bound is a '
            "valid lower bound on log p(x) of its model (higher is better); the learned prior is the "
            "genre's autoregressive network over latent frames (a GRU or a causal transformer: prior.network).</p>"
        )
    extra = {k: v for k, v in metrics.items() if k not in subsets and k != "settings" and not isinstance(v, dict)}
    if extra:
        out += '<p class="note">' + "; ".join(
            f"{_e(k)}: {_e(v if isinstance(v, list) else _fmt(v))}" for k, v in sorted(extra.items())
        ) + "</p>"  # fmt: skip
    return out


def _prior_html(prior: dict[str, Any]) -> str:
    report = prior.get("report") if isinstance(prior, dict) else None
    if not isinstance(report, dict) or not report:
        return '<p class="note">No prior/prior.json.</p>'
    splits = [k for k in ("train", "test") if isinstance(report.get(k), dict)]
    splits += [k for k, v in report.items() if isinstance(v, dict) and k not in splits]
    order = prior.get("var_order", "p")
    settings = prior.get("settings") if isinstance(prior.get("settings"), dict) else {}
    network = str(settings.get("network", "gru"))
    network = NETWORK_LABELS.get(network, network)
    rows = []
    for key, label in PRIOR_ROWS:
        values = [report[s].get(key, {}) for s in splits]
        values = [v.get("nll_per_frame") if isinstance(v, dict) else None for v in values]
        if any(v is not None for v in values):
            rows.append([label.format(order=order, network=network)] + values)
    if not rows:
        return '<p class="note">prior/prior.json has no likelihoods.</p>'
    caption = "Learned prior: held-out negative log-likelihood per latent frame (nats, lower is better)"
    out = _table(["prior"] + splits, rows, caption=caption)
    notes = ["scored on the posterior means of the clips (not an ELBO)"]
    for s in splits:
        r = report[s]
        if all(k in r for k in ("clips", "frames", "channels")):
            notes.append(f"{s}: {_fmt(r['clips'])} clips of {_fmt(r['frames'])} frames x {_fmt(r['channels'])} channels")
    if _is_number(prior.get("parameters")):
        fit = f", fitted in {_fmt(float(prior['fit_seconds']))} s" if _is_number(prior.get("fit_seconds")) else ""
        notes.append(f"learned prior: {_fmt(int(prior['parameters']))} parameters{fit}")
    return out + '<p class="note">' + _e("; ".join(notes)) + ".</p>"


def _generated_value(quality: dict[str, Any], key: str) -> Any:
    """The top-level (generated clips') counterpart of a control's ``key``: ``key`` itself
    (``ratio``), its ``frechet_generated_*`` form (``frechet_test``) or the ``generated``
    entry of a per-set block (``rms``, ``n_clips``)."""
    for candidate in (key, key.replace("frechet_", "frechet_generated_", 1)):
        value = quality.get(candidate)
        if isinstance(value, dict):
            value = value.get("generated")
        if _is_number(value):
            return value
    return None


def _controls_html(quality: dict[str, Any]) -> str:
    controls = {k: v for k, v in (quality.get("controls") or {}).items() if isinstance(v, dict)}
    if not controls:
        return ""
    known = list(CONTROL_LABELS)
    controls = dict(sorted(controls.items(), key=lambda kv: known.index(kv[0]) if kv[0] in known else len(known)))
    columns: list[str] = []
    for block in controls.values():
        columns += [k for k, v in block.items() if k not in columns and (v is None or _is_number(v))]
    # frechet_test and ratio first, then the other distances and ratios (segment level, ...), then the rest
    first = ("frechet_test", "ratio")
    columns.sort(key=lambda k: first.index(k) if k in first else 2 if "frechet" in k or "ratio" in k else 3)
    rows = [["generated (learned prior)"] + [_generated_value(quality, k) for k in columns]]
    rows += [[CONTROL_LABELS.get(name, name)] + [block.get(k) for k in columns] for name, block in controls.items()]
    names = {"frechet_test": "Frechet distance to test", "ratio": "ratio (/ floor)"}
    header = ["clip set"] + [names.get(k, k) for k in columns]
    return (
        "<h4>Controls</h4>"
        + _table(header, rows)
        + '<p class="note">Each control is scored exactly like the generated clips (same test set and floors; '
        "lower is closer). A generator shows dynamics only where it is below the phase-randomised control "
        "(stationary noise with the real long-term spectrum); the reconstructions are the ceiling for any prior. "
        "copy_ratio and copy_z are not lower-is-better: near 1 and 0 is new music of the genre, far below is "
        "replayed training clips.</p>"
    )


def _quality_html(quality: dict[str, Any]) -> str:
    if not quality:
        return '<p class="note">No generation_quality.json.</p>'
    n = quality.get("n_clips", {})
    rms = quality.get("rms", {})
    rows = [
        ["Frechet distance, generated (learned prior) vs test", quality.get("frechet_generated_test")],
        ["Frechet distance, train vs test (floor)", quality.get("frechet_train_test")],
        ["ratio generated / floor (1 = as good as real music)", quality.get("ratio")],
        ["Frechet distance, generated vs train", quality.get("frechet_generated_train")],
    ]
    segment_rows = [
        ["segment-level Frechet distance, generated vs test", "segment_frechet_generated_test"],
        ["segment-level Frechet distance, train vs test (floor)", "segment_frechet_train_test"],
        ["segment-level ratio generated / floor", "segment_ratio"],
        ["segment-level Frechet distance, generated vs train", "segment_frechet_generated_train"],
    ]
    note_rows = [
        ["note-level Frechet distance, generated vs test", "note_frechet_generated_test"],
        ["note-level Frechet distance, train vs test (floor)", "note_frechet_train_test"],
        ["note-level ratio generated / floor", "note_ratio"],
        ["note-level Frechet distance, generated vs train", "note_frechet_generated_train"],
    ]
    copy_rows = [
        ["copying: median distance of a generated segment to the nearest train segment", "copy_distance_generated_train"],
        ["copying: the same for a real test segment (music the model never saw)", "copy_distance_test_train"],
        ["copy ratio generated / test (1 = as novel as unseen music; well below 1 = replays train clips)", "copy_ratio"],
        ["copy z (Mann-Whitney; below -3 = closer to the train clips than new music is)", "copy_z"],
    ]
    # key in quality: generation_quality.json files written before a level existed still render
    rows += [[label, quality.get(key)] for label, key in segment_rows + note_rows + copy_rows if key in quality]
    rows += [
        ["clips generated / train / test", f"{n.get('generated', '?')} / {n.get('train', '?')} / {n.get('test', '?')}"],
        [
            "mean RMS generated / train / test (full scale)",
            " / ".join(_fmt(rms.get(k)) for k in ("generated", "train", "test")),
        ],
    ]
    features = f"Features: {_e(quality.get('feature', ''))}."
    if quality.get("segment_feature"):
        features += f" Segment level: {_e(quality['segment_feature'])}."
    if quality.get("note_feature"):
        features += f" Note level: {_e(quality['note_feature'])}."
    if quality.get("copy_feature"):
        features += f" Copying: {_e(quality['copy_feature'])}."
    return _table(["measure", "value"], rows) + f'<p class="note">{features}</p>' + _controls_html(quality)


def _share(value: Any) -> str:
    return f"{value:.2f}" if _is_number(value) else "n/a"


def _judge_summary_html(genres: Sequence[GenreResults]) -> str:
    """One row per genre: the judge's verdict with its real-clip control, and its embedding ratios."""
    judged = [g for g in genres if g.judge]
    if not judged:
        return '<p class="note">No judge.json.</p>'
    rows = []
    for g in judged:
        verdict, embedding = g.judge.get("verdict", {}), g.judge.get("embedding", {})
        controls = embedding.get("controls", {})
        trusted = verdict.get("trusted")
        rows.append([
            g.name,
            verdict.get("judged_as") or "no tag names it",
            _share(verdict.get("real_test_accuracy")),
            "yes" if trusted else "no",
            _share(verdict.get("generated_share")) + ("" if trusted else " (not trusted)"),
            embedding.get("ratio"),
            *(controls.get(name, {}).get("ratio") for name in CONTROL_LABELS),
        ])  # fmt: skip
    header = [
        "genre", "judged as", "real test clips judged right", "trusted", "generated clips judged right",
        "embedding ratio, learned prior", *(f"embedding ratio, {name}" for name in CONTROL_LABELS),
    ]  # fmt: skip
    return _table(header, rows) + (
        '<p class="note">An independent judge: musicnn (Pons and Serra 2019), taggers trained on MagnaTagATune and '
        "the Million Song Dataset, which nobody here trained, hearing our clips upsampled to 16 kHz (real and "
        "generated alike lack everything above half our sample rate). A clip is judged as the genre whose tags it "
        "gets the highest probability (a fixed vocabulary of genres, genrevae.judge.genres). Its verdict on "
        "generated clips counts only where it recognises the genre's real test clips (trusted). Embedding ratio: "
        "the Frechet distance between musicnn embeddings (per 3 s patch) of a clip set and of the real test "
        "clips, over the same distance between real train and test clips (1 = as close as real music).</p>"
    )


def _judge_html(judge: dict[str, Any]) -> str:
    if not judge:
        return '<p class="note">No judge.json.</p>'
    top, assigned = judge.get("top_tags", {}), judge.get("verdict", {}).get("assigned", {})
    labels = {"test": "real test clips", "generated": "generated (learned prior)", **CONTROL_LABELS}
    names = sorted(top, key=lambda name: list(labels).index(name) if name in labels else len(labels))
    rows = [
        [
            labels.get(name, name),
            ", ".join(f"{tag} {_fmt(p)}" for _, tag, p in top[name]),
            ", ".join(f"{genre} {count}" for genre, count in assigned.get(name, {}).items()),
        ]
        for name in names
    ]
    return _table(["clip set", "top tags (mean probability)", "judged as (clips)"], rows) + (
        f'<p class="note">{_e(judge.get("judge", ""))}.</p>'
    )


def _fidelity_html(fidelity: pd.DataFrame | None) -> str:
    if fidelity is None or fidelity.empty:
        return '<p class="note">No genre_fidelity.csv.</p>'
    columns = list(fidelity.columns)
    rows = [[None if isinstance(v, float) and math.isnan(v) else v for v in row] for row in fidelity.itertuples(index=False)]
    return _table(columns, rows) + (
        '<p class="note">fidelity: share of a genre\'s generated clips that a genre classifier assigns to that '
        "genre. The classifier is a scikit-learn logistic regression (standardised inputs) on clip features "
        "with dynamics: MFCC and delta-MFCC statistics, spectral contrast, chroma, onset-strength and tempo "
        "(autocorrelation) statistics, trained on the real train clips of all genres. "
        "test_recall / test_accuracy: the same classifier on real test clips; cv_accuracy: its cross-validated "
        "accuracy on all real clips (how far it can be trusted). phase_randomised_fidelity: how often it calls "
        "stationary noise with a genre's spectrum (phase-randomised real clips) that genre; it must be low for "
        "the fidelity number to mean anything. predicted_*: where the generated clips go (noise: the "
        "classifier's class of phase-randomised clips, where it has one).</p>"
    )


class ClipLink(NamedTuple):
    """Where a player finds its clip: the ``<audio>`` source, the model-rate file to link to
    (or None) and the spectrogram thumbnail's ``<img>`` source (or None: no thumbnail)."""

    src: str
    download: str | None = None
    thumbnail: str | None = None


AudioLink = Callable[[GenreResults, pd.Series], "ClipLink | tuple[str, str | None] | None"]
TransferLink = Callable[[TransferClip], "ClipLink | None"]


def _player(label: str, link: ClipLink | tuple[str, str | None] | None, note: str = "") -> str:
    """A captioned ``<audio>`` player with its spectrogram thumbnail beside it (``note``: a
    line of text under it)."""
    note_html = f'<p class="note">{_e(note)}</p>' if note else ""
    if link is None:
        return f'<figure><figcaption>{_e(label)}</figcaption><p class="note">(not embedded)</p>{note_html}</figure>'
    link = ClipLink(*link)
    extra = f' <a href="{_e(link.download)}">model-rate WAV</a>' if link.download else ""
    thumbnail = ""
    if link.thumbnail:
        width, height = THUMBNAIL_SIZE
        thumbnail = (
            f'<img class="thumb" src="{_e(link.thumbnail)}" width="{width}" height="{height}" '
            f'alt="log-mel spectrogram of {_e(label)}">'
        )
    return (
        f'<figure><figcaption>{_e(label)}{extra}</figcaption><span class="clip">{thumbnail}'
        f'<audio controls preload="metadata" src="{_e(link.src)}"></audio></span>{note_html}</figure>'
    )


def _temperatures(rows: pd.DataFrame) -> list[float]:
    """The distinct finite sampling temperatures of manifest rows (none for an old manifest)."""
    if "temperature" not in rows:
        return []
    values = pd.to_numeric(rows["temperature"], errors="coerce")
    return sorted({float(v) for v in values if math.isfinite(v)})


def _seeded_players(label: str, rows: pd.DataFrame, genre: GenreResults, audio_link: AudioLink) -> str:
    """One player per manifest row, labelled ``<label> <i>, seed <seed>``."""
    players = "".join(_player(f"{label} {i}, seed {r['seed']}", audio_link(genre, r)) for i, (_, r) in enumerate(rows.iterrows()))
    return f'<div class="players">{players}</div>'

def _audio_html(genre: GenreResults, audio_link: AudioLink) -> str:
    m = genre.manifest
    if m.empty:
        return '<p class="note">No generated clips (generated/manifest.csv missing).</p>'
    parts = []
    samples = m[m["kind"] == "sample"]
    if len(samples):
        rate = samples["sample_rate"].iloc[0]
        if "temperature" in m:
            temps = ", ".join(_fmt(t) for t in _temperatures(samples)) or "n/a"
            parts.append(
                f"<h3>Generated clips (learned prior, temperature {_e(temps)})</h3>"
                f'<p class="note">Latent sequences sampled frame by frame from the genre\'s learned prior '
                f"(a GRU or a causal transformer over latent frames: prior.network), decoded; {_e(rate)} Hz model output.</p>"
            )
        else:  # a manifest from before the learned prior: its samples are N(0, I) draws
            parts.append(
                f'<h3>Generated clips</h3><p class="note">Decoded from z ~ N(0, I), {_e(rate)} Hz model output.</p>'
            )
        parts.append(_seeded_players("sample", samples, genre, audio_link))
    baseline = m[m["kind"] == "gaussian_sample"]
    if len(baseline):
        parts.append(
            "<h3>Baseline: the same seeds from N(0, I)</h3><p class=\"note\">Every latent frame drawn independently "
            "from the VAE's own prior z ~ N(0, I) and decoded: what the model made before it had a learned prior.</p>"
        )
        parts.append(_seeded_players("N(0, I)", baseline, genre, audio_link))
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


def _transfer_label(info: dict[str, Any]) -> str:
    """``strength 0.5, prior learned, seed 7`` from a transfer's JSON (missing keys left out)."""
    parts = [f"{key} {_fmt(info[key])}" for key in ("strength", "prior", "seed") if info.get(key) is not None]
    return ", ".join(parts) or "transfer"


def _transfers_html(transfers: Sequence[TransferRow], genres: Sequence[str], transfer_link: TransferLink) -> str:
    header = "<th>source</th>" + "".join(f"<th>as {_e(g)}</th>" for g in genres)
    rows = []
    for row in transfers:
        if row.original is not None:
            first = _player(row.source, transfer_link(row.original), note=row.description)
        else:
            note = f'<p class="note">{_e(row.description)}</p>' if row.description else ""
            first = f"<strong>{_e(row.source)}</strong>{note}"
        cells = [f"<td>{first}</td>"]
        for g in genres:
            clip = row.outputs.get(g)
            if clip is None:
                cells.append('<td class="missing">-</td>')
            else:
                cells.append(f"<td>{_player(_transfer_label(clip.info), transfer_link(clip))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<p class="note">Each source clip encoded by a genre\'s VAE and decoded again ("as &lt;genre&gt;"; '
        "strength, prior and seed of each transfer under its player); - : no transfer (a source is usually not "
        "transferred into its own genre).</p>"
        f'<div class="scroll"><table class="transfers"><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


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
    transfers: Sequence[TransferRow] = (),
    transfer_link: TransferLink | None = None,
) -> str:
    """The page as one HTML string.

    ``audio_link(genre, manifest_row)`` returns a :class:`ClipLink` (``(src,
    model_rate_link_or_None, thumbnail_src_or_None)``; a 2-tuple means no thumbnail) for an
    ``<audio>`` player or ``None`` to leave it out; ``image_link(path)`` returns an
    ``<img>`` source or ``None`` to leave the figure out.  ``transfers`` (with
    ``transfer_link(clip)``, like ``audio_link``) gives the transfers section, after the
    fidelity table; without any, the page has no such section.
    """
    nav = " ".join(f'<a href="#genre-{_e(g.name)}">{_e(g.name)}</a>' for g in genres)
    transfer_section = ""
    if transfers and transfer_link is not None:
        nav = '<a href="#transfers">Transfers</a> ' + nav
        transfer_section = (
            '<section id="transfers"><h2>Transfers</h2>'
            f"{_transfers_html(transfers, [g.name for g in genres], transfer_link)}</section>"
        )
    sections = []
    for g in genres:
        sections.append(
            f'<section id="genre-{_e(g.name)}"><h2>{_e(g.name)}</h2>'
            f"<h3>Evaluation</h3>{_metrics_html(g.metrics)}"
            f"<h3>Learned prior</h3>{_prior_html(g.prior)}"
            f"<h3>Generation quality</h3>{_quality_html(g.quality)}"
            f"<h3>What an independent judge hears (musicnn)</h3>{_judge_html(g.judge)}"
            f"{_audio_html(g, audio_link)}{_figures_html(g, image_link)}</section>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{_e(title)}</h1>{intro}<nav>{nav}</nav></header>"
        f'<section id="fidelity"><h2>Genre fidelity (all genres)</h2>{_fidelity_html(fidelity)}</section>'
        f'<section id="judge"><h2>Independent judge (all genres)</h2>{_judge_summary_html(genres)}</section>'
        + transfer_section
        + "".join(sections)
        + '<footer><p class="note">Written by genrevae. A static page: no server, no network, no script.</p>'
        "</footer></body></html>\n"
    )
