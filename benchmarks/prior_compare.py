#!/usr/bin/env python
"""The learned prior's networks, GRU and causal transformer (and the flow-matching candidate), fitted and judged side by side.

    python benchmarks/prior_compare.py --model model.keras --shard clips.npy --split split.csv --out /tmp/pc
    python benchmarks/prior_compare.py ... --set prior.steps=300 --set prior.context_frames=32   # both networks
    python benchmarks/prior_compare.py ... --networks transformer --set prior.layers=2
    python benchmarks/prior_compare.py ... --networks gru,flow --flow-set steps=2000 --flow-set hidden=64

Given one trained genre (its `model.keras`, shard and split), each network in `--networks` (default
`gru,transformer`) gets the learned prior fitted by the package's own stage
(`genrevae.prior.fit_prior_files`: the same VAR, posterior draws, steps, batches and segments; the
schema's `prior` defaults with the `--set prior.<key>=<value>` overrides laid over them, then
`prior.network`). For each network:

- fit s: `prior.json`'s `fit_seconds` (VAR fit, training loop and held-out report); the
  training loop's own seconds beside it (the history's last `seconds`);
- held-out NLL per latent frame (nats) on the test clips' posterior means, from `prior.json`'s
  report: N(0, I), the VAR baseline and the learned prior (the first two are the same for both
  networks: the same VAR);
- sample s: `genrevae.generation.generate_latents` of `--n-clips` clips of `--seconds` s (clip i
  from seed + i, as the export does), once cold (the first call compiles the sampler) and once warm;
- `flow` (`--networks ...,flow`, not a default): the latent flow-matching candidate
  (`genrevae.prior.flow`, issue 20 item 2), fitted by `fit_flow_prior` with its own settings
  (`genrevae.prior.flow.FLOW_DEFAULTS` with the `--flow-set key=value` overrides) on the same train
  clips the other networks fit (the split's train clips less the `prior.validation_clips` held out
  for their early stopping; the flow has no early stopping). A flow has no cheap log-density, so
  its learned NLL is "n/a"; N(0, I) and the VAR (fitted exactly as the stage fits it) are shown;
  its fit s is the VAR fit and the training loop;
- quality of those clips decoded by the VAE: `genrevae.quality.generation_quality` against the
  genre's test clips (Frechet-MFCC `ratio`, `segment_ratio`, `note_ratio`: 1 = as close as the real
  train clips), with the posterior-mean reconstructions of the test clips as a control (measured
  once, the same for both networks), as `quality_per_compute.py`'s `op_measure` does.

Prints the markdown table; writes prior_compare.{md,json} and each network's prior.keras and
prior.json (`<out>/<network>/`) into --out. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import json_default, machine, machine_lines, results_page  # noqa: E402 - the suite's shared helpers

NETWORKS = ("gru", "transformer", "flow")
#: What `--networks` compares when not given: the workflow's two networks (the flow is a candidate).
DEFAULT_NETWORKS = ("gru", "transformer")
COLUMNS = ("network", "parameters", "fit s (train loop s)", "test NLL/frame N(0, I)", "test NLL/frame VAR",
           "test NLL/frame learned", "sample s cold / warm", "Frechet ratio", "segment ratio", "note ratio")  # fmt: skip

log = logging.getLogger("benchmarks.prior_compare")


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`prior.key=value` (YAML-typed value) or a JSON object of the `prior` section -> the section's overrides."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        text = item.strip()
        if text.startswith("{"):
            given = json.loads(text)
            out.update(given.get("prior", given))
            continue
        key, sep, value = text.partition("=")
        if not sep or not key.startswith("prior.") or not key[len("prior.") :]:
            raise SystemExit(f"--set takes prior.<key>=<value> or a JSON object, got {item!r}")
        out[key[len("prior.") :]] = yaml.safe_load(value)
    return out


def parse_flow_overrides(items: list[str]) -> dict[str, Any]:
    """`key=value` (YAML-typed value) of the flow prior's settings (`genrevae.prior.flow.FLOW_DEFAULTS`)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.strip().partition("=")
        if not sep or not key:
            raise SystemExit(f"--flow-set takes <key>=<value>, got {item!r}")
        out[key.removeprefix("flow.")] = yaml.safe_load(value)
    return out


