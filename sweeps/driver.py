"""``cocktail sweep run / resume / status``: check everything, prepare data once, run Tune (+ Optuna, ASHA).

Sweeps never wait forever on workers: when a trial ends for any reason its Train workers' placement group is
released by our own callback (sweeps/release.py; Ray's cleaner needs the state API, ray-project/ray#54305),
and a trial whose worker group cannot start fails after a bounded number of timed-out starts
(``controller_failure_limit`` × ``RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S``).
"""
from __future__ import annotations

import contextlib
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

from ftlib import storage
from ftlib.config import load_yaml, validate
from ftlib.errors import ConfigError
from ftlib.io import json_bytes
from sweeps.capacity import (BOOTSTRAP_CONFIG, CONFIG_ENV, NodeGroup, alive_nodes, autoscaler_node_types,
                             check_disk, check_trial_memory, every_gpu_type, gpu_places, on_kuberay,
                             read_cluster_yaml, requested, trial_bundles, trials_that_fit, yaml_node_types)
from sweeps.config import SweepConfig
from sweeps.objective import objective_keys
from sweeps.space import build_run_config, grid_points
from sweeps.trainable import TRIALS, make_trainable, run_ids

SWEEP_FILE = "sweep.json"
TUNE_DIR = "tune"
DRIVER_ENV = {
    "RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S": "120",  # a trial stuck waiting for workers fails, not hangs
    # Per-step training reports cannot carry the objective (it is scored after training), only the last does.
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",
    # Tune's classic reporter at verbose 0 prints nothing; the sweep prints its own progress lines.
    "RAY_AIR_NEW_OUTPUT": "0",
}


def load_sweep(path: str, name: str | None = None, overrides: list[str] | None = None) -> SweepConfig:
    from ftlib.train.config import apply_overrides

    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping")
    if name:
        data["name"] = name
    sweep = validate(SweepConfig, apply_overrides(data, overrides or []), path)
    check_base(sweep, path)
    return sweep


def check_base(sweep: SweepConfig, where: str) -> None:
    """``base`` as a run config, errors named by their YAML path (``smoke.yaml: base.optim.lrr: unknown key
    (did you mean lr?)``). The sweep sets the mixture's sources; a stand-in takes their place here."""
    from ftlib.train.config import RunConfig

    base = json.loads(json.dumps(sweep.base))
    mixture = base.get("mixture") if isinstance(base.get("mixture"), dict) else {}
    stand_in = {"weight": 1.0} if mixture.get("budget") is not None else {"rows": "all"}
    base["mixture"] = {**mixture, "sources": {sweep.pool[0]: stand_in}}
    validate(RunConfig, base, where, prefix="base")


def experiment_dir(sweep: SweepConfig) -> str:
    """``<storage_path>/<name>``: a path every node mounts, or an object-store URI (s3://, gs://)."""
    return storage.join(storage.absolute(sweep.resources.storage_path), sweep.name)


def check_storage(exp: str) -> None:
    storage.check_writable(str(exp), "resources.storage_path")


def example_points(sweep: SweepConfig) -> list[dict[str, Any]]:
    if sweep.search.grid is not None:
        return grid_points(sweep)
    return [{"sources": {t: {"weight": 1.0} for t in sweep.pool}, "params": {}, "seed": s} for s in sweep.seeds]


