"""genrevae: genre-wise variational autoencoders on raw music waveforms."""

__version__ = "0.1.0"
