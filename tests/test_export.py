"""Unit tests of the WAV export: files, formats, peak safety, manifest, determinism."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from genrevae import backend
from genrevae.artifacts.split import Split, read_split
from genrevae.audio import common_gain, encode_wav, limit_gain, peak_limit, peak_safe, read_wav, to_pcm16
from genrevae.config import section
from genrevae.export import export_genre, export_genre_files, interpolation_pairs
from genrevae.files import safe_name
from genrevae.generation import gaussian_latents, interpolation_path, learned_latents, slerp
from genre_helpers import TINY_MODEL, fit_tiny_prior, write_genre_data

N_SAMPLES = 3001  # 1 s at 3 kHz, plus librosa's extra sample
RATE = 3000
TINY_CONV = TINY_MODEL  # 4 bands, stride 8: 94 latent frames of 2 channels per clip
LIMIT = 10 ** (-1.0 / 20)  # -1 dBFS, the default peak


def _clips(n: int = 6, offset: float = 0.2) -> np.ndarray:
    """Loud clips with a DC offset, so peak safety and DC removal have work to do."""
    t = np.arange(N_SAMPLES) / RATE
    rng = np.random.default_rng(0)
    rows = [offset + 0.95 * np.sin(2 * np.pi * (110 + 40 * i) * t) + 0.02 * rng.standard_normal(N_SAMPLES) for i in range(n)]
    return np.clip(np.stack(rows), -1, 1).astype(np.float32)


def _split(n: int = 6) -> Split:
    subsets = np.array(["train", "test", "train", "test", "test", "unused"][:n])
    rows = {name: np.flatnonzero(subsets == name) for name in ("train", "test", "unused")}
    return Split(rows["train"], rows["test"], rows["unused"], np.array([f"jazz.{i:05d}.wav" for i in range(n)], dtype=object))


@pytest.fixture(scope="module")
def conv_model():
    import keras

    from genrevae.model import build_model

    keras.utils.set_random_seed(1)
    return build_model(TINY_CONV, n_samples=N_SAMPLES)


@pytest.fixture(scope="module")
def genre_files(conv_model, tmp_path_factory) -> dict[str, Path]:
    """The untrained model on disk, its clips and split, and a learned prior fitted to its posteriors."""
    folder = tmp_path_factory.mktemp("genre")
    shard, split = write_genre_data(folder, _clips(), ["train", "test", "train", "test", "unused", "unused"], "rock")
    conv_model.save(folder / "model.keras")
    prior = fit_tiny_prior(folder / "model.keras", shard, split, folder / "prior", seed=3)
    return {"model": folder / "model.keras", "prior": prior, "shard": shard, "split": split}


@pytest.fixture(scope="module")
def prior(genre_files):
    from genrevae.prior import load_prior

    return load_prior(genre_files["prior"])


@pytest.fixture(scope="module")
def exported(conv_model, prior, tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("export") / "generated"
    manifest = export_genre(conv_model, prior, _clips(), _split(), out, seed=123, sample_rate=RATE)
    return out, manifest


def _wav_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- the folder


def test_export_writes_every_kind_with_names_and_manifest(exported) -> None:
    out, manifest = exported
    names = set(manifest["file"])
    assert {f"sample_{i:02d}_seed{123 + i}.wav" for i in range(8)} <= names  # the learned prior's
    assert {f"gaussian_{i:02d}_seed{123 + i}.wav" for i in range(8)} <= names  # N(0, I), the same seeds
    # the first 4 test clips (1, 3, 4) -- only 3 exist -- each beside its original
    for track in ("jazz.00001", "jazz.00003", "jazz.00004"):
        assert {f"original_{track}.wav", f"recon_{track}.wav"} <= names
    interps = manifest[manifest["kind"] == "interpolation"]
    assert sorted(interps["group"].unique()) == ["interp_00", "interp_01"]
    assert len(interps) == 2 * 5
    assert interps.groupby("group")["source_clips"].first().tolist() == ["1;3", "1;4"]
    assert interps["t"].tolist()[:5] == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert manifest["kind"].value_counts().to_dict() == {
        "sample": 8, "gaussian_sample": 8, "interpolation": 10, "original": 3, "reconstruction": 3,
    }  # fmt: skip

    # manifest.csv on disk lists exactly the WAVs there are, at both rates
    on_disk = pd.read_csv(out / "manifest.csv")
    assert list(on_disk.columns)[:3] == ["file", "playback_file", "kind"]
    wavs = {p.name for p in out.glob("*.wav")}
    assert wavs == set(on_disk["file"])
    assert {p.name for p in (out / "playback").glob("*.wav")} == wavs
    assert set(on_disk["playback_file"]) == {f"playback/{w}" for w in wavs}
    samples = on_disk[on_disk["kind"] == "sample"]
    assert samples["seed"].tolist() == list(range(123, 131))
    gaussian = on_disk[on_disk["kind"] == "gaussian_sample"]
    assert gaussian["seed"].tolist() == list(range(123, 131))
    assert gaussian["group"].tolist() == [f"gaussian_{i:02d}" for i in range(8)]
    # the sampling temperature belongs to the learned prior's samples only
    assert (samples["temperature"] == 1.0).all()
    assert on_disk.loc[on_disk["kind"] != "sample", "temperature"].isna().all()
    assert on_disk.loc[~on_disk["kind"].isin(["sample", "gaussian_sample"]), "seed"].isna().all()
    assert (on_disk["sample_rate"] == RATE).all() and (on_disk["playback_rate"] == 22050).all()
    assert on_disk["duration_s"].to_numpy() == pytest.approx(N_SAMPLES / RATE)
    # no leftovers of the atomic folder swap
    assert [p.name for p in out.parent.iterdir()] == ["generated"]


def test_wavs_decode_with_the_right_rate_length_and_range(exported) -> None:
    out, manifest = exported
    for row in manifest.itertuples():
        x, rate = sf.read(str(out / row.file), dtype="float64")
        info = sf.info(str(out / row.file))
        assert (rate, info.subtype, info.channels) == (RATE, "PCM_16", 1)
        assert len(x) == N_SAMPLES
        assert np.max(np.abs(x)) <= LIMIT + 1 / 32767  # peak-safe: nothing near full scale
        assert abs(np.mean(x)) < 2e-3 * max(np.max(np.abs(x)), 1e-3) + 1 / 32767  # DC removed
        y, playback_rate = sf.read(str(out / row.playback_file), dtype="float64")
        assert playback_rate == 22050
        assert len(y) == round(N_SAMPLES * 22050 / RATE)
        assert np.max(np.abs(y)) <= LIMIT + 1 / 32767


def test_loud_originals_are_scaled_down_with_their_reconstruction(exported) -> None:
    out, manifest = exported
    originals = manifest[manifest["kind"] == "original"]
    # the clips peak at ~1.0 after DC removal, so they must have been scaled down to -1 dBFS
    assert (originals["gain"] < 1).all()
    assert originals["peak"].to_numpy() == pytest.approx(LIMIT, abs=2 / 32767)
    pairs = manifest[manifest["kind"].isin(["original", "reconstruction"])].groupby("group")["gain"].nunique()
    assert (pairs == 1).all()  # one gain per pair keeps their loudness comparable
    x, _ = read_wav(out / originals["file"].iloc[0])
    source = _clips()[int(originals["source_clips"].iloc[0])].astype(np.float64)
    expected = (source - source.mean()) * originals["gain"].iloc[0]
    assert np.max(np.abs(x - expected)) < 2 / 32767  # "cropped the same way": the very clip the model saw


def test_samples_are_the_models_prior_draws_and_latents_are_saved(exported, conv_model, prior) -> None:
    out, manifest = exported
    row = manifest[manifest["kind"] == "gaussian_sample"].iloc[3]
    z = np.load(out / row["latent_file"])
    assert z.shape == tuple(conv_model.latent_shape)
    assert np.array_equal(z, gaussian_latents(conv_model.latent_shape, [int(row["seed"])])[0])
    expected, _ = peak_safe(conv_model.sample(1, int(row["seed"]))[0])
    x, _ = read_wav(out / row["file"])
    assert np.max(np.abs(x - expected * row["gain"])) < 2 / 32767

    # the learned prior's sample with the same seed: its own ancestral draw, decoded by the same model
    row = manifest[manifest["kind"] == "sample"].iloc[3]
    assert int(row["seed"]) == 126
    z_learned = np.load(out / row["latent_file"])
    assert z_learned.shape == z.shape
    assert np.array_equal(z_learned, learned_latents(prior, conv_model.latent_shape[0], [126])[0])
    assert np.array_equal(z_learned, prior.sample(1, conv_model.latent_shape[0], 126)[0])
    wave = backend.to_numpy(conv_model.waveform(conv_model.decode(z_learned[None])))[0]
    expected, _ = peak_safe(wave)
    x_learned, _ = read_wav(out / row["file"])
    assert np.max(np.abs(x_learned - expected * row["gain"])) < 2 / 32767
    # learned-prior samples are other latents and other audio than the N(0, I) ones with the same seeds
    for i in range(8):
        a = manifest[(manifest["kind"] == "sample") & (manifest["seed"] == 123 + i)].iloc[0]
        b = manifest[(manifest["kind"] == "gaussian_sample") & (manifest["seed"] == 123 + i)].iloc[0]
        assert not np.allclose(np.load(out / a["latent_file"]), np.load(out / b["latent_file"]), atol=1e-3)
        assert (out / a["file"]).read_bytes() != (out / b["file"]).read_bytes()
    # latent_dim is not 2 here, so no inline coordinates
    assert manifest["z1"].isna().all()
    assert manifest.loc[manifest["kind"] == "original", "latent_file"].eq("").all()


def test_export_is_byte_identical_when_repeated(exported, conv_model, prior, tmp_path: Path) -> None:
    out, _ = exported
    again = tmp_path / "generated"
    export_genre(conv_model, prior, _clips(), _split(), again, seed=123, sample_rate=RATE)
    assert _wav_files(again) == _wav_files(out)
    # re-running over an existing folder replaces it
    (again / "stale.wav").write_bytes(b"old")
    export_genre(conv_model, prior, _clips(), _split(), again, seed=123, sample_rate=RATE)
    assert _wav_files(again) == _wav_files(out)


def test_other_seed_and_counts(conv_model, prior, tmp_path: Path) -> None:
    render, audio = {"n_generated": 2, "n_reconstructions": 1, "n_interpolations": 0}, {"playback_rate": 8000}
    manifest = export_genre(conv_model, prior, _clips(), _split(), tmp_path / "g", seed=7, sample_rate=RATE, settings=render, audio=audio)
    assert manifest["file"].tolist() == [
        "sample_00_seed7.wav", "sample_01_seed8.wav", "gaussian_00_seed7.wav", "gaussian_01_seed8.wav",
        "original_jazz.00001.wav", "recon_jazz.00001.wav",
    ]  # fmt: skip
    _, rate = read_wav(tmp_path / "g" / "playback" / "sample_00_seed7.wav")
    assert rate == 8000

    # another temperature changes the learned prior's samples only, and is recorded
    cooler = export_genre(
        conv_model, prior, _clips(), _split(), tmp_path / "t", seed=7, sample_rate=RATE, settings=render, temperature=0.5, audio=audio
    )
    assert cooler["file"].tolist() == manifest["file"].tolist()
    assert (cooler.loc[cooler["kind"] == "sample", "temperature"] == 0.5).all()
    for name in manifest["file"]:
        same = (tmp_path / "t" / name).read_bytes() == (tmp_path / "g" / name).read_bytes()
        assert same == (not name.startswith("sample_")), name

    # without a learned prior only the N(0, I) samples are written, byte-identical to those above
    plain = export_genre(conv_model, None, _clips(), _split(), tmp_path / "n", seed=7, sample_rate=RATE, settings=render, audio=audio)
    assert plain["file"].tolist() == manifest["file"].tolist()[2:]
    assert "sample" not in set(plain["kind"]) and plain["temperature"].isna().all()
    for name in plain["file"]:
        assert (tmp_path / "n" / name).read_bytes() == (tmp_path / "g" / name).read_bytes(), name


def test_two_dimensional_latents_are_written_inline(tmp_path: Path) -> None:
    import keras

    from genrevae.model import build_model
    from genrevae.prior import LatentPrior

    keras.utils.set_random_seed(2)
    model = build_model({"preset": "report", "latent_dim": 2}, n_samples=N_SAMPLES)
    prior = LatentPrior(2, hidden=4, mixtures=2)  # to the prior, a latent vector is a one-frame sequence
    render = {"n_generated": 2, "n_reconstructions": 1, "n_interpolations": 1, "interpolation_steps": 3}
    manifest = export_genre(model, prior, _clips(), _split(), tmp_path / "g", seed=5, sample_rate=RATE, settings=render)
    assert manifest["kind"].value_counts()[["sample", "gaussian_sample"]].tolist() == [2, 2]
    decoded = manifest[manifest["kind"] != "original"]
    assert decoded[["z1", "z2"]].notna().all().all()
    for _, row in decoded.iloc[[0, 2]].iterrows():  # a learned-prior sample and a N(0, I) one
        assert np.load(tmp_path / "g" / row["latent_file"]) == pytest.approx([row["z1"], row["z2"]], abs=1e-6)


def test_export_from_files_reads_split_with_unused_clips(genre_files, conv_model, prior, tmp_path: Path) -> None:
    f = genre_files
    settings = {"seed": 1, "sample_rate": RATE, "export": {"n_generated": 1, "n_interpolations": 1}, "prior": {"temperature": 0.8}}
    manifest = export_genre_files(f["model"], f["prior"], f["shard"], f["split"], tmp_path / "out", settings)
    assert set(manifest.loc[manifest["kind"] == "original", "source_tracks"]) == {"rock.00001.wav", "rock.00003.wav"}
    assert manifest["file"].tolist()[:2] == ["sample_00_seed1.wav", "gaussian_00_seed1.wav"]
    # the loaded model and prior give what the in-memory ones give, at the configured temperature
    assert manifest.loc[manifest["kind"] == "sample", "temperature"].tolist() == [0.8]
    direct = export_genre(
        conv_model, prior, _clips(), read_split(f["split"], 6), tmp_path / "direct", 1, RATE, settings["export"], 0.8
    )
    assert direct["file"].tolist() == manifest["file"].tolist()
    assert _wav_files(tmp_path / "direct") == _wav_files(tmp_path / "out")
    # no prior given (as `genrevae export` on a genre folder with no fitted prior): N(0, I) samples only, no prior settings needed
    without = {k: settings[k] for k in ("seed", "sample_rate", "export")}
    plain = export_genre_files(f["model"], None, f["shard"], f["split"], tmp_path / "plain", without)
    assert set(plain["kind"]) == {"gaussian_sample", "original", "reconstruction", "interpolation"}


# ---------------------------------------------------------------- the pieces


def test_peak_safe_removes_dc_and_only_ever_scales_down() -> None:
    loud = np.full(100, 0.5) + np.sin(np.linspace(0, 20, 100))
    y, gain = peak_safe(loud, -1.0)
    assert abs(y.mean()) < 1e-12 and np.max(np.abs(y)) == pytest.approx(LIMIT) and gain < 1
    quiet = 0.01 * np.sin(np.linspace(0, 20, 100)) + 0.3
    y, gain = peak_safe(quiet, -1.0)
    assert gain == 1.0 and np.max(np.abs(y)) < 0.011
    y, gain = peak_safe(np.zeros(10))
    assert gain == 1.0 and not y.any()
    (a, b), gain = common_gain([loud, quiet])
    assert np.max(np.abs(a)) == pytest.approx(LIMIT) and np.max(np.abs(b)) < 0.011 * gain + 1e-12
    # one rule for every clip written: -1 dBFS is 0.891 of full scale, and gains never exceed 1
    assert peak_limit(-1.0) == pytest.approx(LIMIT) and peak_limit(0.0) == 1.0
    assert limit_gain(2 * LIMIT, -1.0) == pytest.approx(0.5) and limit_gain(0.5 * LIMIT, -1.0) == 1.0


def test_pcm16_and_wav_encoding() -> None:
    pcm = to_pcm16(np.array([-1.5, -1.0, 0.0, 0.5, 1.0, 2.0]))
    assert pcm.tolist() == [-32767, -32767, 0, 16384, 32767, 32767]
    data = encode_wav(pcm, 3000)
    assert len(data) == 44 + 2 * len(pcm) and data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels(), w.getnframes()) == (3000, 2, 1, 6)


def test_slerp_and_interpolation_paths() -> None:
    a, b = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    assert slerp(a, b, 0.0) == pytest.approx(a) and slerp(a, b, 1.0) == pytest.approx(b)
    mid = slerp(a, b, 0.5)
    assert mid[0] == pytest.approx(mid[1] / 2)  # on the arc: angle 45 degrees ... weighted by the norms
    assert np.linalg.norm(mid) > np.linalg.norm((a + b) / 2)  # no dip towards the origin
    assert slerp(a, 2 * a, 0.5) == pytest.approx(1.5 * a)  # parallel: linear
    za, zb = np.ones((4, 3)), -np.ones((4, 3)) + 0.1
    for method in ("slerp", "linear"):
        path = interpolation_path(za, zb, 5, method)
        assert path.shape == (5, 4, 3) and path[0] == pytest.approx(za) and path[-1] == pytest.approx(zb, abs=1e-6)
    with pytest.raises(ValueError):
        interpolation_path(za, zb, 1)


def test_interpolation_pairs_are_distinct_and_prefer_test_clips() -> None:
    assert interpolation_pairs([1, 3, 4], [0, 2], 2) == [(1, 3), (1, 4)]
    assert interpolation_pairs([1, 3], [0, 2], 3) == [(1, 3)]
    assert interpolation_pairs([1, 2, 3, 4], [], 3) == [(1, 2), (3, 4), (1, 3)]
    assert interpolation_pairs([5], [0, 2], 1) == [(0, 2)]
    assert interpolation_pairs([5], [], 2) == []


def test_settings_and_names_are_checked() -> None:
    assert section("export", None)["n_generated"] == 8
    with pytest.raises(ValueError, match="unknown config key 'export.n_samples'"):
        section("export", {"n_samples": 3})
    with pytest.raises(ValueError, match="playback_rate"):
        section("audio", {"playback_rate": 2000})
    assert safe_name("jazz.00054.wav") == "jazz.00054"
    assert safe_name("../we ird/na me?.WAV") == "na_me"