def check_sweep(sweep: SweepConfig, exp: str, dry: bool = False):
    """Everything that can be refused, before any trial starts; data is prepared here, once for the sweep.
    A dry run checks configs, batch arithmetic and that each model exists, but downloads, prepares and loads
    nothing (data and models may be on a hub)."""
    from ftlib.paths import model_exists
    from ftlib.train.resolve import resolve
    from ftlib.train.trial import check, ensure_prepared

    objective_keys(sweep)
    configs = [build_run_config(sweep, p, storage.join(exp, TRIALS)) for p in example_points(sweep)]
    for cfg in configs:
        resolve(cfg, cuda=cfg.use_gpu)
    if dry:
        for problem in filter(None, (model_exists(m) for m in sorted({c.model.name for c in configs}))):
            raise ConfigError(problem)
        return None, configs
    # Memory per GPU against the node types of the autoscaler's YAML, before Ray starts (again on the live cluster).
    check_trial_memory(configs[0], sorted({c.model.name for c in configs}), yaml_node_types(),
                       sweep.resources.multi_node_trials, where="sweep: ")
    everything = configs[0].model_copy(update={"eval_tasks": sorted({*sweep.pool, *sweep.objective_tasks()})})
    ensure_prepared(everything, prepare_missing=True)
    checked = check(configs[0])
    compute_plan(sweep, configs, gpu_places(configs[0], yaml_node_types(), sweep.resources.multi_node_trials)[0])
    # Every other base model of the sweep (paper_ablation's `models`) loads its config and LoRA targets too.
    for model in sorted({c.model.name for c in configs} - {configs[0].model.name}):
        check(configs[0].model_copy(update={"model": configs[0].model.model_copy(update={"name": model})}))
    return checked, configs


def check_resources(sweep: SweepConfig, cfg, alive: Sequence[NodeGroup], node_types: Sequence[NodeGroup] = ()) -> int:
    """Per-trial demand against the nodes the cluster has and the node types its autoscaler may add; returns
    how many trials fit at once."""
    gpus_per_trial = cfg.num_workers if cfg.use_gpu else 0
    cpus_per_trial = cfg.num_workers * cfg.cpus_per_worker
    largest_gpu = max((g.resources.get("GPU", 0) for g in [*alive, *node_types] if g.count > 0), default=0)
    if cfg.use_gpu and largest_gpu < 1:
        raise ConfigError("base.use_gpu is true but no node of the cluster has a GPU, nor can its autoscaler add one "
                          f"(node types are read from {BOOTSTRAP_CONFIG} on the head, or ${CONFIG_ENV})")
    multi = sweep.resources.multi_node_trials
    if gpus_per_trial > largest_gpu and not multi:
        raise ConfigError(f"a trial asks for {gpus_per_trial} GPUs (num_workers {cfg.num_workers}) but the largest "
                          f"node has {largest_gpu:g}; lower num_workers or set resources.multi_node_trials: true")
    # CPU workers of one trial may spread over nodes; GPU workers of one trial share a node unless multi-node.
    spread = multi or not gpus_per_trial
    fits = max(trials_that_fit(alive, gpus_per_trial, cpus_per_trial, spread),
               trials_that_fit(node_types, gpus_per_trial, cpus_per_trial, spread))
    if fits < 1:
        total = {k: sum(g.count * g.resources.get(k, 0) for g in alive) for k in ("CPU", "GPU")}
        raise ConfigError(f"a trial needs {cpus_per_trial:g} CPUs and {gpus_per_trial} GPUs; the cluster has "
                          f"{total['CPU']:g} CPUs and {total['GPU']:g} GPUs")
    return fits


def _searcher(sweep: SweepConfig, exp: str, keys: list[str]):
    import optuna

    from sweeps.searcher import FinalObjectiveOptunaSearch
    from sweeps.space import DefineByRun

    opt = sweep.search.optuna
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # QMCSampler is experimental
    # TPE models the space jointly and by the groups its conditionals open (include toggles, params with `when`),
    # and lies "constant" for trials still running, so parallel trials do not all probe one region.
    sampler = {"tpe": lambda: optuna.samplers.TPESampler(multivariate=True, group=True, constant_liar=True,
                                                         seed=opt.seed),
               "cmaes": lambda: optuna.samplers.CmaEsSampler(seed=opt.seed),
               "nsga2": lambda: optuna.samplers.NSGAIISampler(seed=opt.seed),
               "qmc": lambda: optuna.samplers.QMCSampler(qmc_type="sobol", scramble=True, seed=opt.seed),
               "random": lambda: optuna.samplers.RandomSampler(seed=opt.seed)}[opt.sampler]()
    url = optuna_url(sweep, exp)
    multi = len(keys) > 1
    return FinalObjectiveOptunaSearch(space=DefineByRun(sweep), metric=keys if multi else keys[0],
                                      mode=list(sweep.objective.modes) if multi else sweep.objective.modes[0],
                                      sampler=sampler, storage=optuna.storages.RDBStorage(url) if url else None,
                                      study_name=sweep.name,
                                      points_to_evaluate=opt.points_to_evaluate or None,
                                      signal=sweep.scheduler.metric if sweep.scheduler.kind != "none" else None,
                                      signal_mode=sweep.scheduler.mode)


