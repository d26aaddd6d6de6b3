"""Unit tests of the figures: axes, titles and labels of each figure, and the files make_figures writes."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from genrevae.artifacts.trained_genre import TrainedGenre
from genrevae.figures import (
    FIGURE_NAMES,
    evolution_frames,
    figure_rgb,
    latent_space_figure,
    loss_curves_figure,
    make_figures,
    pca_2d,
    reconstructions_figure,
    samples_grid_figure,
    save_figure,
    spectrograms_figure,
    waveform_grid_figure,
    write_gif,
)
from conftest import backend_threads
from genre_helpers import train_tiny_genre, write_genre_data

RATE = 3000
N_SAMPLES = 3001

# make_figures' test trains a tiny genre: pin TensorFlow's threads before any op runs
THREADS = backend_threads()


def _epoch_samples(epochs: int = 2, points: int = 512) -> np.ndarray:
    rng = np.random.default_rng(0)
    scale = np.linspace(0.01, 0.3, epochs + 1)[:, None, None]
    return (scale * rng.standard_normal((epochs + 1, 16, points))).astype(np.float32)


def _history(checkpoints: int = 3, warmup: bool = True, every: int = 250) -> pd.DataFrame:
    """history.csv of a run checkpointed every ``every`` steps (one row per checkpoint)."""
    e = np.arange(1, checkpoints + 1)
    return pd.DataFrame(
        {
            "step": every * e, "train_loss": 0.5 / e, "test_elbo": -120.0 / e, "test_recon": -100.0 / e,
            "test_kl": 20.0 / e, "kl_weight": np.minimum(1.0, (e - 1) / 2) if warmup else 1.0, "seconds": 1.0,
        }
    )  # fmt: skip


def test_backend_is_non_interactive() -> None:
    assert matplotlib.get_backend().lower() == "agg"


def test_samples_grid_is_a_4_by_4_waveshow_grid_in_seconds() -> None:
    # 16 generated clips of 3 s at the model's rate (no longer the checkpoint envelopes)
    clips = 0.2 * np.random.default_rng(0).standard_normal((16, 3 * RATE)).astype(np.float32)
    fig = samples_grid_figure(clips, RATE, genre="jazz", source="its learned prior (temperature 1)")
    axes = fig.axes
    assert len(axes) == 16
    assert all(ax.get_title() == f"draw {i + 1}" for i, ax in enumerate(axes))
    assert fig.get_suptitle() == "jazz: 16 clips generated from its learned prior (temperature 1)"
    bottom_left = axes[12]
    assert bottom_left.get_xlabel() == "time (s)" and "amplitude" in bottom_left.get_ylabel()
    assert axes[0].get_xlabel() == "" and axes[1].get_ylabel() == ""
    # 9000 samples drawn at 3000 Hz span the 3 s clips
    assert bottom_left.get_xlim()[1] == pytest.approx(3.0, rel=0.06)
    low, high = axes[5].get_ylim()
    assert low == pytest.approx(-high) and all(ax.get_ylim() == (low, high) for ax in axes)
    assert all(ax.lines or ax.collections for ax in axes)


def test_evolution_gif_has_one_frame_per_checkpoint(tmp_path: Path) -> None:
    fig, frames = evolution_frames(_epoch_samples(epochs=2), clip_seconds=1.0, genre="rock", dpi=30)
    assert len(frames) == 3 and frames[0].ndim == 3 and frames[0].shape[2] == 3
    assert "after step 2 of 2" in fig.get_suptitle()  # without steps: checkpoints 1, 2, ...
    assert "N(0, I) draws" in fig.get_suptitle()
    # with the steps of history.csv the titles say where in training each frame is
    fig, frames = evolution_frames(_epoch_samples(epochs=2), 1.0, "rock", dpi=30, steps=_history(2)["step"].tolist())
    assert fig.get_suptitle() == "rock: the same 16 N(0, I) draws, after step 500 of 500"
    with pytest.raises(ValueError, match="2 checkpoints of samples but 3 steps"):
        evolution_frames(_epoch_samples(epochs=2), 1.0, "rock", dpi=30, steps=[1, 2, 3])
    assert not np.array_equal(frames[0], frames[-1])
    path = tmp_path / "evolution.gif"
    write_gif(frames, path, fps=4)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 3
        assert gif.size == (frames[0].shape[1], frames[0].shape[0])
        assert gif.info["loop"] == 0


@pytest.mark.slow
def test_evolution_frames_equal_a_full_redraw_of_each_checkpoint() -> None:
    # The frames are blitted over one background; they must look like a fresh figure, pixel for
    # pixel except where a waveform crosses an axis line (a full draw puts the line on top).
    samples = _epoch_samples(epochs=2)
    fig, frames = evolution_frames(samples, clip_seconds=1.0, genre="rock", dpi=30, steps=[250, 500])
    limit = float(np.abs(samples).max()) * 1.05
    for epoch, title in [(0, "before training"), (2, "after step 500 of 500")]:
        full = waveform_grid_figure(samples[epoch], samples.shape[-1], f"rock: the same 16 N(0, I) draws, {title}",
                                    limit=limit, figsize=(12, 8.5))  # fmt: skip
        differs = np.any(frames[epoch] != figure_rgb(full, 30), axis=2)
        assert differs.mean() < 1e-3, (epoch, differs.sum())
    # The returned figure is the last frame's, labelled like the grid figure.
    bottom_row = [ax for ax in fig.axes if ax.get_subplotspec().is_last_row()]
    assert all(ax.get_xlabel() == "time (s)" for ax in bottom_row)
    assert all(ax.get_xlabel() == "" for ax in fig.axes if ax not in bottom_row)


def test_loss_curves_have_four_labelled_panels() -> None:
    fig = loss_curves_figure(_history(), "jazz")
    panels = fig.axes[:4]
    assert [ax.get_title() for ax in panels] == [
        "training loss (per sample, with the STFT term)", "test ELBO (single sample)", "test KL(q(z|x) || p(z))",
        "test reconstruction term E_q[log p(x|z)]",
    ]  # fmt: skip
    assert all(ax.get_xlabel() == "training step" for ax in panels)
    assert panels[0].get_ylabel() == "loss per sample"  # the training objective is per sample ...
    assert all("nats per clip" in ax.get_ylabel() for ax in panels[1:])  # ... the test terms per clip
    assert list(panels[1].lines[0].get_xdata()) == [250, 500, 750]  # at the checkpoints' steps
    assert list(panels[1].lines[0].get_ydata()) == pytest.approx([-120, -60, -40])
    assert len(fig.axes) == 5 and "KL weight" in fig.axes[4].get_ylabel()  # warm-up shown on a twin axis
    assert len(loss_curves_figure(_history(warmup=False), "jazz").axes) == 4


def test_loss_curves_shade_the_adversarial_phase_only_where_it_ran() -> None:
    history = _history(checkpoints=5, warmup=False)
    history["phase"] = ["vae"] * 3 + ["adversarial"] * 2  # steps 250-750 VAE, 1000-1250 adversarial
    fig = loss_curves_figure(history, "jazz")
    for ax in fig.axes[:4]:
        (span,) = [p for p in ax.patches if p.get_label() == "adversarial phase"]
        x0, x1 = span.get_x(), span.get_x() + span.get_width()
        assert (x0, x1) == pytest.approx((750, 1250))
    assert "adversarial phase" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    history["phase"] = "vae"
    assert not any(ax.patches for ax in loss_curves_figure(history, "jazz").axes[:4])


def test_reconstructions_show_waveforms_and_log_mel_side_by_side() -> None:
    t = np.arange(N_SAMPLES) / RATE
    originals = np.stack([0.5 * np.sin(2 * np.pi * f * t) for f in (200, 400)]).astype(np.float32)
    recons = 0.5 * originals
    fig = reconstructions_figure(originals, recons, RATE, ["a.wav", "b.wav"], "jazz")
    grid = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(grid) == 8
    titles = [ax.get_title() for ax in grid]
    assert titles[:4] == ["a.wav: original", "a.wav: reconstruction", "a.wav: original, log-mel", "a.wav: reconstruction, log-mel"]
    assert all(ax.get_xlabel() == "time (s)" for ax in grid)
    assert all("amplitude" in ax.get_ylabel() for ax in grid[0:2] + grid[4:6])
    assert all("Hz" in ax.get_ylabel() for ax in grid[2:4] + grid[6:8])
    assert len(fig.axes) == 10  # one dB colour bar per row
    assert "3000 Hz" in fig.get_suptitle()


def test_spectrograms_stack_real_and_generated_clips_on_one_scale() -> None:
    t = np.arange(2 * RATE) / RATE
    tone = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    noise = (0.05 * np.random.default_rng(0).standard_normal(len(t))).astype(np.float32)
    rows = [("real test clip a.wav", tone), ("learned prior, seed 1", noise), ("N(0, I), seed 1", 0 * tone)]
    fig = spectrograms_figure(rows, RATE, "jazz")
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 3 and len(fig.axes) == 4  # one shared colour bar
    assert [ax.get_title(loc="left") for ax in panels] == [label for label, _ in rows]
    assert all(ax.get_ylabel() == "Hz (mel)" for ax in panels)
    assert [ax.get_xlabel() for ax in panels] == ["", "", "time (s)"]  # a shared time axis, labelled once
    assert panels[0].get_shared_x_axes().joined(panels[0], panels[2])
    assert panels[0].get_xlim()[1] == pytest.approx(2.0, rel=0.05)
    # one colour scale: dB re the loudest row (the tone), so the silent row sits at the -80 dB floor
    images = [ax.collections[0] for ax in panels]
    assert all(image.get_clim() == (-80.0, 0.0) for image in images)
    assert float(np.max(images[0].get_array())) == pytest.approx(0.0, abs=1e-4)
    assert float(np.max(images[2].get_array())) == pytest.approx(-80.0)
    assert "3000 Hz" in fig.get_suptitle() and "learned prior" in fig.get_suptitle()


def test_pca_2d_finds_the_main_directions() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 5)) * np.array([10.0, 3.0, 0.1, 0.1, 0.1])
    proj, ratio, components, mean = pca_2d(x)
    assert proj.shape == (200, 2) and components.shape == (2, 5)
    assert abs(components[0, 0]) == pytest.approx(1, abs=0.01) and abs(components[1, 1]) == pytest.approx(1, abs=0.01)
    assert ratio[0] > 0.85 and ratio[0] + ratio[1] > 0.99
    assert proj == pytest.approx((x - mean) @ components.T)
    proj1, ratio1, _, _ = pca_2d(np.ones((1, 4)))  # a single clip: nothing to project, no crash
    assert proj1.shape == (1, 2) and ratio1.tolist() == [0, 0]


def test_latent_space_2d_shows_means_and_a_decoded_grid() -> None:
    rng = np.random.default_rng(0)
    calls = []

    def decode(points: np.ndarray) -> np.ndarray:
        calls.append(points.shape)
        return np.sin(np.outer(points[:, 0] + 3, np.linspace(0, 10, 300)))

    fig = latent_space_figure(rng.standard_normal((5, 2)), rng.standard_normal((3, 2)), "jazz", decode, grid=5)
    left, right = fig.axes
    assert calls == [(25, 2)]
    assert left.get_xlabel().startswith("z1") and left.get_ylabel().startswith("z2")
    assert right.get_xlabel().startswith("z1") and "5 x 5" in right.get_title()
    labels = [t.get_text() for t in left.get_legend().get_texts()]
    assert labels[:2] == ["train clips (5)", "test clips (3)"]


def test_latent_space_uses_pca_for_larger_latents() -> None:
    rng = np.random.default_rng(1)
    fig = latent_space_figure(rng.standard_normal((6, 10, 4)), rng.standard_normal((2, 10, 4)), "rock")
    (ax,) = fig.axes
    assert ax.get_xlabel().startswith("PC 1 (") and "% of variance" in ax.get_ylabel()
    assert "PCA of 40 latent dimensions" in ax.get_title()


def test_save_figure_writes_a_png(tmp_path: Path) -> None:
    save_figure(loss_curves_figure(_history(), "jazz"), tmp_path / "loss.png", dpi=40)
    with Image.open(tmp_path / "loss.png") as png:
        assert png.format == "PNG" and png.size == (480, 320)


def _tones(n: int = 5) -> np.ndarray:
    t = np.arange(N_SAMPLES) / RATE
    return np.stack([0.3 * np.sin(2 * np.pi * (100 + 30 * i) * t) for i in range(n)]).astype(np.float32)


FIGURE_SETTINGS = {"seed": 1, "sample_rate": RATE, "figures": {"dpi": 30, "gif_dpi": 20}, "prior": {"temperature": 1.0}}


@pytest.mark.slow
def test_make_figures_writes_all_six_from_a_genres_files(tmp_path: Path) -> None:
    import keras

    from genrevae.model import build_model
    from genrevae.prior import LatentPrior

    # the report preset's 2-D latent (the decoded-grid panel), with an untrained prior over it
    keras.utils.set_random_seed(3)
    model = build_model({"preset": "report", "latent_dim": 2}, n_samples=N_SAMPLES)
    genre = TrainedGenre(tmp_path / "jazz")
    genre.model_dir.mkdir(parents=True)
    model.save(genre.model_file)
    genre.prior_dir.mkdir()
    LatentPrior(2, hidden=4, mixtures=2).save(genre.prior_file)
    shard, split = write_genre_data(tmp_path, _tones(), ["train", "test"] * 2 + ["unused"])
    _history(2).to_csv(genre.history_file, index=False)
    np.save(genre.epoch_samples_file, _epoch_samples(epochs=2, points=256))
    paths = make_figures(genre, shard, split, "jazz", FIGURE_SETTINGS)
    assert set(paths) == set(FIGURE_NAMES) and len(FIGURE_NAMES) == 6
    assert {p.name for p in paths.values()} == set(FIGURE_NAMES.values())
    assert paths["spectrograms"] == tmp_path / "jazz" / "figures" / "spectrograms.png"
    assert sorted(p.name for p in genre.figures_dir.iterdir()) == sorted(FIGURE_NAMES.values())
    for path in paths.values():
        with Image.open(path) as image:
            assert image.size[0] > 100 and image.size[1] > 100
    with Image.open(paths["evolution"]) as gif:
        assert gif.n_frames == 3
    with Image.open(paths["spectrograms"]) as png:  # 2 real + 2 learned-prior + 2 N(0, I) rows, stacked
        assert png.format == "PNG" and png.size[1] > png.size[0] / 2


@pytest.mark.slow
def test_make_figures_from_a_trained_genre_and_its_fitted_prior(tmp_path: Path) -> None:
    # the real files of the train and prior stages: history.csv by step, checkpoint samples
    shard, split = write_genre_data(tmp_path / "data", _tones(6), ["train", "test", "train", "test", "train", "unused"])
    genre = TrainedGenre(tmp_path / "jazz")
    f = train_tiny_genre(shard, split, genre.model_dir, seed=2)
    steps = pd.read_csv(f["history"])["step"].tolist()
    assert steps == [2, 4] and np.load(f["epoch_samples"]).shape[0] == len(steps) + 1
    f["prior"].parent.rename(genre.prior_dir)  # train_tiny_genre fits it into model/prior/
    paths = make_figures(genre, shard, split, "jazz", FIGURE_SETTINGS)
    assert {p.name for p in paths.values()} == set(FIGURE_NAMES.values())
    for path in paths.values():
        with Image.open(path) as image:
            assert image.size[0] > 100 and image.size[1] > 100
    with Image.open(paths["evolution"]) as gif:
        assert gif.n_frames == 3


def test_the_report_has_a_caption_for_exactly_the_listed_figures() -> None:
    """The figures rule takes each figure's report caption from ``workflow/report/<stem>.rst``
    (:data:`genrevae.figure_list.FIGURES`); Snakemake renders those files itself, so they cannot
    read the list: there is one per listed figure, and no caption file is left of a figure no
    longer listed (every other .rst is named by a rule or the Snakefile)."""
    from genrevae.figure_list import FIGURES

    root = Path(__file__).resolve().parents[1]
    report = root / "workflow" / "report"
    listed = {figure.report_caption for figure in FIGURES}
    sources = [root / "Snakefile", *sorted((root / "workflow" / "rules").glob("*.smk"))]
    named = {name for path in sources for name in re.findall(r"report/(\w+\.rst)", path.read_text(encoding="utf-8"))}
    assert len(FIGURES) == 6 and len(listed) == 6 and len({f.key for f in FIGURES}) == 6
    assert all((report / name).is_file() for name in listed), listed
    assert listed.isdisjoint(named) and named <= {p.name for p in report.glob("*.rst")}
    assert {p.name for p in report.glob("*.rst")} - named == listed
    assert FIGURE_NAMES == {f.key: f.file for f in FIGURES}
