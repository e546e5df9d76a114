"""A sweep's storage before it runs: the planner's estimate per model, refused over ``resources.max_disk_gb``."""
from __future__ import annotations

from ftlib.core.errors import ConfigError
from ftlib.planner.disk import describe_disk, sweep_disk
from ftlib.planner.gpu_fit import planning_config, shape_of
from ftlib.run.resolve import resolve


def check_disk(sweep, cfg, runs: int, concurrent: int, dry: bool = False) -> tuple[float, list]:
    """The sweep's disk (GB) and, per model, the planner's parts; refused over ``resources.max_disk_gb``. A model
    whose config a dry run cannot have is left out."""
    res = resolve(cfg, cuda=cfg.use_gpu)
    models = sorted(set(sweep.models or [cfg.model.name]))
    parts = []
    for model in models:
        run = cfg.model_copy(update={"model": cfg.model.model_copy(update={"name": model})})
        try:
            model_config, _ = planning_config(run.model, dry=dry)
        except ConfigError:
            if not dry:
                raise
            continue
        parts.append((model, sweep_disk(shape_of(run, model_config), run, res.precision, res.autocast,
                                        runs // len(models), concurrent)))
    # Finished trials of every model stay; the running ones are at most `concurrent` of the largest model.
    total = sum(d.finished_gb for _, d in parts) + max((d.running_gb for _, d in parts), default=0.0)
    limit = sweep.resources.max_disk_gb
    if limit is not None and total > limit:
        raise ConfigError(f"resources.max_disk_gb {limit:g}: the sweep would need about {total:,.0f} GB of storage ("
                          + "; ".join(f"{m}: {describe_disk(d)}" for m, d in parts)
                          + "); raise it, lower base.keep_checkpoints, or run fewer trials")
    return total, parts