def optuna_url(sweep: SweepConfig, exp: str) -> str | None:
    """Beside a local experiment, a SQLite study; in an object store (no SQLite there), the study lives in the
    searcher, which Tune checkpoints into the experiment and restores on resume."""
    return sweep.resources.optuna_storage or (None if storage.is_uri(exp) else f"sqlite:///{Path(exp, 'optuna.db')}")


def reports_per_trial(sweep: SweepConfig, reports_per_run: int, grid: bool) -> int:
    """A grid trial trains one seed; an Optuna trial trains each sweep seed in turn, its reports counted on across
    them: ASHA's max_t must cover them all, or the second seed's reports end every trial "stopped early"."""
    return max(1, reports_per_run) * (1 if grid else len(sweep.seeds))


def scheduler(sweep: SweepConfig, max_reports: int):
    """ASHA over a trial's reports (``max_reports`` of them, then the objective), or none."""
    if sweep.scheduler.kind == "none":
        return None
    from ray.tune.schedulers import ASHAScheduler

    s = sweep.scheduler
    return ASHAScheduler(time_attr="training_iteration", metric=s.metric, mode=s.mode, grace_period=s.grace_period,
                         reduction_factor=s.reduction_factor, max_t=max(max_reports + 1, s.grace_period + 1))


def _tune_run_config(where: str, name: str, sweep: SweepConfig, key: str, mode: str, total: int, exp: str):
    import ray.tune

    from sweeps.disk import DropEndedTrialState
    from sweeps.progress import Progress
    from sweeps.release import ReleaseEndedTrials

    def run_dirs(trial) -> list[str]:
        point = trial.config.get("point")
        return [storage.join(exp, TRIALS, run_id) for run_id in run_ids(sweep, point, exp)] if point else []

    return ray.tune.RunConfig(name=name, storage_path=where,
                              callbacks=[Progress(key, mode, total), ReleaseEndedTrials(),
                                         DropEndedTrialState(run_dirs)],
                              failure_config=ray.tune.FailureConfig(max_failures=sweep.resources.trial_retries),
                              verbose=0)


def _name_creators(sweep: SweepConfig, exp: str):
    def name(trial) -> str:
        point = trial.config.get("point")
        return run_ids(sweep, point, exp)[0] if point else trial.trial_id

    return name


def dry_run_plans(sweep: SweepConfig, configs, clusters: Sequence[str] = ()) -> dict[str, Any]:
    """The planner's memory per GPU for each model, on the node types of ``clusters`` (cluster YAMLs; a model
    that fits none is refused), else of the autoscaler's YAML here, else shown for every known GPU type; the
    sweep's storage and its compute (refused over their limits)."""
    cfg = configs[0]
    groups = [g for path in clusters for g in read_cluster_yaml(path)] or yaml_node_types()
    models = sorted(set(sweep.models or [cfg.model.name]))
    found = check_trial_memory(cfg, models, groups, sweep.resources.multi_node_trials, where="sweep: ",
                               places=None if groups else every_gpu_type(cfg), dry=True)
    cost = compute_plan(sweep, configs, gpu_places(cfg, groups, sweep.resources.multi_node_trials)[0], dry=True)
    return {"memory": found, "cost": cost,
            "disk": check_disk(sweep, cfg, num_runs(sweep), sweep.resources.max_concurrent_trials or 1, dry=True),
            "clusters": list(clusters) or ([os.environ.get(CONFIG_ENV) or BOOTSTRAP_CONFIG] if groups else [])}


