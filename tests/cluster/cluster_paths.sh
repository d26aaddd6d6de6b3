# Sourced by start_slurm.sh and stop_slurm.sh: where the test cluster keeps its state, and the
# SLURM config it writes, recognised by its marker line (a config without it is never touched).
state=${GENREVAE_SLURM_DIR:-/tmp/genrevae-slurm}
conf=/etc/slurm/slurm.conf
marker="# Written by genrevae tests/cluster/start_slurm.sh"
