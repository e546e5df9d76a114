"""A 200-trial sweep on Ray's fake multi-node provider (cluster/local-sim.yaml): worker nodes are local
processes advertising GPUs, started and stopped by the real autoscaler. The sweep runs through the real
driver (sweeps.driver.run_sweep: the resource checks against the autoscaler's node types, its up-front
resource request, Optuna, Tune); only the trainable is a stand-in that holds one GPU slot for a few seconds
in a Ray task, as a Train worker would. Prints: nodes scaled up while trials queued and down when idle;
GPU-slot utilisation (busy slot-seconds ÷ available slot-seconds, target >= 90 %); scheduler gap per trial
(target <= 2 s); Optuna suggest + tell time at trial 1, 100 and 200+ (must stay flat).

    python benchmarks/bench_scale.py [--trials 200] [--hold 4] [--concurrency 8] [--fresh-workers]

It runs `ray stop --force` before and after: it ends every Ray process on this machine.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
RAY = str(Path(sys.executable).parent / "ray")  # the CLI of this environment's Ray


def start_fake_cluster() -> None:
    os.environ["RAY_AUTH_MODE"] = "disabled"  # a local simulation: this driver and the cluster agree on no token
    env = {**os.environ, "RAY_FAKE_CLUSTER": "1", "AUTOSCALER_UPDATE_INTERVAL_S": "1"}
    subprocess.run([RAY, "stop", "--force"], check=True, capture_output=True)
    subprocess.run([RAY, "start", "--head", "--num-cpus=2", f"--autoscaling-config={ROOT / 'cluster/local-sim.yaml'}",
                    "--dashboard-host=127.0.0.1"], check=True, env=env, capture_output=True)


def stand_in_trainable(hold_s: float, log_dir: str, fresh_workers: bool):
    """Holds one GPU slot for ``hold_s`` in a task (where a Train worker would train), logs start / end.
    By default the task's worker process is reused (max_calls=0), so the gap measures scheduling (Tune, Optuna,
    the autoscaler, Ray's leases) rather than Python start-up on a 2-core machine that hosts every fake node;
    ``--fresh-workers`` starts a process per trial, as Ray does for GPU tasks and Train does per trial."""

    def factory(sweep, experiment_dir):
        def trainable(config):
            called = time.time()
            import ray
            import ray.tune

            # Scheduled outside the trial's own (memory-only) bundle, as Train's worker group is.
            @ray.remote(num_gpus=1, num_cpus=0, scheduling_strategy="DEFAULT", max_calls=1 if fresh_workers else 0)
            def hold(seconds: float) -> tuple[float, float, int]:
                start = time.time()
                time.sleep(seconds)
                return start, time.time(), os.getpid()

            start, end, pid = ray.get(hold.remote(hold_s))
            name = ray.tune.get_context().get_trial_id()
            Path(log_dir, f"{name}.json").write_text(json.dumps({"called": called, "start": start, "end": end,
                                                                 "pid": pid}))
            ray.tune.report({"mean_financial": float(sum(w["weight"] for w in config["point"]["sources"].values())),
                             "objective_done": True, "run_ids": [name], "config_hash": name})

        return trainable

    return factory


def timed_searcher(timings: list[tuple[str, float]]):
    from sweeps.tune.search import FinalObjectiveOptunaSearch

    class Timed(FinalObjectiveOptunaSearch):
        def suggest(self, trial_id):
            t = time.perf_counter()
            out = super().suggest(trial_id)
            timings.append(("suggest", time.perf_counter() - t))
            return out

        def on_trial_complete(self, trial_id, result=None, error=False):
            t = time.perf_counter()
            super().on_trial_complete(trial_id, result, error)
            timings.append(("tell", time.perf_counter() - t))

    return Timed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--hold", type=float, default=4.0)
    ap.add_argument("--concurrency", type=int, default=8, help="0: as many as the node types hold (the driver's)")
    ap.add_argument("--fresh-workers", action="store_true", help="a new worker process per trial")
    args = ap.parse_args()

    import ray

    import sweeps.driver as driver
    import sweeps.tune.experiment
    import sweeps.tune.search
    from ftlib.core.configs import load_yaml, validate
    from sweeps.config import SweepConfig

    work = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    timings: list[tuple[str, float]] = []
    sweeps.tune.experiment.make_trainable = stand_in_trainable(args.hold, str(work), args.fresh_workers)
    sweeps.tune.search.FinalObjectiveOptunaSearch = timed_searcher(timings)
    sweep = validate(SweepConfig, {
        "name": "scale", "pool": ["fpb", "twitter_sentiment", "finqa"],
        "base": {"mixture": {"budget": 100}, "data": {"dir": str(work / "data")}, "use_gpu": True},
        "search": {"optuna": {"num_samples": args.trials, "weights": ["fpb", "twitter_sentiment", "finqa"]}},
        "resources": {"max_concurrent_trials": args.concurrency or None, "storage_path": str(work / "sweeps")}},
        "bench")

    start_fake_cluster()
    os.environ["COCKTAIL_AUTOSCALING_CONFIG"] = str(ROOT / "cluster/local-sim.yaml")  # ray up's copy on a real head
    ray.init(address="auto")
    subprocess.run([RAY, "status"], check=True, capture_output=True)  # the autoscaler came up
    samples: list[tuple[float, int, float]] = []  # (time, worker nodes, GPUs)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            nodes = [n for n in ray.nodes() if n["Alive"]]
            samples.append((time.time(), len(nodes) - 1, sum(n["Resources"].get("GPU", 0) for n in nodes)))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out = driver.run_sweep(sweep)
        idle_from = time.time()
        while time.time() - idle_from < 120 and samples[-1][1] > 0:  # wait for the scale-down
            time.sleep(1)
    finally:
        stop.set()
        sampler.join()
        ray.shutdown()
        subprocess.run([RAY, "stop", "--force"], capture_output=True)

    spans = sorted((json.loads(p.read_text()) for p in work.glob("*.json")), key=lambda s: s["start"])
    first, last = spans[0]["start"], max(s["end"] for s in spans)
    busy = sum(s["end"] - s["start"] for s in spans)
    available = sum(g * 0.5 for t, _, g in samples if first <= t <= last)
    starts = [s["start"] for s in spans]
    # Scheduler gap: when a slot frees, how long until the next trial starts holding one.
    ends = sorted(s["end"] for s in spans)
    at_once = max(sum(s["start"] <= t < s["end"] for s in spans) for t in starts)
    gaps = [min((st for st in starts if st >= e), default=None) for e in ends[: len(ends) - at_once]]
    gaps = [g - e for g, e in zip(gaps, ends) if g is not None]
    lease = sorted(s["start"] - s["called"] for s in spans)  # trial function running -> its slot held
    peak_nodes = max(n for _, n, _ in samples)
    print(f"trials: {len(spans)} done ({sum(r['state'] == 'completed' for r in out['rows'])} completed), "
          f"wall {out['wall_s']} s, hold {args.hold} s each, up to {at_once} at a time")
    print(f"worker nodes: 0 at start -> peak {peak_nodes} while trials queued -> {samples[-1][1]} when idle")
    print(f"GPU-slot utilisation: {busy / available:.1%} (busy {busy:.0f} slot-s / available {available:.0f} slot-s;"
          f" target >= 90 %)")
    print(f"scheduler gap per trial: median {sorted(gaps)[len(gaps) // 2]:.2f} s, p90 "
          f"{sorted(gaps)[int(len(gaps) * 0.9)]:.2f} s (target <= 2 s); of which trial running -> slot held: "
          f"median {lease[len(lease) // 2]:.2f} s; {len({s['pid'] for s in spans})} worker processes held slots")
    suggest = [t for kind, t in timings if kind == "suggest"]
    tell = [t for kind, t in timings if kind == "tell"]
    for i in (0, 99, len(tell) - 1):
        if i < len(tell) and i < len(suggest):
            print(f"Optuna at trial {i + 1}: suggest {suggest[i] * 1e3:.1f} ms + tell {tell[i] * 1e3:.1f} ms")
    print(f"(cluster config: {load_yaml(ROOT / 'cluster/local-sim.yaml')['cluster_name']})")


if __name__ == "__main__":
    main()
