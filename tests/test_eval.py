"""The harness end to end on the tiny model: files, table, adapters, test ledger, Ray Data backend."""
import json

import pyarrow.parquet as pq
import pytest
import torch

from evaluation.backends import LocalBackend, RayBackend
from evaluation.harness import evaluate
from evaluation.inference import generate, load_for_eval, merge_adapter
from sweeps.cli.main import main
from ftlib.tasks.prompts import render_prompt
from ftlib.tasks.store import read_split

TASKS = "fpb,headline,finqa,orca_math,openorca,finance_mc"


@pytest.fixture(scope="module")
def adapter(tiny_model, tmp_path_factory):
    """A LoRA adapter with non-zero weights, saved like a LoRA run's model/ dir."""
    from transformers import AutoModelForCausalLM

    from ftlib.models.load import apply_lora
    from ftlib.models.tokenizer import load_tokenizer
    from ftlib.models.config import LoraConfig

    torch.manual_seed(0)
    model = apply_lora(AutoModelForCausalLM.from_pretrained(tiny_model), LoraConfig())
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.2)
    out = tmp_path_factory.mktemp("run") / "model"
    model.save_pretrained(out)
    load_tokenizer(tiny_model).save_pretrained(out)
    (out / "cocktail.json").write_text(json.dumps({"base_model": tiny_model, "method": "lora"}))
    return str(out)


def test_eval_cli_writes_scores_predictions_and_a_table(prepared, tiny_model, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["eval", "--model", tiny_model, "--tasks", TASKS, "--data", str(prepared), "--limit", "6",
                 "--out", str(out), "--mode", "both"]) == 0
    table = capsys.readouterr().out
    assert "f1_weighted" in table and "avg_f1" in table and "exact_match" in table and "perplexity" in table
    scores = pq.read_table(out / "scores.parquet").to_pylist()
    assert {s["task"] for s in scores} == set(TASKS.split(","))
    assert all(s["split"] == "validation" and s["n"] == 6 and len(s["model_hash"]) == 16 for s in scores)
    by = {(s["task"], s["metric"]): s["value"] for s in scores}
    assert 0 <= by[("fpb", "score/accuracy")] <= 1 and by[("openorca", "perplexity")] > 1
    preds = pq.read_table(out / "predictions.parquet")
    assert preds.num_rows == 6 * 2 * 3 + 6 * 3  # fpb, headline, finance_mc in two modes; the rest in one
    row = [p for p in preds.to_pylist() if p["task"] == "fpb"][0]
    assert row["prompt"].endswith("### Response:\n") and row["gold"] in ("negative", "neutral", "positive")
    assert not (tmp_path / "test_ledger.jsonl").exists()


