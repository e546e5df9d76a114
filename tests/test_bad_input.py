"""Bad input and damaged state, as a new user meets them: every case ends in exit 2 and one ``error:`` line that
names the file, flag or key, before Ray starts, and every byte that was there before is still there (nothing
written, nothing deleted). Each case runs the CLI in this process (``sweeps.cli.main.main``); Ray refuses to
start here, so a check that only the real run makes shows as a failure, not as a slow run."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import optuna
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray
import yaml

from sweeps.cli.main import main
from sweeps.report.simulate import random_truth, write_study

POOL = ["fpb", "twitter_sentiment", "headline", "orca_math"]
LR = {"type": "float", "low": 5e-4, "high": 5e-3, "log": True}


class Sandbox:
    """A temporary directory with what the cases need: a finished (simulated) study ``S``, a sweep YAML, files."""

    def __init__(self, root: Path, data: str, model: str):
        self.root, self.data, self.model = root, data, model

    def study(self) -> Path:
        return self.root / "S"

    def sweep_yaml(self, edit: Callable[[dict], None] | None = None, name: str = "sweep.yaml") -> Path:
        config = {
            "name": "bad", "pool": POOL,
            "base": {"model": {"name": "tiny-phi3"}, "method": "full", "mixture": {"budget": 400},
                     "data": {"dir": self.data, "seq_len": 256, "val_examples": 8}, "micro_batch_size": 4,
                     "max_steps": 4, "eval_every": 2},
            "search": {"optuna": {"num_samples": 2, "weights": POOL, "params": {"optim.lr": dict(LR)}}},
            "objective": {"limit": 8, "eval_mode": "score"},
            "resources": {"max_concurrent_trials": 1, "storage_path": str(self.root / "sweeps")},
        }
        if edit:
            edit(config)
        path = self.root / name
        path.write_text(yaml.safe_dump(config))
        return path

    def run_yaml(self, edit: Callable[[dict], None] | None = None) -> Path:
        config = {"name": "run", "model": {"name": "tiny-phi3"}, "mixture": {"sources": {"fpb": {"rows": 8}}},
                  "data": {"dir": self.data, "seq_len": 128, "val_examples": 4}, "max_steps": 2,
                  "output_dir": str(self.root / "runs")}
        if edit:
            edit(config)
        path = self.root / "run.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    def canary_dir(self, name: str = "mine") -> Path:
        d = self.root / name
        d.mkdir(exist_ok=True)
        (d / "notes.txt").write_text("the user's own file")
        return d

    def canary_file(self, name: str = "mine.txt") -> Path:
        f = self.root / name
        f.write_text("the user's own file")
        return f


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    return write_study(tmp_path_factory.mktemp("template") / "S", random_truth(rng, POOL, ["fpb", "headline"], 0.4),
                       seeds=1, examples=20, rng=rng)


@pytest.fixture
def box(tmp_path, prepared, tiny_model, simulated, monkeypatch):
    def no_ray(*args, **kwargs):
        raise AssertionError("Ray was started: this input was not refused before any resource was claimed")

    monkeypatch.setattr(ray, "init", no_ray)
    monkeypatch.setenv("COCKTAIL_MODELS_DIR", str(Path(tiny_model).parent))
    monkeypatch.chdir(tmp_path)
    shutil.copytree(simulated, tmp_path / "S")
    return Sandbox(tmp_path, str(prepared), tiny_model)


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
            for p in sorted(root.rglob("*"))}


def refused(box: Sandbox, capsys, args: list[str], want: str, rc: int = 2) -> str:
    """Runs the CLI; asserts the exit code, one error line naming ``want``, and an unchanged sandbox."""
    before = tree(box.root)
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:  # argparse's refusals
        code = e.code
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == rc and len(errors) == 1 and want in errors[0], (code, out[-1500:], err[-3000:])
    assert "Traceback" not in err
    assert tree(box.root) == before
    return errors[0]


# --- sweep configs: refused alike by the dry run and the real run ---------------------------------------------

def _set(path: str, value):
    def edit(config: dict) -> None:
        node = config
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    path = path.split("/")
    return edit


def _param(**changes):
    return _set("search/optuna/params", {"optim.lr": {**LR, **changes}})


SWEEP_CASES = {
    "lr-inf": (_set("base/optim", {"lr": float("inf")}), "base.optim.lr"),
    "lr-nan": (_set("base/optim", {"lr": float("nan")}), "base.optim.lr"),
    "negative-seed": (_set("seeds", [-1]), "seeds"),
    "no-seeds": (_set("seeds", []), "seeds"),
    "repeated-seeds": (_set("seeds", [1, 1]), "seeds"),
    "repeated-pool": (_set("pool", [*POOL, "fpb"]), "pool"),
    "name-escapes": (_set("name", "../../x"), "name"),
    "name-empty": (_set("name", ""), "name"),
    "name-with-slash": (_set("name", "a/b"), "name"),
    "name-dot-dot": (_set("name", ".."), "name"),
    "models-in-optuna": (_set("models", ["tiny-phi3", "tiny-llama"]), "models"),
    "tracking-in-base": (_set("base/tracking", {"mlflow": {}}), "base.tracking"),
    "mlflow-sqlite-in-object-store": (lambda c: (_set("tracking", {"mlflow": {}})(c),
                                                 _set("resources/storage_path", "s3://bucket/sweeps")(c)),
                                      "tracking.mlflow.tracking_uri"),
    "wandb-mode-unknown": (_set("tracking", {"wandb": {"mode": "sometimes"}}), "tracking.wandb.mode"),
    "unknown-lora-target": (lambda c: c["base"].update(method="lora", lora={"target_modules": ["nope"]}),
                            "lora.target_modules"),
    "unknown-eval-task": (_set("base/eval_tasks", ["nope"]), "eval_tasks"),
    "seq-len-over-model": (_set("base/data/seq_len", 100_000), "seq_len"),
    "range-nan": (_param(low=float("nan")), "low"),
    "range-reversed": (_param(low=1e-2, high=1e-3), "low < high"),
    "log-from-zero": (_param(low=0.0), "log"),
    "unknown-param-path": (_set("search/optuna/params", {"optim.lrr": LR}), "optim.lrr"),
    "unknown-when-path": (_param(when={"lora.rr": 8}), "lora.rr"),
    "no-choices": (_set("search/optuna/params", {"lora.r": {"type": "categorical", "choices": []}}), "choices"),
    "repeated-choices": (_set("search/optuna/params", {"lora.r": {"type": "categorical", "choices": [8, 8]}}),
                         "repeated"),
    "point-unknown-name": (_set("search/optuna/points_to_evaluate", [{"w_nope": 1.0}]), "points_to_evaluate"),
    "point-outside-range": (_set("search/optuna/points_to_evaluate", [{"optim.lr": 5.0}]), "points_to_evaluate"),
    "point-negative-weight": (_set("search/optuna/points_to_evaluate", [{"w_fpb": -1}]), "points_to_evaluate"),
    "cpus-above-machine": (_set("base/cpus_per_worker", 512), "CPUs"),
    "optuna-seed-negative": (_set("search/optuna/seed", -1), "seed"),
    "base-seed-negative": (_set("base/seed", -1), "base.seed"),
    "objective-task-twice": (_set("objective/tasks", ["fpb", "fpb"]), "objective.tasks"),
    "objective-unknown-task": (_set("objective/tasks", ["nope"]), "nope"),
    "objective-limit-zero": (_set("objective/limit", 0), "objective.limit"),
    "max-steps-zero": (_set("base/max_steps", 0), "max_steps"),
    "micro-batch-zero": (_set("base/micro_batch_size", 0), "micro_batch_size"),
    "num-samples-zero": (_set("search/optuna/num_samples", 0), "num_samples"),
    "concurrency-zero": (_set("resources/max_concurrent_trials", 0), "max_concurrent_trials"),
    "finalize-seeds-zero": (_set("finalize", {"seeds": 0}), "finalize.seeds"),
    "finalize-no-tasks": (_set("finalize", {"tasks": []}), "finalize.tasks"),
    "finalize-unknown-task": (_set("finalize", {"tasks": ["nope"]}), "nope"),
    "report-few-resamples": (_set("report", {"resamples": 10}), "report.resamples"),
    "budget-zero": (_set("base/mixture/budget", 0), "budget"),
    "unknown-key": (_set("base/optim", {"lrr": 0.1}), "did you mean lr"),
    "search-weights-outside-pool": (_set("search/optuna/weights", ["finqa"]), "not in pool"),
    "unknown-pool-task": (_set("pool", ["nope"]), "nope"),
    "grid-task-outside-pool": (lambda c: c.update(search={"grid": {"mixtures": [{"fpb": 1.0, "finqa": 1.0}]}}),
                               "finqa"),
    "grid-recipe-without-sources": (lambda c: (Path(c["resources"]["storage_path"]).parent.joinpath(
        "recipe.yaml").write_text("budget: 10\n"), c.update(search={"grid": {
            "design": "subsets", "recipe": str(Path(c["resources"]["storage_path"]).parent / "recipe.yaml")}})),
        "recipe.yaml"),
    "data-dir-is-a-file": (lambda c: c["base"]["data"].update(dir=str(Path(c["resources"]["storage_path"]).parent /
                                                                      "run.yaml")), "data.dir"),
}


@pytest.mark.parametrize("dry", [True, False], ids=["dry-run", "run"])
@pytest.mark.parametrize("case", sorted(SWEEP_CASES))
def test_a_bad_sweep_config_is_refused_by_the_dry_run_and_the_run(box, capsys, case, dry):
    edit, want = SWEEP_CASES[case]
    box.run_yaml()  # data-dir-is-a-file points at it
    path = box.sweep_yaml(edit)
    refused(box, capsys, ["sweep", "run", path, *(["--dry-run"] if dry else [])], want)


SWEEP_FILE_CASES = {
    "set-not-yaml": (["--set", "base.optim.lr=[1"], "--set"),
    "set-without-equals": (["--set", "base.optim.lr"], "--set"),
    "set-into-a-value": (["--set", "base.optim.lr.x=1"], "base.optim.lr"),
    "name-flag-escapes": (["--name", "../elsewhere"], "name"),
}


@pytest.mark.parametrize("case", sorted(SWEEP_FILE_CASES))
def test_bad_sweep_flags(box, capsys, case):
    extra, want = SWEEP_FILE_CASES[case]
    refused(box, capsys, ["sweep", "run", box.sweep_yaml(), *extra], want)


def _write(name: str, data: bytes):
    def make(box: Sandbox) -> Path:
        path = box.root / name
        path.write_bytes(data)
        return path
    return make


YAML_FILE_CASES = {
    "missing": (lambda box: box.root / "none.yaml", "no such file"),
    "directory": (lambda box: box.canary_dir("adir"), "a directory"),
    "not-utf8": (_write("latin.yaml", "name: caf\xe9\n".encode("latin-1")), "not UTF-8"),
    "not-yaml": (_write("broken.yaml", b"name: [unclosed\n"), "not valid YAML"),
    "a-list": (_write("list.yaml", b"- 1\n- 2\n"), "expected a mapping"),
    "empty": (_write("empty.yaml", b""), "expected a mapping"),
}


@pytest.mark.parametrize("verb", ["sweep", "train", "submit"])
@pytest.mark.parametrize("case", sorted(YAML_FILE_CASES))
def test_a_config_file_that_cannot_be_read(box, capsys, case, verb):
    make, want = YAML_FILE_CASES[case]
    path = make(box)
    args = {"sweep": ["sweep", "run", path, "--dry-run"], "train": ["train", path, "--dry-run"],
            "submit": ["submit", path, "--address", "http://127.0.0.1:1", "--dry-run"]}[verb]
    refused(box, capsys, args, want)


UNREADABLE = {  # what is made unreadable (in a copy of the sandbox) and the command that must read it
    "sweep-config": ("sweep.yaml", lambda box: ["sweep", "run", "sweep.yaml", "--dry-run"]),
    "sweep.json-status": ("S/sweep.json", lambda box: ["sweep", "status", "S"]),
    "trials.parquet-report": ("S/trials.parquet", lambda box: ["report", "S", "--out", "r"]),
}


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv to drop to nobody")
@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_a_file_without_read_permission_is_named(box, case):
    """Root reads every file, so the CLI runs as ``nobody`` on a world-readable copy with one file mode 000."""
    target, args = UNREADABLE[case]
    box.sweep_yaml()
    root = Path(tempfile.mkdtemp(prefix="cocktail-perm-"))
    try:
        shutil.copytree(box.root, root, dirs_exist_ok=True)
        for path in [root, *root.rglob("*")]:
            path.chmod(0o777 if path.is_dir() else 0o644)
        (root / target).chmod(0)
        before = tree(root)
        proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                               "from sweeps.cli.main import main; raise SystemExit(main())", *args(box)],
                              cwd=root, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        errors = [line for line in proc.stderr.splitlines() if "error:" in line]
        assert proc.returncode == 2 and len(errors) == 1, (proc.returncode, proc.stdout[-800:], proc.stderr[-2000:])
        assert Path(target).name in errors[0] and "Permission denied" in errors[0], errors
        assert tree(root) == before
    finally:
        shutil.rmtree(root)


# --- run configs (cocktail train) ------------------------------------------------------------------------------

RUN_CASES = {
    "lr-inf": (lambda c: c.update(optim={"lr": float("inf")}), "optim.lr"),
    "name-escapes": (lambda c: c.update(name="../../x"), "name"),
    "seed-negative": (lambda c: c.update(seed=-1), "seed"),
    "unknown-lora-target": (lambda c: c.update(method="lora", lora={"target_modules": ["nope"]}),
                            "lora.target_modules"),
    "data-dir-is-a-file": (lambda c: c["data"].update(dir=str(Path(c["output_dir"]).parent / "S" / "sweep.json")),
                           "data.dir"),
    "seq-len-over-model": (lambda c: c["data"].update(seq_len=100_000), "seq_len"),
    "unknown-eval-task": (lambda c: c.update(eval_tasks=["nope"]), "eval_tasks"),
    "activation-checkpointing-maybe": (lambda c: c.update(activation_checkpointing="maybe"),
                                       "activation_checkpointing"),
    "weights-sum-overflow": (lambda c: c.update(mixture={"sources": {"fpb": {"weight": 1e308},
                                                                     "finqa": {"weight": 1e308}}, "budget": 10}),
                             "mixture"),
}


@pytest.mark.parametrize("dry", [True, False], ids=["dry-run", "run"])
@pytest.mark.parametrize("case", sorted(RUN_CASES))
def test_a_bad_run_config_is_refused_by_the_dry_run_and_the_run(box, capsys, case, dry):
    edit, want = RUN_CASES[case]
    refused(box, capsys, ["train", box.run_yaml(edit), *(["--dry-run"] if dry else [])], want)


def test_on_and_off_unquoted_in_yaml_are_read_as_meant(box, capsys):
    path = box.run_yaml()
    path.write_text(path.read_text() + "activation_checkpointing: off\n")
    assert "activation_checkpointing: off" in path.read_text() and yaml.safe_load(path.read_text())[
        "activation_checkpointing"] is False
    assert main(["train", str(path), "--dry-run"]) == 0, capsys.readouterr().err


# --- outputs: nothing the command did not write is replaced ----------------------------------------------------

def _out_cases():
    return {
        "tiny-over-a-users-dir": (lambda b: ["model", "tiny", "--out", b.canary_dir()], "--out"),
        "tiny-over-a-file": (lambda b: ["model", "tiny", "--out", b.canary_file()], "--out"),
        "tiny-over-an-earlier-model": (lambda b: ["model", "tiny", "--out", shutil.copytree(
            b.model, b.root / "model")], "--force"),
        "report-onto-the-sweep": (lambda b: ["report", b.study(), "--out", b.study()], "--out"),
        "report-into-the-sweep": (lambda b: ["report", b.study(), "--out", b.study() / "final"], "--out"),
        "report-around-the-sweep": (lambda b: ["report", b.study(), "--out", b.root], "--out"),
        "report-over-a-users-dir": (lambda b: ["report", b.study(), "--out", b.canary_dir()], "--out"),
        "report-over-a-file": (lambda b: ["report", b.study(), "--out", b.canary_file()], "--out"),
        "prepare-over-a-users-dir": (lambda b: ["data", "prepare", "--tasks", "fpb", "--out", b.canary_dir()],
                                     "--out"),
        "prepare-over-a-file": (lambda b: ["data", "prepare", "--tasks", "fpb", "--out", b.canary_file()], "--out"),
        "mix-over-a-file": (lambda b: ["data", "mix", "--weights", "fpb=1", "--budget", "10", "--data", b.data,
                                       "--out", b.canary_file()], "--force"),
        "mix-over-a-dir": (lambda b: ["data", "mix", "--weights", "fpb=1", "--budget", "10", "--data", b.data,
                                      "--out", b.canary_dir()], "--out"),
        "eval-over-a-users-dir": (lambda b: ["eval", "--model", "tiny-phi3", "--tasks", "fpb", "--data", b.data,
                                             "--limit", "2", "--out", b.canary_dir()], "--out"),
        "propose-over-a-file": (lambda b: ["sweep", "propose", b.study(), "--out", b.canary_file()], "--force"),
        "sweep-into-a-users-dir": (lambda b: ["sweep", "run", b.sweep_yaml(), "--set",
                                              f"resources.storage_path={b.canary_dir('store').parent}",
                                              "--name", "store"], "no sweep wrote"),
    }


@pytest.mark.parametrize("case", sorted(_out_cases()))
def test_an_output_never_replaces_what_the_command_did_not_write(box, capsys, case):
    args, want = _out_cases()[case]
    refused(box, capsys, args(box), want)


def test_force_replaces_an_earlier_output_of_the_same_kind_only(box, capsys):
    mix = ["data", "mix", "--weights", "fpb=1", "--budget", "10", "--data", box.data, "--out", "plan.parquet"]
    assert main(mix) == 0 and main(mix) == 2 and main([*mix, "--force"]) == 0
    assert "--force" in capsys.readouterr().err
    assert main(["report", str(box.study()), "--out", "rep", "--resamples", "100"]) == 0
    assert main(["report", str(box.study()), "--out", "rep", "--resamples", "100"]) == 2
    assert main(["report", str(box.study()), "--out", "rep", "--resamples", "100", "--force"]) == 0
    capsys.readouterr()
    # --force replaces a report, never something else.
    refused(box, capsys, ["report", box.study(), "--out", box.canary_dir(), "--force"], "did not write")
    assert (box.root / "rep" / "index.html").exists()


# --- flags -----------------------------------------------------------------------------------------------------

def _flag_cases():
    mix = ["data", "mix", "--budget", "10"]
    ev = ["eval", "--model", "tiny-phi3", "--tasks", "fpb"]
    return {
        "tiny-hidden-zero": (["model", "tiny", "--out", "m", "--hidden", "0"], "--hidden"),
        "tiny-hidden-not-heads": (["model", "tiny", "--out", "m", "--hidden", "130"], "--hidden"),
        "tiny-layers-zero": (["model", "tiny", "--out", "m", "--layers", "0"], "--layers"),
        "tiny-vocab-zero": (["model", "tiny", "--out", "m", "--vocab-size", "0"], "--vocab-size"),
        "tiny-seed-negative": (["model", "tiny", "--out", "m", "--seed", "-1"], "--seed"),
        "prepare-offline-rows-zero": (["data", "prepare", "--offline-rows", "0"], "--offline-rows"),
        "prepare-offline-rows-negative": (["data", "prepare", "--offline-rows", "-3"], "--offline-rows"),
        "prepare-seed-negative": (["data", "prepare", "--seed", "-1"], "--seed"),
        "prepare-unknown-task": (["data", "prepare", "--tasks", "nope"], "nope"),
        "prepare-no-task": (["data", "prepare", "--tasks", ","], "no task named"),
        "prepare-task-twice": (["data", "prepare", "--tasks", "fpb,fpb"], "twice"),
        "show-unknown-task": (["data", "show", "nope"], "nope"),
        "show-n-zero": (["data", "show", "fpb", "-n", "0"], "-n"),
        "show-data-is-a-file": (["data", "show", "fpb", "--data", "S/sweep.json"], "S/sweep.json"),
        "mix-weights-overflow": ([*mix, "--weights", "fpb=1e308,finqa=1e308"], "weights sum"),
        "mix-weight-inf": ([*mix, "--weights", "fpb=inf"], "--weights"),
        "mix-weight-negative": ([*mix, "--weights", "fpb=-1"], "--weights"),
        "mix-weight-text": ([*mix, "--weights", "fpb=abc"], "--weights"),
        "mix-weight-no-value": ([*mix, "--weights", "fpb"], "--weights"),
        "mix-weights-zero": ([*mix, "--weights", "fpb=0,finqa=0"], "zero"),
        "mix-weight-twice": ([*mix, "--weights", "fpb=1,fpb=2"], "twice"),
        "mix-unknown-task": ([*mix, "--weights", "nope=1"], "nope"),
        "mix-cap-text": ([*mix, "--weights", "fpb=1", "--cap", "fpb=abc"], "--cap"),
        "mix-cap-negative": ([*mix, "--weights", "fpb=1", "--cap", "fpb=-1"], "--cap"),
        "mix-cap-unknown": ([*mix, "--weights", "fpb=1", "--cap", "finqa=3"], "--cap"),
        "mix-budget-zero": (["data", "mix", "--weights", "fpb=1", "--budget", "0"], "--budget"),
        "mix-temperature-zero": ([*mix, "--weights", "fpb=1", "--temperature", "0"], "temperature"),
        "mix-temperature-nan": ([*mix, "--weights", "fpb=1", "--temperature", "nan"], "temperature"),
        "mix-seed-negative": ([*mix, "--weights", "fpb=1", "--seed", "-1"], "--seed"),
        "mix-spec-missing": (["data", "mix", "--spec", "none.yaml"], "none.yaml"),
        "mix-nothing": (["data", "mix"], "--weights"),
        "eval-limit-zero": ([*ev, "--limit", "0"], "--limit"),
        "eval-limit-negative": ([*ev, "--limit", "-3"], "--limit"),
        "eval-batch-zero": ([*ev, "--batch-size", "0"], "--batch-size"),
        "eval-batch-negative": ([*ev, "--batch-size", "-1"], "--batch-size"),
        "eval-actors-zero": ([*ev, "--ray", "--actors", "0"], "--actors"),
        "eval-gpus-negative": ([*ev, "--gpus-per-actor", "-1"], "--gpus-per-actor"),
        "eval-seed-negative": ([*ev, "--seed", "-1"], "--seed"),
        "eval-unknown-task": (["eval", "--model", "tiny-phi3", "--tasks", "nope"], "nope"),
        "eval-no-task": (["eval", "--model", "tiny-phi3", "--tasks", ","], "no task named"),
        "eval-missing-model": (["eval", "--model", "./none", "--tasks", "fpb"], "--model"),
        "eval-run-not-trained": (["eval", "--run", "S/sweep.json", "--tasks", "fpb"], "sweep.json"),
        "report-resamples-low": (["report", "S", "--resamples", "50"], "--resamples"),
        "report-seed-negative": (["report", "S", "--seed", "-1"], "--seed"),
        "report-missing-dir": (["report", "none"], "none"),
        "report-a-file": (["report", "S/sweep.json"], "sweep.json"),
        "report-empty-dir": (["report", "empty"], "not a sweep directory"),
        "report-compare-missing": (["report", "S", "--compare", "none"], "none"),
        "propose-top-zero": (["sweep", "propose", "S", "--top", "0"], "--top"),
        "propose-top-negative": (["sweep", "propose", "S", "--top", "-1"], "--top"),
        "propose-samples-zero": (["sweep", "propose", "S", "--samples", "0"], "--samples"),
        "propose-samples-negative": (["sweep", "propose", "S", "--samples", "-5"], "--samples"),
        "propose-seeds-text": (["sweep", "propose", "S", "--seeds", "a,b"], "--seeds"),
        "propose-seeds-negative": (["sweep", "propose", "S", "--seeds", "-1"], "--seeds"),
        "propose-seeds-twice": (["sweep", "propose", "S", "--seeds", "1,1"], "--seeds"),
        "propose-constraint-syntax": (["sweep", "propose", "S", "--constraint", "fpb>>0.3"], "--constraint"),
        "propose-constraint-unknown-task": (["sweep", "propose", "S", "--constraint", "nope>=0.1"], "nope"),
        "propose-unknown-model": (["sweep", "propose", "S", "--model", "nope"], "--model"),
        "propose-unknown-target": (["sweep", "propose", "S", "--target", "nope"], "nope"),
        "propose-missing-dir": (["sweep", "propose", "none"], "none"),
        "finalize-seeds-zero": (["sweep", "finalize", "S", "--seeds", "0"], "--seeds"),
        "finalize-no-task": (["sweep", "finalize", "S", "--tasks", ","], "--tasks"),
        "finalize-unknown-task": (["sweep", "finalize", "S", "--tasks", "nope"], "nope"),
        "finalize-missing-dir": (["sweep", "finalize", "none"], "none"),
        "status-missing-dir": (["sweep", "status", "none"], "none"),
        "status-a-file": (["sweep", "status", "S/sweep.json"], "sweep.json"),
        "status-empty-dir": (["sweep", "status", "empty"], "not a sweep directory"),
        "resume-missing-dir": (["sweep", "resume", "none"], "none"),
        "resume-no-tune-state": (["sweep", "resume", "S"], "tune"),
        "status-no-tune-state": (["sweep", "status", "S"], "tune"),
        "finalize-no-tune-state": (["sweep", "finalize", "S"], "tune"),
    }


@pytest.mark.parametrize("case", sorted(_flag_cases()))
def test_a_bad_flag_is_one_line_naming_it(box, capsys, case):
    args, want = _flag_cases()[case]
    (box.root / "empty").mkdir()
    refused(box, capsys, args, want)


def test_an_exclusion_constraint_reads_as_the_readme_writes_it(box, capsys):
    assert main(["sweep", "propose", "S", "--constraint", "-orca_math", "--top", "1", "--samples", "200",
                 "--out", "p.yaml"]) == 0, capsys.readouterr().err
    assert all("orca_math" not in p["mixture"]["sources"] for p in yaml.safe_load(open("p.yaml"))["search"]["grid"][
        "mixtures"] if isinstance(p, dict) and "mixture" in p) or "orca_math" not in open("p.yaml").read().split(
        "surrogate:")[0]


# --- damaged state files, met by every reader ------------------------------------------------------------------

def _damage(name: str, how: str):
    def make(box: Sandbox) -> None:
        path = box.study() / name
        data = path.read_bytes() if path.exists() else b""
        path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00\xffnot this at all" * 10,
                          "empty": b"", "latin1": "{\"name\": \"caf\xe9\"}".encode("latin-1"),
                          "list": b"[1, 2]", "wrong": json.dumps({"name": "S", "pool": []}).encode()}[how])
    return make


def _wrong_columns(box: Sandbox) -> None:
    pq.write_table(pa.table({"x": [1, 2]}), box.study() / "trials.parquet")


def _optuna(kind: str):
    """The study made an Optuna sweep, its optuna.db then damaged or another sweep's."""
    def make(box: Sandbox) -> None:
        saved = json.loads((box.study() / "sweep.json").read_text())
        saved["search"] = {"optuna": {"weights": POOL}}
        (box.study() / "sweep.json").write_text(json.dumps(saved))
        db = box.study() / "optuna.db"
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        optuna.create_study(study_name="someone-else" if kind == "foreign" else saved["name"],
                            storage=f"sqlite:///{db}")
        if kind == "garbage":
            db.write_bytes(b"\x00\xffnot sqlite" * 100)
        elif kind == "truncated":
            db.write_bytes(db.read_bytes()[:3000])
    return make


STATE_CASES = {
    **{f"sweep.json-{how}": (_damage("sweep.json", how), "sweep.json")
       for how in ("truncated", "garbage", "empty", "latin1", "list", "wrong")},
    **{f"trials.parquet-{how}": (_damage("trials.parquet", how), "trials.parquet")
       for how in ("truncated", "garbage", "empty")},
    "trials.parquet-wrong-columns": (_wrong_columns, "trials.parquet"),
    **{f"optuna.db-{kind}": (_optuna(kind), "optuna.db") for kind in ("garbage", "truncated", "foreign")},
}


@pytest.mark.parametrize("verb", ["status", "report", "finalize", "propose", "resume"])
@pytest.mark.parametrize("case", sorted(STATE_CASES))
def test_a_damaged_state_file_is_named_by_every_reader(box, capsys, case, verb):
    damage, want = STATE_CASES[case]
    damage(box)
    args = {"status": ["sweep", "status", "S"], "report": ["report", "S", "--out", "rep"],
            "finalize": ["sweep", "finalize", "S"], "propose": ["sweep", "propose", "S"],
            "resume": ["sweep", "resume", "S"]}[verb]
    line = refused(box, capsys, args, want)
    assert "restore" in line or "remove" in line  # how to recover
