"""`cocktail sweep finalize` and `cocktail report` on a real (tiny) grid, through the CLI: selection on
validation, reruns over seeds that reuse what exists, the test split scored once, a report that reads it."""
import json

import pytest

from ftlib.cli.main import main
from ftlib.config import validate
from sweeps.config import SweepConfig
from sweeps.driver import run_sweep

pytestmark = pytest.mark.slow


def test_finalize_then_report_on_a_mini_grid(prepared, tiny_model, tmp_path, ray_session, capsys):
    sweep = validate(SweepConfig, {
        "name": "mini", "pool": ["fpb", "twitter_sentiment"],
        "base": {"model": {"name": tiny_model}, "mixture": {"budget": 400}, "method": "full",
                 "data": {"dir": str(prepared), "seq_len": 256, "val_examples": 8}, "micro_batch_size": 4,
                 "num_workers": 1, "max_steps": 8, "eval_every": 4},
        "search": {"grid": {"design": "subsets", "sizes": [1, 0]}},  # fpb, twitter_sentiment, both
        "objective": {"limit": 16, "eval_mode": "score"},
        "resources": {"storage_path": str(tmp_path / "sweeps"), "max_concurrent_trials": 2}, "seeds": [1]}, "mini")
    run_sweep(sweep)
    exp = tmp_path / "sweeps" / "mini"
    assert main(["sweep", "finalize", str(exp), "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "selected on validation" in out and "cocktail report" in out
    selection = json.loads((exp / "final" / "selection.json").read_text())
    assert selection["seeds"] == [1, 2] and selection["selected_on"] == "validation"
    fpb = selection["selection"][tiny_model]["fpb"]
    assert fpb["alone"]["tasks"] == ["fpb"] and fpb["best_multi"]["tasks"] == ["fpb", "twitter_sentiment"]
    assert fpb["all_sources"]["tasks"] == ["fpb", "twitter_sentiment"]
    finished = {p.parent.name: p.stat().st_mtime_ns for p in exp.glob("trials/*/trial.json")}
    assert len(finished) == 6  # 3 configurations x 2 seeds: the sweep's 3 reused, 3 new
    ledger = [json.loads(line) for line in (exp / "test_ledger.jsonl").read_text().splitlines()]
    assert len(ledger) == 12 and len({(e["key"], e["task"]) for e in ledger}) == 12  # 6 runs x 2 tasks, once each
    assert all((exp / "final" / "test" / e["run_id"] / "predictions.parquet").exists() for e in ledger)

    # Again: nothing is trained or scored twice.
    assert main(["sweep", "finalize", str(exp), "--seeds", "2"]) == 0
    assert {p.parent.name: p.stat().st_mtime_ns for p in exp.glob("trials/*/trial.json")} == finished
    assert len((exp / "test_ledger.jsonl").read_text().splitlines()) == 12
    capsys.readouterr()

    assert main(["report", str(exp), "--resamples", "200"]) == 0
    printed = capsys.readouterr().out
    assert "report:" in printed and (exp / "report" / "index.html").exists()
    summary = (exp / "report" / "summary.md").read_text()
    assert "finalized over seeds [1, 2]" in summary and "target alone (mean [95% CI])" in summary
    provenance = json.loads((exp / "report" / "provenance.json").read_text())
    cell = provenance["numbers"][f"test/{tiny_model}/fpb/alone"]
    assert cell["seeds"] == [1, 2] and len(cell["ledger"]) == 2 and cell["split"] == "test"
