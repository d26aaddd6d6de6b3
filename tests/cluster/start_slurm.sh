#!/usr/bin/env bash
# Start a throw-away single-node SLURM cluster on this machine, for tests/test_slurm.py and for
# trying profiles/slurm without a real cluster.
#
#   sudo tests/cluster/start_slurm.sh      # installs Debian's packages, starts 3 daemons (~10 s)
#   sudo tests/cluster/stop_slurm.sh       # stops exactly the daemons this script started
#
# Needs root and Debian 12 (or another apt-based system with the same packages): it installs
# munge, slurmctld, slurmd and slurm-client with apt-get, writes /etc/slurm/slurm.conf (one node
# named after `hostname -s`, one partition, no accounting database, daemons on 127.0.0.1 only)
# and starts munged, slurmctld and slurmd. Everything else (state, logs, pid files) lives in
# $GENREVAE_SLURM_DIR (default /tmp/genrevae-slurm). Jobs run as the submitting user (root here).
# Running it again while the cluster is up does nothing. Prints the partition name on success.
set -euo pipefail

# shellcheck source=tests/cluster/cluster_paths.sh
source "$(dirname "$0")/cluster_paths.sh"
partition=${GENREVAE_SLURM_PARTITION:-genrevae}
# GPUs the node advertises (generic resource "gpu" without devices): lets jobs that ask for GPUs
# (profiles/slurm's training) be scheduled here; they find no GPU and run on the CPU.
fake_gpus=${GENREVAE_SLURM_FAKE_GPUS:-2}
[[ $fake_gpus =~ ^[0-5]$ ]] || { echo "start_slurm: GENREVAE_SLURM_FAKE_GPUS must be 0..5" >&2; exit 1; }
node=$(hostname -s)

