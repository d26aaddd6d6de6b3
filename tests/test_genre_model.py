"""A trained genre model as a tool: `genrevae generate`, `transfer` and `interpolate`, the chunked
encoder/decoder they rest on, the streaming audio reader and writer, and every kind of bad input."""

from __future__ import annotations

import json
import logging
import os
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from conftest import backend_threads, write_tone
from genre_helpers import tiny_genre_folder

from genrevae.audio import AudioError, inspect_audio, read_blocks, write_waveform
from genrevae.cli import main
from genrevae.audio import encode_wav, peak_safe, read_wav, to_pcm16
from genrevae.generation import decode_blocks, encode_blocks, generate_latents, slerp, slerp_frames

THREADS = backend_threads()
RATE = 3000


# ---------------------------------------------------------------- chunked encoder and decoder
@pytest.fixture(scope="module", params=[("amplitude", None), ("istft", None), ("istft", 1024)])
def conv_model(request):
    """Both decoder heads, and an iSTFT 32 hops long: each has its own receptive field, so each
    needs its context_frames()."""
    import keras

    from genrevae.model import build_model

    keras.utils.set_random_seed(0)
    head, n_fft = request.param
    conv = {"width": 8, "max_width": 16, "latent_channels": 4, "head": head, "istft_n_fft": n_fft}
    return build_model({"preset": "conv", "conv": conv}, 3001)


@pytest.mark.parametrize("chunk", [3, 17, 1024])
def test_chunked_decode_equals_decoding_in_one_piece(conv_model, chunk: int) -> None:
    z = np.random.default_rng(0).standard_normal((90, 4)).astype(np.float32)
    length = 90 * conv_model.hop - 50
    whole = np.asarray(conv_model.waveform(conv_model.decode(z[None], length=length)))[0]
    pieces = list(decode_blocks(conv_model, z, length, chunk))
    assert all(p.size <= chunk * conv_model.hop for p in pieces)
    joined = np.concatenate(pieces)
    assert joined.shape == whole.shape
    assert np.max(np.abs(joined - whole)) < 1e-5  # float rounding only: no seam


def test_chunks_without_enough_context_have_seams(conv_model, monkeypatch) -> None:
    """The context is what removes the seams: with none, chunk edges differ from one piece."""
    z = np.random.default_rng(1).standard_normal((60, 4)).astype(np.float32)
    whole = np.asarray(conv_model.waveform(conv_model.decode(z[None], length=60 * conv_model.hop)))[0]
    monkeypatch.setattr(conv_model, "context_frames", lambda: 0)
    joined = np.concatenate(list(decode_blocks(conv_model, z, None, 7)))
    assert np.max(np.abs(joined - whole)) > 1e-3


@pytest.mark.parametrize("chunk, block", [(4, 1000), (9, 77), (1024, 5000)])
def test_encoding_blocks_equals_encoding_in_one_piece(conv_model, chunk: int, block: int) -> None:
    x = (0.3 * np.random.default_rng(2).standard_normal(50 * conv_model.hop - 77)).astype(np.float32)
    mean, logvar = (np.asarray(a)[0] for a in conv_model.encode(x[None]))
    blocks = (x[i : i + block] for i in range(0, x.size, block))
    got_mean, got_logvar = encode_blocks(conv_model, blocks, chunk)
    assert got_mean.shape == mean.shape == (50, 4)
    assert np.max(np.abs(got_mean - mean)) < 1e-5 and np.max(np.abs(got_logvar - logvar)) < 1e-5


