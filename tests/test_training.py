"""Training end to end on a tiny synthetic shard: outputs, determinism, resume after SIGKILL, NaN."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import tensorflow_threads
from genrevae import training
from genrevae.training import envelope, epoch_batches, kl_weight_for_epoch, train_genre

N_SAMPLES = 2500
TINY = {
    "seed": 7,
    "model": {
        "preset": "conv",
        "conv": {"width": 4, "max_width": 8, "strides": [32], "kernel_size": 5, "res_blocks": 1, "latent_channels": 2},
    },
    "train": {"epochs": 4, "batch_size": 3, "steps_per_epoch": 8, "kl_warmup_epochs": 2, "kl_beta": 0.5},
}
EPOCHS = TINY["train"]["epochs"]


THREADS = tensorflow_threads()


def _write_data(directory: Path, n_clips: int = 10, n_test: int = 3, n: int = N_SAMPLES) -> tuple[Path, Path]:
    rng = np.random.default_rng(42)
    t = np.arange(n) / 3000.0
    freqs = rng.uniform(60, 600, (n_clips, 1))
    clips = 0.3 * np.sin(2 * np.pi * freqs * t) * (0.5 + 0.5 * np.cos(2 * np.pi * 2 * t))
    clips = np.clip(clips + 0.02 * rng.standard_normal((n_clips, n)), -1, 1).astype(np.float32)
    directory.mkdir(parents=True, exist_ok=True)
    np.save(directory / "clips.npy", clips)
    subset = ["train"] * (n_clips - n_test) + ["test"] * n_test
    pd.DataFrame({"clip": range(n_clips), "track": [f"x.{i:05d}.wav" for i in range(n_clips)], "subset": subset}).to_csv(
        directory / "split.csv", index=False
    )
    return directory / "clips.npy", directory / "split.csv"


def _log():
    return logging.getLogger("test.training")


def _weights(out_dir: Path) -> list[np.ndarray]:
    model = keras.models.load_model(out_dir / "model.keras")
    return [v.numpy() for v in model.weights]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return _write_data(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    train_genre(data[0], data[1], out, TINY, THREADS, _log())
    return out


def test_outputs(reference):
    assert sorted(p.name for p in reference.iterdir()) == [
        "checkpoints", "config.json", "epoch_samples.npy", "history.csv", "model.keras"
    ]
    hist = pd.read_csv(reference / "history.csv")
    assert list(hist.columns) == ["epoch", "train_loss", "test_elbo", "test_recon", "test_kl", "kl_weight", "seconds"]
    assert hist["epoch"].tolist() == [1, 2, 3, 4]
    assert hist["kl_weight"].tolist() == pytest.approx([0.0, 0.25, 0.5, 0.5])  # warm-up over 2 epochs to kl_beta 0.5
    assert np.all(np.isfinite(hist.drop(columns="epoch").to_numpy()))
    np.testing.assert_allclose(hist["test_elbo"], hist["test_recon"] - hist["test_kl"], rtol=1e-6)
    samples = np.load(reference / "epoch_samples.npy")
    assert samples.shape == (EPOCHS + 1, 16, 4096) and samples.dtype == np.float32
    assert np.abs(samples).max() <= 1.0
    assert not np.array_equal(samples[0], samples[-1])  # the decoder changed
    config = json.loads((reference / "config.json").read_text())
    assert config["n_samples"] == N_SAMPLES and config["n_train"] == 7 and config["n_test"] == 3
    assert config["settings"]["train"]["batch_size"] == 3 and config["settings"]["evaluate"]["iw_samples"] == 64
    assert len(config["data_fingerprint"]) == 64
    assert [p.name for p in (reference / "checkpoints").iterdir()] == ["epoch-0004"]
    model = keras.models.load_model(reference / "model.keras")
    assert model.n_samples == N_SAMPLES and model.latent_shape == (-(-N_SAMPLES // 32), 2)


def test_same_settings_give_identical_weights(data, reference, tmp_path):
    out = tmp_path / "again"
    train_genre(data[0], data[1], out, TINY, THREADS, _log())
    for a, b in zip(_weights(reference), _weights(out)):
        np.testing.assert_array_equal(a, b)
    h1, h2 = (pd.read_csv(d / "history.csv").drop(columns="seconds") for d in (reference, out))
    pd.testing.assert_frame_equal(h1, h2)
    np.testing.assert_array_equal(np.load(reference / "epoch_samples.npy"), np.load(out / "epoch_samples.npy"))


def test_resume_after_sigkill(data, reference, tmp_path):
    out = tmp_path / "killed"
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(TINY))
    cmd = [
        sys.executable, "-m", "genrevae.training", "--shard", str(data[0]), "--split", str(data[1]),
        "--out-dir", str(out), "--settings", str(settings), "--threads", str(THREADS),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while not list((out / "checkpoints").glob("epoch-0001")):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "model.keras").exists(), "the run finished before it could be killed"
    done = sorted(p.name for p in (out / "checkpoints").glob("epoch-*"))
    assert done and done[-1] < f"epoch-{EPOCHS:04d}"

    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    log = logging.getLogger("test.training.resume")
    log.addHandler(Collect())
    log.setLevel(logging.INFO)
    train_genre(data[0], data[1], out, TINY, THREADS, log)
    assert any(m.startswith("resuming from checkpoint") for m in records), records
    hist = pd.read_csv(out / "history.csv")
    assert hist["epoch"].tolist() == list(range(1, EPOCHS + 1))
    assert np.load(out / "epoch_samples.npy").shape[0] == EPOCHS + 1
    # a resumed run ends exactly where an uninterrupted one does
    for a, b in zip(_weights(reference), _weights(out)):
        np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(
        hist.drop(columns="seconds"), pd.read_csv(reference / "history.csv").drop(columns="seconds")
    )


def test_extend_a_finished_run(data, reference, tmp_path, caplog):
    out = tmp_path / "extended"
    shutil.copytree(reference, out)
    more = json.loads(json.dumps(TINY))
    more["train"]["epochs"] = EPOCHS + 1  # epochs are not in the fingerprint: continue from the last one
    with caplog.at_level(logging.INFO, logger="test.training"):
        train_genre(data[0], data[1], out, more, THREADS, _log())
    assert "removing the previous run's" in caplog.text  # the old model.keras is stale
    assert "resuming from checkpoint" in caplog.text and f"epoch {EPOCHS} of {EPOCHS + 1}" in caplog.text
    assert (out / "model.keras").exists()
    hist = pd.read_csv(out / "history.csv")
    assert hist["epoch"].tolist() == list(range(1, EPOCHS + 2))
    pd.testing.assert_frame_equal(
        hist.iloc[:EPOCHS].drop(columns="seconds"), pd.read_csv(reference / "history.csv").drop(columns="seconds")
    )


def test_xla_stft_and_a_fingerprint_mismatch_starts_fresh(data, reference, tmp_path, caplog):
    out = tmp_path / "other"
    shutil.copytree(reference, out)
    settings = json.loads(json.dumps(TINY))
    settings["model"]["conv"].update(res_blocks=0)  # XLA compiles slowly on CPU: keep it tiny
    settings["train"].update(epochs=1, xla=True, steps_per_epoch=2, stft_weight=0.1)
    with caplog.at_level(logging.INFO, logger="test.training"):
        train_genre(data[0], data[1], out, settings, THREADS, _log())
    assert "different settings/data/threads fingerprint; starting fresh" in caplog.text
    assert pd.read_csv(out / "history.csv")["epoch"].tolist() == [1]
    assert np.load(out / "epoch_samples.npy").shape[0] == 2
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["epoch-0001"]


def test_nan_stops_with_a_clear_error_and_keeps_the_last_checkpoint(tmp_path):
    shard, split = _write_data(tmp_path / "data", n_clips=8, n_test=2)
    settings = json.loads(json.dumps(TINY))
    settings["train"].update(batch_size=1, steps_per_epoch=1, epochs=3)
    train_idx = np.arange(6)
    seed = next(s for s in range(100) if epoch_batches(s, 1, train_idx, 1, 1)[0][0] != epoch_batches(s, 2, train_idx, 1, 1)[0][0])
    settings["seed"] = seed
    poisoned = int(epoch_batches(seed, 2, train_idx, 1, 1)[0][0])  # the one clip epoch 2 trains on
    clips = np.load(shard)
    clips[poisoned, 100] = np.nan
    np.save(shard, clips)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match=r"training loss became nan at epoch 2, step 1/1.*epoch-0001 is kept"):
        train_genre(shard, split, out, settings, THREADS, _log())
    assert not (out / "model.keras").exists() and not (out / "history.csv").exists()
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["epoch-0001"]
    state = json.loads((out / "checkpoints" / "epoch-0001" / "state.json").read_text())
    assert state["epoch"] == 1 and np.isfinite(state["history"][0]["train_loss"])


def test_seed_preset_bernoulli_trains(data, tmp_path):
    settings = {
        "seed": 3,
        "model": {"preset": "seed", "likelihood": "bernoulli", "latent_dim": 2},
        "train": {"epochs": 1, "batch_size": 4},  # 7 train clips: batches of 4 and 3
    }
    train_genre(data[0], data[1], tmp_path, settings, THREADS, _log())
    hist = pd.read_csv(tmp_path / "history.csv")
    assert len(hist) == 1 and np.isfinite(hist["test_elbo"][0])
    assert np.load(tmp_path / "epoch_samples.npy").shape == (2, 16, 4096)
    assert type(keras.models.load_model(tmp_path / "model.keras")).__name__ == "SeedVAE"


def test_configure_threads_refuses_a_change_after_start():
    import tensorflow as tf

    threads = THREADS
    training.configure_threads(threads)  # the same number again is fine
    tf.constant(1.0) + 1.0  # TensorFlow is running now
    with pytest.raises(RuntimeError, match="already initialised"):
        training.configure_threads(threads + 1)
    with pytest.raises(ValueError):
        training.configure_threads(0)


def test_envelope_keeps_the_largest_magnitude():
    x = np.zeros((1, 8192), np.float32)
    x[0, 3], x[0, 5] = 0.5, -0.9  # blocks of 2 samples: sample 3 is in block 1, sample 5 in block 2
    x[0, 8191] = 0.7
    e = envelope(x)
    assert e.shape == (1, 4096)
    assert e[0, 1] == 0.5 and e[0, 2] == -0.9 and e[0, -1] == 0.7 and np.count_nonzero(e) == 3
    short = np.linspace(-1, 1, 1000, dtype=np.float32)
    es = envelope(short)
    assert es.shape == (4096,) and es[0] == -1 and es[-1] == 1 and set(np.unique(es)) <= set(short)
    odd = np.random.default_rng(0).standard_normal((2, 3, 90001)).astype(np.float32)
    eo = envelope(odd)
    assert eo.shape == (2, 3, 4096) and np.abs(eo).max() == np.abs(odd).max()


def test_epoch_batches_and_kl_schedule():
    idx = np.arange(10, 17)
    one_pass = epoch_batches(5, 1, idx, 3, None)
    assert [len(b) for b in one_pass] == [3, 3, 1] and sorted(np.concatenate(one_pass)) == list(idx)
    assert not np.array_equal(np.concatenate(one_pass), np.concatenate(epoch_batches(5, 2, idx, 3, None)))
    np.testing.assert_array_equal(np.concatenate(one_pass), np.concatenate(epoch_batches(5, 1, idx, 3, None)))
    fixed = epoch_batches(5, 1, idx, 4, 5)
    assert [len(b) for b in fixed] == [4] * 5
    train = {"kl_beta": 2.0, "kl_warmup_epochs": 4}
    assert [kl_weight_for_epoch(e, train) for e in range(1, 7)] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]
    assert kl_weight_for_epoch(1, {"kl_beta": 2.0, "kl_warmup_epochs": 0}) == 2.0


def test_bad_split_is_rejected(tmp_path):
    shard, split = _write_data(tmp_path, n_clips=4, n_test=1)
    pd.DataFrame({"clip": [0, 1, 1], "track": ["a", "b", "b"], "subset": ["train", "train", "test"]}).to_csv(split, index=False)
    with pytest.raises(ValueError, match="repeated clip"):
        training.load_split(split, 4)
    pd.DataFrame({"clip": [0, 9], "track": ["a", "b"], "subset": ["train", "test"]}).to_csv(split, index=False)
    with pytest.raises(ValueError, match="clip indices"):
        training.load_split(split, 4)
    pd.DataFrame({"clip": [0, 1], "track": ["a", "b"], "subset": ["train", "valid"]}).to_csv(split, index=False)
    with pytest.raises(ValueError, match="unknown subset"):
        training.load_split(split, 4)
    pd.DataFrame({"clip": [3, 0, 1, 2], "track": list("abcd"), "subset": ["train", "unused", "test", "train"]}).to_csv(
        split, index=False
    )
    train, test = training.load_split(split, 4)
    assert train.tolist() == [2, 3] and test.tolist() == [1]


def test_wall_clock_budget_stops_after_the_epoch_that_spends_it(data, tmp_path):
    shard, split = data
    settings = {**TINY, "train": {**TINY["train"], "max_seconds": 1e-6}}
    train_genre(shard, split, tmp_path, settings, THREADS, _log())
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history["epoch"]) == [1]  # one epoch runs, then the budget is spent
    assert np.load(tmp_path / "epoch_samples.npy").shape[0] == 2
    assert (tmp_path / "model.keras").exists()
