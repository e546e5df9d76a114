"""What a trial costs beyond its own work: the same K short trials (default 8 × 30 steps of the embedded tiny Phi-3,
full fine-tuning, 2 at a time) run (a) through `cocktail sweep run` with each executor (``tune``: the loop in the
Tune trial's own process; ``ray_train``: a Ray Train V2 worker group of one) and (b) as a bare loop over the same
packed data in two plain processes (plan, pack, load, the steps, one validation pass, save, the objective's
scoring: each trial's own work with nothing around it), all in one run.

Prints per executor: the sweep's wall (the Tune experiment, and the whole command with Ray's start), the ratio
sweep wall ÷ bare wall, per-trial start-up (a trial's time in Tune minus the same config's bare time, apart for
the first trial of each process and the rest), where a trial's seconds go (trial.json timings), and the CPU
overhead per trial (the machine's busy CPU seconds over the sweep, minus the bare trials' CPU, ÷ K).
Targets (tune): ratio ≤ 1.5, start-up ≤ 3 s per trial after the first.

    python benchmarks/bench_overhead.py [--trials 8] [--steps 30] [--concurrent 2] [--executors tune,ray_train]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import yaml

POOL = ["fpb", "twitter_sentiment", "finqa", "orca_math"]
MIXTURES = [{"fpb": 1.0}, {"twitter_sentiment": 1.0}, {"finqa": 1.0}, {"orca_math": 1.0},
            {"fpb": 0.5, "twitter_sentiment": 0.5}, {"fpb": 0.5, "finqa": 0.5}, {"twitter_sentiment": 0.5,
            "orca_math": 0.5}, {"finqa": 0.5, "orca_math": 0.5}, {"fpb": 0.5, "orca_math": 0.5},
            {"twitter_sentiment": 0.5, "finqa": 0.5}]
OBJECTIVE = {"metrics": ["mean_financial"], "modes": ["max"], "limit": 16, "eval_mode": "score"}


def sweep_config(name: str, data: Path, model: Path, trials: int, steps: int, concurrent: int, out: Path,
                 executor: str) -> dict:
    return {"name": name, "pool": POOL,
            "base": {"model": {"name": str(model)}, "method": "full", "mixture": {"budget": 400},
                     "data": {"dir": str(data), "seq_len": 256, "val_examples": 16},
                     "optim": {"lr": 3e-3, "warmup_steps": 5}, "micro_batch_size": 8, "num_workers": 1,
                     "epochs": 1000, "max_steps": steps, "eval_every": 1000, "keep_checkpoints": 1,
                     "train": {"executor": executor}},
            "search": {"grid": {"mixtures": MIXTURES[:trials]}}, "objective": OBJECTIVE, "seeds": [1],
            "resources": {"max_concurrent_trials": concurrent, "storage_path": str(out)}}


def bare_trial(cfg_json: dict, work: str) -> dict:
    """One trial's own work in this process: plan, pack, load, steps, validation, save, score. Wall and CPU."""
    import torch

    from evaluation.backends import LocalBackend
    from evaluation.harness import evaluate
    from evaluation.inference import load_for_eval
    from ftlib.data.pipeline import cached_tokenizer, pack_plan
    from ftlib.data.plan import make_plan
    from ftlib.models.load import load_model
    from ftlib.run.config import RunConfig
    from ftlib.run.resolve import resolve
    from ftlib.train.loop import make_scheduler
    from ftlib.train.model_inputs import model_inputs
    from ftlib.train.validation import validation_losses, validation_rows

    torch.set_num_threads(1)
    wall, cpu = time.perf_counter(), time.process_time()
    cfg = RunConfig.model_validate(cfg_json)
    res = resolve(cfg, cuda=False)
    tokenizer = cached_tokenizer(cfg.model.name)
    packed = pack_plan(make_plan(cfg.mixture, cfg.data.dir), cfg.data.dir, cfg.model.name, cfg.data.seq_len)
    validation = validation_rows(cfg.data.dir, cfg.validation_tasks(), tokenizer, cfg.data.seq_len, "plain",
                                 cfg.data.val_examples)
    torch.manual_seed(cfg.seed)
    model = load_model(cfg.model, res.weights_dtype, res.attn_implementation).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr)
    scheduler = make_scheduler(optimizer, cfg, cfg.max_steps)
    rows = {k: torch.as_tensor(v, dtype=torch.long) for k, v in packed.items()}
    n = rows["input_ids"].shape[0] // cfg.micro_batch_size
    for step in range(cfg.max_steps):
        i = step % n
        batch = {k: v[i * cfg.micro_batch_size:(i + 1) * cfg.micro_batch_size] for k, v in rows.items()}
        model(**model_inputs(batch, res.attn_implementation)).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    model.eval()
    validation_losses(model, validation, cfg.micro_batch_size, torch.device("cpu"), res.attn_implementation)
    out = Path(work, cfg.run_id())
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    evaluate(LocalBackend(load_for_eval(str(out), device="cpu")), ["fpb", "twitter_sentiment"],
             data_dir=cfg.data.dir, limit=OBJECTIVE["limit"], mode="score")
    return {"mixture": mixture_key(cfg_json), "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def mixture_key(cfg_json: dict) -> str:
    """A run config's mixture sources: what tells the K trials apart (names and hashes differ by executor)."""
    return json.dumps(cfg_json["mixture"]["sources"], sort_keys=True)


def _warm(_: int) -> int:
    """Imports what a bare trial uses, so the bare pool's timing holds no import (a warm process)."""
    import evaluation.harness  # noqa: F401
    import ftlib.train.loop  # noqa: F401

    return os.getpid()


def run_bare(configs: list[dict], concurrent: int, work: str) -> dict:
    with mp.get_context("spawn").Pool(concurrent) as pool:
        pool.map(_warm, range(concurrent))
        start = time.perf_counter()
        results = pool.starmap(bare_trial, [(c, work) for c in configs], chunksize=1)
        wall = time.perf_counter() - start
    return {"wall_s": wall, "trials": {r["mixture"]: r for r in results},
            "cpu_s": sum(r["cpu_s"] for r in results)}


def busy_cpu() -> float:
    t = psutil.cpu_times()
    return t.user + t.system + t.nice + getattr(t, "irq", 0) + getattr(t, "softirq", 0)


def run_sweep(path: Path, env: dict) -> tuple[float, float, str]:
    cpu, start = busy_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sweeps.cli.main", "sweep", "run", str(path)], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{path}: sweep failed\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - start, busy_cpu() - cpu, done.stdout


def trial_costs(exp: Path, bare: dict) -> list[dict]:
    """Per trial: its time in Tune, the bare time of its config, its training steps' time, its timings."""
    from ray.tune import ExperimentAnalysis

    seconds = {t.trial_id: t.last_result.get("time_total_s", 0.0) for t in ExperimentAnalysis(str(exp / "tune")).trials}
    out = []
    for row in pq.read_table(exp / "trials.parquet").to_pylist():
        run = exp / "trials" / row["trial_id"]
        trial = json.loads((run / "trial.json").read_text())
        key = mixture_key(json.loads((run / "run_config.json").read_text()))
        history = trial["history"]
        steps_s = sum((h["tokens"] - (history[i - 1]["tokens"] if i else 0)) / h["tokens_per_s"]
                      for i, h in enumerate(history))
        out.append({"tune_s": seconds[row["tune_trial_id"]], "bare_s": bare["trials"][key]["wall_s"],
                    "steps_s": steps_s, "first": trial.get("process", {}).get("runs_before", 0) == 0,
                    "timings": trial.get("timings", {}), "wall_s": trial["wall_s"]})
    return out


def summarise(name: str, wall: float, cpu: float, stdout: str, costs: list[dict], bare: dict, k: int) -> None:
    fit = float(stdout.split(" errored (")[1].split(" s)")[0]) if " errored (" in stdout else wall
    startup = [c["tune_s"] - c["bare_s"] for c in costs]
    later = [s for s, c in zip(startup, costs) if not c["first"]]
    first = [s for s, c in zip(startup, costs) if c["first"]]
    print(f"\n== {name} ==")
    print(f"sweep wall: {fit:.1f} s in Tune ({wall:.1f} s for the whole command, Ray's start and the CLI's "
          f"imports included); bare wall {bare['wall_s']:.1f} s")
    print(f"ratio sweep wall ÷ bare wall: {fit / bare['wall_s']:.2f} (whole command: {wall / bare['wall_s']:.2f})")
    print(f"per-trial start-up (time in Tune − the same config's bare time): median "
          f"{statistics.median(later):.2f} s after each process's first trial (n={len(later)})" if later else
          "per-trial start-up: every trial was its process's first")
    if first:
        print(f"  first trial of a process: median {statistics.median(first):.2f} s (n={len(first)})")
    print(f"per-trial CPU overhead: {(cpu - bare['cpu_s']) / k:.2f} s (busy CPU {cpu:.1f} s over the command, "
          f"bare trials {bare['cpu_s']:.1f} s)")
    keys = sorted({key for c in costs for key in c["timings"]})
    means = {key: statistics.mean(c["timings"].get(key, 0.0) for c in costs) for key in keys}
    steps = statistics.mean(c["steps_s"] for c in costs)
    tune = statistics.mean(c["tune_s"] for c in costs)
    run = statistics.mean(c["wall_s"] for c in costs)
    print(f"where a trial's {tune:.2f} s in Tune go (means): run_trial {run:.2f} s ["
          + ", ".join(f"{k} {v:.2f}" for k, v in means.items())
          + f"; training steps {steps:.2f}], scoring and Tune {tune - run:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--concurrent", type=int, default=2)
    ap.add_argument("--executors", default="tune,ray_train")
    args = ap.parse_args()
    if not 1 <= args.trials <= len(MIXTURES):
        raise SystemExit(f"--trials: 1 to {len(MIXTURES)}")
    from ftlib.models.tiny import build_tiny
    from ftlib.run.config import RunConfig
    from ftlib.tasks.catalog import resolve_tasks
    from ftlib.tasks.prepare import prepare
    from sweeps.config import SweepConfig
    from sweeps.space import build_run_config, grid_points

    root = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    data, model = root / "data", build_tiny("phi3", root / "models" / "tiny-phi3")
    prepare(resolve_tasks(",".join(POOL)), "offline", data, seed=42)
    env = {**os.environ, "RAY_ADDRESS": "", "RAY_AUTH_MODE": "disabled", "HF_HUB_OFFLINE": "1"}
    base = sweep_config("bench", data, model, args.trials, args.steps, args.concurrent, root / "sweeps", "tune")
    sweep = SweepConfig.model_validate(base)
    configs = [build_run_config(sweep, p, str(root / "runs")).model_dump(mode="json") for p in grid_points(sweep)]
    assert all(RunConfig.model_validate(c) for c in configs)
    print(f"{args.trials} trials × {args.steps} steps (tiny Phi-3, full), {args.concurrent} at a time; "
          f"{os.cpu_count()} CPUs; work in {root}")
    bare = run_bare(configs, args.concurrent, str(root / "bare"))
    print(f"bare loop: {bare['wall_s']:.1f} s wall, {bare['cpu_s']:.1f} s CPU, per trial median "
          f"{statistics.median(t['wall_s'] for t in bare['trials'].values()):.2f} s")
    for executor in args.executors.split(","):
        path = root / f"{executor}.yaml"
        path.write_text(yaml.safe_dump(sweep_config(f"bench-{executor}", data, model, args.trials, args.steps,
                                                    args.concurrent, root / "sweeps", executor)))
        wall, cpu, stdout = run_sweep(path, env)
        exp = root / "sweeps" / f"bench-{executor}"
        summarise(f"executor {executor}", wall, cpu, stdout, trial_costs(exp, bare), bare, args.trials)


if __name__ == "__main__":
    main()
