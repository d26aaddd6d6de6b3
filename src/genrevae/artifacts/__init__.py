"""The files one stage hands to another, one module each with its one reader and one writer.

==============  ===================================  =============================================
module          file                                 what it holds
==============  ===================================  =============================================
``index``       ``results/<genre>/data/index.csv``   every file of a genre folder, usable or why not
``tracks``      ``results/<genre>/data/tracks.csv``  where each shard row came from
``shard``       ``results/<genre>/data/clips.npy``   ``(n_clips, n_samples)`` float32 clips
``split``       ``results/<genre>/data/split.csv``   train / test / unused per shard row
``reports``     ``metrics.json`` and the other JSON  sorted keys, non-finite numbers as ``null``
==============  ===================================  =============================================

The trained models are Keras files with their own pair: :func:`genrevae.model.load_model` and
:func:`genrevae.prior.load_prior`.  Every writer is atomic (:mod:`genrevae.files`); every reader raises :class:`ArtifactError`
naming the file when it does not hold what the next stage needs.
"""


class ArtifactError(ValueError):
    """An intermediate file that is not what its stage writes; the message names it and what to do."""
