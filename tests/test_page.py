"""Tests of the listening page: its links and tables, and a real headless Chromium loading it.

The browser test drives Chromium through its DevTools protocol (the driver: tests/browser.py); it is
skipped when /usr/bin/chromium is missing (CI installs it with `apt-get install chromium`).
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd
import pytest
from browser import CHROMIUM, DevTools, chromium, open_page, settled_media
from PIL import Image

from genrevae.audio import encode_wav, resample, to_pcm16
from genrevae.export import export_genre
from genrevae.page import collect_genre, collect_transfers, relative_url, write_listening_page
from genrevae.artifacts.reports import json_text
from genrevae.artifacts.split import Split
from genrevae.spectrum import THUMBNAIL_SIZE

N_SAMPLES = 3001
RATE = 3000
GENRES = ["jazz", "r&b"]  # '&' must be escaped in HTML and percent-encoded in links
N_GENERATED = 2  # per genre: from the learned prior, and the same seeds from N(0, I)
TEMPERATURE = 0.8
FIGURES = ("samples_grid.png", "spectrograms.png", "reconstructions.png", "loss_curves.png", "latent_space.png")
N_GENRE_AUDIO = 2 * (2 * N_GENERATED + 2 * 2 + 3)  # per genre: generated, 2 reconstruction pairs, 3 interpolation steps
#: Transfer sources: a tone with onsets (a test clip of jazz, so not transferred into jazz) and a silent user file.
TONE_HZ = 500.0
SOURCES = {"jazz.00001": "jazz", "silence": None}
N_TRANSFER_AUDIO = len(SOURCES) + len(SOURCES) * len(GENRES) - 1  # the originals and every cell but jazz.00001 as jazz
N_AUDIO = N_GENRE_AUDIO + N_TRANSFER_AUDIO
N_IMAGES = 2 * (len(FIGURES) + 1) + N_AUDIO  # and samples_evolution.gif, and a thumbnail per player


class _Links(HTMLParser):
    """Collects the src/href of every tag, and the tags themselves."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def links(self, tag: str, attr: str) -> list[str]:
        return [str(a[attr]) for t, a in self.tags if t == tag and a.get(attr)]


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


class _Tables(HTMLParser):
    """Every <table> as its caption and its rows of cell texts (header row first)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append({"caption": "", "rows": []})
        elif tag == "tr":
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th", "caption"):
            self.cell = []

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self.tables[-1]["rows"][-1].append("".join(self.cell or []))
        elif tag == "caption":
            self.tables[-1]["caption"] = "".join(self.cell or [])
        if tag in ("td", "th", "caption"):
            self.cell = None


def _section(text: str, genre: str) -> str:
    """The HTML of one genre's section of the page."""
    start = text.index(f'<section id="genre-{genre}">')
    return text[start : text.index("</section>", start)]


def _row(tables: list[dict], first_cell: str) -> dict[str, str]:
    """The first table row whose first cell is ``first_cell``, as {column header: cell}."""
    for table in tables:
        header, *rows = table["rows"]
        for row in rows:
            if row[0] == first_cell:
                return dict(zip(header, row))
    raise AssertionError(f"no table row {first_cell!r}")


def _write_figures(folder: Path) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in FIGURES:
        Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(folder / name)
    frames = [Image.fromarray(np.full((40, 60, 3), v, dtype=np.uint8)) for v in (0, 128, 255)]
    frames[0].save(folder / "samples_evolution.gif", save_all=True, append_images=frames[1:], duration=200, loop=0)


