#!/usr/bin/env bash
# The GPU check (benchmarks/gpu_check.py) on a machine with a GPU and no internet.
#
#   bash benchmarks/gpu_check.sh --download      # here, with internet: wheels into .whl/ (~20 MB)
#   bash benchmarks/gpu_check.sh [gpu_check.py options]   # there: install .whl/ into a scratch
#                                                # folder, then run the check under JAX
#
# The GPU machine is assumed to have Python 3.12 with jax (CUDA), numpy, scipy, pandas, pyyaml,
# h5py, rich, absl-py and ml-dtypes; what the project needs besides travels as wheels. Versions
# are those of this machine's environment (the one the tests ran with). Snakemake is not needed.
set -euo pipefail
cd "$(dirname "$0")/.."

WHEELS=(keras namex optree jsonschema jsonschema-specifications referencing rpds-py attrs
        soundfile cffi pycparser soxr librosa audioread decorator pooch platformdirs lazy-loader)

if [ "${1:-}" = "--download" ]; then
  python=${PYTHON:-python3}
  rm -rf .whl && mkdir -p .whl
  for name in "${WHEELS[@]}"; do
    version=$("$python" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')
    spec=$name${version:+==$version}
    "$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d .whl "$spec"
  done
  du -sh .whl
  exit 0
fi

if compgen -G ".whl/*.whl" >/dev/null; then
  site=${TMPDIR:-/tmp}/genrevae-site
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl
  export PYTHONPATH=$site:$PWD/src${PYTHONPATH:+:$PYTHONPATH}
else
  export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
fi
export KERAS_BACKEND=${KERAS_BACKEND:-jax}
export PYTHONUNBUFFERED=1
exec python3 benchmarks/gpu_check.py "$@"