say() { echo "start_slurm: $*" >&2; }
die() { say "error: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and starts daemons)"
[[ $state == /*/* ]] || die "GENREVAE_SLURM_DIR must be an absolute path below / (it is wiped): '$state'"

# pid alive and running the expected program (guards against a recycled pid)
alive() { # pidfile name
    local pid
    [[ -s $1 ]] || return 1
    pid=$(<"$1")
    [[ -r /proc/$pid/comm && $(</proc/$pid/comm) == "$2" ]]
}

node_state() { timeout 10 sinfo --noheader --node "$node" --format '%T' 2>/dev/null | head -n1 || true; }

if alive "$state/slurmctld.pid" slurmctld && alive "$state/slurmd.pid" slurmd \
    && [[ $(node_state) == idle* || $(node_state) == mix* || $(node_state) == alloc* ]]; then
    say "already running (state in $state)"
    echo "$partition"
    exit 0
fi

# A half-up cluster from an earlier run: stop what it left, then start afresh.
if alive "$state/slurmctld.pid" slurmctld || alive "$state/slurmd.pid" slurmd \
    || alive "$state/munge/munged.pid" munged; then
    say "stopping the leftovers of an earlier start"
    bash "$(dirname "$0")/stop_slurm.sh"
fi
rm -rf "$state"
mkdir -p "$state/ctld" "$state/spool" "$state/munge"

# --- packages ---------------------------------------------------------------------------------
packages=(munge slurmctld slurmd slurm-client)
installed() {
    local p
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || return 1
    done
}
if installed; then
    say "packages already installed"
else
    command -v apt-get >/dev/null || die "apt-get not found: install ${packages[*]} by hand"
    # The packages' maintainer scripts would start the daemons through init scripts/systemd:
    # forbid that for the duration of the install (unless the image already does).
    made_policy=
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    apt_install() {
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${packages[@]}"
    }
    say "installing ${packages[*]} (log: $state/apt.log)"
    ok=1
    if ! apt_install >"$state/apt.log" 2>&1; then
        say "apt-get install failed; running apt-get update and retrying"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$state/apt.log" 2>&1 || true
        apt_install >>"$state/apt.log" 2>&1 || ok=
    fi
    if [[ -n $made_policy ]]; then rm -f /usr/sbin/policy-rc.d; fi
    [[ -n $ok ]] || { tail -n 20 "$state/apt.log" >&2; die "apt-get install failed (log: $state/apt.log)"; }
fi

# --- configuration ----------------------------------------------------------------------------
if [[ -e $conf ]] && ! grep -qF "$marker" "$conf"; then
    die "$conf exists and was not written by this script: not touching a real cluster's config"
fi
# CPUs and memory from the hardware as slurmd sees it; leave ~10 % of RAM to the system.
hw=$(slurmd -C | head -n1)
cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
[[ -n $cpus && -n $mem ]] || die "could not read CPUs/RealMemory from 'slurmd -C': $hw"
mem=$(( mem * 9 / 10 ))
defmem=$(( mem / cpus / 4 ))   # a job that does not ask for memory gets a quarter of its share

node_gres=
if (( fake_gpus > 0 )); then node_gres="Gres=gpu:$fake_gpus"; fi
mkdir -p "$(dirname "$conf")"

cat > "$conf" <<EOF
$marker
# A single-node test cluster; do not use as a template for a real site.
ClusterName=genrevae
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# Daemons listen on loopback only.
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups (containers/VMs often lack a usable cgroup tree) and no accounting database:
# sacct does not work here, so Snakemake must use 'squeue' for job status.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$defmem
# Finished jobs stay visible to squeue for 1 h (the plugin needs >= 3x its first status delay).
MinJobAge=3600
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=10
GresTypes=gpu
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem ${node_gres} State=UNKNOWN
PartitionName=$partition Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF

# Fake GPUs: gres/gpu entries backed by harmless character devices (slurmd 22.05 ignores a gpu
# entry without File=); with task/none nothing is bound to them.
gres=$(dirname "$conf")/gres.conf
if [[ -e $gres ]] && ! grep -qF "$marker" "$gres"; then
    die "$gres exists and was not written by this script: not touching it"
fi
{
    echo "$marker"
    devices=(/dev/null /dev/zero /dev/full /dev/random /dev/urandom)
    for dev in "${devices[@]:0:fake_gpus}"; do
        echo "NodeName=$node Name=gpu File=$dev"
    done
} > "$gres"

# --- daemons ----------------------------------------------------------------------------------
if timeout 5 munge -n 2>/dev/null | timeout 5 unmunge >/dev/null 2>&1; then
    say "munged already running: using it"
else
    [[ -s /etc/munge/munge.key ]] || { mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none; }
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge "$state/munge"
    chmod 755 /run/munge
    runuser -u munge -- munged --pid-file="$state/munge/munged.pid" --log-file="$state/munge/munged.log"
    for _ in $(seq 50); do
        timeout 5 munge -n 2>/dev/null | timeout 5 unmunge >/dev/null 2>&1 && break
        sleep 0.1
    done
    timeout 5 munge -n | timeout 5 unmunge >/dev/null || die "munged does not answer (log: $state/munge/munged.log)"
fi

for daemon in slurmctld slurmd; do
    if pgrep -x "$daemon" >/dev/null; then
        die "a $daemon not started by this script is running; stop it first"
    fi
done
slurmctld -c -f "$conf"   # -c: start with a clean state; both daemons fork into the background
slurmd -f "$conf"

say "waiting for node $node to become idle"
for i in $(seq 120); do
    st=$(node_state)
    if [[ $st == idle* ]]; then
        say "up after ~$(( i / 2 )) s: node $node, ${cpus} CPUs, ${mem} MB, partition $partition ($(sinfo --version))"
        echo "$partition"
        exit 0
    fi
    if [[ $st == down* || $st == drain* ]] && (( i % 10 == 0 )); then
        scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true
    fi
    sleep 0.5
done
say "node did not become idle (state: '$(node_state)'); last log lines:"
tail -n 15 "$state/slurmctld.log" "$state/slurmd.log" >&2 || true
exit 1