def fit_flow_files(vae, clips: np.ndarray, subsets, out_dir: Path, prior_settings: dict[str, Any], flow_overrides: dict[str, Any],
                   seed: int, log: logging.Logger) -> dict[str, Any]:  # fmt: skip
    """The flow candidate's fit on the data `fit_prior_files` fits (same posteriors, held-out clips and
    VAR); writes `prior.keras` and `prior.json` into `out_dir`; returns what `fit_prior_files` does,
    with the learned prior's test NLL left out (a flow has no cheap log-density)."""
    from genrevae.artifacts.reports import write_report
    from genrevae.generation import posteriors
    from genrevae.prior import as_sequence, posterior_draws, standard_normal_log_prob
    from genrevae.prior.fit import validation_clips
    from genrevae.prior.flow import fit_flow_prior, flow_settings
    from genrevae.prior.var import fit_var

    settings = flow_settings(flow_overrides)
    train_mean, train_logvar = (as_sequence(a) for a in posteriors(vae, clips[subsets.train]))
    test_mean = as_sequence(posteriors(vae, clips[subsets.test])[0])
    started = time.perf_counter()
    var_order = min(int(prior_settings["var_order"]), train_mean.shape[1] - 1)
    held = validation_clips(len(train_mean), int(prior_settings["validation_clips"]), seed)
    fit = np.setdiff1d(np.arange(len(train_mean)), held)
    var_model = fit_var(posterior_draws(train_mean[fit], train_logvar[fit], seed), var_order)
    prior, history = fit_flow_prior(train_mean[fit], train_logvar[fit], settings, seed, log)
    frames = test_mean.shape[1]
    test = {"standard_normal": {"nll_per_frame": -float(np.mean(standard_normal_log_prob(test_mean))) / frames},
            "var": {"nll_per_frame": -float(np.mean(var_model.log_prob(test_mean))) / frames}}  # fmt: skip
    result = {"report": {"test": test}, "history": history, "fit_seconds": time.perf_counter() - started,
              "var_order": var_order, "parameters": int(prior.count_params()), "settings": settings}  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    write_report(result, out_dir / "prior.json")
    prior.save(out_dir / "prior.keras")
    return result


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}f}" if abs(value) < 1000 else f"{value:.0f}"


def markdown_table(rows: list[dict[str, Any]], control: dict[str, Any]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(["---"] * len(COLUMNS)) + "|"]
    for r in rows:
        nll = r["test_nll_per_frame"]
        cells = [r["network"], str(r["parameters"]), f"{r['fit_s']:.1f} ({r['train_loop_s']:.1f})",
                 _fmt(nll.get("standard_normal")), _fmt(nll.get("var")),
                 "n/a" if r["network"] == "flow" else _fmt(nll.get("learned")),
                 f"{r['sample_cold_s']:.3g} / {r['sample_warm_s']:.3g}",
                 _fmt(r["quality"]["ratio"]), _fmt(r["quality"]["segment_ratio"]), _fmt(r["quality"]["note_ratio"])]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("| reconstructions (control) | | | | | | | " + " | ".join(
        _fmt(control.get(k)) for k in ("ratio", "segment_ratio", "note_ratio")) + " |")  # fmt: skip
    return "\n".join(lines)