def compute_plan(sweep: SweepConfig, configs, places: Sequence = (), dry: bool = False) -> dict[str, Any]:
    """Tokens, steps, FLOPs and GPU-hours of every trial (an Optuna sweep: its example trial × num_samples);
    refused over resources.max_gpu_hours."""
    from sweeps.budget import check_gpu_hours, gpu_for, sweep_cost
    from sweeps.dry_run import listing

    gpu, where = gpu_for(sweep, places)
    rows = listing(configs)["trials"]
    per = 1 if sweep.search.grid is not None else sweep.search.optuna.num_samples
    cost = sweep_cost(sweep, configs, [t["est_tokens"] for t in rows], gpu, per, dry=dry)
    cost["where"] = where
    check_gpu_hours(sweep, cost)
    return cost


def run_sweep(sweep: SweepConfig, address: str | None = None, dry: bool = False,
              clusters: Sequence[str] = ()) -> dict[str, Any]:
    from ftlib.paths import anchor_sweep

    sweep = anchor_sweep(sweep)
    exp = experiment_dir(sweep)
    check_storage(exp)
    if not dry and same_sweep_ran(sweep, exp):
        print(f"[sweep] {exp} holds this same sweep: resuming it (finished trials are kept)", flush=True)
        return resume_sweep(exp, address)
    checked, configs = check_sweep(sweep, exp, dry)
    keys = objective_keys(sweep)
    if dry:
        from sweeps.dry_run import listing

        return {"dry_run": listing(configs) if sweep.search.grid else
                {"space": "optuna", "num_samples": sweep.search.optuna.num_samples},
                **dry_run_plans(sweep, configs, clusters)}
    from ftlib.raysession import ensure_ray

    set_driver_env()
    ensure_ray(address, include_dashboard=True)
    node_types = autoscaler_node_types()
    check_trial_memory(checked.cfg, sorted({c.model.name for c in configs}), [*alive_nodes(), *node_types],
                       sweep.resources.multi_node_trials, where="sweep: ")
    autoscaling = bool(node_types) or on_kuberay()
    concurrent = min(trials_at_once(sweep, checked.cfg, alive_nodes(), node_types, autoscaling), _num_trials(sweep))
    check_disk(sweep, checked.cfg, num_runs(sweep), concurrent)
    storage.write_bytes(storage.join(exp, SWEEP_FILE), json_bytes(sweep.model_dump(mode="json")))
    if sweep.scheduler.kind != "none":
        from sweeps.stop_signal import describe

        print(f"[sweep] {describe(sweep)}", flush=True)
    points = grid_points(sweep) if sweep.search.grid is not None else None
    with requested(trial_bundles(checked.cfg) * concurrent) if autoscaling else contextlib.nullcontext():
        return fit_experiment(sweep, exp, keys, concurrent, points=points,
                              max_reports=_max_reports(configs[0]))


def same_sweep_ran(sweep: SweepConfig, exp: str) -> bool:
    """True when ``exp`` holds a resumable run of this very sweep. A different sweep there is refused: its Optuna
    study and Tune state would silently take in the new sweep's trials."""
    import ray.tune

    saved = storage.read_bytes(storage.join(exp, SWEEP_FILE))
    if saved is None:
        return False
    old, new = json.loads(saved), sweep.model_dump(mode="json")
    if old != new:
        changed = sorted(changed_keys(old, new))
        raise ConfigError(f"{exp} holds a different sweep named {sweep.name!r} (changed: {', '.join(changed)}); "
                          f"give this one another name (--name NAME) or remove that directory")
    return ray.tune.Tuner.can_restore(storage.join(exp, TUNE_DIR))


def changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [k for key in sorted(set(old) | set(new))
                for k in changed_keys(old.get(key), new.get(key), f"{prefix}{key}.")]
    return [] if old == new else [prefix.rstrip(".")]


