#!/usr/bin/env bash
# Run by Snakemake (--sdm conda) inside the new tensorflow env: musicnn's trained weights for the
# judge stage (genrevae.judge). Without its dependencies: it declares numpy < 1.17 and TensorFlow
# 1, which cannot stand beside the model stages' stack, and only its checkpoint files are read.
set -euo pipefail
python -m pip install --no-deps musicnn==0.1.0