def results_markdown(command: str, mach: dict[str, Any] | None, table: str, notes: list[str], wall_s: float) -> str:
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = [*machine_lines(mach, ("librosa", "numpy")), ""] if mach is not None else []
    generated = f"Generated by `{command}` on {date} in {wall_s / 60:.1f} min."
    return results_page("Learned prior: GRU vs causal transformer (vs flow matching)", generated, "prior_compare.py", header, table, notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="the genre's trained model.keras")
    parser.add_argument("--shard", type=Path, required=True, help="the genre's clips.npy")
    parser.add_argument("--split", type=Path, required=True, help="the genre's split.csv")
    parser.add_argument("--out", type=Path, default=Path("/tmp/prior_compare"), help="folder for the md, json and priors")
    parser.add_argument("--networks", default=",".join(DEFAULT_NETWORKS), help="comma-separated, of: " + ", ".join(NETWORKS))
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="prior.KEY=VALUE",
                        help="a prior setting for every network (repeatable), or a JSON object of them")  # fmt: skip
    parser.add_argument("--flow-set", dest="flow_overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting of the flow candidate (repeatable; genrevae.prior.flow.FLOW_DEFAULTS)")  # fmt: skip
    parser.add_argument("--n-clips", type=int, default=8, help="generated clips per network")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each generated clip")
    parser.add_argument("--sample-rate", type=int, default=None, help="the model's rate (default: the schema's sample_rate)")
    parser.add_argument("--seed", type=int, default=0, help="the prior fits' seed and the first clip's")
    parser.add_argument("--batch-size", type=int, default=4, help="clips encoded/decoded at a time")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-machine", action="store_true", help="leave the machine description out (smoke test)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)

    networks = [n.strip() for n in args.networks.split(",") if n.strip()]
    if not networks or any(n not in NETWORKS for n in networks):
        raise SystemExit(f"--networks must list some of {NETWORKS}, got {args.networks!r}")
    overrides = parse_overrides(args.overrides)
    overrides.pop("network", None)
    flow_overrides = parse_flow_overrides(args.flow_overrides)

    from genrevae import backend

    backend.configure_threads(args.threads)
    from genrevae.artifacts.shard import read_shard
    from genrevae.artifacts.split import read_split
    from genrevae.config import section
    from genrevae.generation import decode_latents, generate_latents, posterior_means
    from genrevae.model import load_model
    from genrevae.prior import fit_prior_files, load_prior
    from genrevae.prior.flow import flow_settings

    flow_overrides = flow_settings(flow_overrides)  # a bad key or value stops here, before any fit
    from genrevae.quality import generation_quality

    started = time.perf_counter()
    sample_rate = int(args.sample_rate or section("sample_rate"))
    n_samples = int(round(args.seconds * sample_rate))
    clips = read_shard(args.shard)
    subsets = read_split(args.split, clips.shape[0])
    train, test = np.asarray(clips[subsets.train], np.float32), np.asarray(clips[subsets.test], np.float32)
    vae = load_model(args.model)
    recon = decode_latents(vae, posterior_means(vae, test, args.batch_size), args.batch_size, length=test.shape[1])
    args.out.mkdir(parents=True, exist_ok=True)

    rows: list[dict[str, Any]] = []
    control: dict[str, Any] = {}
    for network in networks:
        # the flow reads the section's var_order, validation_clips and temperature only
        prior_settings = section("prior", {**copy.deepcopy(overrides), "network": "gru" if network == "flow" else network})
        log.info("%s: fitting with %s", network, json.dumps(prior_settings))
        if network == "flow":
            log.info("flow: fitting with %s", json.dumps(flow_overrides))
            fit = fit_flow_files(vae, clips, subsets, args.out / network, prior_settings, flow_overrides, args.seed, log)
        else:
            fit = fit_prior_files(args.model, args.shard, args.split, args.out / network, {"seed": args.seed, "prior": prior_settings}, log)
        prior = load_prior(args.out / network / "prior.keras")
        temperature = float(prior_settings["temperature"])
        times = []
        for _ in range(2):  # cold (compiles the sampler for this shape), then warm
            t0 = time.perf_counter()
            z = generate_latents(vae, prior, args.n_clips, args.seed, "learned", temperature, n_samples)
            times.append(time.perf_counter() - t0)
        generated = decode_latents(vae, z, args.batch_size, length=n_samples)
        q = generation_quality(generated, train, test, sample_rate, None, {"reconstructions": recon})
        control = q["controls"]["reconstructions"]
        rows.append({
            "network": network,
            "settings": {**fit["settings"], "network": "flow"} if network == "flow" else prior_settings,
            "parameters": fit["parameters"],
            "fit_s": fit["fit_seconds"],
            "train_loop_s": fit["history"][-1]["seconds"],
            "steps": fit["history"][-1]["step"],
            "test_nll_per_frame": {k: v["nll_per_frame"] for k, v in fit["report"]["test"].items()
                                   if isinstance(v, dict) and "nll_per_frame" in v},  # fmt: skip
            "latent_frames": int(z.shape[1]) if z.ndim == 3 else 1,
            "sample_cold_s": times[0],
            "sample_warm_s": times[1],
            "quality": {k: q.get(k) for k in ("ratio", "segment_ratio", "note_ratio", "frechet_generated_test",
                                              "frechet_train_test", "rms", "n_clips")},  # fmt: skip
        })
        log.info("%s: %s", network, json.dumps(rows[-1], default=json_default))

    wall = time.perf_counter() - started
    prior_settings = section("prior", {**copy.deepcopy(overrides), "network": "gru"})
    table = markdown_table(rows, control)
    frames = rows[0]["latent_frames"] if rows else 0
    notes = [
        f"Data: `{args.shard}` ({len(train)} train / {len(test)} test clips of {test.shape[1] / sample_rate:g} s at "
        f"{sample_rate} Hz), model `{args.model}`; prior settings (gru, transformer): "
        f"`{json.dumps({k: v for k, v in prior_settings.items() if k != 'network'})}`, seed {args.seed}, "
        f"{args.threads} thread(s).",
        *([f"flow: the flow-matching candidate (`genrevae.prior.flow`), settings `{json.dumps(flow_overrides)}`; its "
           "learned NLL is n/a (no cheap log-density); fit s is the VAR fit and its training loop (no early stopping, "
           "no held-out report); it samples at the same `prior.temperature`."] if "flow" in networks else []),
        "fit s: `prior.json`'s `fit_seconds` (VAR fit, training loop, held-out report); in brackets the training loop alone.",
        "test NLL/frame: nats per latent frame on the test clips' posterior means (`prior.json`'s report; lower is better; "
        "N(0, I) and VAR are the same baselines for both networks).",
        f"sample s: `generate_latents` of {args.n_clips} clips of {args.seconds:g} s ({frames} latent frames each, one "
        "`prior.sample` per clip); cold includes compiling the sampler, warm is a second identical call.",
        "Frechet / segment / note ratio: `genrevae.quality.generation_quality` of the decoded clips against the test clips "
        "(1 = as close as the real train clips; lower is better); the last row is the posterior-mean reconstructions "
        "of the test clips, the control a prior cannot beat by much.",
    ]
    command = "python benchmarks/prior_compare.py " + " ".join(argv if argv is not None else sys.argv[1:])
    mach = None
    if not args.no_machine:
        mach = machine()
    markdown = results_markdown(command, mach, table, notes, wall)
    (args.out / "prior_compare.md").write_text(markdown)
    payload = {"command": command, "rows": rows, "control_reconstructions": control, "wall_s": wall,
               "machine": mach, "notes": notes}  # fmt: skip
    (args.out / "prior_compare.json").write_text(json.dumps(payload, indent=2, default=json_default))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
