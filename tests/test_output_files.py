"""What `generate`, `transfer` and `interpolate` refuse to write, and that a refused or failed call
leaves nothing (issue 24: inputs never overwritten, no silent replacing, arguments checked first)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import REPO_ROOT, backend_threads, write_tone
from genre_helpers import tiny_genre_folder

from genrevae.cli import main
from genrevae.config import ConfigError
from genrevae.files import safe_name
from genrevae.messages import summarise
from genrevae.output_files import OutputFiles

THREADS = backend_threads()
RATE = 3000


@pytest.fixture(scope="module")
def genre_dir(tmp_path_factory) -> Path:
    return tiny_genre_folder(tmp_path_factory.mktemp("results"), THREADS, RATE)


def _cli(*args: object) -> int:
    return main([str(a) for a in args] + ["--threads", str(THREADS)])


def _errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- OutputFiles on its own
def test_output_files_refuse_inputs_twins_genre_folders_and_existing_files(genre_dir: Path, tmp_path: Path) -> None:
    song = write_tone(tmp_path / "in" / "song.wav", 0.1)
    (tmp_path / "taken.wav").write_bytes(b"mine")
    outputs = OutputFiles(inputs=[song])
    outputs.add(tmp_path / "a.wav", "--out")
    cases = [
        (tmp_path / "in" / ".." / "in" / "song.wav", "is also an input"),  # another spelling of the input
        (tmp_path / "a.wav", "given as --out and as"),
        (genre_dir / "model" / "config.wav", f"inside the trained genre folder {genre_dir}"),
        (genre_dir / "generated" / "x.wav", "inside the trained genre folder"),
        (tmp_path / "taken.wav", "exists; give --force"),
        (tmp_path / "in", "is a folder"),
        (tmp_path / "taken.wav" / "x.wav", "is a file, not a folder"),
    ]
    for path, words in cases:
        with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
            outputs.add(path, "--x")
    forced = OutputFiles(inputs=[song], force=True)
    forced.add(tmp_path / "taken.wav", "--out")  # --force replaces a file ...
    with pytest.raises(ConfigError, match="is also an input"):
        forced.add(song, "--out")  # ... never an input
    with pytest.raises(ConfigError, match="inside the trained genre folder"):
        forced.add(genre_dir / "x.wav", "--out")  # ... nor a genre folder's file
    OutputFiles(in_genre_folder=True).add(genre_dir / "transfer" / "x.wav", "--out-dir")  # the workflow's own rule


def test_output_files_check_the_disk(tmp_path: Path, monkeypatch) -> None:
    import shutil

    outputs = OutputFiles()
    outputs.add(tmp_path / "big.wav", "--out")
    outputs.reserve(tmp_path / "big.wav", 10**9, scratch_bytes=2 * 10**9)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=2_500_000_000))
    with pytest.raises(ConfigError, match=r"need about 3\.0 GB there but only 2\.5 GB is free"):
        outputs.check_space()
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=3_100_000_000))
    outputs.check_space()


def test_staged_outputs_appear_together_or_not_at_all(tmp_path: Path) -> None:
    outputs = OutputFiles()
    paths = [tmp_path / "new" / "deep" / "a.wav", tmp_path / "b.json"]
    for path in paths:
        outputs.add(path, "out")
    with pytest.raises(RuntimeError):
        with outputs.staged() as temporary:
            temporary[paths[0]].write_text("a")
            raise RuntimeError("the second file fails")
    assert _tree(tmp_path) == {} and not (tmp_path / "new").exists()  # the folders made for it went too
    with outputs.staged() as temporary:
        for path in paths:
            temporary[path].write_text(path.name)
            assert not path.exists()
    assert _tree(tmp_path) == {"b.json": b"b.json", "new/deep/a.wav": b"a.wav"}
    assert oct(paths[0].stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_summarise_keeps_long_lists_short() -> None:
    assert summarise(["a", "b"]) == "a; b"
    line = summarise([f"file{i}.wav: not audio" for i in range(4000)])
    assert line.endswith("and 3,995 more") and len(line) < 200


def test_names_keep_letters_of_every_script() -> None:
    assert safe_name("with space ünï 音楽.wav") == "with_space_ünï_音楽"
    assert safe_name("ロック.FLAC") == "ロック" and safe_name("音楽.wav") != safe_name("ロック.wav")
    assert safe_name("a\u0308.wav") == safe_name("\u00e4.wav") == "\u00e4"  # macOS's decomposed names: one stem
    assert safe_name("$(touch x); rm.wav") == "touch_x_rm"


# ---------------------------------------------------------------- the commands
def test_no_output_may_be_an_input(genre_dir: Path, tmp_path: Path, caplog) -> None:
    song = write_tone(tmp_path / "in" / "v.wav", 1.0, sample_rate=RATE)
    other = write_tone(tmp_path / "in" / "w.wav", 1.0, sample_rate=RATE, freq=330.0)
    before = _tree(tmp_path / "in")
    cases = [
        ("transfer", genre_dir, song, "--out", tmp_path / "x.wav", "--playback-out", song),
        ("transfer", genre_dir, song, "--out", tmp_path / "x.wav", "--playback-out", song, "--force"),
        ("interpolate", genre_dir, song, other, "--out", tmp_path / "x.wav", "--playback-out", other),
        ("interpolate", genre_dir, song, other, "--out", other, "--force"),
        ("transfer", genre_dir, song, "--out", tmp_path / "x.wav", "--playback-out", tmp_path / "x.wav"),
    ]
    for args in cases:
        caplog.clear()
        assert _cli(*args) == 1, args
        errors = _errors(caplog)
        assert len(errors) == 1 and ("is also an input" in errors[0] or "given as --out and as" in errors[0]), errors
    assert _tree(tmp_path / "in") == before and not (tmp_path / "x.wav").exists()


def test_nothing_is_replaced_without_force_and_genre_folders_are_never_written(genre_dir: Path, tmp_path: Path, caplog) -> None:
    song = write_tone(tmp_path / "p" / "song.flac", 1.0, sample_rate=8000)
    (tmp_path / "p" / "song.wav").write_bytes(b"the user's own song.wav")
    genre_before = _tree(genre_dir)
    for args, words in [
        (("transfer", genre_dir, song, "--out", genre_dir / "model" / "config.wav"), "inside the trained genre folder"),
        (("transfer", genre_dir, song, "--out", genre_dir / "model" / "config.wav", "--force"), "inside the trained genre folder"),
        (("generate", genre_dir, "--n", 2, "--seconds", 2, "--out", genre_dir / "generated"), "inside the trained genre folder"),
        (("transfer", genre_dir, song, "--out-dir", tmp_path / "p"), "song.wav: the settings file"),
    ]:
        caplog.clear()
        assert _cli(*args) == 1, args
        assert words in _errors(caplog)[0] if "settings" not in words else "exists; give --force" in _errors(caplog)[0]
    assert _tree(genre_dir) == genre_before
    assert (tmp_path / "p" / "song.wav").read_bytes() == b"the user's own song.wav"
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["song.flac", "song.wav"]
    assert _cli("transfer", genre_dir, song, "--out-dir", tmp_path / "p", "--force") == 0  # asked for: replaced
    assert sf.info(str(tmp_path / "p" / "song.wav")).samplerate == RATE


def test_a_failing_input_leaves_nothing_of_the_call(genre_dir: Path, tmp_path: Path, caplog) -> None:
    good = write_tone(tmp_path / "r.wav", 1.0, sample_rate=RATE)
    text = tmp_path / "text.wav"
    text.write_text("not audio\n" * 50)
    short = tmp_path / "short.wav"
    sf.write(str(short), np.array([0.5]), 44100)  # one frame: less than one sample at 3 kHz
    assert _cli("transfer", genre_dir, good, text, short, "--out-dir", tmp_path / "p") == 1
    (error,) = _errors(caplog)
    assert error.startswith("2 of 3 inputs cannot be used") and str(text) in error and "shorter than one sample" in error
    assert not (tmp_path / "p").exists()
    # an output that cannot be written is found before any input is read or any file written
    (tmp_path / "q" / "playback").mkdir(parents=True)
    (tmp_path / "q" / "playback" / "r.wav").mkdir()
    caplog.clear()
    assert _cli("transfer", genre_dir, good, "--out-dir", tmp_path / "q") == 1
    assert "is a folder" in _errors(caplog)[0] and _tree(tmp_path / "q") == {}


def test_a_failure_while_writing_leaves_nothing(genre_dir: Path, tmp_path: Path, monkeypatch, caplog) -> None:
    import genrevae.audio as audio

    a = write_tone(tmp_path / "in" / "a.wav", 1.0, sample_rate=RATE)
    b = write_tone(tmp_path / "in" / "b.wav", 1.0, sample_rate=RATE, freq=500.0)
    original, calls = audio.write_waveform, []

    def second_fails(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise OSError("disk gone")
        return original(*args, **kwargs)

    monkeypatch.setattr(audio, "write_waveform", second_fails)
    assert _cli("transfer", genre_dir, a, b, "--out-dir", tmp_path / "out") == 1
    assert "disk gone" in _errors(caplog)[0] and len(calls) == 2
    assert not (tmp_path / "out").exists()  # a.wav, a.json and playback/a.wav were written, then removed
    (tmp_path / "g").mkdir()
    calls.clear()
    assert _cli("generate", genre_dir, "--n", 3, "--seconds", 1, "--out", tmp_path / "g") == 1
    assert _tree(tmp_path / "g") == {}


@pytest.mark.slow
def test_generate_refuses_a_used_folder_and_force_keeps_the_manifest_true(genre_dir: Path, tmp_path: Path, caplog) -> None:
    out = tmp_path / "o"
    assert _cli("generate", genre_dir, "--n", 3, "--seconds", 1, "--out", out) == 0
    first = _tree(out)
    assert _cli("generate", genre_dir, "--n", 1, "--seconds", 1, "--prior", "gaussian", "--out", out) == 1
    assert "--out is not empty" in _errors(caplog)[0] and _tree(out) == first
    assert _cli("generate", genre_dir, "--n", 1, "--seconds", 1, "--prior", "gaussian", "--out", out, "--force") == 0
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {c["file"] for c in manifest["clips"]} | {c["playback_file"] for c in manifest["clips"]}
    assert set(_tree(out)) == listed | {"manifest.json"} == {"gaussian_00_seed0.wav", "playback/gaussian_00_seed0.wav", "manifest.json"}


def test_sizes_are_checked_before_anything_is_written(genre_dir: Path, tmp_path: Path, caplog) -> None:
    assert _cli("generate", genre_dir, "--n", 1, "--seconds", 1e9, "--out", tmp_path / "o") == 1
    assert "more than the 86,400 s (24 h) a clip may last" in _errors(caplog)[0]
    assert not (tmp_path / "o").exists()


def test_large_output_is_written_as_rf64(tmp_path: Path, monkeypatch) -> None:
    """Past 4 GiB a RIFF WAV's sizes overflow; RF64 holds it (the limit is lowered here to test it)."""
    import genrevae.audio as audio

    monkeypatch.setattr(audio, "_RIFF_MAX_DATA", 1000)
    x = 0.3 * np.sin(np.arange(3000) / 5.0)
    audio.write_waveform(tmp_path / "long.wav", [x[:1000], x[1000:]], RATE, -1.0, tmp_path / "p.wav", 8000)
    info = sf.info(str(tmp_path / "long.wav"))
    assert info.format == "RF64" and info.frames == 3000 and sf.info(str(tmp_path / "p.wav")).format == "RF64"
    got, _ = sf.read(str(tmp_path / "long.wav"))
    assert np.max(np.abs(got - (x - x.mean()))) < 1e-4
    monkeypatch.setattr(audio, "_RIFF_MAX_DATA", 0xFFFFFFFF - 36)
    audio.write_waveform(tmp_path / "short.wav", [x], RATE, -1.0)
    assert (tmp_path / "short.wav").read_bytes() == audio.encode_wav(audio.to_pcm16(x - x.mean()), RATE)


