"""An independent judge of generated music: musicnn, a tagger trained on catalogues nobody here chose.

Every other measure of the project uses features and classifiers fitted to the same few clips
the models are trained on.  musicnn (Pons and Serra, ISMIR 2019 late-breaking demo; ISC
licence) was trained on the MagnaTagATune and Million Song Dataset tag sets, and its trained
checkpoints travel inside its PyPI wheel, so it can judge offline.  This package is a Keras 3
port of its forward pass, checked against the original TensorFlow graph
(``tests/test_judge.py``), with:

- :mod:`.frontend`: audio -> musicnn's log-mel patches (16 kHz, 96 bands, 3 s);
- :mod:`.musicnn`: the network in Keras 3 layers and ``keras.ops``;
- :mod:`.weights`: finding and converting the wheel's checkpoints (cached per process);
- :mod:`.tags`: the 50 tag names of each model;
- :mod:`.verdict`: :func:`judge`, tag probabilities and penultimate embeddings per patch.

``python -m genrevae.judge`` prints what it hears in a few toy clips.
"""

from genrevae.judge.tags import MSD_TAGS, MTT_TAGS, TAGS
from genrevae.judge.verdict import Judgement, judge
from genrevae.judge.weights import INSTALL_COMMAND, MusicnnNotInstalledError, load_musicnn

__all__ = [
    "INSTALL_COMMAND",
    "MSD_TAGS",
    "MTT_TAGS",
    "TAGS",
    "Judgement",
    "MusicnnNotInstalledError",
    "judge",
    "load_musicnn",
]
