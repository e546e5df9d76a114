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


def train(args: argparse.Namespace) -> int:
    from ftlib import storage
    from ftlib.raysession import ensure_ray
    from ftlib.train.trial import check, run_trial

    cfg = load_run_config(args.config, args.overrides)
    checked = check(cfg)
    done = storage.read_bytes(checked.trial_file)
    if done is not None and not args.force:
        print(f"already done: {checked.trial_file} (use --force to run again)")
        print(done.decode())
        return 0
    ensure_ray(args.address)
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