def test_compiled_decoder_and_encoder_read_the_current_weights() -> None:
    """decode_latents, posteriors and the chunked paths run functions compiled once per model; they
    must read the weights as they are at each call.  jax.jit alone would bake the first call's
    values into the trace, and a model whose weights change after its first decode (weights loaded
    into it) would go on playing the old ones."""
    import keras

    from genrevae import backend
    from genrevae.generation import decode_latents, posteriors
    from genrevae.model import build_model

    keras.utils.set_random_seed(5)
    model = build_model({"preset": "conv", "conv": {"width": 4, "max_width": 8, "latent_channels": 2}}, 1001)
    rng = np.random.default_rng(4)
    z = rng.standard_normal((2,) + tuple(model.latent_shape)).astype(np.float32)
    x = (0.3 * rng.standard_normal((2, 1001))).astype(np.float32)
    decoded, (mean, _) = decode_latents(model, z, 2), posteriors(model, x, 2)
    for v in model.trainable_variables:
        v.assign(backend.to_numpy(v) + rng.normal(0.0, 0.05, tuple(v.shape)).astype(np.float32))
    redecoded, (remean, relogvar) = decode_latents(model, z, 2), posteriors(model, x, 2)
    assert np.max(np.abs(redecoded - decoded)) > 1e-4 and np.max(np.abs(remean - mean)) > 1e-4
    eager_wave = backend.to_numpy(model.waveform(model.decode(z, training=False, length=1001)))
    eager_mean, eager_logvar = (backend.to_numpy(a) for a in model.encode(x, training=False))
    assert np.max(np.abs(redecoded - eager_wave)) < 1e-5
    assert np.max(np.abs(remean - eager_mean)) < 1e-5 and np.max(np.abs(relogvar - eager_logvar)) < 1e-5


def test_fixed_length_preset_refuses_other_lengths() -> None:
    from genrevae.model import build_model

    report_model = build_model({"preset": "report"}, 600)
    assert report_model.context_frames() is None
    with pytest.raises(ValueError, match="preset: conv"):
        encode_blocks(report_model, [np.zeros(600, np.float32)])


def test_slerp_frames_morphs_frame_by_frame() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    morph = slerp_frames(a, b, np.linspace(0, 1, 5))
    assert np.allclose(morph[0], a[0]) and np.allclose(morph[-1], b[-1])
    for f, t in enumerate(np.linspace(0, 1, 5)):  # each frame is the whole-vector slerp of its own pair
        assert np.allclose(morph[f], slerp(a[f], b[f], float(t)))
    assert np.allclose(slerp_frames(np.zeros((2, 3)), b[:2], 0.5), 0.5 * b[:2])  # a zero frame: linear
    with pytest.raises(ValueError, match="same shape"):
        slerp_frames(a, b[:4], 0.5)


# ---------------------------------------------------------------- reading and writing audio
def test_read_blocks_downmixes_and_resamples_any_file(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "stereo.flac", 3.0, sample_rate=44100, channels=2, freq=110.0)
    blocks = list(read_blocks(path, RATE, block_seconds=0.5))
    assert len(blocks) >= 6  # read piece by piece
    got = np.concatenate(blocks)
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    want = soxr.resample(audio.mean(axis=1), rate, RATE, quality="HQ")
    assert abs(got.size - want.size) <= 1
    n = min(got.size, want.size)
    assert np.max(np.abs(got[:n] - want[:n])) < 1e-3  # streaming and one-piece resampling agree
    info = inspect_audio(path, block_seconds=0.5)
    assert (info.sample_rate, info.channels, info.frames) == (44100, 2, 3 * 44100)


def test_write_waveform_matches_the_export_and_streams(tmp_path: Path) -> None:
    x = (0.2 + 1.4 * np.sin(np.linspace(0, 300, 7001))).astype(np.float32)  # DC offset, over full scale
    blocks = [x[i : i + 999] for i in range(0, x.size, 999)]
    written = write_waveform(tmp_path / "a.wav", iter(blocks), RATE, -1.0, tmp_path / "p" / "a.wav", 22050)
    signal, gain = peak_safe(x, -1.0)
    got, want = (tmp_path / "a.wav").read_bytes(), encode_wav(to_pcm16(signal), RATE)
    assert got[:44] == want[:44]  # the export's header
    # the export's rules (DC removal, peak limit); the streamed mean differs in its last bits
    assert np.max(np.abs(np.frombuffer(got[44:], "<i2").astype(int) - np.frombuffer(want[44:], "<i2"))) <= 1
    assert written.gain == pytest.approx(gain) and written.n_samples == x.size
    assert written.peak == pytest.approx(10 ** (-1 / 20), rel=1e-6)
    playback, rate = read_wav(tmp_path / "p" / "a.wav")
    assert rate == 22050 and abs(playback.size - round(x.size * 22050 / RATE)) <= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "p"]  # no spool left behind


