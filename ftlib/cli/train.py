"""``cocktail train RUN.yaml``: one trial outside any sweep."""
from __future__ import annotations

import argparse
import json

from ftlib.cli.plans import print_memory
from ftlib.core.encode import json_bytes
from ftlib.run.executor import executor_of


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="run one fine-tuning trial (Ray Train) from a run YAML")
    p.add_argument("config", help="run YAML, e.g. sweeps/runs/tiny_lora.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (dotted path; value read as YAML), repeatable")
    p.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray)")
    p.add_argument("--force", action="store_true", help="run again even if this config's results exist")
    p.add_argument("--dry-run", action="store_true", help="check the config and estimate memory; start nothing")
    p.add_argument("--cluster", action="append", default=[], metavar="YAML",
                   help="check memory per GPU on this cluster YAML's node types (default: the autoscaler's YAML "
                        "on this machine, if any), repeatable")
    p.set_defaults(handler=_train)


def _train(args: argparse.Namespace) -> int:
    from ftlib.train import standalone  # deferred: ray.train, torch, transformers, peft, deepspeed, 4.4 s

    if args.dry_run:
        _print_plan(standalone.plan_trial(args.config, args.overrides, args.cluster))
        return 0
    out = standalone.train(args.config, args.overrides, args.address, args.force, notify=print)
    if out.reused:
        print(f"already done: {out.trial_file} (use --force to run again)")
        print(json_bytes(out.trial).decode())
        return 0
    trial, metrics = out.trial, out.trial["final_metrics"]
    print(json.dumps({k: metrics[k] for k in sorted(metrics) if k.startswith(("val_loss", "train_loss", "step"))},
                     indent=2))
    print(f"\nsteps {trial['steps']}, tokens {trial['tokens']}, {trial['wall_s']} s on {trial['num_workers']} "
          f"{trial['device']} worker(s), executor {trial.get('executor', 'ray_train')}\nmodel: {trial['model_dir']}\ntrial: {out.trial_file}")
    if trial["examples_cut"]:
        print(f"{trial['examples_cut']} of the {trial['examples_trained']} examples trained exceed data.seq_len "
              f"{out.cfg.data.seq_len}: the start of their prompt was cut")
    return 0


def _print_plan(plan) -> None:
    """Config, batch arithmetic and model checked, memory estimated: nothing prepared, downloaded or started."""
    cfg, res = plan["cfg"], plan["resolved"]
    print(f"dry run: {cfg.run_id()}, {cfg.method} on {cfg.num_workers} {res.device} worker(s), {res.precision}, "
          f"global batch {res.global_batch_size} (micro {cfg.micro_batch_size} × accum {res.grad_accum} × "
          f"{cfg.num_workers} workers), seq_len {cfg.data.seq_len}")
    executor = executor_of(cfg)
    print(f"executor: {executor.name} ({executor.reason}): " + (
        "the loop runs in one Ray task, retried from its last checkpoint" if executor.name == "tune" else
        "a Ray Train V2 worker group"))
    if plan["cpu"] is not None:
        source, est = plan["cpu"]
        parts = ", ".join(f"{k} {v:.2f}" for k, v in est.parts_gib.items())
        print(f"memory per CPU worker ({source}): {est.total_gib:.2f} GiB [{parts}]")
        return
    print_memory(plan["memory"], plan["clusters"])
