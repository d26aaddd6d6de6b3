"""The workflow on a real SLURM cluster: profiles/slurm against a single-node cluster that
tests/cluster/start_slurm.sh sets up on this machine (Debian's SLURM packages; needs root).

One run through the cluster (the main command, `results/jazz/generated`, on toy data, plus a
genre whose files are all corrupt) and, at the same time, a local run of the same data stages and
model: every cluster job went through sbatch, SLURM got the profile's and the rules' requests,
the deterministic outputs equal the local run's byte for byte, and the corrupt genre's job is
reported as failed with its log.

Skipped (with the reason) when not root or SLURM cannot be installed; set
GENREVAE_REQUIRE_SLURM=1 (CI does) to make that a failure instead. The cluster is left running if
it was already up before the test, and stopped afterwards otherwise.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO_ROOT
from workflow_helpers import TINY, write_config

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

CLUSTER_SCRIPTS = REPO_ROOT / "tests/cluster"
SLURM_PROFILE = REPO_ROOT / "profiles/slurm/config.yaml"
# Wall-time limits: the whole test takes ~2-4 min on 2 cores (more when they are shared).
RUN_TIMEOUT_S = 900
START_TIMEOUT_S = 900  # includes apt-get install on a fresh machine

# The toy workflow at tiny widths (workflow_helpers.TINY) on the default toy genres, one thread per job
# so that two jobs share the 2-CPU node, and the same seeds for both runs.
SMALL = {
    **{key: value for key, value in TINY.items() if key != "toy"},
    "genres": ["jazz"],
    "resources": {"train_threads": 1, "data_threads": 1},
}
GENRE = "jazz"
PER_GENRE_RULES = (
    "prepare", "split", "train", "prior", "evaluate",
    "figures", "quality", "judge", "export",
)  # fmt: skip
DATA_FILES = ("data/index.csv", "data/clips.npy", "data/tracks.csv", "data/split.csv")

SUBMITTED = re.compile(r"^Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+)\)\.$", re.M)
# A failed job's logs, printed by show-failed-logs (profiles/default); the SLURM job's log holds the
# job step's own Snakemake output, with its own `rule X:` blocks.
PRINTED_LOG = re.compile(r"^Logfile .*:\n(=+)\n.*?^\1$", re.M | re.S)


def _why_no_slurm() -> str | None:
    if not sys.platform.startswith("linux"):
        return "needs Linux (a local SLURM cluster is started with Debian's packages)"
    if os.geteuid() != 0:
        return "needs root: tests/cluster/start_slurm.sh installs SLURM with apt-get and starts its daemons"
    if not (shutil.which("apt-get") or shutil.which("slurmctld")):
        return "needs apt-get (Debian/Ubuntu) to install SLURM, or SLURM already installed"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "needs snakemake-executor-plugin-slurm: pip install -e '.[cluster]'"
    return None


@pytest.fixture(scope="module")
def slurm_partition():
    """Start the local cluster (unless it is up); yield its partition; stop it if we started it."""
    reason = _why_no_slurm()
    if reason:
        if os.environ.get("GENREVAE_REQUIRE_SLURM"):
            pytest.fail(f"GENREVAE_REQUIRE_SLURM is set but the SLURM test cannot run: {reason}")
        pytest.skip(reason)
    start = subprocess.run(
        ["bash", str(CLUSTER_SCRIPTS / "start_slurm.sh")], capture_output=True, text=True, timeout=START_TIMEOUT_S
    )
    if start.returncode != 0:
        pytest.fail(f"tests/cluster/start_slurm.sh failed:\n{start.stdout}\n{start.stderr}")
    started_here = "already running" not in start.stderr
    yield start.stdout.split()[-1]
    if started_here:
        subprocess.run(["bash", str(CLUSTER_SCRIPTS / "stop_slurm.sh")], capture_output=True, timeout=120)


def _site_profile(dest: Path, partition: str) -> Path:
    """profiles/slurm as a site would fill it in for this cluster; everything else unchanged."""
    shipped = yaml.safe_load(SLURM_PROFILE.read_text())
    assert shipped["executor"] == "slurm" and shipped["slurm-status-command"] == "squeue"
    assert shipped["set-resources"]["train"]["gpu"] == 1
    profile = copy.deepcopy(shipped)
    # The EDIT places: this cluster's partition; no accounting database, so no account.
    profile["default-resources"]["slurm_partition"] = partition
    del profile["default-resources"]["slurm_account"]
    # SMALL trains on one thread (the node has 2 fake GPUs and 2 CPUs).
    for rule in ("train", "prior", "evaluate"):
        profile["set-resources"][rule]["cpus_per_gpu"] = 1
    # An idle local cluster on a local disk: check job states early, no file-system latency.
    profile["slurm-init-seconds-before-status-checks"] = 2
    profile["latency-wait"] = 5
    assert set(profile) == set(shipped)
    dest.mkdir(parents=True)
    (dest / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return dest


def _gtzan_with_a_corrupt_genre(root: Path) -> Path:
    from genrevae.toy import write_toy_genre

    write_toy_genre(root, GENRE, 4, seed=0, duration=4.0)
    broken = root / "broken"
    broken.mkdir()
    for i in range(2):  # a WAV header and nothing decodable
        (broken / f"broken.{i:05d}.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(8))
    return root


def _start_snakemake(workdir: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    log = workdir / "snakemake.out"
    command = [
        sys.executable, "-m", "snakemake",
        "-s", str(REPO_ROOT / "Snakefile"),
        "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"),
        *args,
    ]  # fmt: skip
    with log.open("w") as out:
        # SIGINT must reach Snakemake even when this test runs where it is ignored (background jobs).
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
    return process, log


def _stop(process: subprocess.Popen, log: Path) -> None:
    """SIGINT (Snakemake then cancels its SLURM jobs, ~15 s); SIGKILL and scancel if it hangs."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        run_id = re.search(r"^SLURM run ID: (\S+)$", log.read_text(), re.M)
        if run_id:
            subprocess.run(["scancel", "--name", run_id.group(1)], capture_output=True, timeout=30)


