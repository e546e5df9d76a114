"""``cocktail train RUN.yaml``: one trial outside any sweep."""
from __future__ import annotations

import argparse
import json


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
    p.set_defaults(handler=train)


def load_run_config(path: str, overrides: list[str]):
    from ftlib.config import load_yaml, validate
    from ftlib.errors import ConfigError
    from ftlib.paths import anchor_run
    from ftlib.train.config import RunConfig, apply_overrides

    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of run settings")
    return validate(RunConfig, anchor_run(apply_overrides(data, overrides)), path)


def dry_run(cfg, clusters: list[str]) -> int:
    """Config, batch arithmetic and model checked, memory estimated: nothing prepared, downloaded or started."""
    from ftlib.cli.sweep import print_memory
    from ftlib.errors import ConfigError
    from ftlib.paths import model_exists
    from ftlib.planner.fit import cpu_estimate, planning_config
    from ftlib.train.resolve import resolve
    from sweeps.capacity import check_trial_memory, every_gpu_type, read_cluster_yaml, yaml_node_types

    res = resolve(cfg, cuda=cfg.use_gpu)
    problem = model_exists(cfg.model.name)
    if problem:
        raise ConfigError(problem)
    print(f"dry run: {cfg.run_id()}, {cfg.method} on {cfg.num_workers} {res.device} worker(s), {res.precision}, "
          f"global batch {res.global_batch_size} (micro {cfg.micro_batch_size} × accum {res.grad_accum} × "
          f"{cfg.num_workers} workers), seq_len {cfg.data.seq_len}")
    if not cfg.use_gpu:
        model_config, source = planning_config(cfg.model, dry=True)
        est = cpu_estimate(cfg, model_config, res.precision, bool(res.activation_checkpointing))
        parts = ", ".join(f"{k} {v:.2f}" for k, v in est.parts_gib.items())
        print(f"memory per CPU worker ({source}): {est.total_gib:.2f} GiB [{parts}]")
        return 0
    groups = [g for path in clusters for g in read_cluster_yaml(path)] or yaml_node_types()
    memory = check_trial_memory(cfg, [cfg.model.name], groups, multi_node=True, where="train: ",
                                places=None if groups else every_gpu_type(cfg), dry=True)
    print_memory(memory, clusters)
    return 0


def train(args: argparse.Namespace) -> int:
    from ftlib import storage
    from ftlib.raysession import ensure_ray
    from ftlib.train.trial import check, run_trial, stale_tasks
    from sweeps.capacity import alive_nodes, check_trial_memory, yaml_node_types

    cfg = load_run_config(args.config, args.overrides)
    if args.dry_run:
        return dry_run(cfg, args.cluster)
    # A GPU trial that fits none of the GPUs the autoscaler's YAML names is refused before Ray starts.
    check_trial_memory(cfg, [cfg.model.name], yaml_node_types(), multi_node=True, where="train: ")
    checked = check(cfg)
    done = storage.read_bytes(checked.trial_file)
    stale = stale_tasks(json.loads(done), cfg) if done is not None else []
    if stale:
        print(f"the prepared data of {', '.join(stale)} changed since {checked.trial_file} was written: training again")
        args.force = True
    if done is not None and not args.force:
        print(f"already done: {checked.trial_file} (use --force to run again)")
        print(done.decode())
        return 0
    ensure_ray(args.address)
    check_trial_memory(cfg, [cfg.model.name], alive_nodes(), multi_node=True, where="train: ")
    trial = run_trial(cfg, checked=checked, fresh=args.force)
    metrics = trial["final_metrics"]
    print(json.dumps({k: metrics[k] for k in sorted(metrics) if k.startswith(("val_loss", "train_loss", "step"))},
                     indent=2))
    print(f"\nsteps {trial['steps']}, tokens {trial['tokens']}, {trial['wall_s']} s on {trial['num_workers']} "
          f"{trial['device']} worker(s)\nmodel: {trial['model_dir']}\ntrial: {checked.trial_file}")
    if trial["examples_cut"]:
        print(f"{trial['examples_cut']} of {trial['examples']} examples exceed data.seq_len {cfg.data.seq_len}: "
              f"the start of their prompt was cut")
    return 0
