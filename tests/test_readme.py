"""Every command the README shows in a `bash` block runs, exactly as written, from the root of a fresh copy of
the repository (what a new user has after `git clone`): the quick start's main job first, then each block in
order, each as one bash script. The quick start's test command is the one `.ci/run` runs (this suite)."""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient

from evaluation.readout import parse_rate
from ftlib.tasks.catalog import get_task

README = Path("README.md")


# Lines that Ray, DeepSpeed, transformers, Optuna, tqdm or Python's warnings write in their own formats.
FOREIGN = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[,.]\d+\s+(INFO|WARNING|ERROR)"  # Ray's log lines
                     r"|\((raylet|pid=|Train|Tune|autoscaler)"  # Ray's streamed worker / raylet lines
                     r"|^\[\d{4}-\d\d-\d\d .*\] \[(INFO|WARNING)\]"  # DeepSpeed's logger
                     r"|^\[[IWE] \d{4}-"  # Optuna's logger
                     r"|\d+it/s\]|it/s\]|\|[█▏▎▍▌▋▊▉ ]+\|"  # tqdm progress bars
                     r"|Warning: |warnings\.warn\(")


# cocktail's own lines: its tagged progress lines, its summaries and its tables (a header, a rule of dashes, rows).
OURS = re.compile(r"^$|^\[(ray|sweep|finalize|data|report|dashboard|train|eval|two-stage)\] "
                  r"|^\d+ runs: |^leaderboard \(|^results: |^  (trials table|TensorBoard|MLflow|all viewers): "
                  r"|^selected on validation:$|^replicated over seeds |^next: cocktail |^findings:$|^  - "
                  r"|^not computed \(the report says why\): |^report: |^done in \d+ min \d\d s$|^error: |^interrupted: ")
RULE = re.compile(r"^-+( +-+)*$")


def not_ours(text: str) -> list[str]:
    """The lines of ``text`` that cocktail did not write: outside its patterns and outside its tables."""
    lines, foreign, in_table = text.splitlines(), [], False
    for i, line in enumerate(lines):
        if RULE.match(line) or (i + 1 < len(lines) and RULE.match(lines[i + 1])):
            in_table = True
        elif not line:
            in_table = False
        if not (in_table or OURS.search(line)):
            foreign.append(line)
    return foreign


def bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)


def test_quick_start_is_two_commands_and_ci_runs_the_second():
    setup_and_study, tests = bash_blocks()[0].strip().splitlines()
    assert setup_and_study.startswith("python3 -m venv .venv && ")
    assert tests.startswith("python3 -m venv .venv && ") and tests.endswith("-m pytest")
    assert tests in Path(".ci/run").read_text().splitlines()


