"""Section 8, the search: how the Optuna search proceeded and what mattered (Optuna's own plots)."""
from __future__ import annotations

import optuna
from optuna import visualization as vis

from ftlib.core.errors import ConfigError
from sweeps.config import SweepConfig
from sweeps.layout import optuna_url
from sweeps.report.document import Section, fmt
from sweeps.report.study import Study
from sweeps.saved import saved_config


def search_section(study: Study) -> Section:
    section = Section("search", "8. The search", "How did the Optuna search proceed, and what mattered?")
    sweep, exp = study.sweep, study.exp
    if sweep.search.optuna is None and sweep.proposed_from:
        # The proposals' sweep (stage 3 of a two-stage search) shows the search its surrogate learnt from.
        try:
            sweep, exp = saved_config(sweep.proposed_from), sweep.proposed_from
        except ConfigError as e:
            section.missing = f"the sweep the proposals came from cannot be read: {e}"
            return section
    if sweep.search.optuna is None:
        section.missing = ("a grid sweep: there is no search to show" if exp == study.exp else
                           f"{sweep.name}, whose trials the surrogate of section 11 was fitted on, ran a fixed design "
                           "(a grid), not a search: there is no search to show")
        return section
    if exp != study.exp:
        section.findings.append(f"the search of {sweep.name} ({exp}), whose trials the surrogate of section 11 "
                                f"was fitted on")
    url = optuna_url(sweep, exp)
    try:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        trial_study = optuna.load_study(study_name=sweep.name, storage=url) if url else None
    except (KeyError, ValueError) as e:
        trial_study = None
        section.missing = f"the Optuna study cannot be read ({e})"
    if trial_study is None:
        section.missing = section.missing or "the Optuna study lives in Tune's searcher state (object storage)"
        return section
    _plots(section, sweep, trial_study)
    return section


def _plots(section: Section, sweep: SweepConfig, trial_study: optuna.Study) -> None:
    complete = [t for t in trial_study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 2:
        section.missing = f"{len(complete)} completed Optuna trial(s): too few to plot"
        return
    if len(sweep.objective.metrics) > 1:
        section.figures.append(vis.plot_pareto_front(trial_study))
        return
    section.figures.append(vis.plot_optimization_history(trial_study))
    try:
        section.figures.append(vis.plot_param_importances(trial_study))
    except (ValueError, RuntimeError) as e:  # e.g. every trial sampled the same value
        section.findings.append(f"parameter importances not computed: {e}")
    weights = [p for p in trial_study.best_trial.params if p.startswith("w_")]
    section.figures.append(vis.plot_parallel_coordinate(trial_study, params=weights or None))
    section.findings.append(f"{len(complete)} completed Optuna trials; best objective "
                            f"{fmt(trial_study.best_value)} (trial {trial_study.best_trial.number})")