def trials_at_once(sweep: SweepConfig, cfg, alive: list[NodeGroup], node_types: list[NodeGroup],
                   autoscaling: bool) -> int:
    """``resources.max_concurrent_trials``, or as many trials as fit. An autoscaler whose node types cannot be
    read here (KubeRay reports none) may start the GPUs the sweep needs: there the setting is required."""
    limit = sweep.resources.max_concurrent_trials
    if autoscaling and not node_types:
        if not limit:
            raise ConfigError("resources.max_concurrent_trials: this cluster autoscales but its node types cannot "
                              "be read here (on KubeRay, say how many trials run at once, e.g. the GPU group's "
                              "maxReplicas)")
        return limit
    fits = check_resources(sweep, cfg, alive, node_types)  # refuses a trial no node can hold, limit or not
    return limit or fits


def num_runs(sweep: SweepConfig) -> int:
    """Training runs: a grid point trains one seed, an Optuna trial each of the sweep's seeds."""
    return len(grid_points(sweep)) if sweep.search.grid is not None else \
        sweep.search.optuna.num_samples * len(sweep.seeds)


def _num_trials(sweep: SweepConfig) -> int:
    return len(grid_points(sweep)) if sweep.search.grid is not None else sweep.search.optuna.num_samples


def resume_sweep(exp: str, address: str | None = None) -> dict[str, Any]:
    from ftlib.raysession import ensure_ray

    from sweeps.searcher import FinalObjectiveOptunaSearch

    exp = storage.absolute(exp)
    sweep = saved_sweep(exp)
    check_tune_state(exp)
    # The study of this directory, wherever the sweep first ran (a copied or moved directory resumes its own).
    FinalObjectiveOptunaSearch.relocate_storage = optuna_url(sweep, exp)
    set_driver_env()
    ensure_ray(address, include_dashboard=True)
    return fit_experiment(sweep, exp, objective_keys(sweep), 0, restore=True)


def check_tune_state(exp: str, tune_dir: str = TUNE_DIR) -> None:
    """Refuses to resume from a Tune state that cannot be read or knows fewer trials than the sweep's table:
    Tune would start over from what it can read, and the table and study would lose trials."""
    from ray.tune import ExperimentAnalysis

    from sweeps.results import load_trials

    where = storage.join(exp, tune_dir)
    try:
        known = {t.trial_id for t in ExperimentAnalysis(where).trials}
    except Exception as e:  # Tune raises what its JSON and pickle readers raise
        raise ConfigError(f"{where}: Tune's experiment state cannot be read ({type(e).__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else ''}); nothing was resumed") from None
    tabled = {r["tune_trial_id"] for r in load_trials(storage.join(*([exp] + tune_dir.split("/")[:-1])))}
    if tabled - known:
        raise ConfigError(f"{where}: Tune's experiment state knows {len(known)} trial(s) but trials.parquet has "
                          f"{len(tabled)}: the state is damaged or older than the table; nothing was resumed "
                          f"(restore the tune/ folder from a copy, or run the sweep again under another --name)")


def set_driver_env() -> None:
    for key, value in DRIVER_ENV.items():
        os.environ.setdefault(key, value)