def test_write_waveform_failure_leaves_nothing(tmp_path: Path) -> None:
    def failing():
        yield np.zeros(100, np.float32) + 0.1
        raise RuntimeError("decoder died")

    with pytest.raises(RuntimeError, match="decoder died"):
        write_waveform(tmp_path / "a.wav", failing(), RATE, -1.0, tmp_path / "a22.wav", 22050)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- a tiny trained genre folder
@pytest.fixture(scope="module")
def genre_dir(tmp_path_factory) -> Path:
    """``results/jazz`` as the workflow leaves it: model/ (trained) and prior/ (fitted)."""
    return tiny_genre_folder(tmp_path_factory.mktemp("results"), THREADS, RATE)


def _cli(*args: object) -> int:
    return main([str(a) for a in args] + ["--threads", str(THREADS)])


def _wav(path: Path) -> tuple[np.ndarray, int]:
    return read_wav(path)


def test_generate_any_length_same_arguments_same_bytes(genre_dir: Path, tmp_path: Path) -> None:
    args = ("generate", genre_dir, "--n", 2, "--seconds", 4.5, "--seed", 7, "--temperature", 0.8)
    assert _cli(*args, "--out", tmp_path / "a") == 0
    assert _cli(*args, "--out", tmp_path / "b") == 0
    names = ["sample_00_seed7.wav", "sample_01_seed8.wav"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        x, rate = _wav(tmp_path / "a" / name)
        assert rate == RATE and x.size == int(4.5 * RATE) and np.std(x) > 0
        playback, rate = _wav(tmp_path / "a" / "playback" / name)
        assert rate == 22050 and abs(playback.size - 4.5 * 22050) <= 1
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["settings"]["temperature"] == 0.8 and manifest["settings"]["prior"] == "learned"
    assert [c["file"] for c in manifest["clips"]] == names and [c["seed"] for c in manifest["clips"]] == [7, 8]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["manifest.json", "playback", *names]  # no temp folder
    # a different seed is different music; the N(0, I) prior too
    assert _cli("generate", genre_dir, "--n", 1, "--seconds", 4.5, "--seed", 8, "--out", tmp_path / "c", "--temperature", 0.8) == 0
    assert (tmp_path / "c" / "sample_00_seed8.wav").read_bytes() == (tmp_path / "a" / "sample_01_seed8.wav").read_bytes()
    assert _cli("generate", genre_dir, "--n", 1, "--seconds", 4.5, "--seed", 7, "--prior", "gaussian", "--out", tmp_path / "g") == 0
    assert (tmp_path / "g" / "gaussian_00_seed7.wav").read_bytes() != (tmp_path / "a" / names[0]).read_bytes()


def test_generated_clip_decodes_the_learned_prior_draw_of_its_seed(genre_dir: Path, tmp_path: Path) -> None:
    from genrevae.genre_model import GenreModel

    genre = GenreModel.load(genre_dir)
    assert genre.temperature == 0.7  # the temperature the prior was fitted with is the default
    assert _cli("generate", genre_dir, "--n", 1, "--seconds", 2, "--seed", 3, "--out", tmp_path) == 0
    z = generate_latents(genre.model, genre.prior, 1, 3, "learned", 0.7, 2 * RATE)[0]
    x = np.asarray(genre.model.waveform(genre.model.decode(z[None], length=2 * RATE)))[0]
    got, _ = _wav(tmp_path / "sample_00_seed3.wav")
    want, _ = peak_safe(x)
    assert np.max(np.abs(got - want)) < 2 / 32768


def test_long_generation_in_chunks_has_no_seams(genre_dir: Path, tmp_path: Path) -> None:
    """Generating far more than one chunk (tiny chunks here) equals decoding in one piece."""
    from genrevae.clip_jobs import write_generated
    from genrevae.genre_model import GenreModel, Rendering

    genre = GenreModel.load(genre_dir)
    write_generated(genre, tmp_path / "chunked", 1, 20.0, 5, rendering=Rendering.from_settings(chunk_frames=16))
    write_generated(genre, tmp_path / "whole", 1, 20.0, 5, rendering=Rendering.from_settings(chunk_frames=10_000))
    a, _ = _wav(tmp_path / "chunked" / "sample_00_seed5.wav")
    b, _ = _wav(tmp_path / "whole" / "sample_00_seed5.wav")
    assert a.size == 20 * RATE and np.max(np.abs(a - b)) <= 1 / 32768


def test_transfer_any_file_into_the_genre(genre_dir: Path, tmp_path: Path) -> None:
    from genrevae.genre_model import GenreModel

    song = write_tone(tmp_path / "song.flac", 2.5, sample_rate=8000, channels=2, freq=300.0)
    out = tmp_path / "song_as_jazz.wav"
    assert _cli("transfer", genre_dir, song, "--out", out, "--playback-out", tmp_path / "song_22k.wav") == 0
    y, rate = _wav(out)
    assert rate == RATE and abs(y.size - 2.5 * RATE) <= 1
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["strength"] == 0.0 and record["genre"] == "jazz" and record["input"] == str(song)
    # strength 0 is the genre's reconstruction of the recording (posterior mean, decoded)
    genre = GenreModel.load(genre_dir)
    x = np.concatenate(list(read_blocks(song, RATE)))
    mean, _ = genre.model.encode(x[None])
    want, _ = peak_safe(np.asarray(genre.model.waveform(genre.model.decode(mean, length=x.size)))[0])
    assert np.max(np.abs(y - want)) < 2 / 32768
    # strength moves it towards a prior draw; 1 is the draw alone
    for strength in (0.5, 1.0):
        assert _cli("transfer", genre_dir, song, "--out", tmp_path / f"s{strength}.wav", "--strength", strength, "--seed", 1) == 0
    half, _ = _wav(tmp_path / "s0.5.wav")
    full, _ = _wav(tmp_path / "s1.0.wav")
    assert not np.allclose(half, y, atol=1e-3) and not np.allclose(half, full, atol=1e-3)


def test_transfer_many_files_into_a_folder(genre_dir: Path, tmp_path: Path) -> None:
    a = write_tone(tmp_path / "in" / "a.wav", 1.0, sample_rate=RATE)
    b = write_tone(tmp_path / "in" / "b.ogg", 1.5, sample_rate=16000, freq=440.0, subtype="VORBIS")
    assert _cli("transfer", genre_dir, a, b, "--out-dir", tmp_path / "out") == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.json", "a.wav", "b.json", "b.wav", "playback"]
    assert sorted(p.name for p in (tmp_path / "out" / "playback").iterdir()) == ["a.wav", "b.wav"]


def test_interpolate_morphs_from_a_into_b(genre_dir: Path, tmp_path: Path) -> None:
    a = write_tone(tmp_path / "a.wav", 3.0, sample_rate=RATE, freq=150.0)
    b = write_tone(tmp_path / "b.wav", 2.0, sample_rate=22050, freq=600.0)
    for path in (a, b):
        assert _cli("transfer", genre_dir, path, "--out", tmp_path / f"{path.stem}_as_jazz.wav") == 0
    out = tmp_path / "a_to_b.wav"
    assert _cli("interpolate", genre_dir, a, b, "--out", out) == 0
    morph, _ = _wav(out)
    ra, _ = _wav(tmp_path / "a_as_jazz.wav")
    rb, _ = _wav(tmp_path / "b_as_jazz.wav")
    assert morph.size == 2 * RATE  # the shorter recording

    def distance(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.sqrt(np.mean((x - y) ** 2)))

    head, tail = slice(0, 600), slice(-600, None)
    assert distance(morph[head], ra[head]) < distance(morph[head], rb[: morph.size][head])  # starts as A
    assert distance(morph[tail], rb[: morph.size][tail]) < distance(morph[tail], ra[: morph.size][tail])  # ends as B
    assert json.loads(out.with_suffix(".json").read_text())["inputs"] == [str(a), str(b)]
    assert _cli("interpolate", genre_dir, a, b, "--out", tmp_path / "short.wav", "--seconds", 1) == 0
    assert _wav(tmp_path / "short.wav")[0].size == RATE


# ---------------------------------------------------------------- bad input
def _bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.wav").write_bytes(b"")
    (folder / "notes.wav").write_text("these are not audio samples\n" * 20)
    with wave.open(str(folder / "zero_frames.wav"), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(RATE)
    sf.write(str(folder / "silence.wav"), np.zeros(RATE), RATE)
    sf.write(str(folder / "nan.wav"), np.full(RATE, np.nan, dtype=np.float32), RATE, subtype="FLOAT")
    return {
        "missing": (folder / "nope.wav", "no such file"),
        "folder": (folder, "is a folder"),
        "empty": (folder / "empty.wav", "empty file"),
        "not audio": (folder / "notes.wav", "not an audio file"),
        "zero length": (folder / "zero_frames.wav", "no audio frames"),
        "silence": (folder / "silence.wav", "silent"),
        "nan": (folder / "nan.wav", "NaN"),
    }


@pytest.mark.parametrize("kind", ["missing", "folder", "empty", "not audio", "zero length", "silence", "nan"])
def test_bad_audio_gets_one_clear_line_and_no_output(genre_dir: Path, tmp_path: Path, kind: str, caplog) -> None:
    bad, words = _bad_files(tmp_path / "in")[kind]
    good = write_tone(tmp_path / "good.wav", 1.0, sample_rate=RATE)
    commands = {
        "transfer": ("transfer", genre_dir, bad, "--out", tmp_path / "out" / "t.wav"),
        "interpolate A": ("interpolate", genre_dir, bad, good, "--out", tmp_path / "out" / "i.wav"),
        "interpolate B": ("interpolate", genre_dir, good, bad, "--out", tmp_path / "out" / "i.wav"),
    }
    for name, args in commands.items():
        caplog.clear()
        assert _cli(*args) == 1, name
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and str(bad) in errors[0] and words in errors[0], (name, errors)
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir()), name


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file(genre_dir: Path, tmp_path: Path, caplog) -> None:
    path = write_tone(tmp_path / "locked.wav", 1.0, sample_rate=RATE)
    path.chmod(0)
    assert _cli("transfer", genre_dir, path, "--out", tmp_path / "t.wav") == 1
    assert "not readable" in caplog.text and not (tmp_path / "t.wav").exists()


def test_bad_model_folders(genre_dir: Path, tmp_path: Path, caplog) -> None:
    import shutil

    unfinished = tmp_path / "unfinished"
    (unfinished / "model" / "checkpoints" / "step-0000250").mkdir(parents=True)
    no_prior = tmp_path / "no_prior"
    shutil.copytree(genre_dir / "model", no_prior / "model")
    cases = [
        (tmp_path / "missing", "no such genre folder"),
        (tmp_path, "no trained model"),
        (unfinished, "training has not finished (last checkpoint step-0000250"),
        (genre_dir / "model", f"give the genre folder {genre_dir}"),
        (no_prior, "no learned prior"),
    ]
    for folder, words in cases:
        caplog.clear()
        assert _cli("generate", folder, "--out", tmp_path / "out") == 1, folder
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and words in errors[0], (folder, errors)
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    # without the learned prior the N(0, I) prior still works
    assert _cli("generate", no_prior, "--prior", "gaussian", "--n", 1, "--seconds", 1, "--out", tmp_path / "g") == 0


def test_bad_arguments(genre_dir: Path, tmp_path: Path, caplog) -> None:
    song = write_tone(tmp_path / "song.wav", 1.0, sample_rate=RATE)
    cases = [
        (("generate", genre_dir, "--seconds", 0, "--out", tmp_path / "o"), "--seconds"),
        (("generate", genre_dir, "--temperature", -1, "--out", tmp_path / "o"), "--temperature"),
        (("transfer", genre_dir, song, "--out", tmp_path / "o.wav", "--strength", 2), "--strength"),
        (("transfer", genre_dir, song, "--out", tmp_path / "o.mp3"), ".wav"),
        (("transfer", genre_dir, song, "--out", song), "is also an input"),
        (("transfer", genre_dir, song, song, "--out", tmp_path / "o.wav"), "--out-dir"),
        (("transfer", genre_dir, song), "--out FILE.wav"),
        (("transfer", genre_dir, song, tmp_path / "song.flac", "--out-dir", tmp_path / "o"), "both give the name 'song'"),
    ]
    before = song.read_bytes()
    for args, words in cases:
        caplog.clear()
        assert _cli(*args) == 1, args
        assert words in caplog.text, (args, caplog.text)
    assert song.read_bytes() == before  # the input is never overwritten
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.wav").exists()


def test_long_file_is_transferred_in_bounded_pieces(genre_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """A file longer than one read block and one chunk gives the same audio as in one piece."""
    import genrevae.audio as audio
    from genrevae.clip_jobs import write_transfer
    from genrevae.genre_model import GenreModel, Rendering

    song = write_tone(tmp_path / "long.wav", 40.0, sample_rate=8000, freq=250.0)
    genre = GenreModel.load(genre_dir)
    write_transfer(genre, song, tmp_path / "whole.wav", rendering=Rendering.from_settings(chunk_frames=100_000))
    monkeypatch.setattr(audio, "BLOCK_SECONDS", 3.0)
    monkeypatch.setattr(audio, "_SPOOL_BLOCK", 4096)
    seen: list[int] = []
    original = audio.read_blocks

    def spy(path, rate, block_seconds=3.0):
        for block in original(path, rate, block_seconds):
            seen.append(block.size)
            yield block

    monkeypatch.setattr(audio, "read_blocks", spy)
    write_transfer(genre, song, tmp_path / "pieces.wav", rendering=Rendering.from_settings(chunk_frames=64))
    assert len(seen) > 10 and max(seen) <= 3.0 * RATE + 64  # never the whole file at once
    a, _ = _wav(tmp_path / "whole.wav")
    b, _ = _wav(tmp_path / "pieces.wav")
    assert a.size == b.size == 40 * RATE
    # block-wise resampling differs from one-piece resampling only in the last bits
    assert np.sqrt(np.mean((a - b) ** 2)) < 1e-3 * max(np.sqrt(np.mean(a**2)), 1e-6)


def test_readme_python_example_runs(genre_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """The README's "Using a trained model" Python example, run as written on a tiny genre."""
    from conftest import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("## Using a trained model") :]
    code = section[section.index("```python") + len("```python") :]
    code = code[: code.index("```")]
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "jazz").symlink_to(genre_dir)
    write_tone(tmp_path / "some_song.wav", 2.0, sample_rate=44100)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["audio"].shape == (60 * RATE,) and namespace["jazz"].sample_rate == RATE
    assert namespace["z"].shape[0] == namespace["jazz"].model.latent_frames(namespace["n_samples"])
