"""How good is the generated music?  Offline measures on librosa features, with controls.

Everything here is a pure function of waveform (or feature) arrays at the project's rate
(3 kHz by default); the model-loading wrappers at the end only decode clips and call them.
The features themselves and the Frechet distance live in :mod:`genrevae.features`, which the
genre classifier (:mod:`genrevae.fidelity`) and the judge share: this module is the quality
stage (the measures, their controls and the clip sets measured), so that editing it re-runs
the stages that measure quality and not the classifier.

Per genre (:func:`generation_quality`)
    ``frechet_generated_test``
        The Frechet distance (as in FID / FAD: the squared 2-Wasserstein distance between
        Gaussians fitted to two feature sets) between *frame-level* MFCCs (one row per
        STFT frame, ~85 ms) of clips generated from the prior and of the genre's real test
        clips.  This is the reported headline measure.
    ``frechet_train_test`` (the floor)
        The same distance between the real train and test clips: what a perfect generator
        of the genre would reach with as many clips.  ``ratio`` = generated / floor
        (1 = as close to the test set as real music of the genre; larger is worse).
    ``segment_frechet_*``, ``segment_ratio``
        The same on *segment-level* features (one row per ``segment_seconds`` = 3 s
        segment: the standard deviation of each MFCC over the segment, onset-strength
        statistics and the autocorrelation peaks of the onset envelope, RMS-envelope
        statistics; see :func:`genrevae.features.segment_features`), standardised with the train segments' mean and standard deviation
        (so every dimension counts alike), with its own floor and ratio.  Frame-level
        MFCCs only see the short-term spectrum, whose distribution barely depends on the
        order of frames: they cannot see rhythm or phrasing.  Segment features see
        dynamics: beats, note onsets, loudness changes.
    ``note_frechet_*``, ``note_ratio``
        The same on *note-level* features of the same segments (:func:`genrevae.features.note_features`:
        chroma peakiness and frame-to-frame stability, how much the partials' log
        magnitudes move between frames, harmonic-sum pitch salience, the distribution of
        spectral flatness), standardised with the train segments, with its own floor and
        ratio.  Neither MFCCs nor envelopes see whether the partials under the spectral
        envelope are notes -- narrow peaks at a few pitches that hold, then change together --
        or noise with the same peaks on average; these features do.
    ``copy_*``
        Whether the generator replays its training clips (the data-copying test of Meehan,
        Chaudhuri and Dasgupta 2020, in its global form).  Each 3 s segment (its segment and
        note features, standardised as above) is matched to its nearest *train* segment; the
        generated segments' distances are compared with those of the real *test* segments,
        music the model never saw.  ``copy_ratio`` = median distance generated / median
        distance test (1 = as novel as unseen music of the genre; well below 1 = closer to
        the training clips than new music is: replayed, memorised; above 1 = further away),
        ``copy_z`` the Mann-Whitney U statistic of the two distance sets as a z-score
        (negative = generated segments closer to the train set than test segments).  The
        Frechet ratios cannot tell these apart: a prior that replays train latents scores as
        well on them as one that makes new music of the genre.
    ``controls``
        For each named control set (waveforms passed by the caller) the same numbers,
        computed exactly the same way against the same test set and floors:
        ``{name: {frechet_test, ratio, segment_frechet_test, segment_ratio,
        note_frechet_test, note_ratio, copy_ratio, copy_z, rms, n_clips}}``.
        Typical controls: ``phase_randomised`` (:func:`genrevae.features.phase_randomise` of the train
        clips: stationary noise with exactly the real long-term power spectrum and no
        dynamics at all), ``reconstructions`` (the model's reconstructions of the test
        clips: the best the decoder can do), ``gaussian_prior`` (clips decoded from
        N(0, I) next to the default learned prior).

    Why the controls matter: *a measure under which stationary noise with the right
    spectrum scores well cannot certify music*.  On the toy set (4 genres x 7 train /
    3 test clips of 30 s), phase-randomised train clips reach frame-level ratios of only
    1.6 (jazz) to 9 (rock) -- as good as or better than many generators -- and
    segment-level ratios of 4.9 (classical) to 38 (disco), and note-level ratios of 6.5
    (rock) to 40 (classical; jazz 36, disco 31).  A generator is only shown to make music
    where it beats the phase-randomised control (on every level), and the reconstructions
    show the decoder's ceiling.

Across genres: :mod:`genrevae.fidelity` (a genre classifier on :func:`genrevae.features.clip_features`).

Generated clips are decoded from the genre's learned prior with the seeds ``seed, seed + 1, ...``
(:func:`genrevae.generation.generate_clips`), so the first ones are exactly the exported
``sample_NN_seed<seed+NN>.wav`` clips (before peak-safe scaling and 16-bit rounding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from genrevae.config import section
from genrevae.features import frames_segments_notes, frechet_distance, frechet_or_nan, phase_randomise, ratio_to_floor

__all__ = [
    "phase_randomised_control",
    "copying",
    "generation_quality",
    "MeasuredClips",
    "measured_clips",
    "quality_genre_files",
]


# ---------------------------------------------------------------------------
# Controls
# ---------------------------------------------------------------------------
def phase_randomised_control(train: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """``{"phase_randomised": phase_randomise(train, seed)}``: a ``controls`` entry for :func:`generation_quality`."""
    return {"phase_randomised": phase_randomise(train, seed)}


# ---------------------------------------------------------------------------
# The measures
# ---------------------------------------------------------------------------
def _rms(clips: np.ndarray) -> float:
    if len(clips) == 0:
        return float("nan")
    return float(np.mean([np.sqrt(np.mean(np.square(np.asarray(x, np.float64)))) for x in clips]))


def _standardiser(train_rows: np.ndarray):
    """``rows -> (rows - mean) / std`` with the train rows' mean and std (constant dimensions
    keep a scale of 1), so that every dimension of a Frechet distance counts alike."""
    if len(train_rows):
        centre, scale = train_rows.mean(axis=0), train_rows.std(axis=0)
        scale = np.where(scale > 1e-12, scale, 1.0)
    else:
        centre, scale = 0.0, 1.0
    return lambda rows: (rows - centre) / scale


def copying(generated: np.ndarray, train: np.ndarray, test: np.ndarray) -> dict[str, float]:
    """Nearest-train-neighbour distances of ``generated`` rows against those of ``test`` rows.

    ``{"distance_generated_train", "distance_test_train"}`` (medians of the Euclidean distance
    of each row to its nearest ``train`` row), ``"ratio"`` (their quotient) and ``"z"``: the
    Mann-Whitney U statistic ``U`` of the generated distances against the test distances as
    ``z = (U - m n / 2) / sqrt(m n (m + n + 1) / 12)`` (no tie correction: the distances are
    continuous).  ``z < 0``: generated rows lie closer to the training rows than held-out
    real rows do (data copying); ``z > 0``: further away.  NaN where a set is empty.
    """
    from scipy.stats import mannwhitneyu
    from sklearn.neighbors import NearestNeighbors

    nan = float("nan")
    if min(len(generated), len(train), len(test)) == 0:
        return {"distance_generated_train": nan, "distance_test_train": nan, "ratio": nan, "z": nan}
    nearest = NearestNeighbors(n_neighbors=1).fit(train)
    d_generated = nearest.kneighbors(generated)[0][:, 0]
    d_test = nearest.kneighbors(test)[0][:, 0]
    m, n = len(d_generated), len(d_test)
    u = float(mannwhitneyu(d_generated, d_test, alternative="two-sided").statistic)
    median_generated, median_test = float(np.median(d_generated)), float(np.median(d_test))
    return {
        "distance_generated_train": median_generated,
        "distance_test_train": median_test,
        "ratio": ratio_to_floor(median_generated, median_test),
        "z": (u - m * n / 2) / math.sqrt(m * n * (m + n + 1) / 12),
    }


def generation_quality(
    generated: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    sample_rate: int,
    settings: Mapping[str, Any] | None = None,
    controls: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Frechet distances of generated clips (and of each control set) to the test clips, next to the floor.

    All clip arguments are waveform arrays ``(n, n_samples)``; ``controls`` maps names to
    more such arrays.  Keys (see the module docstring):

    - frame-level MFCC: ``frechet_generated_test``, ``frechet_train_test`` (floor),
      ``ratio`` (generated / floor, NaN when the floor is 0), ``frechet_generated_train``,
      ``n_frames``;
    - segment-level (standardised with the train segments): ``segment_frechet_generated_test``,
      ``segment_frechet_train_test``, ``segment_ratio``, ``segment_frechet_generated_train``,
      ``n_segments`` (NaN where a set has fewer than 2 segments);
    - note-level, on the same segments (standardised with the train segments):
      ``note_frechet_generated_test``, ``note_frechet_train_test``, ``note_ratio``,
      ``note_frechet_generated_train`` (NaN likewise);
    - ``controls``: ``{name: {frechet_test, ratio, segment_frechet_test, segment_ratio,
      note_frechet_test, note_ratio, copy_ratio, copy_z, rms, n_clips}}`` against the same test set and floors;
    - data copying, on the segment and note rows side by side: ``copy_distance_generated_train``,
      ``copy_distance_test_train``, ``copy_ratio``, ``copy_z`` (:func:`copying`), ``copy_feature``;
    - ``n_clips``, ``rms`` (mean RMS per set: a near-silent generator shows up there
      first), ``feature``, ``segment_feature``, ``note_feature``, ``sample_rate``.
    """
    s = section("features", settings)
    f_gen, g_gen, n_gen = frames_segments_notes(generated, sample_rate, s)
    f_train, g_train, n_train = frames_segments_notes(train, sample_rate, s)
    f_test, g_test, n_test = frames_segments_notes(test, sample_rate, s)
    standard, note_standard = _standardiser(g_train), _standardiser(n_train)
    g_gen, g_train, g_test = standard(g_gen), standard(g_train), standard(g_test)
    n_gen, n_train, n_test = note_standard(n_gen), note_standard(n_train), note_standard(n_test)
    fd_gen = frechet_distance(f_gen, f_test)
    fd_floor = frechet_distance(f_train, f_test)
    sd_gen = frechet_or_nan(g_gen, g_test)
    sd_floor = frechet_or_nan(g_train, g_test)
    nd_gen = frechet_or_nan(n_gen, n_test)
    nd_floor = frechet_or_nan(n_train, n_test)
    # the copying test's rows: one per segment, its segment and note features side by side
    c_gen, c_train, c_test = (np.hstack([g, n]) for g, n in ((g_gen, n_gen), (g_train, n_train), (g_test, n_test)))
    copy_gen = copying(c_gen, c_train, c_test)
    control_blocks = {}
    for name, clips in (controls or {}).items():
        f_c, g_c, n_c = frames_segments_notes(clips, sample_rate, s)
        g_c, n_c = standard(g_c), note_standard(n_c)
        fd_c = frechet_or_nan(f_c, f_test)
        sd_c = frechet_or_nan(g_c, g_test)
        nd_c = frechet_or_nan(n_c, n_test)
        copy_c = copying(np.hstack([g_c, n_c]), c_train, c_test)
        control_blocks[str(name)] = {
            "frechet_test": fd_c,
            "ratio": ratio_to_floor(fd_c, fd_floor),
            "segment_frechet_test": sd_c,
            "segment_ratio": ratio_to_floor(sd_c, sd_floor),
            "note_frechet_test": nd_c,
            "note_ratio": ratio_to_floor(nd_c, nd_floor),
            "copy_ratio": copy_c["ratio"],
            "copy_z": copy_c["z"],
            "rms": _rms(clips),
            "n_clips": int(len(clips)),
        }
    return {
        "feature": (
            f"frame-level MFCC (librosa): {s['n_mfcc']} coefficients, n_fft {s['n_fft']}, hop {s['hop_length']}, "
            f"{s['n_mels']} mel bands up to {sample_rate / 2:g} Hz"
        ),
        "frechet_generated_test": fd_gen,
        "frechet_train_test": fd_floor,
        "ratio": ratio_to_floor(fd_gen, fd_floor),
        "frechet_generated_train": frechet_distance(f_gen, f_train),
        "segment_feature": (
            f"{float(s['segment_seconds']):g} s segments: MFCC std, onset-strength (hop {s['onset_hop_length']}) "
            "and RMS-envelope statistics, onset autocorrelation peaks; standardised with the train segments"
        ),
        "segment_frechet_generated_test": sd_gen,
        "segment_frechet_train_test": sd_floor,
        "segment_ratio": ratio_to_floor(sd_gen, sd_floor),
        "segment_frechet_generated_train": frechet_or_nan(g_gen, g_train),
        "note_feature": (
            f"{float(s['segment_seconds']):g} s segments of STFT frames (n_fft {s['n_fft']}, hop {s['hop_length']}): "
            "chroma entropy and frame-to-frame chroma stability, energy-weighted log-magnitude change of the "
            "partials, harmonic-sum pitch salience, log spectral flatness (mean, std, 10th/90th percentile), "
            "entropy of the segment's chroma; standardised with the train segments"
        ),
        "note_frechet_generated_test": nd_gen,
        "note_frechet_train_test": nd_floor,
        "note_ratio": ratio_to_floor(nd_gen, nd_floor),
        "note_frechet_generated_train": frechet_or_nan(n_gen, n_train),
        "copy_feature": (
            "each segment's segment and note features (standardised as above); Euclidean distance to the nearest "
            "train segment, generated vs test segments (ratio of medians; Mann-Whitney z, negative = copying)"
        ),
        "copy_distance_generated_train": copy_gen["distance_generated_train"],
        "copy_distance_test_train": copy_gen["distance_test_train"],
        "copy_ratio": copy_gen["ratio"],
        "copy_z": copy_gen["z"],
        "controls": control_blocks,
        "n_clips": {"generated": int(len(generated)), "train": int(len(train)), "test": int(len(test))},
        "n_frames": {"generated": int(len(f_gen)), "train": int(len(f_train)), "test": int(len(f_test))},
        "n_segments": {"generated": int(len(g_gen)), "train": int(len(g_train)), "test": int(len(g_test))},
        "rms": {"generated": _rms(generated), "train": _rms(train), "test": _rms(test)},
        "sample_rate": int(sample_rate),
    }


