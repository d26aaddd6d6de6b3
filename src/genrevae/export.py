"""Turn a trained genre VAE into listenable WAV files: prior samples, reconstructions, interpolations.

:func:`export_genre` writes one folder (Snakemake's ``directory()`` output
``results/<genre>/generated``)::

    sample_00_seed123.wav ...          decoded draws from the genre's learned prior, one seed per clip
    gaussian_00_seed123.wav ...        the same seeds drawn from N(0, I) instead (the baseline)
    original_<track>.wav               a test clip, cropped/padded exactly as the model sees it
    recon_<track>.wav                  its reconstruction, decoded from the posterior mean
    interp_00_step_00.wav ...          decoded points on a path between two test clips' posterior means
    playback/<same names>.wav          every file again at ``playback_rate`` (22,050 Hz by default)
    latents/<stem>.npy                 the latent z each decoded file came from
    manifest.csv                       one row per WAV (see :data:`MANIFEST_COLUMNS`)

All WAVs are mono 16-bit PCM written with the standard library's :mod:`wave` (no
timestamps or tool versions in the header), so the folder is byte-identical for the same
model, data and settings.  Every signal is made *peak-safe* before quantisation: its DC
offset is removed and, if its peak exceeds ``peak_dbfs``, it is scaled down (never up).
Related clips share one gain (an original and its reconstruction; the steps of one
interpolation) so their loudness stays comparable; the gain is recorded in the manifest.

Sample ``i`` uses the seed ``seed + i`` (:func:`genrevae.generation.generate_latents`: the
learned prior's ancestral sampling at ``prior.temperature``, or the stateless N(0, I) draw that
``model.sample(1, seed + i)`` decodes), so any single clip can be regenerated from the manifest
alone, whatever the number of clips.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from genrevae.artifacts.shard import read_shard
from genrevae.artifacts.split import Split, read_split
from genrevae.artifacts.trained_genre import MANIFEST, MANIFEST_COLUMNS, write_manifest
from genrevae.audio import common_gain, encode_wav, limit_gain, peak_safe, resample, to_pcm16
from genrevae.config import section
from genrevae.files import safe_name
from genrevae.generation import decode_latents, generate_latents, interpolation_path, posterior_means

__all__ = [
    "MANIFEST_COLUMNS",
    "interpolation_pairs",
    "export_genre",
    "export_genre_files",
]

# The columns of manifest.csv (MANIFEST_COLUMNS) are defined with its reader and writer in
# genrevae.artifacts.trained_genre.


# ---------------------------------------------------------------------------
# Which clips to interpolate
# ---------------------------------------------------------------------------
def interpolation_pairs(test: Sequence[int], train: Sequence[int], n_pairs: int) -> list[tuple[int, int]]:
    """Up to ``n_pairs`` distinct clip pairs to interpolate between.

    From the test clips: first the disjoint consecutive pairs ``(t0, t1), (t2, t3), ...``,
    then the remaining pairs in lexicographic order, so no pair repeats; fewer pairs are
    returned when the clips do not have enough.  The train clips are used only when there
    are fewer than two test clips.
    """
    pool = [int(c) for c in test]
    if len(pool) < 2:
        pool = [int(c) for c in train]
    if len(pool) < 2 or n_pairs <= 0:
        return []
    pairs = [(pool[i], pool[i + 1]) for i in range(0, len(pool) - 1, 2)]
    seen = set(pairs)
    for i in range(len(pool)):
        for j in range(i + 1, len(pool)):
            if (pool[i], pool[j]) not in seen:
                pairs.append((pool[i], pool[j]))
                seen.add((pool[i], pool[j]))
            if len(pairs) >= n_pairs:
                return pairs[:n_pairs]
    return pairs[: int(n_pairs)]


# ---------------------------------------------------------------------------
# The export
# ---------------------------------------------------------------------------
@dataclass
class _Clip:
    name: str  # file name
    kind: str
    group: str
    signal: np.ndarray  # float64, already peak-safe
    gain: float
    z: np.ndarray | None = None
    source_clips: tuple[int, ...] = ()
    source_tracks: tuple[str, ...] = ()
    seed: int | None = None
    step: int | None = None
    t: float | None = None
    temperature: float | None = None


def _unique(name: str, taken: set[str]) -> str:
    base, n = name, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def _write_folder(clips: list[_Clip], folder: Path, sample_rate: int, playback_rate: int, peak_dbfs: float) -> pd.DataFrame:
    (folder / "playback").mkdir(parents=True)
    (folder / "latents").mkdir()
    rows = []
    for clip in clips:
        (folder / clip.name).write_bytes(encode_wav(to_pcm16(clip.signal), sample_rate))
        playback = resample(clip.signal, sample_rate, playback_rate)
        peak = float(np.max(np.abs(playback))) if playback.size else 0.0
        gain = limit_gain(peak, peak_dbfs)
        if gain < 1.0:  # band-limited interpolation can overshoot the original samples
            playback = playback * gain
        (folder / "playback" / clip.name).write_bytes(encode_wav(to_pcm16(playback), playback_rate))
        latent_file = ""
        z1 = z2 = None
        if clip.z is not None:
            latent_file = f"latents/{Path(clip.name).stem}.npy"
            np.save(folder / latent_file, np.asarray(clip.z, dtype=np.float32), allow_pickle=False)
            if clip.z.size == 2:
                z1, z2 = (float(v) for v in np.ravel(clip.z))
        n = int(clip.signal.shape[-1])
        rows.append(
            {
                "file": clip.name,
                "playback_file": f"playback/{clip.name}",
                "kind": clip.kind,
                "group": clip.group,
                "source_clips": ";".join(str(c) for c in clip.source_clips),
                "source_tracks": ";".join(clip.source_tracks),
                "seed": clip.seed,
                "temperature": clip.temperature,
                "step": clip.step,
                "t": clip.t,
                "latent_file": latent_file,
                "z1": z1,
                "z2": z2,
                "n_samples": n,
                "duration_s": n / float(sample_rate),
                "sample_rate": int(sample_rate),
                "playback_rate": int(playback_rate),
                "gain": clip.gain,
                "peak": float(np.max(np.abs(to_pcm16(clip.signal).astype(np.float64)))) / 32767.0 if n else 0.0,
                "rms": float(np.sqrt(np.mean(np.square(clip.signal)))) if n else 0.0,
            }
        )
    table = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    for column in ("seed", "step"):
        table[column] = table[column].astype("Int64")
    write_manifest(table, folder / MANIFEST)
    return table


def export_genre(
    model,
    prior,
    clips: np.ndarray,
    split: Split,
    out_dir: Path,
    seed: int,
    sample_rate: int,
    settings: dict | None = None,
    temperature: float = 1.0,
    audio: dict | None = None,
) -> pd.DataFrame:
    """Write the generated/reconstructed/interpolated WAVs of one genre into ``out_dir``.

    ``model`` is a loaded :class:`genrevae.model.WaveVAE`, ``prior`` its
    :class:`genrevae.prior.LatentPrior` (None: only N(0, I) samples), ``clips`` the shard
    ``(n_clips, n_samples)`` (memory-mapped is fine), ``split`` as returned by
    :func:`genrevae.artifacts.split.read_split`, ``settings`` the ``export`` section and
    ``audio`` the ``audio`` section (missing keys take the schema's defaults, see
    :func:`genrevae.config.section`).  The folder is assembled under a temporary name
    beside ``out_dir`` and moved into place at the end (an existing ``out_dir`` is
    replaced), so a failed run never leaves a half-written folder.  Returns the manifest.
    """
    s, level = section("export", settings), section("audio", audio)
    out_dir = Path(out_dir)
    if clips.shape[1] != model.n_samples:
        raise ValueError(f"clips have {clips.shape[1]} samples but the model expects {model.n_samples}")
    peak_dbfs, batch = float(level["peak_dbfs"]), int(s["batch_size"])
    taken: set[str] = set()
    items: list[_Clip] = []

    # 1. prior samples, one seed each: the learned prior's, then N(0, I)'s with the same seeds
    n_generated = int(s["n_generated"])
    seeds = [int(seed) + i for i in range(n_generated)]
    kinds = (("learned", "sample", "sample"), ("gaussian", "gaussian_sample", "gaussian"))
    for prior_kind, kind, prefix in kinds if prior is not None else kinds[1:]:
        z = generate_latents(model, prior, n_generated, seed, prior_kind, temperature)
        waves = decode_latents(model, z, batch)
        for i, (sd, zi, w) in enumerate(zip(seeds, z, waves)):
            signal, gain = peak_safe(w, peak_dbfs)
            name = _unique(f"{prefix}_{i:02d}_seed{sd}", taken) + ".wav"
            temp = float(temperature) if prior_kind == "learned" else None
            items.append(_Clip(name, kind, f"{prefix}_{i:02d}", signal, gain, z=zi, seed=sd, temperature=temp))

    # 2. reconstructions of test clips (posterior mean), each beside its original
    recon_idx = [int(c) for c in split.test[: int(s["n_reconstructions"])]]
    if recon_idx:
        x = np.asarray(clips[recon_idx], dtype=np.float32)
        means = posterior_means(model, x, batch)
        recons = decode_latents(model, means, batch)
        for c, xi, mi, ri in zip(recon_idx, x, means, recons):
            stem = _unique(safe_name(split.track(c)), taken)
            (orig, rec), gain = common_gain([xi, ri], peak_dbfs)
            group = f"pair_{stem}"
            src = ((c,), (str(split.tracks[c]),))
            items.append(_Clip(f"original_{stem}.wav", "original", group, orig, gain, None, *src))
            items.append(_Clip(f"recon_{stem}.wav", "reconstruction", group, rec, gain, mi, *src))

    # 3. interpolations between the posterior means of two clips
    pairs = interpolation_pairs(split.test, split.train, int(s["n_interpolations"]))
    steps = int(s["interpolation_steps"])
    for k, (a, b) in enumerate(pairs):
        ends = posterior_means(model, np.asarray(clips[[a, b]], dtype=np.float32), batch)
        path = interpolation_path(ends[0], ends[1], steps, s["interpolation"])
        waves = decode_latents(model, path, batch)
        signals, gain = common_gain(list(waves), peak_dbfs)
        for j, (zj, sig) in enumerate(zip(path, signals)):
            items.append(
                _Clip(
                    f"interp_{k:02d}_step_{j:02d}.wav", "interpolation", f"interp_{k:02d}", sig, gain, zj,
                    (a, b), (str(split.tracks[a]), str(split.tracks[b])), None, j, j / (steps - 1),
                )
            )  # fmt: skip

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        folder = tmp / "out"
        manifest = _write_folder(items, folder, int(sample_rate), int(level["playback_rate"]), peak_dbfs)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(folder, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def export_genre_files(model_path: Path, prior_path: Path | None, shard: Path, split: Path, out_dir: Path, settings: dict) -> pd.DataFrame:
    """:func:`export_genre` from files: ``settings`` holds ``seed``, ``sample_rate``, ``export``,
    ``audio`` and ``prior`` (its ``temperature``)."""
    from genrevae.model import load_model
    from genrevae.prior import load_prior

    model = load_model(model_path)
    prior = None if prior_path is None else load_prior(prior_path)
    clips = read_shard(shard)
    table = read_split(split, clips.shape[0])
    temperature = float(settings["prior"]["temperature"]) if prior is not None else 1.0
    return export_genre(
        model, prior, clips, table, out_dir, int(settings["seed"]), int(settings["sample_rate"]), settings.get("export"),
        temperature, settings.get("audio"),
    )  # fmt: skip