def fresh_copy(dest: Path) -> Path:
    """The repository's files as a clone has them: tracked and not-ignored ones, no outputs, no environment."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], capture_output=True,
                            check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        if Path(rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(rel, dest / rel)
    return dest


def run_block(script: str, root: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=root, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.timeout(3000)  # an install, the main job (the mini study) and every other command
def test_every_readme_command_runs_from_a_fresh_copy(tmp_path):
    root = fresh_copy(tmp_path / "cocktail")
    # The user's shell: no Ray address, no virtual environment of ours on the PATH.
    ours = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != ours)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "RAY_ADDRESS", "COCKTAIL_MODELS_DIR")}
    env["PATH"] = path
    blocks = bash_blocks()
    main_job = blocks[0].strip().splitlines()[0]
    done = run_block(main_job, root, env, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (tmp_path / "main_job.txt").write_text(done.stdout + done.stderr)  # what the user saw, kept for a look
    # A quiet terminal: none of the libraries' own lines (without -v they go nowhere near it).
    chatter = [line for line in (done.stdout + done.stderr).splitlines() if FOREIGN.search(line)]
    assert not chatter, chatter[:10]
    # ... and every line is cocktail's, from its first on (pip's install lines come before it, on stderr).
    ours_from = done.stderr[done.stderr.index("[ray] "):]
    assert not not_ours(done.stdout) and not not_ours(ours_from), (not_ours(done.stdout) + not_ours(ours_from))[:10]
    # The main job is a study that ends in a report: selected on validation, replicated, tested once.
    exp = root / "outputs" / "sweeps" / "mini-study"
    assert "selected on validation" in done.stdout and "findings:" in done.stdout
    assert f"report: {exp / 'report'}/index.html" in done.stdout
    selection = json.loads((exp / "final" / "selection.json").read_text())
    assert selection["selected_on"] == "validation" and selection["seeds"] == [2, 3, 4]  # fresh: the sweep ran 1
    assert re.search(r"^done in \d+ min \d\d s$", done.stdout, re.MULTILINE)
    # The offline world is hard enough: each sentiment target alone lands above always-the-majority-label
    # (weighted F1 ~0.5 at their ~60 % neutral) and below 0.95 on test.
    tables = exp / "report" / "tables"
    effect = {row["task"]: row for row in csv.DictReader(open(tables / "cocktail_effect_tiny_phi3.csv"))}
    for task in ("fpb", "twitter_sentiment"):
        alone = float(effect[task]["target alone (mean [95% CI])"].split()[0])
        assert 0.55 < alone < 0.95, (task, alone)
    assert len(list(csv.DictReader(open(tables / "pair_gain_tiny_phi3.csv")))) == 12  # 3 targets x 4 sources
    trained = {p.parent.name: p.stat().st_mtime_ns for p in exp.glob("trials/*/trial.json")}
    # One worker a trial: each trained in its Tune trial's own process, which trained the next ones too (two at a
    # time: the sweep's 16 and finalize's 12 runs in at most four processes, imports and base weights kept).
    records = [json.loads(p.read_text()) for p in exp.glob("trials/*/trial.json")]
    assert {r["executor"] for r in records} == {"tune"}
    assert len({r["process"]["pid"] for r in records}) <= 4
    assert max(r["process"]["runs_before"] for r in records) >= 5
    # Tracked in MLflow's SQLite store beside the sweep (no server): one run per trained run, sweep and finalize's
    # reruns alike, and the report's files in the study's parent run.
    client = MlflowClient(f"sqlite:///{exp / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("mini-study").experiment_id])
    assert sorted(r.data.tags.get("trial_name") for r in runs if "trial_name" in r.data.tags) == sorted(trained)
    parent = [r for r in runs if r.data.tags.get("cocktail.study") == "mini-study"]
    assert len(parent) == 1 and {"index.html", "summary.md", "selection.json"} <= {
        a.path for a in client.list_artifacts(parent[0].info.run_id)}
    ledger = (exp / "test_ledger.jsonl").read_text()
    for block in blocks[1:]:
        result = run_block(block, root, env, timeout=1200)
        assert result.returncode == 0, (f"README block failed:\n{block}\n" + result.stdout[-3000:] +
                                        result.stderr[-3000:])
    # The blocks finalized, resumed and reported the study again: nothing was trained or tested twice.
    assert {p.parent.name: p.stat().st_mtime_ns for p in exp.glob("trials/*/trial.json")} == trained
    assert (exp / "test_ledger.jsonl").read_text() == ledger
    entries = [json.loads(line) for line in ledger.splitlines()]
    assert entries and len({(e["key"], e["task"]) for e in entries}) == len(entries)
    assert all((Path(e["out"]) / "predictions.parquet").exists() for e in entries)
    assert {e["run_id"] for e in entries if e["run_id"].startswith("untuned:")}  # the base model's arm
    assert (root / "outputs" / "reports" / "mini-study-finben" / "index.html").exists()
    _real_model_blocks_did_what_they_say(root)


# What the README's zero-shot command parsed when measured (4 rows a task, generate mode, cocktail's reading): a run
# here must parse at least this much less one row in four (a row may read differently after a library update).
ZERO_SHOT_PARSED = {"convfinqa": 0.5, "finance_mc": 1.0, "finner_cls": 1.0, "finqa": 1.0, "fiqa_sa": 1.0, "fpb": 1.0,
                    "headline": 1.0, "orca_math": 1.0, "twitter_sentiment": 1.0, "twitter_topics": 0.75}
PARSE_MARGIN = 0.25


def _real_model_blocks_did_what_they_say(root: Path) -> None:
    smol = root / "outputs" / "models" / "smollm2-135m-instruct"
    assert (smol / "model.safetensors").exists() and (smol / "tokenizer_config.json").exists()
    evals = {path.parent: pq.read_table(path).to_pylist()
             for path in (root / "outputs" / "eval").glob("*/predictions.parquet")}
    [zero_shot] = [rows for rows in evals.values() if set(ZERO_SHOT_PARSED) <= {r["task"] for r in rows}]
    for task, measured in ZERO_SHOT_PARSED.items():
        rows = [r for r in zero_shot if r["task"] == task and r["mode"] == "generate"]
        golds, outputs, groups = ([r[k] for r in rows] for k in ("gold", "output", "group"))
        assert parse_rate("cocktail", get_task(task), golds, outputs, groups) >= measured - PARSE_MARGIN, task
    runs = {json.loads((d / "trial.json").read_text())["method"]: d
            for d in (root / "outputs" / "runs").glob("smollm2-lora-*")}
    steps = [json.loads(line) for line in (runs["lora"] / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1]["train_loss"] < steps[0]["train_loss"] and steps[-1]["val_loss"] < steps[0]["val_loss"]
    assert (runs["lora"] / "model" / "adapter_model.safetensors").exists()  # adapters, which eval --run reloaded
    [tuned] = [rows for rows in evals.values() if {r["task"] for r in rows} == {"fpb", "twitter_sentiment"}]
    assert len(tuned) == 32 and sum(r["parsed"] is not None for r in tuned) >= 24
    full = json.loads((runs["full"] / "trial.json").read_text())
    assert full["steps"] == 1 and (runs["full"] / "model" / "model.safetensors").exists()
