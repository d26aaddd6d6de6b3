"""Figures of one trained genre VAE (matplotlib, non-interactive Agg backend, no pyplot state).

Every ``*_figure`` function is pure: it takes arrays and returns a
:class:`matplotlib.figure.Figure` (so tests can inspect its axes, titles and labels);
:func:`make_figures` loads a genre's files and writes them all:

``samples_grid.png``
    The seed report's picture: a 4 x 4 grid of ``librosa.display.waveshow`` plots of 16
    prior draws decoded by the final model.
``samples_evolution.gif``
    The same 16 draws decoded before training and after each epoch (from
    ``epoch_samples.npy``), one frame per epoch.
``reconstructions.png``
    Test clips next to their reconstructions: waveforms and log-mel spectrograms.
``loss_curves.png``
    Training loss, test ELBO, test KL and test reconstruction term per epoch.
``latent_space.png``
    With a 2-dimensional latent: train/test posterior means in the plane and a grid of
    decoded prior points over it.  Otherwise: the posterior means projected on their
    first two principal components (numpy SVD).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Sequence

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

__all__ = [
    "FIGURE_NAMES",
    "waveform_grid_figure",
    "samples_grid_figure",
    "figure_rgb",
    "evolution_frames",
    "write_gif",
    "reconstructions_figure",
    "log_mel",
    "loss_curves_figure",
    "pca_2d",
    "latent_space_figure",
    "save_figure",
    "make_figures",
]

FIGURE_NAMES = {
    "grid": "samples_grid.png",
    "evolution": "samples_evolution.gif",
    "reconstructions": "reconstructions.png",
    "loss": "loss_curves.png",
    "latent": "latent_space.png",
}

AMPLITUDE_LABEL = "amplitude (full scale)"
TIME_LABEL = "time (s)"


def _symmetric_limit(values: np.ndarray, floor: float = 1e-3) -> float:
    peak = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return max(peak * 1.05, floor)


def _waveshow(ax: Axes, wave: np.ndarray, sr: float):
    """One panel's waveform, as every waveform grid draws it; returns librosa's ``AdaptiveWaveplot``."""
    import librosa.display

    return librosa.display.waveshow(np.asarray(wave, dtype=np.float32), sr=sr, ax=ax, axis="s", color="tab:blue")


def _draw_waveforms(axes: np.ndarray, waves: np.ndarray, sr: float, limit: float) -> None:
    for i, ax in enumerate(axes.flat):
        if i < len(waves):
            _waveshow(ax, waves[i], sr)
            ax.set_title(f"draw {i + 1}", fontsize=9)
        else:
            ax.set_axis_off()
        ax.set_ylim(-limit, limit)
        ax.set_xlabel(TIME_LABEL if ax.get_subplotspec().is_last_row() else "")
        ax.set_ylabel(AMPLITUDE_LABEL if ax.get_subplotspec().is_first_col() else "")


def waveform_grid_figure(
    waves: np.ndarray,
    sr: float,
    title: str,
    rows: int = 4,
    cols: int = 4,
    limit: float | None = None,
    figsize: tuple[float, float] = (16, 11),
) -> Figure:
    """A ``rows x cols`` grid of ``librosa.display.waveshow`` plots of ``waves (n, samples)`` at rate ``sr``.

    All panels share the symmetric amplitude range ``[-limit, limit]`` (default: the
    largest peak), so loudness can be compared across panels.  (The axes are not
    ``sharex``-linked on purpose: waveshow re-computes its envelope on every linked
    limit change, which makes a 4 x 4 grid ~16 times slower.)
    """
    fig = Figure(figsize=figsize, layout="constrained")
    axes = np.asarray(fig.subplots(rows, cols, squeeze=False))
    _draw_waveforms(axes, waves, sr, limit if limit is not None else _symmetric_limit(waves))
    fig.suptitle(title)
    return fig


def samples_grid_figure(epoch_samples: np.ndarray, clip_seconds: float, genre: str) -> Figure:
    """4 x 4 waveshow grid of the final epoch's 16 prior draws from ``epoch_samples (epochs+1, 16, points)``.

    The traces are envelopes of ``points`` values over ``clip_seconds``, so they are drawn
    at ``sr = points / clip_seconds`` and the time axis is in seconds of the real clip.
    """
    final = np.asarray(epoch_samples[-1])
    epochs = len(epoch_samples) - 1
    sr = final.shape[-1] / float(clip_seconds)
    title = f"{genre}: {len(final)} clips decoded from z ~ N(0, I) after {epochs} epoch{'s' * (epochs != 1)}"
    return waveform_grid_figure(final, sr, title)


def figure_rgb(fig: Figure, dpi: float) -> np.ndarray:
    """Render ``fig`` once with Agg at ``dpi``; returns its pixels as ``(height, width, 3)`` uint8."""
    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


class _BlitCanvas(FigureCanvasAgg):
    """An Agg canvas that renders only when told to: librosa's waveshow asks for ``draw_idle()``
    on every call, which a plain Agg canvas answers with a full redraw of the figure."""

    def draw_idle(self, *args: object, **kwargs: object) -> None:
        pass


def evolution_frames(
    epoch_samples: np.ndarray, clip_seconds: float, genre: str, dpi: float = 50
) -> tuple[Figure, list[np.ndarray]]:
    """Render one RGB frame per epoch of the 16 fixed prior draws; returns (last frame's figure, frames).

    All frames share one amplitude range (the largest peak over all epochs), so growing or
    shrinking output is visible as such.  Axes, ticks and labels are therefore the same in every
    frame: they are laid out and rendered once, and each frame only draws its waveforms and
    title over that background (Agg blitting; a full redraw of the grid cost ~1.5 s per frame).
    """
    samples = np.asarray(epoch_samples)
    epochs = len(samples) - 1
    sr = samples.shape[-1] / float(clip_seconds)
    limit = _symmetric_limit(samples)

    def title_of(epoch: int) -> str:
        when = "before training" if epoch == 0 else f"after epoch {epoch} of {epochs}"
        return f"{genre}: the same {samples.shape[1]} prior draws, {when}"

    fig = waveform_grid_figure(samples[0], sr, title_of(0), limit=limit, figsize=(12, 8.5))
    title = fig.suptitle(title_of(0))  # the same Text again: a handle to retitle frames with
    canvas = _BlitCanvas(fig)
    fig.set_dpi(dpi)
    canvas.draw()  # constrained layout, with a title and real data in place
    fig.set_layout_engine("none")
    panels = [ax for ax in fig.axes if ax.axison][: len(samples[0])]
    xlabels = [ax.get_xlabel() for ax in panels]
    for ax in panels:
        ax.set_xlim(ax.get_xlim())  # no autoscaling from here on: every frame uses these limits
        for artist in [*ax.lines, *ax.collections]:
            artist.remove()
    title.set_text("")
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)

    frames = []
    for epoch in range(epochs + 1):
        canvas.restore_region(background)
        title.set_text(title_of(epoch))
        fig.draw_artist(title)
        for ax, wave, xlabel in zip(panels, samples[epoch], xlabels):
            plot = _waveshow(ax, wave, sr)
            ax.set_xlabel(xlabel)  # waveshow relabels the axis; ours stays (only the last row has one)
            ax.draw_artist(plot.envelope)
            ax.draw_artist(plot.steps)
            if epoch < epochs:  # the last frame's waveforms stay, so the returned figure shows it
                plot.disconnect()
                plot.envelope.remove()
                plot.steps.remove()
        frames.append(np.asarray(canvas.buffer_rgba())[..., :3].copy())
    return fig, frames


def write_gif(frames: Sequence[np.ndarray], path: Path, fps: float = 2.0, hold_last_s: float = 2.0) -> None:
    """Write RGB frames as a looping GIF (Pillow), holding the last frame ``hold_last_s`` seconds."""
    from PIL import Image

    from genrevae.files import atomic_path

    if not frames:
        raise ValueError("no frames")
    images = [
        Image.fromarray(np.asarray(f, dtype=np.uint8)).quantize(colors=64, method=Image.Quantize.MEDIANCUT)
        for f in frames
    ]
    step = max(int(round(1000.0 / float(fps))), 20)
    durations = [step] * (len(images) - 1) + [max(step, int(hold_last_s * 1000))]
    with atomic_path(Path(path)) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)


def log_mel(x: np.ndarray, sample_rate: int, n_fft: int = 512, hop_length: int = 128, n_mels: int = 64) -> np.ndarray:
    """Mel power spectrogram ``(n_mels, frames)`` of one waveform, up to the Nyquist frequency."""
    import librosa

    return librosa.feature.melspectrogram(
        y=np.asarray(x, dtype=np.float32), sr=sample_rate, n_fft=n_fft, hop_length=hop_length,
        n_mels=n_mels, fmax=sample_rate / 2.0,
    )  # fmt: skip


def reconstructions_figure(
    originals: np.ndarray,
    reconstructions: np.ndarray,
    sample_rate: int,
    names: Sequence[str],
    genre: str,
    n_fft: int = 512,
    hop_length: int = 128,
    n_mels: int = 64,
) -> Figure:
    """One row per test clip: original and reconstruction as waveforms, then as log-mel spectrograms.

    Each row's two waveforms share an amplitude range and its two spectrograms one colour
    scale (dB relative to the louder of the two maxima, 80 dB range).
    """
    import librosa
    import librosa.display

    n = len(originals)
    fig = Figure(figsize=(18, 2.8 * max(n, 1) + 0.8), layout="constrained")
    axes = np.asarray(fig.subplots(max(n, 1), 4, squeeze=False))
    for row in range(n):
        x, y = np.asarray(originals[row], np.float32), np.asarray(reconstructions[row], np.float32)
        limit = _symmetric_limit(np.concatenate([x, y]))
        for col, (wave, what, color) in enumerate(((x, "original", "tab:gray"), (y, "reconstruction", "tab:blue"))):
            ax = axes[row, col]
            librosa.display.waveshow(wave, sr=sample_rate, ax=ax, axis="s", color=color)
            ax.set_ylim(-limit, limit)
            ax.set_title(f"{names[row]}: {what}", fontsize=10)
            ax.set_xlabel(TIME_LABEL)
            ax.set_ylabel(AMPLITUDE_LABEL)
        mx, my = log_mel(x, sample_rate, n_fft, hop_length, n_mels), log_mel(y, sample_rate, n_fft, hop_length, n_mels)
        ref = max(float(mx.max()), float(my.max()), 1e-10)
        image = None
        for col, (mel, what) in enumerate(((mx, "original"), (my, "reconstruction")), start=2):
            ax = axes[row, col]
            db = librosa.power_to_db(mel, ref=ref, amin=1e-10, top_db=None)
            image = librosa.display.specshow(
                np.maximum(db, -80.0), sr=sample_rate, hop_length=hop_length, x_axis="s", y_axis="mel",
                fmax=sample_rate / 2.0, ax=ax, vmin=-80.0, vmax=0.0, cmap="magma",
            )  # fmt: skip
            ax.set_title(f"{names[row]}: {what}, log-mel", fontsize=10)
            ax.set_xlabel(TIME_LABEL)
            ax.set_ylabel("frequency (Hz, mel scale)")
        fig.colorbar(image, ax=list(axes[row, 2:]), format="%+.0f dB", label="power (dB re the row's maximum)")
    if n == 0:
        axes[0, 0].text(0.5, 0.5, "no test clips", ha="center", va="center")
        for ax in axes.flat:
            ax.set_axis_off()
    fig.suptitle(f"{genre}: test clips and their reconstructions from the posterior mean ({sample_rate} Hz)")
    return fig


def loss_curves_figure(history: pd.DataFrame, genre: str) -> Figure:
    """2 x 2 panels per epoch: training objective, test ELBO, test KL, test reconstruction term.

    ``history`` has the columns of ``history.csv`` (``epoch, train_loss, test_elbo,
    test_recon, test_kl, kl_weight, ...``), all in nats per clip.  When the KL weight
    changes over the epochs it is drawn on a second axis of the first panel.
    """
    fig = Figure(figsize=(12, 8), layout="constrained")
    axes = np.asarray(fig.subplots(2, 2, squeeze=False))
    panels = [
        ("train_loss", "training loss", "loss (nats per clip)", "tab:blue"),
        ("test_elbo", "test ELBO (single sample)", "ELBO (nats per clip)", "tab:green"),
        ("test_kl", "test KL(q(z|x) || p(z))", "KL (nats per clip)", "tab:red"),
        ("test_recon", "test reconstruction term E_q[log p(x|z)]", "log-likelihood (nats per clip)", "tab:purple"),
    ]
    epochs = history["epoch"].to_numpy() if "epoch" in history else np.arange(1, len(history) + 1)
    for ax, (column, title, ylabel, color) in zip(axes.flat, panels):
        if column in history and len(history):
            ax.plot(epochs, history[column].to_numpy(dtype=float), marker="o", ms=3, color=color, label=column)
        else:
            ax.text(0.5, 0.5, f"no '{column}' in history", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
    if "kl_weight" in history and history["kl_weight"].nunique() > 1:
        twin = axes[0, 0].twinx()
        twin.plot(epochs, history["kl_weight"].to_numpy(dtype=float), ls="--", color="gray", label="KL weight")
        twin.set_ylabel("KL weight (dimensionless)")
    fig.suptitle(f"{genre}: training curves")
    return fig


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Project rows of ``x (n, d)`` on their first two principal components (numpy SVD).

    Returns ``(projection (n, 2), explained variance ratio (2,), components (2, d), mean (d,))``;
    missing components (``d < 2`` or ``n < 3``) are zero vectors with ratio 0.
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    mean = x.mean(axis=0) if len(x) else np.zeros(x.shape[1])
    centred = x - mean
    components = np.zeros((2, x.shape[1]))
    ratio = np.zeros(2)
    if len(x) >= 2:
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        k = min(2, len(s))
        components[:k] = vt[:k]
        total = float(np.sum(s**2))
        if total > 0:
            ratio[:k] = s[:k] ** 2 / total
        # fix the sign so the result does not depend on LAPACK's choice
        for i in range(k):
            j = int(np.argmax(np.abs(components[i])))
            if components[i, j] < 0:
                components[i] *= -1
    return centred @ components.T, ratio, components, mean


def _envelope(wave: np.ndarray, points: int) -> np.ndarray:
    starts = (np.arange(points) * len(wave)) // points
    return np.maximum.reduceat(np.abs(np.asarray(wave, np.float64)), starts)


def latent_space_figure(
    train_means: np.ndarray,
    test_means: np.ndarray,
    genre: str,
    decode: Callable[[np.ndarray], np.ndarray] | None = None,
    grid: int = 7,
) -> Figure:
    """Posterior means of the train and test clips in latent space.

    With 2 latent dimensions (and a ``decode`` callable mapping ``(m, 2)`` latents to
    waveforms ``(m, samples)``) the right panel shows the envelope of the clip decoded at
    each point of a ``grid x grid`` lattice over the plane.  With more dimensions the
    means are flattened and projected on their first two principal components; the unit
    circle around the projected origin is one standard deviation of the prior N(0, I).
    """
    train = np.asarray(train_means, np.float64).reshape(len(train_means), -1)
    test = np.asarray(test_means, np.float64).reshape(len(test_means), -1)
    dims = train.shape[1] if len(train) else test.shape[1]
    both = np.concatenate([train, test])
    two_d = dims == 2
    fig = Figure(figsize=(14, 6.5) if two_d and decode is not None else (8, 7), layout="constrained")
    if two_d and decode is not None:
        ax, ax_grid = fig.subplots(1, 2)
    else:
        ax, ax_grid = fig.subplots(1, 1), None

    if two_d:
        p_train, p_test, origin = train, test, np.zeros(2)
        xlabel, ylabel = "z1 (prior standard deviations)", "z2 (prior standard deviations)"
        ax.set_title("posterior means of the clips")
    else:
        proj, ratio, components, mean = pca_2d(both)
        p_train, p_test = proj[: len(train)], proj[len(train) :]
        origin = (np.zeros(dims) - mean) @ components.T
        xlabel = f"PC 1 ({100 * ratio[0]:.1f} % of variance, latent units)"
        ylabel = f"PC 2 ({100 * ratio[1]:.1f} % of variance, latent units)"
        ax.set_title(f"posterior means, PCA of {dims} latent dimensions")
    ax.scatter(p_train[:, 0], p_train[:, 1], marker="o", color="tab:blue", label=f"train clips ({len(train)})")
    ax.scatter(p_test[:, 0], p_test[:, 1], marker="^", color="tab:orange", label=f"test clips ({len(test)})")
    angle = np.linspace(0, 2 * np.pi, 200)
    ax.plot(origin[0] + np.cos(angle), origin[1] + np.sin(angle), ls=":", color="gray", label="prior N(0, I), 1 std")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="best", fontsize=8)
    ax.grid(True, alpha=0.3)

    if ax_grid is not None:
        extent = max(2.5, 1.1 * float(np.max(np.abs(both))) if both.size else 2.5)
        ticks = np.linspace(-extent, extent, int(grid))
        uu, vv = np.meshgrid(ticks, ticks[::-1])
        points = np.stack([uu.ravel(), vv.ravel()], axis=1).astype(np.float32)
        waves = np.asarray(decode(points))
        cell = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
        envs = np.stack([_envelope(w, 64) for w in waves])
        scale = max(float(envs.max()), 1e-9)
        xs = np.linspace(-0.45 * cell, 0.45 * cell, envs.shape[1])
        for (u, v), env in zip(points, envs):
            half = 0.45 * cell * env / scale
            ax_grid.fill_between(u + xs, v - half, v + half, color="tab:blue", lw=0)
        ax_grid.set_xlim(-extent - cell / 2, extent + cell / 2)
        ax_grid.set_ylim(-extent - cell / 2, extent + cell / 2)
        ax_grid.set_aspect("equal")
        ax_grid.set_xlabel("z1 (prior standard deviations)")
        ax_grid.set_ylabel("z2 (prior standard deviations)")
        ax_grid.set_title(f"envelopes of clips decoded on a {grid} x {grid} grid (peak {scale:.3g} full scale)")
    fig.suptitle(f"{genre}: latent space")
    return fig


def save_figure(fig: Figure, path: Path, dpi: float = 100) -> None:
    """Write ``fig`` as PNG atomically (temp file + rename)."""
    from genrevae.files import atomic_path

    FigureCanvasAgg(fig)
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)


def make_figures(
    model_path: Path,
    history_path: Path,
    epoch_samples_path: Path,
    shard: Path,
    split: Path,
    out_dir: Path,
    genre: str,
    settings: dict,
) -> dict[str, Path]:
    """Load one genre's model, history, epoch samples and clips and write the five figures.

    ``settings`` holds ``sample_rate`` and optionally ``render`` (see
    :data:`genrevae.export.DEFAULT_RENDER_SETTINGS`; this uses ``n_reconstructions``,
    ``figure_dpi``, ``gif_dpi``, ``gif_fps`` and ``batch_size``).  Returns the written paths by
    key of :data:`FIGURE_NAMES`.
    """
    from genrevae.export import decode_latents, load_model, posterior_means, read_split, resolve_render_settings

    render = resolve_render_settings(settings.get("render"))
    dpi, batch = float(render["figure_dpi"]), int(render["batch_size"])
    sample_rate = int(settings["sample_rate"])
    out_dir = Path(out_dir)
    paths = {key: out_dir / name for key, name in FIGURE_NAMES.items()}

    model = load_model(model_path)
    clips = np.load(Path(shard), mmap_mode="r")
    table = read_split(split, clips.shape[0])
    clip_seconds = clips.shape[1] / float(sample_rate)
    epoch_samples = np.load(Path(epoch_samples_path))
    history = pd.read_csv(history_path)

    save_figure(samples_grid_figure(epoch_samples, clip_seconds, genre), paths["grid"], dpi)
    _, frames = evolution_frames(epoch_samples, clip_seconds, genre, float(render["gif_dpi"]))
    write_gif(frames, paths["evolution"], float(render["gif_fps"]))
    save_figure(loss_curves_figure(history, genre), paths["loss"], dpi)

    idx = [int(c) for c in table["test"][: max(int(render["n_reconstructions"]), 1)]]
    originals = np.asarray(clips[idx], dtype=np.float32)
    recons = decode_latents(model, posterior_means(model, originals, batch), batch)
    names = [str(table["tracks"][c]) or f"clip {c}" for c in idx]
    save_figure(reconstructions_figure(originals, recons, sample_rate, names, genre), paths["reconstructions"], dpi)

    def means_of(rows: np.ndarray) -> np.ndarray:
        return posterior_means(model, np.asarray(clips[[int(r) for r in rows]], dtype=np.float32), batch)

    train_means, test_means = means_of(table["train"]), means_of(table["test"])
    latent_shape = tuple(model.latent_shape)
    decode = None
    if math.prod(latent_shape) == 2:

        def decode(points: np.ndarray) -> np.ndarray:
            return decode_latents(model, np.asarray(points, np.float32).reshape((-1,) + latent_shape), batch)

    save_figure(latent_space_figure(train_means, test_means, genre, decode), paths["latent"], dpi)
    return paths
