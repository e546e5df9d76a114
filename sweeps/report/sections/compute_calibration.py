"""Section 10: the compute planner against what the runs measured. For each finished run: the model FLOPs it
trained, its training time (per-report tokens over throughput: no start-up, evaluation or checkpointing), the
time the planner predicts at the sweep's assumed MFU of the device's peak, and their ratio, the calibration to
apply to the next sweep's GPU-hours."""
from __future__ import annotations

import json
import statistics

from ftlib.planner.cost import training_seconds
from sweeps.report.document import Section, Table, fmt
from sweeps.report.study import Study


def compute_calibration(study: Study) -> Section:
    section = Section("compute", "10. Compute: planned against measured",
                      "How close is the planner's estimate of training time (FLOPs / (assumed MFU × peak)) to what "
                      "the runs took?")
    mfu = study.sweep.resources.assumed_mfu
    rows, ratios = [], []
    for r in study.completed():
        flops, peak = r.get("flops"), r.get("peak_flops")
        seconds = training_seconds(json.loads(r.get("history") or "[]"))
        if not flops or not peak or seconds <= 0:
            continue
        planned = flops / (mfu * peak)
        ratios.append(seconds / planned)
        rows.append([r["trial_id"], f"{flops:.3g}", f"{seconds:.1f}", f"{planned:.1f}", fmt(seconds / planned, 2),
                     f"{flops / seconds / peak:.1%}", fmt(r.get("wall_s"), 1)])
    if not rows:
        section.missing = "no finished run recorded its FLOPs and device peak (runs from before they were kept)"
        return section
    section.tables.append(Table("compute_calibration", "planned against measured training time, per run",
                                ["run", "model FLOPs", "training s", "planned s", "measured / planned",
                                 "achieved MFU", "wall s (all of the run)"], rows,
                                f"Planned at the sweep's assumed MFU of {mfu:.0%} (resources.assumed_mfu) of each "
                                f"device's peak: a GPU's bf16 data-sheet peak, a CPU's fp32 matmul throughput "
                                f"measured by the run."))
    median = statistics.median(ratios)
    section.findings.append(f"calibration: training took {median:.2f}× the planned time (median of {len(ratios)} "
                            f"runs, range {min(ratios):.2f}–{max(ratios):.2f}): an achieved MFU of "
                            f"{mfu / median:.1%} against the {mfu:.0%} assumed")
    return section
