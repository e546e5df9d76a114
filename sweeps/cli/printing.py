"""What ``cocktail sweep`` prints of each step's result: dry-run plans, a sweep's outcome and leaderboard,
finalize's selection, proposals, a sweep's status, and the report's findings."""
from __future__ import annotations

import json
import sys
from typing import Any

from ftlib.cli.plans import print_memory
from ftlib.cli.table import format_table
from ftlib.planner.disk import describe_disk
from sweeps.config import ACQUISITION_TEXT
from sweeps.layout import ledger_file, tune_path
from sweeps.selection import ROLE_TITLES
from sweeps.trial_table import mixture_text, params_text, shares_text


class StepPrinter:
    """``show(step, result)`` for the pipeline (sweeps/pipeline.py); a two-stage search's stage titles come from
    its config, announced first."""

    def __init__(self):
        self.titles: dict[str, str] = {}

    def __call__(self, step: str, out: Any) -> None:
        if step == "two_stage":
            self.titles = stage_titles(out)
        elif step.startswith("dry_run_"):
            stage = step.removeprefix("dry_run_")
            print(f"\n== {self.titles[stage]} ==" if stage == "proxy" else
                  f"\n== {self.titles['target']} (proposals counted as the pool at equal weights) ==")
            print_dry_run_plans(out)
        elif step in ("proxy", "propose", "target"):
            print(f"\n== {self.titles[step]} ==")
            (print_proposals if step == "propose" else print_result)(out)
        else:
            {"dry_run": print_dry_run_plans, "sweep": print_result, "finalize": print_finalize,
             "report": print_report}[step](out)


def stage_titles(spec) -> dict[str, str]:
    proxy = spec.two_stage.proxy
    return {"proxy": f"stage 1/3: {proxy.trials} proxy trials on {proxy.sampler} mixtures "
                     f"({', '.join(f'{k} {v}' for k, v in proxy.set.items())})",
            "propose": "stage 2/3: mixture surrogates fitted on stage 1",
            "target": "stage 3/3: the proposals and baselines at target scale"}


def print_dry_run_plans(out) -> None:
    """A sweep's dry run: its trials, then memory per GPU, storage and compute."""
    print_listing(out["dry_run"])
    print_memory(out["memory"], out["clusters"])
    print_disk(out["disk"])
    print_compute(out["cost"])


def print_listing(listing) -> None:
    if "space" in listing:
        print(f"optuna search, {listing['num_samples']} samples: trials are proposed as the sweep runs; "
              f"executor {listing['executor']}")
        return
    rows = [[i + 1, t["trial_id"], t["model"], t["epochs"], t["executor"], json.dumps(t["mixture"], ensure_ascii=False),
             "?" if t["est_tokens"] is None else f"{t['est_tokens']:,}"] for i, t in enumerate(listing["trials"])]
    print(format_table(["#", "trial", "model", "epochs", "executor", "mixture (rows)", "est. tokens"], rows))
    print(f"\n{len(rows)} trials")
    if listing["unprepared"]:
        tasks = ",".join(listing["unprepared"])
        print(f"not prepared yet: {tasks}. Their rows are upper bounds from the caps (≤) and tokens are unknown (?); "
              f"a dry run downloads nothing. `cocktail data prepare --tasks {tasks} --source {listing['source']}"
              f"{' --study' if listing.get('study') else ''}` makes them exact.")


def print_compute(cost: dict[str, Any]) -> None:
    total, where = cost["total"], cost["where"]
    lines = [f"compute: {total['tokens']:,} tokens, {total['steps']:,} optimizer steps, {total['flops']:.3g} FLOPs"
             + (f"; {total['gpu_hours']:,.1f} GPU-hours on {cost['gpu']} ({where}) at an assumed MFU of "
                f"{cost['mfu']:.0%} (resources.assumed_mfu)" if cost["use_gpu"] else " (CPU trials)")]
    if cost["unknown"]:
        lines.append(f"  {cost['unknown']} trial(s) not counted: their data is not prepared (tokens unknown)")
    if cost["no_model"]:
        lines.append(f"  {cost['no_model']} trial(s) not counted: their model's config cannot be had in a dry run")
    if cost["asha_least_fraction"] is not None:
        lines.append(f"  ASHA stops trials early: between {cost['asha_least_fraction']:.0%} and 100 % of that "
                     f"(all but the best stopped at each rung, or none)")
    if cost["cost"] is not None and cost["use_gpu"]:
        lines.append(f"  cost: {cost['cost']:,.0f} at {cost['price']:g} per GPU-hour")
    print("\n" + "\n".join(lines))