def _finish(process: subprocess.Popen, log: Path, deadline: float) -> str:
    """Wait until `deadline`; past it stop the run and fail."""
    try:
        process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _stop(process, log)
        pytest.fail(f"snakemake did not finish in time (SIGINT sent):\n{log.read_text()[-6000:]}")
    return log.read_text()


def _scontrol_job(jobid: str) -> dict[str, str]:
    text = subprocess.run(
        ["scontrol", "--oneliner", "show", "job", jobid], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    return dict(field.split("=", 1) for field in text.split() if "=" in field)


def _rule_blocks(log: str) -> dict[str, dict[str, str]]:
    """Snakemake job id -> {'rule': ..., 'genre': ..., 'mem_mb': ..., 'runtime': ...} of the
    jobs the log announces (`rule X:` blocks; `localrule` ones run on the submit host)."""
    jobs = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", PRINTED_LOG.sub("", log)):
        head = re.match(r"(local)?rule (\w+):", block)
        jobid = re.search(r"^\s+jobid: (\d+)$", block, re.M)
        if not head or not jobid:
            continue
        genre = re.search(r"^\s+wildcards: .*?genre=([^,\s]+)", block, re.M)
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        res = dict(kv.split("=", 1) for kv in resources.group(1).split(", ")) if resources else {}
        # A retried job is announced again, with the same id and rule.
        assert jobs.get(jobid.group(1), {}).get("rule", head.group(2)) == head.group(2), block
        jobs[jobid.group(1)] = {
            "local": bool(head.group(1)),
            "rule": head.group(2),
            "genre": genre.group(1) if genre else "",
            **{k: res.get(k, "") for k in ("mem_mb", "runtime")},
        }
    return jobs


def test_workflow_on_slurm_matches_a_local_run(slurm_partition: str, tmp_path: Path) -> None:
    data = _gtzan_with_a_corrupt_genre(tmp_path / "genres_original")
    on_cluster, local = tmp_path / "cluster", tmp_path / "local"
    for workdir in (on_cluster, local):
        workdir.mkdir()
        write_config(workdir, **SMALL, data_dir=str(data))
    profile = _site_profile(tmp_path / "profile", slurm_partition)

    # Both runs at once: the cluster run mostly waits for sbatch jobs and status checks.
    began = time.monotonic()
    deadline = began + RUN_TIMEOUT_S
    targets = (f"results/{GENRE}/generated", "results/broken/data/split.csv")
    cluster_run, cluster_log = _start_snakemake(on_cluster, "--profile", str(profile), "--keep-going", *targets)
    local_run, local_log = _start_snakemake(local, "--cores", "2", f"results/{GENRE}/metrics.json")
    try:
        log = _finish(cluster_run, cluster_log, deadline)
        cluster_seconds = time.monotonic() - began
        local_text = _finish(local_run, local_log, deadline)
    finally:  # after a failure above: stop the other run too
        for process, process_log in ((cluster_run, cluster_log), (local_run, local_log)):
            if process.poll() is None:
                _stop(process, process_log)
    assert local_run.returncode == 0, local_text[-6000:]
    print(f"cluster run: {cluster_seconds:.0f} s; both runs: {time.monotonic() - began:.0f} s")

    # The corrupt genre fails (so the run does), the main target is built.
    assert cluster_run.returncode != 0, log[-6000:]
    results = on_cluster / "results" / GENRE
    assert (results / "metrics.json").is_file() and (results / "generation_quality.json").is_file()
    assert len(list((results / "figures").glob("*.png"))) == 5
    manifest = pd.read_csv(results / "generated/manifest.csv")
    assert all((results / "generated" / name).is_file() for name in manifest["file"])

    # Every job went through sbatch, and SLURM knows each as this run's.
    jobs = _rule_blocks(log)
    remote = {jobid: job for jobid, job in jobs.items() if not job["local"]}
    assert remote == jobs, jobs
    submitted = {m.group(1): m.group(2) for m in SUBMITTED.finditer(log)}
    assert set(submitted) == set(remote), (submitted, remote)
    expected = {(rule, GENRE) for rule in PER_GENRE_RULES} | {("prepare", "broken")}
    assert {(job["rule"], job["genre"]) for job in remote.values()} == expected
    run_id = re.search(r"^SLURM run ID: (\S+)$", log, re.M).group(1)
    queue = subprocess.run(
        ["squeue", "--noheader", "--states=all", "--name", run_id, "--format=%i|%T|%k"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    states = {line.split("|")[0]: line.split("|")[1] for line in queue.split()}
    assert set(states) == set(submitted.values()), (states, submitted)

    # SLURM got the rules' memory and time and the profile's GPU request.
    for jobid, job in remote.items():
        slurm = _scontrol_job(submitted[jobid])
        assert slurm["MinMemoryNode"] == f"{job['mem_mb']}M", (job, slurm)
        assert slurm["TimeLimit"] == f"{int(job['runtime']) // 60:02d}:{int(job['runtime']) % 60:02d}:00"
        assert slurm["Partition"] == slurm_partition
        wants_gpu = job["rule"] in ("train", "prior", "evaluate")
        assert (slurm.get("TresPerJob") == "gres:gpu:1") == wants_gpu, (job, slurm)

    # Exactly one job failed, the corrupt genre's: reported with its rule log, SLURM says FAILED.
    errors = re.findall(r"^Error in rule (\w+):\n(.*?)(?=\n\S|\Z)", log, re.M | re.S)
    failed = {rule: body for rule, body in errors if "SLURM-job" in body}
    assert len(failed) == 1, errors
    (rule, body), = failed.items()  # fmt: skip
    rule_log = f"results/logs/{rule}/broken.log"
    assert rule == "prepare" and rule_log in body, body
    assert "broken" in (on_cluster / rule_log).read_text()
    failed_ids = {submitted[j] for j, job in remote.items() if job["genre"] == "broken" and job["rule"] == rule}
    assert {i: s for i, s in states.items() if s != "COMPLETED"} == dict.fromkeys(failed_ids, "FAILED")

    # Same seeds and threads: the data stages are byte-identical, the models' numbers equal.
    for name in DATA_FILES:
        cluster_file, local_file = on_cluster / "results" / GENRE / name, local / "results" / GENRE / name
        assert cluster_file.read_bytes() == local_file.read_bytes(), name
    metrics = [json.loads((d / f"results/{GENRE}/metrics.json").read_text()) for d in (on_cluster, local)]
    assert metrics[0] == metrics[1]
    history = [pd.read_csv(d / f"results/{GENRE}/model/history.csv") for d in (on_cluster, local)]
    pd.testing.assert_frame_equal(*(h.drop(columns="seconds") for h in history), check_exact=True)

    assert cluster_seconds < RUN_TIMEOUT_S / 2, f"the cluster run took {cluster_seconds:.0f} s"