def test_test_split_is_scored_once_and_every_scoring_is_recorded(prepared, tiny_model, tmp_path, capsys,
                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["eval", "--model", tiny_model, "--tasks", "fpb", "--data", str(prepared), "--limit", "2", "--split", "test"]
    assert main([*args, "--out", "first"]) == 0
    # The ledger is the model's, wherever --out points: scores written elsewhere are still a second look.
    for out in ("first", "elsewhere"):
        assert main([*args, "--out", out]) == 2 and "already scored on the test split of ['fpb']" in \
            capsys.readouterr().err
    assert not (tmp_path / "elsewhere").exists()
    assert main([*args, "--out", "first", "--retest"]) == 2 and "--force" in capsys.readouterr().err
    assert main([*args, "--out", "first", "--retest", "--force"]) == 0
    lines = [json.loads(line) for line in (tmp_path / "outputs/eval/test_ledger.jsonl").read_text().splitlines()]
    assert [(e["task"], e["retest"]) for e in lines] == [("fpb", False), ("fpb", True)]


def test_eval_errors_before_loading_a_model(prepared, tmp_path, capsys):
    assert main(["eval", "--model", "tiny-phi3", "--tasks", "nope", "--data", str(prepared)]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err
    assert main(["eval", "--model", str(tmp_path / "none"), "--tasks", "fpb", "--data", str(prepared)]) == 2
    assert "--model" in capsys.readouterr().err
    # Unprepared tasks: prepared from --source, as `cocktail train` does; an unreachable hub is one line.
    assert main(["eval", "--model", "tiny-phi3", "--tasks", "fpb", "--data", str(tmp_path / "hubdata"),
                 "--source", "hub", "--out", str(tmp_path / "eval")]) == 2
    err = capsys.readouterr().err
    assert "odedovadia/financial_phrasebank_split" in err and "source offline" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "hubdata").exists() and not (tmp_path / "eval").exists()
    assert main(["eval", "--model", "tiny-phi3", "--tasks", "fpb", "--data", str(tmp_path / "data"), "--limit", "4",
                 "--out", str(tmp_path / "eval")]) == 0
    assert (tmp_path / "data" / "fpb" / "test.parquet").exists() and (tmp_path / "eval" / "scores.parquet").exists()


def test_batched_generation_equals_one_at_a_time(prepared, tiny_model):
    lm = load_for_eval(tiny_model)
    prompts = [render_prompt(r) for r in read_split(prepared, "convfinqa", "validation").slice(0, 6).to_pylist()]
    prompts += [render_prompt(r) for r in read_split(prepared, "fpb", "validation").slice(0, 6).to_pylist()]
    assert generate(lm, prompts, 8, batch_size=12) == [generate(lm, [p], 8, batch_size=1)[0] for p in prompts]


def test_base_plus_adapter_equals_merged_model(prepared, adapter, tmp_path):
    with_adapter = load_for_eval(adapter)  # a LoRA run dir: base + adapter
    assert with_adapter.description == "base+adapter"
    merged_dir = merge_adapter(load_for_eval(adapter), tmp_path / "merged")
    merged = load_for_eval(str(merged_dir))
    records = read_split(prepared, "fpb", "validation").slice(0, 8).to_pylist()
    prompts = [render_prompt(r) for r in records]
    ids = merged.tokenizer(prompts[:2], return_tensors="pt", padding=True)
    with torch.no_grad():
        assert torch.allclose(with_adapter.model(**ids).logits, merged.model(**ids).logits, atol=1e-4)
    assert generate(with_adapter, prompts, 6) == generate(merged, prompts, 6)


@pytest.mark.slow
def test_ray_data_backend_matches_in_process(prepared, tiny_model, ray_session):
    local = evaluate(LocalBackend(load_for_eval(tiny_model)), ["fpb", "openorca"], data_dir=str(prepared), limit=8,
                     mode="both")
    remote = evaluate(RayBackend(tiny_model, actors=2, rows_per_block=5), ["fpb", "openorca"], data_dir=str(prepared),
                      limit=8, mode="both")
    for a, b in zip(local, remote):
        assert a.scores == pytest.approx(b.scores, rel=1e-4)
        assert [p["output"] for p in a.predictions] == [p["output"] for p in b.predictions]


def test_default_output_is_keyed_by_model_and_settings(prepared, tiny_model, adapter, tmp_path, monkeypatch):
    """Two evaluations no longer overwrite each other: each model and settings get their own directory."""
    monkeypatch.chdir(tmp_path)
    common = ["eval", "--tasks", "fpb", "--data", str(prepared)]
    assert main([*common, "--model", tiny_model, "--limit", "2"]) == 0
    assert main([*common, "--model", tiny_model, "--limit", "3"]) == 0
    assert main([*common, "--model", adapter, "--limit", "2"]) == 0
    out = sorted((tmp_path / "outputs" / "eval").iterdir())
    assert len(out) == 3 and all((d / "scores.parquet").exists() for d in out)
    assert len({d.name.split("-")[0] for d in out}) == 2  # two models: two model hashes
    assert main([*common, "--model", tiny_model, "--limit", "2"]) == 0  # the same again: the same directory
    assert len(list((tmp_path / "outputs" / "eval").iterdir())) == 3