def print_disk(disk) -> None:
    total, parts = disk
    if parts:
        print(f"\nstorage: about {total:,.1f} GB when the sweep ends (" +
              "; ".join(f"{m}: {describe_disk(d)}" for m, d in parts) + ")")


def print_result(out) -> None:
    """The outcome of a sweep; where it was interrupted before every trial ended, how to continue."""
    states = [r["state"] for r in out["rows"]]
    print(f"\n{len(states)} runs: {states.count('completed')} completed, {states.count('stopped_early')} stopped "
          f"early by the scheduler, {states.count('errored')} errored ({out['wall_s']} s)")
    print(f"\nleaderboard ({out['objective']}, {out['mode']}; mean over seeds):")
    print(format_table(["rank", "run", out["objective"], "seeds", "mixture (realized shares)", "params"],
                       out["leaderboard"]))
    print(f"\nresults: {out['experiment_dir']}\n  trials table: {out['trials_file']}\n  TensorBoard: tensorboard "
          f"--logdir {tune_path(out['experiment_dir'])}")
    if out.get("mlflow_url"):
        print(f"  MLflow: mlflow ui --backend-store-uri {out['mlflow_url']}" if out["mlflow_url"].startswith("sqlite:")
              else f"  MLflow: {out['mlflow_url']}")
    print(f"  all viewers: cocktail dashboard {out['experiment_dir']}")
    if out["unfinished"]:
        print(f"\ninterrupted: {out['unfinished']} trial(s) unfinished; continue with `cocktail sweep resume "
              f"{out['experiment_dir']}`", file=sys.stderr)


def print_finalize(out) -> None:
    table = []
    for model, by_task in out["selection"].items():
        for task, roles in by_task.items():
            for role, chosen in roles.items():
                table.append([model.rsplit("/", 1)[-1], task, ROLE_TITLES[role],
                              "-" if "missing" in chosen else f"{chosen['val']:.4f}",
                              chosen.get("missing") or ", ".join(chosen["tasks"])])
    print("\nselected on validation:")
    print(format_table(["model", "task", "role", "validation", "sources"], table))
    if out["unfinished"]:
        print(f"\ninterrupted: {out['unfinished']} rerun(s) unfinished; run finalize again to continue",
              file=sys.stderr)
        return
    print(f"\nreplicated over seeds {out['seeds']}; test split scored for {len(out['tested'])} (run, task) pairs now "
          f"(each once: {ledger_file(out['experiment_dir'])})\nnext: cocktail report {out['experiment_dir']}")


def print_proposals(out) -> None:
    fit = out["fits"][0]
    print(f"surrogates of {out['target']} ({out['model']}), {fit.points} configurations from {fit.runs} runs, "
          f"{len(fit.tasks)} shares each; {min(5, fit.points)}-fold cross-validation:")
    print(format_table(["model", "CV Spearman", "CV R²", "chosen"],
                       [[f.name, f"{f.cv_spearman:.3f}", f"{f.cv_r2:.3f}", "*" if i == 0 else ""]
                        for i, f in enumerate(out["fits"])]))
    acquisition = out["acquisition"]
    print(f"\nproposed by {ACQUISITION_TEXT[acquisition]} (predicted ± sd; the acquisition's value when chosen):")
    print(format_table(["#", "mixture", "predicted", acquisition],
                       [[i + 1, shares_text(p["weights"]), f"{p['predicted']:.4f} ± {p['std']:.4f}",
                         f"{p['acquisition_value']:.4g}"] for i, p in enumerate(out["proposals"])]))
    print("\nbest measured:")
    print(format_table(["mixture", out["target"]],
                       [[shares_text(m), f"{y:.4f}"] for m, y in out["measured"]]))
    print(f"\nwrote {out['out']}: run the proposals with `cocktail sweep run {out['out']}`")


def print_status(rows) -> None:
    table = [[r["trial_id"], r["seed"], r["state"], mixture_text(r), params_text(r),
              "-" if r["objective"] is None else f"{r['objective']:.4f}", r["steps"] or "-", r["wall_s"] or "-"]
             for r in rows]
    print(format_table(["run", "seed", "state", "mixture (realized shares)", "params", "objective", "steps",
                        "wall_s"], table))
    states = [r["state"] for r in rows]
    print(f"\n{len(rows)} runs: " + ", ".join(f"{states.count(s)} {s}" for s in sorted(set(states))))


def print_report(report) -> None:
    print("\nfindings:")
    for line in report["headline"] or ["none passes its test yet (see the report for what is missing)"]:
        print(f"  - {line}")
    missing = [s.title for s in report["sections"] if s.missing]
    if missing:
        print(f"not computed (the report says why): {'; '.join(missing)}")
    print(f"\nreport: {report['out']}/index.html  (summary.md, tables/*.csv, provenance.json beside it)")
