"""Section 11: the mixture surrogate. How well it ranks configurations it did not see (cross-validated
predicted against actual), what it proposed, and, for a sweep that ran its proposals (``sweep propose``'s YAML,
or stage 3 of a two-stage search), what the proposals measured beside the predictions and the best mixtures
measured before. Every number here is a validation number: the test split is reported once, by finalize."""
from __future__ import annotations

import json
from typing import Any, NamedTuple, Sequence

from scipy import stats as st

from ftlib.core import storage
from sweeps.config import ACQUISITION_TEXT
from sweeps.layout import surrogate_file
from sweeps.propose.target import target_value
from sweeps.report.document import Section, Table, fmt, fmt_p
from sweeps.report.figures import predicted_vs_actual
from sweeps.report.measures import ALPHA
from sweeps.report.study import Study
from sweeps.selection import mean_of
from sweeps.space import point_key
from sweeps.trial_table import row_shares, shares_text


def surrogate_section(study: Study) -> Section:
    section = Section("surrogate", "11. The mixture surrogate",
                      "Does a surrogate fitted on finished trials rank unseen mixtures, and do the mixtures it "
                      "proposes measure as well as it predicts?")
    source = study.sweep.proposed_from or study.exp
    raw = None if study.sweep.surrogate else storage.read_bytes(surrogate_file(study.exp))
    if study.sweep.surrogate is None and raw is None:
        section.missing = ("no surrogate was fitted on this sweep or proposed its mixtures "
                           f"(`cocktail sweep propose {study.exp}`)")
        return section
    record = study.sweep.surrogate or json.loads(raw)
    where = "the source sweep (stage 1 of a two-stage search)" if study.sweep.proposed_from else "this sweep"
    target = record["target"]
    section.tables.append(Table(
        "surrogate_fit", f"surrogates of {target}, fitted on {where}: 5-fold cross-validation",
        ["model", "CV Spearman", "CV R²", "configurations", "runs", "chosen"],
        [[f["name"], fmt(f["cv_spearman"]), fmt(f["cv_r2"]), f["points"], f["runs"], "*" if i == 0 else ""]
         for i, f in enumerate(record["fits"])],
        f"Inputs: each configuration's realized mixture shares; output: its validation {target} (mean over seeds). "
        f"Fitted on {source}."))
    section.figures.append(predicted_vs_actual(record))
    chosen = record["fits"][0]
    section.findings.append(f"{chosen['name']} ranks unseen configurations with a CV Spearman of "
                            f"{chosen['cv_spearman']:.2f} (R² {chosen['cv_r2']:.2f}) over {chosen['points']} "
                            f"configurations of {where}")
    sign = record.get("sign", 1)
    best_before = max(record["cv"], key=lambda p: sign * p["actual"])
    # The sweep's own runs: finalize's replicates would add seeds to the selected configurations only.
    configs = study.configs(record["model"], design_only=True) if study.sweep.proposed_from else {}
    value = target_value(target, study.sweep.objective_tasks(), study.sweep.objective.modes[0])[0]
    acquisition = record.get("acquisition") or "mean"  # a record from before acquisitions: pure exploitation
    entries = [Entry(f"proposal {i + 1}", p["weights"], p["predicted"], p["std"], p.get("acquisition_value"),
                     *_measured(configs.get(_key(p["weights"]), []), value))
               for i, p in enumerate(record["proposals"])]
    entries.append(Entry(f"best measured in {where}", best_before["mixture"], target_value=best_before["actual"]))
    proposed = {_key(p["weights"]) for p in record["proposals"]}
    entries += [Entry("baseline", row_shares(runs[0]), None, None, None, *_measured(runs, value))
                for key, runs in configs.items() if key not in proposed]
    scale = "at target scale (this sweep)" if study.sweep.proposed_from else "(not run yet)"
    objective = study.sweep.objective.metrics[0]
    model = record["fits"][0]["name"] if acquisition == "mean" else "gp"
    section.tables.append(Table(
        "surrogate_proposals", f"proposals by {ACQUISITION_TEXT[acquisition]}, predicted and measured {scale}",
        ["", "mixture", f"predicted {target}", "sd", f"{acquisition} when chosen", f"measured {target}",
         f"measured objective ({objective})", "seeds"],
        [[e.label, shares_text(e.mixture), fmt(e.predicted), fmt(e.sd),
          "-" if e.acquisition_value is None else f"{e.acquisition_value:.3g}", fmt(e.target_value),
          fmt(e.objective), "-" if e.seeds is None else e.seeds] for e in entries],
        f"Predicted mean and sd: the {model} surrogate's. {WHY[acquisition]} Predictions, and the best measured row "
        "of the source sweep, are at the scale the surrogate learnt from (for stage 1, the proxy's fewer steps): "
        "across scales compare ranks, not levels. Measured: validation, mean over the runs of each configuration "
        "this sweep trained (not finalize's replicates)."))
    if study.sweep.proposed_from:
        section.findings += _verdict(study, target, sign, entries, value)
    return section