def test_unicode_names_are_kept(genre_dir: Path, tmp_path: Path) -> None:
    a = write_tone(tmp_path / "音楽.wav", 1.0, sample_rate=RATE)
    b = write_tone(tmp_path / "ロック.wav", 1.0, sample_rate=RATE, freq=330.0)
    c = write_tone(tmp_path / "with space ünï 音楽.wav", 1.0, sample_rate=RATE, freq=440.0)
    assert _cli("transfer", genre_dir, a, b, c, "--out-dir", tmp_path / "d") == 0
    assert sorted(p.name for p in (tmp_path / "d").glob("*.wav")) == sorted(["音楽.wav", "ロック.wav", "with_space_ünï_音楽.wav"])


def test_broken_genre_folder_settings_are_one_line(genre_dir: Path, tmp_path: Path, caplog) -> None:
    import shutil

    for name, edit, words in [
        ("rate0", lambda f: _edit_json(f / "model" / "config.json", ["settings", "sample_rate"], 0), "settings.sample_rate is 0"),
        ("prior_garbage", lambda f: (f / "prior" / "prior.json").write_text("{not json"), "prior/prior.json: missing or unreadable"),
        ("prior_no_t", lambda f: _edit_json(f / "prior" / "prior.json", ["settings"], {}), "prior/prior.json: missing or unreadable"),
        ("prior_bad_t", lambda f: _edit_json(f / "prior" / "prior.json", ["settings", "temperature"], -1), "settings.temperature is -1"),
    ]:
        folder = tmp_path / name
        shutil.copytree(genre_dir, folder)
        edit(folder)
        caplog.clear()
        assert _cli("generate", folder, "--n", 1, "--seconds", 1, "--out", tmp_path / f"out_{name}") == 1, name
        errors = _errors(caplog)
        assert len(errors) == 1 and words in errors[0], (name, errors)
        assert not (tmp_path / f"out_{name}").exists()