def fit_experiment(sweep: SweepConfig, exp: str, keys: list[str], concurrent: int, *,
                   points: list[dict] | None = None, max_reports: int = 1, tune_dir: str = TUNE_DIR,
                   restore: bool = False) -> dict[str, Any]:
    """Runs (or, ``restore``, resumes) one Tune experiment under ``exp/tune_dir``: the given ``points`` (a grid;
    a point with a seed runs that seed only), else the sweep's Optuna search; its tidy rows go to
    ``trials.parquet`` beside it. Finalize runs its reruns through here with its own ``tune_dir``."""
    import ray.tune

    from ftlib.secrets import keep_secrets_out_of_tune
    from sweeps.results import UNFINISHED, leaderboard, write_trials

    keep_secrets_out_of_tune()
    where, name = storage.join(exp, *tune_dir.split("/")[:-1]), tune_dir.split("/")[-1]
    total = len(points) if points is not None else _num_trials(sweep)
    # The trial function only drives its TorchTrainer, whose workers hold the CPUs / GPUs. It reserves one byte
    # of memory, not a CPU fraction: 0.01 CPU left 0.99 of a 1-CPU node, where no 1-CPU Ray Data task or
    # Train worker could ever be placed (a deadlock seen on a 2-node cluster). Tune refuses an empty request.
    trainable = ray.tune.with_resources(make_trainable(sweep, exp), {"cpu": 0, "memory": 1})
    started = time.time()
    if restore:
        tuner = ray.tune.Tuner.restore(storage.join(exp, tune_dir), trainable=trainable, resume_unfinished=True,
                                       resume_errored=True)
    else:
        tune_config = ray.tune.TuneConfig(
            search_alg=None if points is not None else _searcher(sweep, exp, keys),
            scheduler=scheduler(sweep, reports_per_trial(sweep, max_reports, grid=points is not None)),
            num_samples=1 if points is not None else sweep.search.optuna.num_samples,
            max_concurrent_trials=concurrent,
            # A new trial takes over the finished one's process instead of starting one (seconds per trial on a
            # busy head). Not with ASHA: a stopped trial's thread is still inside TorchTrainer.fit, its reset
            # fails, and Tune marks the trial that was to reuse it as errored.
            reuse_actors=sweep.scheduler.kind == "none",
            trial_name_creator=_name_creators(sweep, exp), trial_dirname_creator=_name_creators(sweep, exp))
        tuner = ray.tune.Tuner(trainable,
                               param_space={"point": ray.tune.grid_search(points)} if points is not None else {},
                               tune_config=tune_config,
                               run_config=_tune_run_config(where, name, sweep, keys[0], sweep.objective.modes[0],
                                                           total, exp))
    try:
        tuner.fit()
    except Exception:
        check_storage(exp)  # a full or lost storage explains a failed sweep in one line
        raise
    rows = status(exp, live=False, tune_dir=tune_dir)
    path = write_trials(where, rows)
    tune_trials = {r["tune_trial_id"] for r in rows}
    unfinished = len({r["tune_trial_id"] for r in rows if r["state"] in UNFINISHED}) + max(0, total - len(tune_trials))
    return {"experiment_dir": exp, "trials_file": path, "wall_s": round(time.time() - started, 1),
            "rows": rows, "leaderboard": leaderboard(rows, "objective", sweep.objective.modes[0]),
            "objective": keys[0], "mode": sweep.objective.modes[0], "unfinished": unfinished}


def _max_reports(cfg) -> int:
    """Reports a full trial makes (for ASHA's max_t): steps / eval_every, when steps are bounded."""
    steps = cfg.max_steps or 10**6
    return -(-steps // cfg.eval_every)


def status(exp: str, live: bool = True, tune_dir: str = TUNE_DIR) -> list[dict[str, Any]]:
    """The runs of a sweep (or of its finalize reruns), finished or not, read from Tune's experiment state."""
    from ray.tune import ExperimentAnalysis

    from sweeps.results import trial_rows

    exp = storage.absolute(exp)
    sweep = saved_sweep(exp)
    return trial_rows(sweep, exp, ExperimentAnalysis(storage.join(exp, tune_dir)).trials, live=live)


def saved_sweep(exp: str) -> SweepConfig:
    """The sweep as its run saved it (``sweep.json``, paths anchored) beside Tune's state."""
    import ray.tune

    saved = storage.read_bytes(storage.join(exp, SWEEP_FILE))
    if saved is None or not ray.tune.Tuner.can_restore(storage.join(exp, TUNE_DIR)):
        raise ConfigError(f"{exp}: not a sweep directory (no {SWEEP_FILE} and {TUNE_DIR}/)")
    return SweepConfig.model_validate(json.loads(saved))