WHY = {"ei": "Expected improvement: how much a mixture is expected to beat the best predicted score among those "
             "measured, counting its uncertainty; each later pick sees the earlier ones as measured at their "
             "predicted mean (so it goes elsewhere).",
       "ucb": "Upper confidence bound: predicted mean plus twice the sd (minus, for a loss); each later pick sees "
              "the earlier ones as measured at their predicted mean (so it goes elsewhere).",
       "thompson": "Thompson sampling: each proposal is the best mixture of its own draw from the posterior; the "
                   "value is that draw's.",
       "mean": "Pure exploitation: the mixtures predicted best, the value the prediction itself."}


class Entry(NamedTuple):
    """A row of the proposals table: a proposal, the best row measured before, or a baseline."""
    label: str
    mixture: dict[str, float]
    predicted: float | None = None
    sd: float | None = None
    acquisition_value: float | None = None
    target_value: float | None = None  # measured here (mean over its runs), or before for the best-before row
    objective: float | None = None
    seeds: int | None = None  # runs measured here; None for the best-before row
    runs: Sequence[dict[str, Any]] = ()  # the runs measured here


def _key(weights: dict[str, float]) -> str:
    """The point key of an explicit-grid mixture, as the proposals' sweep gives its trials."""
    return point_key({"sources": {t: {"weight": w} for t, w in weights.items()}, "params": {}, "model": None})


def _measured(runs: list[dict[str, Any]], value) -> tuple:
    return mean_of(value(r) for r in runs), mean_of(r.get("objective") for r in runs), len(runs), runs


def _verdict(study: Study, target: str, sign: int, entries: list[Entry], value) -> list[str]:
    """The best proposal against the best baseline, both measured here on validation, by the surrogate's target
    and by the sweep's objective; tested with Welch's t over their runs (each run one unit: a target like a
    validation loss has no per-example outcomes to resample). Picking the best of each side first makes even this
    test lean towards a difference: a "beat" needs p < 0.05."""
    findings = []
    objective_sign = 1 if study.sweep.objective.modes[0] == "max" else -1
    for name, column, s, read in ((target, "target_value", sign, value),
                                  (f"objective ({study.sweep.objective.metrics[0]})", "objective", objective_sign,
                                   lambda r: r.get("objective"))):
        if name.startswith("objective") and target == "objective":
            continue
        measured = [e for e in entries if getattr(e, column) is not None and e.seeds]
        proposals = [e for e in measured if e.label.startswith("proposal")]
        baselines = [e for e in measured if e.label == "baseline"]
        if not proposals or not baselines:
            continue
        best_p = max(proposals, key=lambda e: s * getattr(e, column))
        best_b = max(baselines, key=lambda e: s * getattr(e, column))
        a = [v for v in map(read, best_p.runs) if v is not None]
        b = [v for v in map(read, best_b.runs) if v is not None]
        p = float(st.ttest_ind(a, b, equal_var=False).pvalue) if len(a) > 1 and len(b) > 1 else None
        better = s * (getattr(best_p, column) - getattr(best_b, column)) > 0
        verdict = ("beat" if better else "trailed") if p is not None and p < ALPHA else \
            "did not differ measurably from" if p is not None else "could not be tested against (one run a side)"
        findings.append(f"by validation {name} at target scale, the best proposal ({shares_text(best_p.mixture)}) "
                        f"measured {fmt(getattr(best_p, column))} against {fmt(getattr(best_b, column))} for the best "
                        f"baseline ({shares_text(best_b.mixture)}): the surrogate's pick {verdict} the baselines "
                        f"({'Welch p = ' + fmt_p(p) if p is not None else 'untested'}; test-split comparisons: "
                        f"section 1)")
    return findings