@dataclass(frozen=True)
class MeasuredClips:
    """The clip sets every per-genre measure compares (waveforms ``(n, n_samples)`` at the
    genre's rate): ``generated`` from the learned prior (seeds ``seed``, ``seed + 1``, ...: the
    exported ``sample_NN`` clips), the real ``train`` and ``test`` clips, and the ``controls``
    ``phase_randomised`` (:func:`~genrevae.features.phase_randomise` of the train clips with ``seed``: the right
    long-term spectrum without dynamics, which a generator must beat), ``reconstructions`` (the
    test clips decoded from their posterior means: the ceiling of any prior with this decoder)
    and ``gaussian_prior`` (the same seeds drawn from N(0, I): what the learned prior adds)."""

    generated: np.ndarray
    train: np.ndarray
    test: np.ndarray
    controls: dict[str, np.ndarray]
    seeds: tuple[int, int]
    temperature: float


def measured_clips(model_path: Path, prior_path: Path, shard: Path, split: Path, settings: Mapping[str, Any]) -> MeasuredClips:
    """:class:`MeasuredClips` of one genre from its files.  ``settings`` holds ``seed``,
    ``quality`` (how many clips, the decoding batch) and ``prior`` (its ``temperature``)."""
    from genrevae.artifacts.shard import read_shard
    from genrevae.artifacts.split import read_split
    from genrevae.generation import decode_latents, generate_clips, posterior_means
    from genrevae.model import load_model
    from genrevae.prior import load_prior

    s = section("quality", settings.get("quality"))
    seed, temperature = int(settings["seed"]), float(settings["prior"]["temperature"])
    clips = read_shard(shard)
    table = read_split(split, clips.shape[0])
    train, test = np.asarray(clips[table.train]), np.asarray(clips[table.test])
    n = int(s["n_generated"]) if s["n_generated"] is not None else len(train)
    batch = int(s["batch_size"])
    model, prior = load_model(model_path), load_prior(prior_path)
    generated = generate_clips(model, prior, n, seed, "learned", temperature, batch_size=batch)
    controls = {
        **phase_randomised_control(train, seed),
        "reconstructions": decode_latents(model, posterior_means(model, test, batch), batch),
        "gaussian_prior": generate_clips(model, None, n, seed, "gaussian", batch_size=batch),
    }
    return MeasuredClips(generated, train, test, controls, (seed, seed + n - 1), temperature)


def quality_genre_files(model_path: Path, prior_path: Path, shard: Path, split: Path, settings: dict) -> dict[str, Any]:
    """:func:`generation_quality` of one genre's :func:`measured_clips` (its controls included).

    ``settings`` holds ``seed``, ``sample_rate``, ``features``, ``quality`` and ``prior`` (its
    ``temperature``); the result also echoes the seeds and the resolved ``features`` and
    ``quality`` sections.
    """
    s, features = section("quality", settings.get("quality")), section("features", settings.get("features"))
    sets = measured_clips(model_path, prior_path, shard, split, settings)
    result = generation_quality(sets.generated, sets.train, sets.test, int(settings["sample_rate"]), features, sets.controls)
    result.update(
        seeds=list(sets.seeds), prior="learned", temperature=sets.temperature, settings={"features": features, "quality": s}
    )
    return result