def _edit_json(path: Path, keys: list[str], value: object) -> None:
    data = json.loads(path.read_text())
    node = data
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    path.write_text(json.dumps(data))


def _run(*args: object, **popen: object) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    return subprocess.Popen(
        [sys.executable, "-c", _PROBE, *map(str, args)], env=env, stderr=subprocess.PIPE, text=True, **popen
    )


#: Runs the command line, then says whether TensorFlow was ever imported.
_PROBE = "import sys; from genrevae.cli import main; rc = main(sys.argv[1:]); print('tensorflow' in sys.modules, file=sys.stderr); sys.exit(rc)"


@pytest.mark.parametrize(
    "args, words",
    [
        (["--threads", "0"], "argument --threads: must be >= 1, got 0"),
        (["--n", "-1"], "argument --n: must be >= 1"),
        (["--seconds", "nan"], "--seconds must be a finite number"),
        (["--out", "{tmp}/a_file/o"], "a_file is a file, not a folder"),
    ],
)
def test_bad_arguments_are_refused_before_tensorflow_starts(genre_dir: Path, tmp_path: Path, args: list[str], words: str) -> None:
    (tmp_path / "a_file").write_text("")
    command = ["generate", genre_dir, "--out", tmp_path / "o", *(a.format(tmp=tmp_path) for a in args)]
    process = _run(*command)
    _, stderr = process.communicate(timeout=120)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert process.returncode in (1, 2) and words in stderr, stderr
    assert lines[-1] == "False", stderr  # TensorFlow never imported
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_sigterm_removes_the_partial_output(genre_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    process = _run("generate", genre_dir, "--n", 1, "--seconds", 20000, "--prior", "gaussian", "--out", out, "--threads", 1)
    deadline = time.monotonic() + 120
    while not (out.exists() and any(out.rglob(".*"))):  # the staged files exist: the job is under way
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read() if process.poll() is not None else ""
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM and "terminated by SIGTERM" in stderr, stderr
    assert not out.exists()  # the folder was made by this call, and went with it
