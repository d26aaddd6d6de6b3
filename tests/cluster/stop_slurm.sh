#!/usr/bin/env bash
# Stop the single-node SLURM cluster that tests/cluster/start_slurm.sh started: cancel its jobs,
# then stop exactly the daemons whose pid files it left in $GENREVAE_SLURM_DIR (default
# /tmp/genrevae-slurm): slurmd, slurmctld and munged (munged only if the start script started
# it). Nothing else is touched; the packages stay installed. Safe to run when nothing is up.
set -uo pipefail

state=${GENREVAE_SLURM_DIR:-/tmp/genrevae-slurm}
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
exit 0
