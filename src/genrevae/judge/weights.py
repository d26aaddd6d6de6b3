"""musicnn's trained weights, read from the checkpoints inside the installed musicnn 0.1.0 wheel.

musicnn's own code needs numpy < 1.17 and TensorFlow 1, so it is installed without its
dependencies (``pip install --no-deps musicnn==0.1.0``) and never imported: only its
checkpoint folders are read (``musicnn/MTT_musicnn/``, ``musicnn/MSD_musicnn/``: files
``.index`` and ``.data-00000-of-00001``, prefix ``<folder>/``), with
:mod:`genrevae.judge.checkpoint`, a reader of TensorFlow's V2 checkpoint format in Python and
numpy: the judge runs on any Keras backend, and a JAX machine has no TensorFlow.  The reader
verifies every checksum, so corrupt weights fail loudly instead of judging wrongly.  No network
access is needed or made.

The checkpoint names its variables after TF1's automatic layer scopes, numbered in the
order ``musicnn/models.py`` creates them (``conv2d_5``, ``batch_normalization_6``, ...);
:data:`CHECKPOINT_LAYERS` maps each scope to the port's layer.  Variable names inside a
scope (``kernel``, ``bias``, ``gamma``, ``beta``, ``moving_mean``, ``moving_variance``)
are the same in TF1 and Keras 3.  The optimizer's slots (``*/Adam``, ``*/Adam_1``,
``beta1_power``, ``beta2_power``) are not weights of the network and are skipped.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import keras
import numpy as np

from genrevae.judge.checkpoint import read_bundle
from genrevae.judge.musicnn import build_musicnn
from genrevae.judge.tags import TAGS

__all__ = [
    "INSTALL_COMMAND",
    "CHECKPOINT_LAYERS",
    "MusicnnNotInstalledError",
    "checkpoint_prefix",
    "read_checkpoint",
    "load_musicnn",
]

#: How to install the weights (README, CI and the conda envs run the same).
INSTALL_COMMAND = "pip install --no-deps musicnn==0.1.0"

#: TF1 layer scope in musicnn's checkpoints -> layer of :func:`genrevae.judge.musicnn.build_musicnn`.
CHECKPOINT_LAYERS: dict[str, str] = {
    "batch_normalization": "input_norm",
    "conv2d": "timbral_38",
    "batch_normalization_1": "timbral_38_norm",
    "conv2d_1": "timbral_67",
    "batch_normalization_2": "timbral_67_norm",
    "conv2d_2": "temporal_128",
    "batch_normalization_3": "temporal_128_norm",
    "conv2d_3": "temporal_64",
    "batch_normalization_4": "temporal_64_norm",
    "conv2d_4": "temporal_32",
    "batch_normalization_5": "temporal_32_norm",
    "conv2d_5": "midend_1",
    "batch_normalization_6": "midend_1_norm",
    "conv2d_6": "midend_2",
    "batch_normalization_7": "midend_2_norm",
    "conv2d_7": "midend_3",
    "batch_normalization_8": "midend_3_norm",
    "batch_normalization_9": "pool_norm",
    "dense": "penultimate_dense",
    "batch_normalization_10": "penultimate_norm",
    "dense_1": "tag_logits",
}


class MusicnnNotInstalledError(FileNotFoundError):
    """The musicnn package (and with it the trained weights) is not installed."""


def _is_optimizer_slot(name: str) -> bool:
    return name.endswith(("/Adam", "/Adam_1")) or name in ("beta1_power", "beta2_power")


def checkpoint_prefix(model: str) -> str:
    """The checkpoint prefix of ``model`` (``.../site-packages/musicnn/<model>/``) in the installed wheel.

    Found with ``importlib.util.find_spec``, which locates the package without running any of
    its code.  Raises :class:`MusicnnNotInstalledError` naming :data:`INSTALL_COMMAND` when the
    package or the checkpoint files are missing, ``ValueError`` for an unknown model.
    """
    if model not in TAGS:
        raise ValueError(f"unknown musicnn model {model!r}; expected one of {sorted(TAGS)}")
    spec = importlib.util.find_spec("musicnn")
    folders = [Path(p) / model for p in (spec.submodule_search_locations or [])] if spec else []
    for folder in folders:
        if (folder / ".index").is_file() and (folder / ".data-00000-of-00001").is_file():
            return f"{folder}/"
    where = f"no checkpoint in {folders[0]}" if folders else "no musicnn package"
    raise MusicnnNotInstalledError(f"musicnn's trained weights are not installed ({where}): run `{INSTALL_COMMAND}`")


def read_checkpoint(model: str) -> dict[str, np.ndarray]:
    """Every network variable of ``model``'s checkpoint, by its TF1 name (``"conv2d/kernel"``, ...), sorted.

    Read without TensorFlow (:func:`genrevae.judge.checkpoint.read_bundle`); the optimizer's slots
    are neither returned nor read.  Raises :class:`MusicnnNotInstalledError` without the wheel and
    :class:`genrevae.judge.checkpoint.CheckpointError`, naming the file, for a corrupt checkpoint.
    """
    values = read_bundle(checkpoint_prefix(model), select=lambda name: not _is_optimizer_slot(name))
    return {name: values[name] for name in sorted(values)}


def _assign(network: keras.Model, values: dict[str, np.ndarray]) -> None:
    """Put the checkpoint's values into the port; every variable on both sides must be used exactly once."""
    unused = set(values)
    for scope, layer_name in CHECKPOINT_LAYERS.items():
        for variable in network.get_layer(layer_name).weights:
            name = f"{scope}/{variable.name}"
            if name not in values:
                raise ValueError(f"musicnn checkpoint has no {name!r} for layer {layer_name!r}")
            value = values[name]
            # Conv2D kernels over all features become Conv1D kernels: only a size-1 axis goes.
            if [d for d in value.shape if d != 1] != [d for d in variable.shape if d != 1]:
                raise ValueError(f"{name}: shape {value.shape} does not fit {layer_name}'s {tuple(variable.shape)}")
            variable.assign(value.reshape(variable.shape))
            unused.discard(name)
    if unused:
        raise ValueError(f"musicnn checkpoint variables without a place in the port: {sorted(unused)}")


@functools.lru_cache(maxsize=None)
def load_musicnn(model: str = "MTT_musicnn") -> keras.Model:
    """The trained port of ``model`` (``"MTT_musicnn"`` or ``"MSD_musicnn"``), built once per process.

    Its outputs are those of :func:`genrevae.judge.musicnn.build_musicnn`.  Raises
    :class:`MusicnnNotInstalledError` if the weights are not installed.
    """
    values = read_checkpoint(model)
    network = build_musicnn(num_tags=len(TAGS[model]), name=model)
    _assign(network, values)
    return network