class _StubPrior:
    """Stands in for a learned prior (genrevae.prior.LatentPrior, tested in test_prior.py): the page
    only needs its clips, and a real GRU's frame-by-frame sampling would add a second of tracing."""

    def __init__(self, channels: int) -> None:
        self.channels = channels

    def sample(self, n: int, frames: int, seed: int, temperature: float = 1.0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return (temperature * np.cumsum(rng.standard_normal((n, frames, self.channels)), axis=1) / 4).astype(np.float32)


def _tone_with_onsets(n: int = N_SAMPLES) -> np.ndarray:
    """A 500 Hz tone switched on and off every 125 ms (abrupt onsets): a horizontal line cut by vertical ones."""
    t = np.arange(n) / RATE
    return 0.5 * np.sin(2 * np.pi * TONE_HZ * t) * ((t % 0.25) < 0.125)


def _write_transfer_clip(folder: Path, name: str, signal: np.ndarray, info: dict) -> None:
    """A clip as the transfer stage writes it: model-rate WAV, 22,050 Hz playback copy, JSON."""
    (folder / "playback").mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.wav").write_bytes(encode_wav(to_pcm16(signal), RATE))
    (folder / "playback" / f"{name}.wav").write_bytes(encode_wav(to_pcm16(resample(signal, RATE, 22050)), 22050))
    (folder / f"{name}.json").write_text(json.dumps(info))


def _write_transfers(root: Path) -> None:
    """results/transfer/sources/ and results/<genre>/transfer/: every source through every
    genre but its own (jazz.00001 as jazz is the missing cell)."""
    signals = {"jazz.00001": _tone_with_onsets(), "silence": np.zeros(N_SAMPLES)}
    for name, genre in SOURCES.items():
        description = f"test clip {name}.wav of genre {genre}" if genre else f"user file {name}.wav"
        info = {"source": name, "description": description, "genre": genre}
        _write_transfer_clip(root / "transfer" / "sources", name, signals[name], info)
    t = np.arange(N_SAMPLES) / RATE
    for i, genre in enumerate(GENRES):
        for j, (name, source_genre) in enumerate(SOURCES.items()):
            if source_genre == genre:
                continue
            signal = 0.3 * np.sin(2 * np.pi * (200 + 100 * i + 50 * j) * t)
            info = {"source": name, "genre": genre, "strength": 0.5, "prior": "learned", "seed": 7 + j}
            _write_transfer_clip(root / genre / "transfer", name, signal, info)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A results/ folder as the workflow leaves it, for two genres, with tiny models."""
    import keras

    from genrevae.model import build_model

    root = tmp_path_factory.mktemp("results") / "results"
    t = np.arange(N_SAMPLES) / RATE
    for i, genre in enumerate(GENRES):
        keras.utils.set_random_seed(i)
        model = build_model({"preset": "conv", "conv": {"width": 4, "max_width": 8, "strides": [4, 4], "latent_channels": 4}}, N_SAMPLES)
        prior = _StubPrior(channels=4)
        clips = np.stack([0.5 * np.sin(2 * np.pi * (150 + 50 * j + 300 * i) * t) for j in range(5)]).astype(np.float32)
        split = Split(np.array([0, 2]), np.array([1, 3, 4]), np.array([], dtype=np.int64),
                      np.array([f"{genre}.{j:05d}.wav" for j in range(5)], dtype=object))  # fmt: skip
        render = {"n_generated": N_GENERATED, "n_reconstructions": 2, "n_interpolations": 1, "interpolation_steps": 3}
        export_genre(model, prior, clips, split, root / genre / "generated", seed=100, sample_rate=RATE, settings=render,
                     temperature=TEMPERATURE)  # fmt: skip
        _write_figures(root / genre / "figures")
        learned = {"elbo_nats": -1111.5, "elbo_bits_per_sample": -0.5343, "kl_nats": 77.25, "iwae_nats": -1100.75}
        metric = {"n_clips": 3, "elbo_nats": -1234.5, "elbo_bits_per_sample": -0.5937, "iwae_nats": -1200.25,
                  "kl_nats": 80.5, "snr_db": 3.5, "kl_per_dim": [0.1, 0.2], "learned_prior": learned}  # fmt: skip
        metrics = {"test": metric, "train": {**metric, "n_clips": 2}, "n_samples": N_SAMPLES, "latent_shape": [24, 4], "settings": {"seed": 1}}
        (root / genre / "metrics.json").write_text(json.dumps(metrics))
        control = {"frechet_test": 20.5, "ratio": 2.05, "segment_frechet_test": 61.5, "segment_ratio": 6.15,
                   "note_frechet_test": 92.5, "note_ratio": 18.5, "copy_ratio": 1.75, "copy_z": 3.5, "rms": 0.25, "n_clips": 2}  # fmt: skip
        quality = {"frechet_generated_test": 50.0, "frechet_train_test": 10.0, "ratio": 5.0, "frechet_generated_train": 40.0,
                   "segment_frechet_generated_test": 33.5, "segment_frechet_train_test": 10.0, "segment_ratio": 3.35,
                   "note_frechet_generated_test": 12.5, "note_frechet_train_test": 5.0, "note_ratio": 2.5,
                   "note_frechet_generated_train": 11.25, "copy_distance_generated_train": 1.5, "copy_distance_test_train": 6.0,
                   "copy_ratio": 0.25, "copy_z": -4.5, "copy_feature": "nearest train segment",
                   "n_clips": {"generated": 2, "train": 2, "test": 3}, "rms": {"generated": 0.1, "train": 0.3, "test": 0.3},
                   "feature": "frame-level MFCC", "segment_feature": "3 s segments", "note_feature": "chroma stability",
                   "controls": {"phase_randomised": control, "gaussian_prior": {**control, "ratio": 7.75},
                                "reconstructions": {**control, "ratio": 1.25, "segment_ratio": float("nan")}}}  # fmt: skip
        (root / genre / "generation_quality.json").write_text(json_text(quality))
        nll = {"standard_normal": {"nll_per_frame": 5.675, "nll_per_dim": 1.42},
               "var": {"nll_per_frame": 3.125, "nll_per_dim": 0.78},
               "learned": {"nll_per_frame": 1.875, "nll_per_dim": 0.47}}  # fmt: skip
        prior_json = {"report": {s: {"clips": n, "frames": 24, "channels": 4, **nll} for s, n in (("train", 2), ("test", 3))},
                      "history": [{"step": 1, "loss": 2.0}], "fit_seconds": 12.5, "var_order": 2, "parameters": 321,
                      "settings": {"hidden": 4}}  # fmt: skip
        (root / genre / "prior").mkdir()
        (root / genre / "prior" / "prior.json").write_text(json.dumps(prior_json))
    (root / "jazz" / "judge.json").write_text(json.dumps(JAZZ_JUDGE))  # r&b has none: the page says so
    pd.DataFrame(
        {"genre": GENRES, "n_generated": [16, 16], "fidelity": [0.75, float("nan")], "test_accuracy": [1.0, 1.0],
         "cv_accuracy": [0.8125, 0.8125], "phase_randomised_fidelity": [0.0625, 0.0]}
    ).to_csv(root / "genre_fidelity.csv", index=False)  # fmt: skip
    _write_transfers(root)
    write_listening_page(root, GENRES, root / "index.html", root / "genre_fidelity.csv", root / "listening_report.html",
                         thumbnails_dir=root / "thumbnails")  # fmt: skip
    return root


#: A judge.json as the judge stage writes it (genrevae.judge.genre_report), shortened.
JAZZ_JUDGE = {
    "genre": "jazz", "judge": "musicnn 0.1.0, clips upsampled from 3000 Hz to 16 kHz",
    "embedding": {"ratio": 4.5, "controls": {"phase_randomised": {"ratio": 6.25}, "gaussian_prior": {"ratio": 7.5},
                                             "reconstructions": {"ratio": 2.25}}},
    "verdict": {"judged_as": "jazz", "real_test_accuracy": 0.3333, "trusted": False, "generated_share": 0.0,
                "assigned": {"test": {"electronic": 2, "jazz": 1}, "generated": {"electronic": 2}}},
    "top_tags": {"test": [["MSD_musicnn", "jazz", 0.41], ["MTT_musicnn", "piano", 0.25]],
                 "generated": [["MSD_musicnn", "electronic", 0.55]]},
}  # fmt: skip


# ---------------------------------------------------------------- the page as a file


def test_page_links_are_relative_and_resolve(results: Path) -> None:
    page = _parse(results / "index.html")
    links = page.links("audio", "src") + page.links("img", "src") + page.links("a", "href")
    assert links
    for link in links:
        if link.startswith("#"):
            continue
        parsed = urlparse(link)
        assert not parsed.scheme and not parsed.netloc and not link.startswith("/"), link
        assert (results / unquote(parsed.path)).is_file(), link
    assert any(link.startswith("r%26b/") for link in links)


def test_page_has_a_player_per_clip_and_every_figure(results: Path) -> None:
    page = _parse(results / "index.html")
    audio = page.links("audio", "src")
    for genre in GENRES:
        manifest = pd.read_csv(results / genre / "generated" / "manifest.csv")
        expected = {relative_url(results / genre / "generated" / p, results) for p in manifest["playback_file"]}
        assert expected <= set(audio)
        assert all("/playback/" in a for a in audio)  # players use the 22,050 Hz copies
    assert len(audio) == N_AUDIO
    assert all(a.get("preload") == "metadata" and "controls" in a for t, a in page.tags if t == "audio")
    assert len(page.links("img", "src")) == N_IMAGES
    assert not page.links("script", "src") and "<script" not in (results / "index.html").read_text()
    text = (results / "index.html").read_text()
    assert "r&amp;b" in text and "r&b<" not in text
    assert "-1234.5" in text and "0.75" in text and "Frechet distance, train vs test (floor)" in text


def test_page_shows_the_judge_with_its_control(results: Path) -> None:
    text = (results / "index.html").read_text()
    tables = _Tables()
    tables.feed(text)
    judge_tables = [t for t in tables.tables if t["rows"][0][:2] == ["genre", "judged as"]]
    assert len(judge_tables) == 1 and len(judge_tables[0]["rows"]) == 2  # jazz only: r&b has no judge.json
    assert _row(judge_tables, "jazz") == {
        "genre": "jazz", "judged as": "jazz", "real test clips judged right": "0.33", "trusted": "no",
        "generated clips judged right": "0.00 (not trusted)", "embedding ratio, learned prior": "4.5",
        "embedding ratio, phase_randomised": "6.25", "embedding ratio, gaussian_prior": "7.5",
        "embedding ratio, reconstructions": "2.25",
    }  # fmt: skip
    assert _row(tables.tables, "real test clips") == {
        "clip set": "real test clips", "top tags (mean probability)": "jazz 0.41, piano 0.25",
        "judged as (clips)": "electronic 2, jazz 1",
    }  # fmt: skip
    assert "No judge.json." in _section(text, "r&amp;b")


def test_page_shows_the_learned_prior_its_baselines_and_the_controls(results: Path) -> None:
    text = (results / "index.html").read_text()
    tables = _Tables()
    tables.feed(text)
    for genre in ("jazz", "r&amp;b"):
        section = _section(text, genre)
        # the learned prior's clips first, then the same seeds from N(0, I)
        learned = section.index(f"Generated clips (learned prior, temperature {TEMPERATURE})")
        baseline = section.index("Baseline: the same seeds from N(0, I)")
        assert learned < baseline < section.index("Reconstructions")
        audio = re.findall(r'<audio [^>]*src="([^"]+)"', section)
        kinds = ["gaussian" if "/gaussian_" in a else "sample" if "/sample_" in a else "other" for a in audio]
        assert kinds[: 2 * N_GENERATED] == ["sample"] * N_GENERATED + ["gaussian"] * N_GENERATED
        for i in range(N_GENERATED):  # the same seeds
            assert f"sample {i}, seed {100 + i}" in section and f"N(0, I) {i}, seed {100 + i}" in section
        # figures in FIGURE_CAPTIONS order, the new spectrograms right after the grid
        figures = re.findall(r'<img src="[^"]*/figures/([^"]+)"', section)
        assert figures[:3] == ["samples_grid.png", "spectrograms.png", "samples_evolution.gif"]
        assert "two from N(0, I), one colour scale" in section and "learned prior (the course report" in section
        assert "Learned prior: held-out negative log-likelihood per latent frame (nats, lower is better)" in section
        assert "Generated (learned prior)".lower() in section and "phase-randomised control" in section
    # metrics: N(0, I) rows relabelled, learned-prior rows beside them (test, train)
    assert _row(tables.tables, "ELBO (N(0, I) prior, nats per clip)") == {
        "metric": "ELBO (N(0, I) prior, nats per clip)", "test clips": "-1234.5", "train clips": "-1234.5"}  # fmt: skip
    assert _row(tables.tables, "ELBO under the learned prior (bits per sample)")["test clips"] == "-0.5343"
    assert _row(tables.tables, "IWAE bound under the learned prior (nats per clip)")["train clips"] == "-1100.8"
    assert _row(tables.tables, "KL(q(z|x) || p(z)) under the learned prior (nats per clip)")["test clips"] == "77.25"
    assert _row(tables.tables, "KL(q(z|x) || p(z)) (N(0, I) prior, nats per clip)")["test clips"] == "80.5"
    assert "valid lower bound on log p(x)" in text
    # the prior's held-out NLL: N(0, I), VAR(p) and the GRU, train and test
    prior_table = next(t for t in tables.tables if t["caption"].startswith("Learned prior: held-out"))
    assert prior_table["rows"] == [["prior", "train", "test"], ["N(0, I)", "5.675", "5.675"],
                                   ["VAR(2) (linear baseline)", "3.125", "3.125"], ["learned (GRU)", "1.875", "1.875"]]  # fmt: skip
    assert "321 parameters" in text
    # the controls: one row each plus the generated clips, every numeric key a column
    generated = _row(tables.tables, "generated (learned prior)")
    assert generated == {"clip set": "generated (learned prior)", "Frechet distance to test": "50", "ratio (/ floor)": "5",
                         "segment_frechet_test": "33.5", "segment_ratio": "3.35", "note_frechet_test": "12.5",
                         "note_ratio": "2.5", "copy_ratio": "0.25", "copy_z": "-4.5", "n_clips": "2", "rms": "0.1"}  # fmt: skip
    controls = next(t for t in tables.tables if t["rows"][0][0] == "clip set")
    assert [r[0] for r in controls["rows"][1:]] == ["generated (learned prior)"] + [
        "phase-randomised real train clips (same spectrum, no dynamics)", "decoded from N(0, I) (the old baseline)",
        "reconstructions of test clips (the ceiling)"]  # fmt: skip
    assert controls["rows"][0][1:3] == ["Frechet distance to test", "ratio (/ floor)"]
    phase = _row(tables.tables, "phase-randomised real train clips (same spectrum, no dynamics)")
    assert phase["ratio (/ floor)"] == "2.05" and phase["segment_ratio"] == "6.15"
    assert _row(tables.tables, "reconstructions of test clips (the ceiling)")["segment_ratio"] == "n/a"  # NaN in the JSON
    assert _row(tables.tables, "decoded from N(0, I) (the old baseline)")["ratio (/ floor)"] == "7.75"
    assert _row(tables.tables, "segment-level ratio generated / floor")["value"] == "3.35"
    # the note level: its rows beside the segment level's, its column in the controls table, its feature named
    assert _row(tables.tables, "note-level ratio generated / floor")["value"] == "2.5"
    assert _row(tables.tables, "note-level Frechet distance, train vs test (floor)")["value"] == "5"
    assert _row(tables.tables, "note-level Frechet distance, generated vs train")["value"] == "11.25"
    assert phase["note_ratio"] == "18.5" and phase["note_frechet_test"] == "92.5"
    assert "Note level: chroma stability." in text
    # the copying test: its rows, its columns in the controls table, its feature named
    assert _row(tables.tables, "copy ratio generated / test (1 = as novel as unseen music; well below 1 = replays train clips)")["value"] == "0.25"
    assert _row(tables.tables, "copying: the same for a real test segment (music the model never saw)")["value"] == "6"
    assert phase["copy_ratio"] == "1.75" and phase["copy_z"] == "3.5"
    assert "Copying: nearest train segment." in text
    # the fidelity table: new columns, and the note on the classifier
    fidelity = _row(tables.tables, "jazz")
    assert fidelity["cv_accuracy"] == "0.8125" and fidelity["phase_randomised_fidelity"] == "0.0625"
    assert "spectral contrast, chroma" in text and "cross-validated" in text and "must be low" in text


def test_report_excerpt_is_self_contained_and_small(results: Path, tmp_path: Path) -> None:
    report = results / "listening_report.html"
    page = _parse(report)
    sources = page.links("audio", "src")
    assert sources and all(s.startswith("data:audio/wav;base64,") for s in sources)
    thumbnails = page.links("img", "src")  # one embedded thumbnail per embedded clip, no figure
    assert len(thumbnails) == len(sources) and all(s.startswith("data:image/png;base64,") for s in thumbnails)
    for src in thumbnails[:3]:
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as image:
            assert image.format == "PNG" and image.size == THUMBNAIL_SIZE
    assert all(h.startswith("#") for h in page.links("a", "href"))
    assert 'id="transfers"' not in report.read_text()  # the report leaves the transfers out
    assert report.stat().st_size < 1_400_000
    # a tight budget embeds fewer clips, generated samples of both genres first
    small = tmp_path / "small.html"  # (and a page beside it: the shared results/index.html stays as the fixture wrote it)
    write_listening_page(results, GENRES, tmp_path / "index.html", results / "genre_fidelity.csv", small, budget=50_000)
    n_small = len(_parse(small).links("audio", "src"))
    assert 2 <= n_small < len(sources) and small.stat().st_size <= 50_000
    assert "(not embedded)" in small.read_text()
    assert len(_parse(small).links("img", "src")) == n_small  # the thumbnails count in the budget
    embedded = re.findall(r'<figcaption>([^<]*)</figcaption><span class="clip"><img [^>]*><audio', small.read_text())
    assert "sample 0, seed 100" in embedded and "N(0, I) 0, seed 100" in embedded  # some of each kind
    for budget in (50_000, 100_000, 150_000):  # a pair is embedded whole or not at all
        write_listening_page(results, GENRES, tmp_path / "index.html", results / "genre_fidelity.csv", small, budget=budget)
        pairs = re.findall(r'<div class="pair">(.*?)</div>', small.read_text())
        assert pairs and all(p.count("<audio") in (0, 2) for p in pairs)


def test_collect_genre_tolerates_missing_pieces(tmp_path: Path) -> None:
    g = collect_genre(tmp_path, "blues")
    assert g.metrics == {} and g.manifest.empty and g.figures == {} and g.prior == {}
    write_listening_page(tmp_path, ["blues"], tmp_path / "index.html", report_html=tmp_path / "report.html")
    assert "No metrics.json" in (tmp_path / "index.html").read_text()
    assert "No prior/prior.json" in (tmp_path / "index.html").read_text()
    assert "No generated clips" in (tmp_path / "report.html").read_text()


def test_collect_genre_reads_the_prior_and_old_results_still_render(results: Path, tmp_path: Path) -> None:
    assert collect_genre(results, "jazz").prior["var_order"] == 2
    # results from before the learned prior: no temperature column, no controls, no prior.json
    old = tmp_path / "jazz"
    (old / "generated").mkdir(parents=True)
    manifest = pd.read_csv(results / "jazz" / "generated" / "manifest.csv", keep_default_na=False)
    manifest = manifest[manifest["kind"] != "gaussian_sample"].drop(columns="temperature")
    manifest.to_csv(old / "generated" / "manifest.csv", index=False)
    (old / "generation_quality.json").write_text(json.dumps({"ratio": 5.0, "frechet_generated_test": 50.0}))
    (old / "metrics.json").write_text(json.dumps({"test": {"elbo_nats": -1.5}}))
    write_listening_page(tmp_path, ["jazz"], tmp_path / "index.html")
    text = (tmp_path / "index.html").read_text()
    assert "<h3>Generated clips</h3>" in text and "Baseline" not in text and "<h4>Controls</h4>" not in text
    assert "No prior/prior.json" in text and "under the learned prior" not in text


# ---------------------------------------------------------------- thumbnails and transfers


def _players(text: str) -> list[tuple[str | None, str]]:
    """(thumbnail src or None, audio src) of every player of a page, in page order."""
    found = re.findall(r'<span class="clip">(?:<img class="thumb" src="([^"]*)"[^>]*>)?<audio [^>]*src="([^"]*)"', text)
    return [(img or None, audio) for img, audio in found]


def _png(path: Path) -> np.ndarray:
    """A thumbnail as grey levels (magma's lightness grows with the level), after checking it is a PNG."""
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == THUMBNAIL_SIZE
        return np.asarray(image.convert("L"), dtype=np.float64)


def test_every_player_has_its_spectrogram_thumbnail(results: Path) -> None:
    text = (results / "index.html").read_text()
    players = _players(text)
    assert len(players) == N_AUDIO == text.count("<audio ")
    thumbnails = results / "thumbnails"
    for img, audio in players:
        assert img is not None, audio
        path = results / unquote(img)
        assert path.is_relative_to(thumbnails) and path.is_file(), img
        _png(path)
        # the thumbnail of that very clip: same place under thumbnails/ as its model-rate WAV under results/
        wav = (results / unquote(audio)).parent.parent / Path(unquote(audio)).name
        assert path == thumbnails / wav.relative_to(results).with_suffix(".png"), (img, audio)
    assert sorted(p for p in thumbnails.rglob("*") if p.is_file()) == sorted({results / unquote(i) for i, _ in players})
    assert (thumbnails / "r&b" / "generated").is_dir() and (thumbnails / "transfer" / "sources" / "silence.png").is_file()
    assert "the same colour scale" in text and "onsets (vertical lines)" in text


def test_thumbnails_show_notes_and_onsets_and_silence(results: Path) -> None:
    import librosa

    tone = _png(results / "thumbnails" / "transfer" / "sources" / "jazz.00001.png")
    silence = _png(results / "thumbnails" / "transfer" / "sources" / "silence.png")
    assert silence.std() == 0 and silence.mean() < 10  # uniform and black: nothing to see
    width, height = THUMBNAIL_SIZE
    centres = librosa.mel_frequencies(height + 2, fmin=0.0, fmax=RATE / 2.0)[1:-1]
    row = height - 1 - int(np.argmin(np.abs(centres - TONE_HZ)))  # low frequencies at the bottom
    rows = tone.mean(axis=1)
    assert abs(int(np.argmax(rows)) - row) <= 1  # the note: a bright horizontal band at the tone's mel row
    assert rows[row] > rows.mean() + 60
    # the onsets: columns where the tone is off are dark on that row, and the band is cut 8 times (4 x on, off)
    on = tone[row] > tone[row].max() - 30
    assert on.mean() == pytest.approx(0.5, abs=0.15) and np.count_nonzero(np.diff(on.astype(int))) >= 6
    assert tone[row][~on].mean() < tone[row][on].mean() - 60
    assert np.abs(tone - silence).mean() > 30  # visibly different


def _table_with_header(text: str, first: str) -> list[list[str]]:
    tables = _Tables()
    tables.feed(text)
    return next(t["rows"] for t in tables.tables if t["rows"] and t["rows"][0][0] == first)


def test_transfers_table_has_a_row_per_source_and_a_column_per_genre(results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (results / "index.html").read_text()
    assert text.index('id="fidelity"') < text.index('<section id="transfers"><h2>Transfers</h2>') < text.index('id="genre-jazz"')
    assert '<a href="#transfers">Transfers</a>' in text
    rows = _table_with_header(text, "source")
    assert rows[0] == ["source", "as jazz", "as r&b"]
    assert [r[0].split(" ")[0] for r in rows[1:]] == ["jazz.00001", "silence"]
    tone, silence = rows[1:]
    assert "test clip jazz.00001.wav of genre jazz" in tone[0] and "user file silence.wav" in silence[0]
    assert tone[1] == "-"  # a source is not transferred into its own genre
    assert tone[2].startswith("strength 0.5, prior learned, seed 7") and silence[1].startswith("strength 0.5, prior learned, seed 8")
    section = text[text.index('<section id="transfers">') : text.index("</section>", text.index('<section id="transfers">'))]
    audio = [a for _, a in _players(section)]
    assert len(audio) == N_TRANSFER_AUDIO and all("/playback/" in a for a in audio)
    assert relative_url(results / "r&b" / "transfer" / "playback" / "jazz.00001.wav", results) in audio
    assert relative_url(results / "transfer" / "sources" / "playback" / "silence.wav", results) in audio
    assert relative_url(results / "jazz" / "transfer" / "jazz.00001.wav", results) not in section
    assert section.count('<td class="missing">-</td>') == 1
    # the reading side: every part optional
    transfers = collect_transfers(results, GENRES)
    assert [(t.source, t.genre, sorted(t.outputs)) for t in transfers] == [
        ("jazz.00001", "jazz", ["r&b"]), ("silence", None, ["jazz", "r&b"])]  # fmt: skip
    assert collect_transfers(results, ["blues"])[0].outputs == {}
    # the sources named (as the workflow names the ones it built): read from the genre folders'
    # transfer_dir, no folder listed; one that was not built has no row
    import genrevae.page.collect as collect

    monkeypatch.setattr(collect, "_clip_names", lambda folder: pytest.fail(f"listed {folder}"))
    named = collect_transfers(results, GENRES, ["silence", "never_built"])
    assert [(t.source, sorted(t.outputs)) for t in named] == [("silence", ["jazz", "r&b"])]


def test_page_without_transfers_rewrites_its_thumbnails_afresh(results: Path, tmp_path: Path) -> None:
    shutil.copytree(results / "jazz" / "generated", tmp_path / "jazz" / "generated")
    thumbnails = tmp_path / "thumbnails"
    write_listening_page(tmp_path, ["jazz"], tmp_path / "index.html", thumbnails_dir=thumbnails)
    text = (tmp_path / "index.html").read_text()
    assert "Transfers" not in text and 'id="transfers"' not in text and collect_transfers(tmp_path, ["jazz"]) == []
    players = _players(text)
    assert len(players) == N_GENRE_AUDIO // 2 and all(img and (tmp_path / unquote(img)).is_file() for img, _ in players)
    first = sorted(thumbnails.rglob("*.png"))
    # stale thumbnails of an earlier run (another genre, a clip gone) do not survive a rewrite
    (thumbnails / "blues").mkdir()
    (thumbnails / "blues" / "old.png").write_bytes(b"stale")
    (thumbnails / "jazz" / "generated" / "gone.png").write_bytes(b"stale")
    write_listening_page(tmp_path, ["jazz"], tmp_path / "index.html", thumbnails_dir=thumbnails)
    assert sorted(thumbnails.rglob("*.png")) == first and not (thumbnails / "blues").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html", "jazz", "thumbnails"]  # no temp folder left
    # without thumbnails_dir: the page as before, no thumbnails
    write_listening_page(tmp_path, ["jazz"], tmp_path / "plain.html")
    assert "<img class=\"thumb\"" not in (tmp_path / "plain.html").read_text()
    # a partial transfer folder: one genre's clip of a source nobody described
    _write_transfer_clip(tmp_path / "jazz" / "transfer", "mystery", np.zeros(N_SAMPLES), {"strength": 1.0})
    (tmp_path / "jazz" / "transfer" / "mystery.json").unlink()
    (tmp_path / "jazz" / "transfer" / "playback" / "mystery.wav").unlink()
    write_listening_page(tmp_path, ["jazz"], tmp_path / "index.html", thumbnails_dir=thumbnails)
    text = (tmp_path / "index.html").read_text()
    assert _table_with_header(text, "source") == [["source", "as jazz"], ["mystery", "transfer"]]
    assert (thumbnails / "jazz" / "transfer" / "mystery.png").is_file()
    assert relative_url(tmp_path / "jazz" / "transfer" / "mystery.wav", tmp_path) in text  # no playback copy: the WAV plays


# ---------------------------------------------------------------- a real browser


THUMBNAILS_STATE = "JSON.stringify([...document.querySelectorAll('img.thumb')].map(i => [i.naturalWidth, i.naturalHeight]))"
TRANSFER_PLAYERS = "JSON.stringify([...document.querySelectorAll('#transfers audio')].map(a => a.readyState))"


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[DevTools]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install it (apt-get install chromium) to run the browser test")
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as tools:
        yield tools


def test_page_loads_in_chromium_with_every_image_and_player(browser: DevTools, results: Path, tmp_path: Path) -> None:
    open_page(browser, results / "index.html")
    state = settled_media(browser)
    assert len(state["images"]) == N_IMAGES and len(state["audio"]) == N_AUDIO
    assert all(i["width"] > 0 for i in state["images"]), state["images"]  # figures and every thumbnail
    assert all(a["ready"] >= 1 and a["error"] is None for a in state["audio"]), state["audio"]
    thumbnails = json.loads(browser.evaluate(THUMBNAILS_STATE))
    assert len(thumbnails) == N_AUDIO and all(t == list(THUMBNAIL_SIZE) for t in thumbnails), thumbnails
    transfers = json.loads(browser.evaluate(TRANSFER_PLAYERS))
    assert len(transfers) == N_TRANSFER_AUDIO and all(r >= 1 for r in transfers), transfers  # every transfer plays
    assert all(a["duration"] == pytest.approx(N_SAMPLES / RATE, abs=0.01) for a in state["audio"])
    assert browser.errors() == []
    shown = browser.evaluate("document.body.innerText")
    for line in (f"Generated clips (learned prior, temperature {TEMPERATURE})", "Baseline: the same seeds from N(0, I)",
                 "Learned prior: held-out negative log-likelihood per latent frame", "VAR(2) (linear baseline)",
                 "ELBO under the learned prior (bits per sample)", "generated (learned prior)", "phase_randomised_fidelity",
                 "Transfers", "as r&b", "user file silence.wav"):
        assert line in shown, line  # fmt: skip

    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    screenshot = tmp_path / "index.png"
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    with Image.open(screenshot) as image:
        assert image.size[0] >= 800 and image.size[1] > 900  # the whole, long page
        assert np.asarray(image.convert("L")).std() > 5  # not a blank page


def test_report_excerpt_plays_inside_a_data_url_frame(browser: DevTools, results: Path, tmp_path: Path) -> None:
    """The Snakemake report shows an HTML result as <iframe src="data:text/html;base64,...">."""
    report = results / "listening_report.html"
    open_page(browser, report)
    state = settled_media(browser)
    assert state["audio"] and all(a["ready"] >= 1 and a["error"] is None for a in state["audio"])
    assert browser.errors() == []

    wrapper = tmp_path / "report.html"
    uri = "data:text/html;base64," + base64.b64encode(report.read_bytes()).decode()
    wrapper.write_text(f'<!DOCTYPE html><html><body><iframe src="{uri}" width="1200" height="800"></iframe></body></html>')
    open_page(browser, wrapper)
    children = browser.call("Page.getFrameTree")["frameTree"].get("childFrames", [])
    assert len(children) == 1 and children[0]["frame"]["url"].startswith("data:text/html")
    frame_id = children[0]["frame"]["id"]
    contexts = [
        e["params"]["context"]["id"]
        for e in browser.events
        if e.get("method") == "Runtime.executionContextCreated"
        and e["params"]["context"].get("auxData", {}).get("frameId") == frame_id
    ]
    assert contexts, "no script context in the report frame"
    framed = settled_media(browser, contexts[-1])
    assert len(framed["audio"]) == len(state["audio"])
    assert all(a["ready"] >= 1 and a["error"] is None for a in framed["audio"])
    assert browser.errors() == []


def test_the_prior_table_names_the_learned_prior_s_network() -> None:
    """prior.json's settings.network labels the learned row; a file without it is a GRU's."""
    from genrevae.page.render import _prior_html

    report = {"test": {"clips": 1, "frames": 8, "channels": 2, "learned": {"nll_per_frame": 1.5}}}
    assert "learned (causal transformer)" in _prior_html({"report": report, "settings": {"network": "transformer"}})
    assert "learned (GRU)" in _prior_html({"report": report, "settings": {"hidden": 4}})
    assert "learned (GRU)" not in _prior_html({"report": report, "settings": {"network": "transformer"}})
