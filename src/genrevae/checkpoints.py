"""Training checkpoints: ``checkpoints/step-NNNNNNN/`` of a genre's model folder, written
atomically and restored only when they are of the same run.

A checkpoint holds the model's weights, the optimizer state, the history and prior draws so far
(``epoch_samples.npy``) and the run's fingerprint (``state.json``), plus, in the adversarial phase,
the discriminator, the phase's two optimizers and a second fingerprint.  :func:`save_checkpoint`
writes one (temp dir + rename) and deletes older ones; :func:`try_resume` restores the newest one
when its fingerprints match and the run asks for at least its steps, and otherwise removes them all
so the run starts afresh.  What the fingerprints cover is :mod:`genrevae.train`'s business.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np

from genrevae import backend

__all__ = ["checkpoint_dirs", "save_checkpoint", "assign_all", "try_resume"]


def checkpoint_dirs(ckpt_dir: Path) -> list[Path]:
    if not ckpt_dir.is_dir():
        return []
    found = [p for p in ckpt_dir.iterdir() if p.is_dir() and p.name.startswith("step-") and (p / "state.json").is_file()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def save_checkpoint(
    ckpt_dir: Path, step: int, model, optimizer, history: list[dict], samples: list[np.ndarray], fingerprint: str, adversarial=None
) -> Path:
    """Write ``step-NNNNNNN`` atomically (temp dir + rename), then delete older checkpoints.

    ``adversarial``: ``(fingerprint, {file stem: variables})`` in the adversarial phase (the
    discriminator and the phase's two optimizers), written beside the VAE's own."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    final = ckpt_dir / f"step-{step:07d}"
    tmp = ckpt_dir / f".tmp-step-{step:07d}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    np.savez(tmp / "weights.npz", *[backend.to_numpy(v.value) for v in model.weights])
    np.savez(tmp / "optimizer.npz", *[backend.to_numpy(v.value) for v in optimizer.variables])
    np.save(tmp / "epoch_samples.npy", np.stack(samples).astype(np.float32))
    state = {"step": step, "fingerprint": fingerprint, "history": history}
    if adversarial is not None:
        state["adversarial_fingerprint"] = adversarial[0]
        for stem, variables in adversarial[1].items():
            np.savez(tmp / f"{stem}.npz", *[backend.to_numpy(v.value) for v in variables])
    (tmp / "state.json").write_text(json.dumps(state, indent=1))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in checkpoint_dirs(ckpt_dir):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def assign_all(variables, path: Path) -> None:
    with np.load(path) as data:
        arrays = [data[f"arr_{i}"] for i in range(len(data.files))]
    if len(arrays) != len(variables):
        raise ValueError(f"{path}: {len(arrays)} arrays for {len(variables)} variables")
    for var, arr in zip(variables, arrays):
        if tuple(var.shape) != tuple(arr.shape):
            raise ValueError(f"{path}: shape {arr.shape} does not fit variable {var.path} {tuple(var.shape)}")
        var.assign(arr)


def try_resume(ckpt_dir: Path, fingerprint: str, steps: int, model, optimizer, log: logging.Logger, adversarial=None):
    """Restore the newest matching checkpoint; returns ``(step, history, samples)`` or ``None``.

    ``steps`` is the total (VAE and adversarial).  A checkpoint of the adversarial phase must
    also match ``adversarial`` (``(fingerprint, {file stem: variables})``, None when the phase is
    off), whose variables it restores."""
    for tmp in ckpt_dir.glob(".tmp-*") if ckpt_dir.is_dir() else []:
        shutil.rmtree(tmp, ignore_errors=True)  # half-written by a killed run
    found = checkpoint_dirs(ckpt_dir)
    if not found:
        if ckpt_dir.is_dir():
            shutil.rmtree(ckpt_dir, ignore_errors=True)  # e.g. checkpoints of an older format
        return None
    latest = found[-1]
    try:
        state = json.loads((latest / "state.json").read_text())
    except (OSError, ValueError) as err:
        log.warning("ignoring unreadable checkpoint %s (%s); starting fresh", latest, err)
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        return None
    if state.get("fingerprint") != fingerprint:
        log.info("checkpoint %s has a different settings/data/threads fingerprint; starting fresh", latest)
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        return None
    if int(state["step"]) > steps:
        log.info("checkpoint %s is past the requested %d steps; starting fresh", latest, steps)
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        return None
    if "adversarial_fingerprint" in state and (adversarial is None or state["adversarial_fingerprint"] != adversarial[0]):
        log.info("checkpoint %s is of an adversarial phase with other settings (or train.steps); starting fresh", latest)
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        return None
    assign_all(model.weights, latest / "weights.npz")
    assign_all(optimizer.variables, latest / "optimizer.npz")
    if "adversarial_fingerprint" in state:
        for stem, variables in adversarial[1].items():
            assign_all(variables, latest / f"{stem}.npz")
    samples = list(np.load(latest / "epoch_samples.npy"))
    log.info("resuming from checkpoint %s (step %d of %d, fingerprint %s)", latest, state["step"], steps, fingerprint[:12])
    return int(state["step"]), list(state["history"]), samples
