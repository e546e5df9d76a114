"""What ``cocktail sweep run`` and ``sweep resume`` chain: the sweep (or the three stages of a two-stage search),
then ``finalize`` and the report when the sweep's YAML asks for them, as their own verbs would run them.
``show(step, result)`` hears each step's result, for the terminal. A run that stops before the end returns what to
say about continuing it ("" where the step's own result says it); one that ends returns None."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ftlib.core import storage
from sweeps.config import SweepConfig, TwoStageSweep
from sweeps.driver import resume_sweep, run_sweep
from sweeps.finalize import finalize
from sweeps.layout import experiment_dir
from sweeps.load import is_two_stage, load_sweep, load_two_stage, parent_dir
from sweeps.lock import driver_lock
from sweeps.report.build import build_report
from sweeps.saved import saved_two_stage
from sweeps.tracking import log_study
from sweeps.tune.experiment import saved_sweep
from sweeps.two_stage import plan_two_stage, run_two_stage

Show = Callable[[str, Any], None]


def run_yaml(path: str, name: str | None, overrides: list[str], address: str | None, show: Show,
             dry: bool = False, clusters: Sequence[str] = ()) -> str | None:
    """``sweep run``: a sweep or two-stage YAML, to the end (``dry``: its plans, shown; nothing runs)."""
    if is_two_stage(path):
        spec = load_two_stage(path, name, overrides)
        show("two_stage", spec)
        if dry:
            for stage, plans in plan_two_stage(spec, clusters).items():
                show(f"dry_run_{stage}", plans)
            return None
        with driver_lock(parent_dir(spec)):
            return _two_stage(spec, address, show)
    sweep = load_sweep(path, name, overrides)
    if dry:
        show("dry_run", run_sweep(sweep, address, dry=True, clusters=clusters))
        return None
    with driver_lock(experiment_dir(sweep)):
        out = run_sweep(sweep, address)
        show("sweep", out)
        return "" if out["unfinished"] else after_sweep(sweep, out["experiment_dir"], address, show)


def resume(exp: str, address: str | None, show: Show) -> str | None:
    """``sweep resume``: a sweep, or a two-stage search at its first unfinished stage, to the end."""
    exp = storage.absolute(exp)
    spec = saved_two_stage(exp)
    if spec is None:
        saved_sweep(exp)  # its state files checked before anything is written
    with driver_lock(exp):
        if spec is not None:
            show("two_stage", spec)
            return _two_stage(spec, address, show)
        out = resume_sweep(exp, address)
        show("sweep", out)
        if out["unfinished"]:
            return ""
        return after_sweep(saved_sweep(out["experiment_dir"]), out["experiment_dir"], address, show)


def _two_stage(spec: TwoStageSweep, address: str | None, show: Show) -> str | None:
    out = run_two_stage(spec, address, show)
    if out["unfinished"]:
        return f"continue the two-stage search with `cocktail sweep resume {parent_dir(spec)}`"
    return after_sweep(saved_sweep(out["experiment_dir"]), out["experiment_dir"], address, show)


def after_sweep(sweep: SweepConfig, exp: str, address: str | None, show: Show) -> str | None:
    """What the sweep's YAML asks for after the sweep: ``finalize``, then ``report``."""
    if sweep.finalize is not None:
        out = finalize(exp, seeds=sweep.finalize.seeds, tasks=sweep.finalize.tasks, address=address)
        show("finalize", out)
        if out["unfinished"]:
            return ""
    if sweep.report is not None:
        report = build_report(exp, profile=sweep.report.scoring, resamples=sweep.report.resamples)
        log_study(sweep, exp, report["out"])
        show("report", report)
    return None
