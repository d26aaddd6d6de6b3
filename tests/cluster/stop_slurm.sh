#!/usr/bin/env bash
# Stop the single-node SLURM cluster that tests/cluster/start_slurm.sh started: cancel its jobs,
# then stop exactly the daemons whose pid files it left in $GENREVAE_SLURM_DIR (default
# /tmp/genrevae-slurm): slurmd, slurmctld and munged (munged only if the start script started
# it), and sets MessageTimeout=1 in the config start_slurm.sh wrote (see the end). Nothing else is
# touched; the packages stay installed. Safe to run when nothing is up.
set -uo pipefail

# shellcheck source=tests/cluster/cluster_paths.sh
source "$(dirname "$0")/cluster_paths.sh"
say() { echo "stop_slurm: $*" >&2; }

pid_of() { # pidfile name: the pid if it is alive and runs the expected program
    local pid
    [[ -s $1 ]] || return 1
    pid=$(<"$1")
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/comm && $(</proc/$pid/comm) == "$2" ]] || return 1
    echo "$pid"
}

stop() { # pidfile name
    local pid
    pid=$(pid_of "$1" "$2") || { rm -f "$1"; return 0; }
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do
        [[ -e /proc/$pid ]] || break
        sleep 0.1
    done
    if [[ -e /proc/$pid ]]; then
        say "$2 ($pid) ignored SIGTERM for 10 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$1"
    say "stopped $2 ($pid)"
}

if pid_of "$state/slurmctld.pid" slurmctld >/dev/null; then
    # Every job of this cluster (its controller manages nothing else), so that slurmd ends their
    # job steps before it stops.
    jobs=$(timeout 10 squeue --noheader --format=%i 2>/dev/null | tr '\n' ' ')
    if [[ -n ${jobs// } ]]; then
        say "cancelling jobs $jobs"
        # shellcheck disable=SC2086
        timeout 10 scancel $jobs 2>/dev/null || true
        for _ in $(seq 60); do
            [[ -z $(timeout 5 squeue --noheader --states=PENDING,RUNNING,COMPLETING,SUSPENDED 2>/dev/null) ]] && break
            sleep 0.5
        done
    fi
fi
stop "$state/slurmd.pid" slurmd
stop "$state/slurmctld.pid" slurmctld
stop "$state/munge/munged.pid" munged

# With no controller, every SLURM client command retries the connection for MessageTimeout
# (10 s), and so does every `snakemake` start-up on this machine: the SLURM executor plugin runs
# `scontrol show config` when it is imported. Our config (start_slurm.sh rewrites it on the next
# start) now says 1 s, so they fail at once. A config we did not write is left alone.
if [[ -w $conf ]] && grep -qF "$marker" "$conf" && ! grep -q '^MessageTimeout=1$' "$conf"; then
    printf '# Cluster stopped by stop_slurm.sh: client commands fail fast.\nMessageTimeout=1\n' >> "$conf"
fi
exit 0
