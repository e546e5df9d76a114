"""The house's rules that import-linter and ruff do not check (they run in .ci/run): small modules and functions,
deferred imports only in CLI handlers and each with its reason, one home per concept, no two public names alike,
and a CLI whose help and report load none of the heavy libraries."""
import ast
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ftlib", "evaluation", "sweeps")
HEAVY = ("torch", "ray.train", "transformers", "peft", "deepspeed")
# Data tables may run long; nothing else does.
TABLES = {"ftlib/planner/known_models.py", "ftlib/tasks/vocab.py"}


def modules():
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def is_cli(path: Path) -> bool:
    return "cli" in path.relative_to(ROOT).parts or path.stem == "cli"


def in_function_imports(tree: ast.Module):
    parents = {c: n for n in ast.walk(tree) for c in ast.iter_child_nodes(n)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            up = node
            while up in parents:
                up = parents[up]
                if isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield node, up
                    break


def test_modules_and_functions_are_small():
    too_long = [f"{rel(p)}: {n} lines" for p in modules() if rel(p) not in TABLES
                for n in [len(p.read_text().splitlines())] if n > 400]
    long_functions = [f"{rel(p)}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines"
                      for p in modules() for node in ast.walk(ast.parse(p.read_text()))
                      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.end_lineno - node.lineno + 1 > 60]
    assert not too_long and not long_functions, too_long + long_functions


def test_imports_inside_functions_are_cli_handlers_deferring_a_heavy_library_and_saying_so():
    deferred, elsewhere, unexplained = [], [], []
    for path in modules():
        lines = path.read_text().splitlines()
        for node, function in in_function_imports(ast.parse(path.read_text())):
            where = f"{rel(path)}:{node.lineno}"
            if not is_cli(path):
                elsewhere.append(where)
                continue
            deferred.append(where)
            if not re.search(r"# deferred: .+, [\d.]+ s$", lines[node.lineno - 1]):
                unexplained.append(where)
    assert not elsewhere, f"imports inside functions outside CLI handlers: {elsewhere}"
    assert not unexplained, f"deferred imports without `# deferred: <what>, <seconds> s`: {unexplained}"
    assert 0 < len(deferred) <= 20


@pytest.mark.parametrize("pattern, home", [
    (r"yaml\.safe_load", "ftlib/core/configs.py"),
    (r"ConfigDict\(", "ftlib/core/configs.py"),
    (r"\bhashlib\b", "ftlib/core/hashing.py"),
    (r"os\.replace|mkstemp", "ftlib/core/storage.py"),
])
def test_one_home_per_concept(pattern, home):
    assert [rel(p) for p in modules() if re.search(pattern, p.read_text())] == [home]


def test_experiment_dir_names_live_in_the_layout_module():
    files = {"sweep.json", "trials.parquet", "selection.json", "surrogate.json", "proposals.yaml", "two_stage.json",
             "optuna.db"}
    found = []
    for path in modules():
        tree = ast.parse(path.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                if node.value in files or re.search(r"/(tune|final|trials)\b", node.value):
                    found.append(f"{rel(path)}:{node.lineno} {node.value!r}")
    assert [f for f in found if not f.startswith("sweeps/layout.py")] == []
    assert len(found) >= len(files)  # the layout module does name them


def test_no_two_public_classes_or_functions_share_a_name():
    defined = defaultdict(list)
    for path in modules():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                defined[node.name].append(rel(path))
    # Every verb's module has its add_parser: the one interface the CLI composes.
    assert {name: where for name, where in defined.items() if len(where) > 1 and name != "add_parser"} == {}


def test_the_help_loads_no_heavy_library():
    code = ("import sys; from sweeps.cli.main import build_parser; build_parser(); "
            f"print(sorted(set({HEAVY!r}) & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_a_report_loads_no_heavy_library(tmp_path):
    code = f"""
import sys
import numpy as np
from sweeps.report.simulate import random_truth, write_study
from sweeps.cli.main import main
exp = write_study({str(tmp_path / "exp")!r}, random_truth(np.random.default_rng(0), ["fpb", "finqa"], ["fpb"], 0.1),
                  seeds=1, examples=20, rng=np.random.default_rng(1))
assert main(["report", str(exp), "--resamples", "100"]) == 0
print(sorted(set({HEAVY!r}) & set(sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout[-2000:]
    assert (tmp_path / "exp" / "report" / "index.html").exists()
