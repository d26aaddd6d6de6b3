"""Features of clips: what the measures compute per clip, per segment or per STFT frame, and the
Frechet distance between feature sets.

Split out of :mod:`genrevae.quality` so that the stages which only need features -- the quality
measures (:mod:`genrevae.quality`), the genre classifier (:mod:`genrevae.fidelity`: it
classifies :func:`clip_features` and learns a noise class of :func:`phase_randomise` clips)
and the judge (:mod:`genrevae.judge.genre_report`: Frechet distances between embeddings) --
import this module and not the quality stage: each Snakemake rule's code is what its command
imports (``workflow_support.command_code``), so editing the quality stage no longer re-runs the
classifier, while editing a feature re-runs every stage that uses it.

Everything here is a pure function of waveform (or feature) arrays at the project's rate
(3 kHz by default) and of the config's ``features`` section.

- :func:`mfcc_frames` (frame-level MFCCs), :func:`segment_features` (per ``segment_seconds``
  segment: MFCC spread, onset and RMS envelopes), :func:`note_features` (per segment: chroma,
  partials, pitch salience, flatness), :func:`frames_segments_notes` (all three from one STFT
  per clip), :func:`clip_features` (per clip, the genre classifier's);
- :func:`phase_randomise`: the clips' long-term spectrum with random phases (stationary noise);
- :func:`gaussian_stats`, :func:`frechet_distance`, :func:`frechet_or_nan`,
  :func:`ratio_to_floor`: Frechet distances between Gaussians fitted to feature sets, and their
  ratio to a floor.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Mapping

import numpy as np

from genrevae.config import section

__all__ = [
    "phase_randomise",
    "mfcc_frames",
    "segment_features",
    "note_features",
    "frames_segments_notes",
    "clip_features",
    "gaussian_stats",
    "frechet_distance",
    "frechet_or_nan",
    "ratio_to_floor",
]

# Lag range (seconds) searched for periodicity in onset/RMS envelopes: 30-600 beats per minute.
_MIN_LAG_S, _MAX_LAG_S = 0.1, 2.0


# ---------------------------------------------------------------------------
# Phase randomisation
# ---------------------------------------------------------------------------
def phase_randomise(clips: np.ndarray, seed: int) -> np.ndarray:
    """Each clip with the phases of its spectrum replaced by uniform random ones: ``(n, n_samples)`` float32.

    Per clip: ``rfft``, keep the magnitudes, draw phases uniform in [0, 2 pi) from
    ``numpy.random.default_rng([seed, i])`` (``i`` = the clip's row), keep the DC bin
    (and the Nyquist bin of an even length) as they are (real), ``irfft`` to the same
    length.  The result has exactly the clip's long-term power spectrum (up to rounding)
    and no dynamics: stationary noise.  Deterministic.
    """
    rows = []
    for i, x in enumerate(clips):
        x = np.asarray(x, dtype=np.float64)
        n = x.shape[-1]
        spectrum = np.fft.rfft(x)
        rng = np.random.default_rng([int(seed), i])
        phases = np.exp(1j * rng.uniform(0.0, 2.0 * np.pi, spectrum.shape[0]))
        out = np.abs(spectrum) * phases
        out[0] = spectrum[0]
        if n % 2 == 0:
            out[-1] = spectrum[-1]
        rows.append(np.fft.irfft(out, n))
    if not rows:
        return np.zeros((0, np.shape(clips)[-1] if np.ndim(clips) == 2 else 0), np.float32)
    return np.stack(rows).astype(np.float32)


# ---------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------
def _mfcc_from_power(power: np.ndarray, sample_rate: int, s: Mapping[str, Any]) -> np.ndarray:
    import librosa

    mel = librosa.feature.melspectrogram(
        S=power, sr=int(sample_rate), n_fft=int(s["n_fft"]), n_mels=int(s["n_mels"]), fmax=sample_rate / 2.0
    )
    return librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=int(s["n_mfcc"]))


def _magnitude(x: np.ndarray, s: Mapping[str, Any]) -> np.ndarray:
    import librosa

    return np.abs(librosa.stft(np.asarray(x, dtype=np.float32), n_fft=int(s["n_fft"]), hop_length=int(s["hop_length"])))


def _mfcc(x: np.ndarray, sample_rate: int, s: Mapping[str, Any]) -> np.ndarray:
    """Exactly ``librosa.feature.mfcc(y=x, ...)`` with the settings (mel bands up to sample_rate / 2)."""
    return _mfcc_from_power(_magnitude(x, s) ** 2, sample_rate, s)


def _analysis(x: np.ndarray, sample_rate: int, s: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Frame-level analyses of one clip shared by the feature sets (float64 arrays)."""
    import librosa

    x = np.asarray(x, dtype=np.float32)
    magnitude = _magnitude(x, s)
    onset = librosa.onset.onset_strength(
        y=x, sr=int(sample_rate), n_fft=int(s["n_fft"]), hop_length=int(s["onset_hop_length"]),
        n_mels=int(s["n_mels"]), fmax=sample_rate / 2.0,
    )  # fmt: skip
    rms = librosa.feature.rms(S=magnitude, frame_length=int(s["n_fft"]), hop_length=int(s["hop_length"]))[0]
    return {
        "magnitude": magnitude,
        "mfcc": _mfcc_from_power(magnitude**2, sample_rate, s).astype(np.float64),
        "onset": onset.astype(np.float64),
        "rms": rms.astype(np.float64),
    }


def _periodicity(envelope: np.ndarray, frames_per_second: float, max_lag_s: float = _MAX_LAG_S) -> np.ndarray:
    """Autocorrelation statistics of an envelope over lags 0.1 s .. ``max_lag_s`` (6 values).

    ``[max, highest local peak, second-highest local peak, mean, std, lag of max in s]``
    of the normalised autocorrelation (1 at lag 0).  A steady beat gives high peaks at
    the beat period; noise gives ~0 everywhere.  All zeros when undefined.
    """
    e = np.asarray(envelope, np.float64)
    e = e - e.mean()
    lo = max(1, int(round(_MIN_LAG_S * frames_per_second)))
    hi = min(len(e) - 1, int(round(max_lag_s * frames_per_second)))
    energy = float(np.dot(e, e))
    if hi < lo + 2 or energy <= 1e-20:
        return np.zeros(6)
    n_fft = 1 << int(np.ceil(np.log2(2 * len(e))))
    ac = np.fft.irfft(np.abs(np.fft.rfft(e, n_fft)) ** 2, n_fft)[: hi + 1] / energy
    window = ac[lo : hi + 1]
    interior = window[1:-1]
    peaks = np.sort(interior[(interior >= window[:-2]) & (interior >= window[2:])])[::-1]
    top = np.concatenate([peaks[:2], np.zeros(max(0, 2 - len(peaks)))])
    lag = (lo + int(np.argmax(window))) / frames_per_second
    return np.array([window.max(), top[0], top[1], window.mean(), window.std(), lag])


def _envelope_stats(onset: np.ndarray, rms: np.ndarray) -> np.ndarray:
    """Onset mean, std, coefficient of variation; log-RMS mean, std, mean |step|; RMS coefficient of variation."""
    log_rms = np.log(rms + 1e-5)
    steps = np.abs(np.diff(log_rms)) if len(log_rms) > 1 else np.zeros(1)
    return np.array(
        [
            onset.mean(), onset.std(), onset.std() / (onset.mean() + 1e-9),
            log_rms.mean(), log_rms.std(), steps.mean(), rms.std() / (rms.mean() + 1e-9),
        ]
    )  # fmt: skip


def _delta(m: np.ndarray) -> np.ndarray:
    import librosa

    frames = m.shape[1]
    if frames < 3:
        return np.zeros_like(m)
    width = min(9, frames if frames % 2 else frames - 1)
    return librosa.feature.delta(m, width=width)


def _contrast_bands(sample_rate: int, n_fft: int) -> tuple[float, int]:
    """``(fmin, n_bands)`` of spectral contrast that fit under the Nyquist frequency (100 Hz, 4 bands at 3 kHz)."""
    fmin = max(100.0, 4.0 * sample_rate / n_fft)
    n_bands = 1
    while n_bands < 6 and fmin * 2.0**n_bands < sample_rate / 2.0:
        n_bands += 1
    return fmin, n_bands


def _clip_feature_vector(a: Mapping[str, np.ndarray], sample_rate: int, s: Mapping[str, Any]) -> np.ndarray:
    import librosa

    magnitude, m = a["magnitude"], a["mfcc"]
    power = magnitude**2
    fmin, n_bands = _contrast_bands(int(sample_rate), int(s["n_fft"]))
    contrast = librosa.feature.spectral_contrast(
        S=magnitude, sr=int(sample_rate), n_fft=int(s["n_fft"]), fmin=fmin, n_bands=n_bands
    )
    chroma = librosa.feature.chroma_stft(S=power, sr=int(sample_rate), n_fft=int(s["n_fft"]), tuning=0.0)
    d = _delta(m)
    parts = [
        m.mean(axis=1), m.std(axis=1), d.mean(axis=1), d.std(axis=1),
        contrast.mean(axis=1), contrast.std(axis=1), chroma.mean(axis=1), chroma.std(axis=1),
        _envelope_stats(a["onset"], a["rms"]),
        _periodicity(a["onset"], sample_rate / int(s["onset_hop_length"])),
        _periodicity(a["rms"], sample_rate / int(s["hop_length"])),
    ]  # fmt: skip
    return np.concatenate([np.asarray(p, np.float64).ravel() for p in parts])


def _segment_length(n_samples: int, sample_rate: int, s: Mapping[str, Any]) -> tuple[int, int]:
    """``(samples per segment, number of segments)`` of a clip: non-overlapping ``segment_seconds``
    segments; a clip shorter than one segment is one segment."""
    seg = max(1, int(round(float(s["segment_seconds"]) * sample_rate)))
    n_seg = max(1, n_samples // seg)
    return (seg if n_samples >= seg else n_samples), n_seg


def _segment_frames(j: int, seg: int, frame_hop: int) -> slice:
    """The analysis frames of segment ``j`` (``seg`` samples long) at ``frame_hop`` samples per frame (at least one)."""
    first = j * seg // frame_hop
    return slice(first, max(first + 1, (j + 1) * seg // frame_hop))


def _segment_rows(a: Mapping[str, np.ndarray], n_samples: int, sample_rate: int, s: Mapping[str, Any]) -> np.ndarray:
    hop, onset_hop = int(s["hop_length"]), int(s["onset_hop_length"])
    seg, n_seg = _segment_length(n_samples, sample_rate, s)
    max_lag = min(_MAX_LAG_S, seg / sample_rate / 2.0)

    def frames(j: int, frame_hop: int) -> slice:
        return _segment_frames(j, seg, frame_hop)

    rows = []
    for j in range(n_seg):
        m = a["mfcc"][:, frames(j, hop)]
        rms = a["rms"][frames(j, hop)]
        onset = a["onset"][frames(j, onset_hop)]
        rows.append(
            np.concatenate(
                [m.std(axis=1), _envelope_stats(onset, rms), _periodicity(onset, sample_rate / onset_hop, max_lag)]
            )
        )
    return np.stack(rows)


def mfcc_frames(clips: np.ndarray, sample_rate: int, settings: Mapping[str, Any] | None = None) -> np.ndarray:
    """Frame-level MFCCs of every clip, stacked: float64 ``(n_clips * frames, n_mfcc)``.

    Clips are processed one at a time (``clips`` may be memory-mapped).
    """
    s = section("features", settings)
    rows = [_mfcc(x, sample_rate, s).T for x in clips]
    if not rows:
        return np.zeros((0, int(s["n_mfcc"])))
    return np.concatenate(rows).astype(np.float64)


def _segment_dim(s: Mapping[str, Any]) -> int:
    return int(s["n_mfcc"]) + 7 + 6


def segment_features(clips: np.ndarray, sample_rate: int, settings: Mapping[str, Any] | None = None) -> np.ndarray:
    """Segment-level features: one row per ``segment_seconds`` segment of each clip, ``(n_segments, n_mfcc + 13)``.

    Per segment (non-overlapping; a clip shorter than one segment is one segment): the
    standard deviation of each MFCC over its frames (how much the spectrum moves); onset-strength mean, std and
    coefficient of variation; log-RMS mean, std and mean absolute frame-to-frame step;
    RMS coefficient of variation; autocorrelation statistics of the onset envelope
    (lags 0.1 s to min(2 s, half a segment)).  Not standardised.

    The MFCC *means* are left out on purpose: they are the timbre the frame-level
    Frechet distance already measures, and their large between-clip variance swamped the
    dynamics (with them the toy set's phase-randomised segment ratios fell from 4.9-38
    to 2.6-21).
    """
    s = section("features", settings)
    rows = [_segment_rows(_analysis(x, sample_rate, s), len(x), sample_rate, s) for x in clips]
    return np.concatenate(rows) if rows else np.zeros((0, _segment_dim(s)))


# ---------------------------------------------------------------------------
# Notes
# ---------------------------------------------------------------------------
# Centre of the chroma filters' octave weighting: A4 = 440 Hz, the middle (in octaves) of the band
# that a 3 kHz rate keeps and n_fft 512 resolves into semitones (~100 Hz to the 1.5 kHz Nyquist
# frequency).  librosa's default, 880 Hz, is made for 22 kHz audio; on 9 s toy clips it separated
# slightly less (phase-randomised note ratios 15-28 against 16-33 here).
_CHROMA_CENTRE_OCTAVE = 4.0
# Pitch-salience candidates: half-semitone steps from C2 (65 Hz) to B5 (988 Hz), the fundamentals
# of bass and melody notes that keep at least one harmonic under a 1.5 kHz Nyquist frequency;
# each sums up to 8 harmonics with weights 0.8 ** (h - 1), as in harmonic-sum pitch estimators.
_SALIENCE_MIDI = (36.0, 84.0, 0.5)
_SALIENCE_HARMONICS, _SALIENCE_DECAY = 8, 0.8
# Magnitudes 80 dB below a clip's peak count as that floor in the log-magnitude changes (no log 0).
_LOG_FLOOR = 1e-4
# Power added to every chroma bin: negligible for any audible frame (a full-scale sine has power
# ~1e4 at n_fft 512) and it makes a silent frame's chroma uniform (no note) instead of 0 / 0.
_CHROMA_FLOOR = 1e-10


# The two filter banks are applied as scipy.sparse CSR products, not numpy ``@``: a dense product
# this small goes to a multi-threaded BLAS, whose threads cost 10-20x the arithmetic on a busy
# 2-core machine (measured: chroma 7-14 ms per 30 s clip vs 0.3 ms), and a CSR product sums in
# a fixed order whatever the thread settings.
@functools.lru_cache(maxsize=8)
def _salience_weights(sample_rate: int, n_fft: int):
    """``(candidates, n_fft // 2 + 1)`` CSR: row ``i`` sums the harmonics of candidate fundamental
    ``i`` (each harmonic shared between its two nearest bins by linear interpolation)."""
    import librosa
    import scipy.sparse

    bin_hz = sample_rate / n_fft
    n_bins = n_fft // 2 + 1
    f0 = librosa.midi_to_hz(np.arange(*_SALIENCE_MIDI))
    weights = np.zeros((len(f0), n_bins))
    for i, f in enumerate(f0):
        for h in range(1, _SALIENCE_HARMONICS + 1):
            k = f * h / bin_hz
            if k >= n_bins - 1:
                break
            low, frac = int(k), k - int(k)
            weights[i, low] += _SALIENCE_DECAY ** (h - 1) * (1.0 - frac)
            weights[i, low + 1] += _SALIENCE_DECAY ** (h - 1) * frac
    return scipy.sparse.csr_matrix(weights)


@functools.lru_cache(maxsize=8)
def _chroma_filters(sample_rate: int, n_fft: int):
    """librosa's chroma filter bank ``(12, n_fft // 2 + 1)`` (tuning A440, centred on A4) as CSR."""
    import librosa
    import scipy.sparse

    return scipy.sparse.csr_matrix(
        librosa.filters.chroma(sr=sample_rate, n_fft=n_fft, tuning=0.0, ctroct=_CHROMA_CENTRE_OCTAVE, dtype=np.float64)
    )


def _entropy(p: np.ndarray) -> np.ndarray:
    """Entropy of distributions along axis 0 over log(len): 0 = one bin, 1 = uniform."""
    return -(p * np.log(np.clip(p, 1e-300, None))).sum(axis=0) / np.log(p.shape[0])


def _note_frames(magnitude: np.ndarray, sample_rate: int, s: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Frame-level note statistics of one clip's STFT magnitude (the shared analysis's, n_fft/hop of the settings).

    ``chroma`` ``(12, frames)``; per frame ``entropy`` (of the chroma as a distribution) and
    ``flatness`` (log spectral flatness); per pair of consecutive frames ``stability`` (cosine
    similarity of their chroma) and ``change`` (energy-weighted mean |change of log magnitude|
    per bin); per frame ``salience`` (the best harmonic sum over the candidate fundamentals, as a
    share of the frame's total magnitude).
    """
    import librosa

    m = np.asarray(magnitude, np.float64)
    power = m**2
    chroma = _chroma_filters(int(sample_rate), int(s["n_fft"])) @ power + _CHROMA_FLOOR
    unit = chroma / np.linalg.norm(chroma, axis=0)
    log_m = np.log(m + _LOG_FLOOR * max(float(m.max(initial=0.0)), 1e-10))
    weight = m[:, 1:] * m[:, :-1]
    change = (weight * np.abs(np.diff(log_m, axis=1))).sum(axis=0) / (weight.sum(axis=0) + 1e-20)
    salience = (_salience_weights(int(sample_rate), int(s["n_fft"])) @ m).max(axis=0) / (m.sum(axis=0) + 1e-20)
    flatness = librosa.feature.spectral_flatness(S=m, power=2.0)[0]
    return {
        "chroma": chroma,
        "entropy": _entropy(chroma / chroma.sum(axis=0)),
        "stability": (unit[:, 1:] * unit[:, :-1]).sum(axis=0),
        "change": change,
        "salience": salience,
        "flatness": np.log(flatness),
    }


def _pair_frames(frames: slice) -> slice:
    """The consecutive-frame pairs (``t``, ``t + 1``) that lie inside ``frames`` (pair ``t``)."""
    return slice(frames.start, max(frames.start, frames.stop - 1))


def _mean_std(v: np.ndarray) -> list[float]:
    return [float(v.mean()), float(v.std())] if len(v) else [0.0, 0.0]


def _note_rows(magnitude: np.ndarray, n_samples: int, sample_rate: int, s: Mapping[str, Any]) -> np.ndarray:
    n = _note_frames(magnitude, sample_rate, s)
    seg, n_seg = _segment_length(n_samples, sample_rate, s)
    rows = []
    for j in range(n_seg):
        frames = _segment_frames(j, seg, int(s["hop_length"]))
        pairs = _pair_frames(frames)
        flatness = n["flatness"][frames]
        held = n["chroma"][:, frames].sum(axis=1)
        rows.append(
            _mean_std(n["entropy"][frames])
            + _mean_std(n["stability"][pairs])
            + _mean_std(n["change"][pairs])
            + _mean_std(n["salience"][frames])
            + _mean_std(flatness)
            + [float(v) for v in np.percentile(flatness, [10, 90])]
            + [float(_entropy((held / held.sum())[:, None])[0])]
        )
    return np.asarray(rows, np.float64)


_NOTE_DIM = 13


def note_features(clips: np.ndarray, sample_rate: int, settings: Mapping[str, Any] | None = None) -> np.ndarray:
    """Note-level features: one row per ``segment_seconds`` segment of each clip (as
    :func:`segment_features`), ``(n_segments, 13)``, not standardised.

    Frame-level MFCCs and the segment features see the spectral envelope and the dynamics;
    neither sees whether the partials under the envelope are *notes*: narrow peaks at pitches
    that hold for a while and then change together.  Stationary noise with a genre's exact
    long-term spectrum (the phase-randomised control) has the right peaks on average, but in
    every frame they flicker (each bin's magnitude is Rayleigh-distributed from frame to frame)
    and every pitch class is present at once; clips with smeared notes (reconstructions that
    lose them) have a raised noise floor, blurred note changes and fewer held pitches.  Per
    segment, over its STFT frames (the settings' n_fft and hop; 5.9 Hz bins at 3 kHz):

    - chroma entropy per frame, mean and std (librosa chroma filters centred on A4, tuning
      A440): how few pitch classes sound at once (a chord or a line vs all twelve);
    - chroma stability: cosine similarity of consecutive frames' chroma, mean and std (held
      notes vs flicker; its std sees note changes);
    - partial change: mean |change of log magnitude| per bin between consecutive frames,
      weighted by the bins' energy, mean and std (a held partial barely moves, noise moves
      by ~5 dB in every frame: a cheap stand-in for HPSS's harmonic share);
    - pitch salience: the best harmonic sum (fundamentals C2-B5, 8 harmonics) as a share of
      the frame's magnitude, mean and std (a pitched note vs inharmonic texture);
    - log spectral flatness, mean, std, 10th and 90th percentile (tonal peaks vs a noise floor);
    - the entropy of the segment's summed chroma (a key or chord over 3 s vs every pitch class).

    HPSS (librosa.decompose.hpss) was measured and left out: 63 ms per 30 s clip at its
    default kernel (17.7 ms at kernel 9) against 6.5 ms for the whole existing analysis
    (STFT, MFCC, onsets, RMS, segment rows), while the partial change sees the same thing
    (held partials vs flicker) for ~0.2 ms; these features add ~2.3 ms per 30 s clip.
    """
    s = section("features", settings)
    rows = [_note_rows(_magnitude(x, s), len(x), sample_rate, s) for x in clips]
    return np.concatenate(rows) if rows else np.zeros((0, _NOTE_DIM))


def clip_features(clips: np.ndarray, sample_rate: int, settings: Mapping[str, Any] | None = None) -> np.ndarray:
    """Clip-level features of the genre classifier, ``(n_clips, d)`` float64 (d = 133 with the defaults).

    Mean and standard deviation over frames of: MFCCs, delta-MFCCs, spectral contrast
    (octave bands from 100 Hz that fit under the Nyquist frequency: 5 at 3 kHz) and chroma
    (12); onset-strength mean, std and coefficient of variation; log-RMS mean, std and
    mean |step|, RMS coefficient of variation; autocorrelation statistics (see
    ``_periodicity``) of the onset envelope and of the RMS envelope.
    """
    s = section("features", settings)
    rows = [_clip_feature_vector(_analysis(x, sample_rate, s), sample_rate, s) for x in clips]
    if not rows:
        n_bands = _contrast_bands(int(sample_rate), int(s["n_fft"]))[1]
        return np.zeros((0, 4 * int(s["n_mfcc"]) + 2 * (n_bands + 1) + 24 + 7 + 12))
    return np.stack(rows)


# ---------------------------------------------------------------------------
# Frechet distance
# ---------------------------------------------------------------------------
def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(d,)`` and (unbiased) covariance ``(d, d)`` of feature rows ``(n, d)``, n >= 2."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"need at least 2 feature rows of shape (n, d), got {f.shape}")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def _sqrtm_psd(c: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((c + c.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    r"""Frechet distance between Gaussians fitted to feature sets ``a (n, d)`` and ``b (m, d)``.

    .. math::

        d^2 = \lVert \mu_a - \mu_b \rVert^2
              + \operatorname{Tr}\big(C_a + C_b - 2 (C_a^{1/2} C_b C_a^{1/2})^{1/2}\big)

    (the trace of ``(C_a C_b)^{1/2}`` equals that of the symmetric form, which is computed
    with eigendecompositions only: no scipy, no complex parts).  Returned as the squared
    distance, like FID/FAD, clipped at 0; identical sets give ~0.
    """
    mu_a, c_a = gaussian_stats(a)
    mu_b, c_b = gaussian_stats(b)
    root_a = _sqrtm_psd(c_a)
    middle = root_a @ c_b @ root_a
    eig = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    trace_sqrt = float(np.sum(np.sqrt(np.clip(eig, 0.0, None))))
    d2 = float(np.sum((mu_a - mu_b) ** 2) + np.trace(c_a) + np.trace(c_b) - 2.0 * trace_sqrt)
    return max(d2, 0.0)


def frechet_or_nan(a: np.ndarray, b: np.ndarray) -> float:
    """:func:`frechet_distance`, or NaN where a set has fewer than 2 rows (no covariance)."""
    return frechet_distance(a, b) if len(a) >= 2 and len(b) >= 2 else float("nan")


def ratio_to_floor(value: float, floor: float) -> float:
    """``value / floor`` (1 = as close as real clips of the genre), NaN where either is unknown or the floor is 0."""
    return value / floor if math.isfinite(value) and math.isfinite(floor) and floor > 0 else float("nan")


def frames_segments_notes(
    clips: np.ndarray, sample_rate: int, s: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame-level MFCCs (as :func:`mfcc_frames`), segment features (as :func:`segment_features`)
    and note features (as :func:`note_features`), one analysis (one STFT) per clip."""
    frames, segments, notes = [], [], []
    for x in clips:
        a = _analysis(x, sample_rate, s)
        frames.append(a["mfcc"].T)
        segments.append(_segment_rows(a, len(x), sample_rate, s))
        notes.append(_note_rows(a["magnitude"], len(x), sample_rate, s))
    if not frames:
        return np.zeros((0, int(s["n_mfcc"]))), np.zeros((0, _segment_dim(s))), np.zeros((0, _NOTE_DIM))
    return np.concatenate(frames), np.concatenate(segments), np.concatenate(notes)
