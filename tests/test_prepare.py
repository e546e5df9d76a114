"""`cocktail data prepare` / `show`: sources, determinism, manifest, bad input, leakage."""
import dataclasses
import json

import numpy as np
import pyarrow as pa
import pyarrow.json  # noqa: F401
import pyarrow.parquet as pq
import pytest

from sweeps.cli.main import main
from ftlib.core.errors import DataError
from ftlib.tasks.prepare import build_task, prepare
from ftlib.tasks.catalog import get_task, resolve_tasks, task_names
from ftlib.tasks.sources import load_offline
from ftlib.tasks.splits import keys_of


def files_bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def write_raw(root, task, split, rows, schema, fmt="parquet"):
    path = root / task / f"{split}.{fmt}"
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=schema)
    if fmt == "parquet":
        pq.write_table(table, path)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        import pyarrow.csv as pacsv
        pacsv.write_csv(table, path)
    return path


def test_all_tasks_prepare_offline_and_are_deterministic(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert main(["data", "prepare", "--out", str(a), "--seed", "7"]) == 0
    assert main(["data", "prepare", "--out", str(b), "--seed", "7"]) == 0
    prepare(resolve_tasks("fpb"), "offline", c, seed=8)
    fa, fb = files_bytes(a), files_bytes(b)
    fa.pop("manifest.json"), fb.pop("manifest.json")
    assert fa == fb and len(fa) == 3 * len(task_names())
    assert (c / "fpb/train.parquet").read_bytes() != fa["fpb/train.parquet"]
    manifest = json.loads((a / "manifest.json").read_text())
    for name in task_names():
        entry = manifest["tasks"][name]
        assert entry["source"] == "offline" and entry["seed"] == 7
        for split in ("train", "validation", "test"):
            info = entry["splits"][split]
            assert info["rows"] == pq.read_metadata(a / info["file"]).num_rows > 0


def test_rerun_with_same_inputs_changes_nothing(tmp_path):
    prepare(resolve_tasks("fpb,headline"), "offline", tmp_path, seed=1)
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file()}
    prepare(resolve_tasks("fpb,headline"), "offline", tmp_path, seed=1)
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file()}
    assert before == after


def test_preparing_one_task_keeps_the_others_in_the_manifest(tmp_path):
    prepare(resolve_tasks("fpb"), "offline", tmp_path)
    prepare(resolve_tasks("finqa"), "offline", tmp_path)
    assert set(json.loads((tmp_path / "manifest.json").read_text())["tasks"]) == {"fpb", "finqa"}


def test_offline_samples_have_the_raw_schema_and_full_label_coverage():
    for name in task_names():
        spec = get_task(name)
        raw = load_offline(spec, seed=3)
        assert set(raw.tables) == {s for s in spec.raw_splits.values() if s}
        for table in raw.tables.values():
            assert table.schema == spec.raw_schema
    topics = load_offline(get_task("twitter_topics"), seed=3).tables["train"]
    assert set(topics.column("label").to_pylist()) == set(range(20))
    tables, _ = build_task(get_task("headline"), "offline", seed=3)
    assert len(set(tables["train"].column("group").to_pylist())) == 9


def test_offline_numeric_answers_follow_from_the_table():
    tables, _ = build_task(get_task("convfinqa"), "offline", seed=5)
    checked = 0
    for row in tables["train"].to_pylist():
        question = row["input"].rsplit("Question: ", 1)[1]
        if question.startswith("what was the ") and " in " in question:
            value = float(row["output"])
            assert value == int(value) and f"${int(value)}<" in row["input"]  # a lookup answer is a table cell
            checked += 1
    assert checked > 10


def test_offline_world_shares_one_lexicon_and_one_grammar_with_noise_and_imbalance():
    from ftlib.tasks.vocab import DOWN_CUES, UP_CUES

    def polarity(text: str) -> set[str]:
        words = f" {text} "
        return {p for p, cues in (("up", UP_CUES), ("down", DOWN_CUES)) if any(f" {c} " in words for c in cues)}

    sentiment = {"fpb": ("sentence", {0: "down", 2: "up"}, 1), "twitter_sentiment": ("text", {0: "down", 1: "up"}, 2)}
    for task, (column, polar, neutral) in sentiment.items():
        rows = load_offline(get_task(task), seed=1).tables[next(iter(get_task(task).offline_rows))].to_pylist()
        labels = np.array([r["label"] for r in rows])
        assert 0.55 < np.mean(labels == neutral) < 0.72, task  # imbalanced towards neutral, as the real sets
        # The main clause's cue decides the label; a distracting clause may carry the other polarity, and some
        # labels disagree (annotator noise): most, not all, polar rows carry their own polarity's cue.
        agree = [polar[r["label"]] in polarity(r[column]) for r in rows if r["label"] in polar]
        assert 0.8 < np.mean(agree) < 1.0, task
        assert any(len(polarity(r[column])) == 2 for r in rows), task
    gold = load_offline(get_task("headline"), seed=1).tables["train"].to_pylist()
    assert any(polarity(r["input"]) for r in gold)  # price moves use the same lexicon
    # One arithmetic grammar: Orca-Math's shared problems ask FinQA's questions, and their answers compute.
    for row in load_offline(get_task("orca_math"), seed=1).tables["train"].to_pylist():
        if " sold " in row["question"] and "last year" in row["question"]:
            v0, v1 = (int(w) for w in row["question"].split() if w.isdigit())
            answer = int(row["answer"].rsplit("The answer is ", 1)[1].rstrip("."))
            assert answer in (v1, v1 - v0, v0 + v1)
    openorca = " ".join(r["question"] for r in load_offline(get_task("openorca"), seed=1).tables["train"].to_pylist())
    assert not polarity(openorca) and "$" not in openorca  # general instructions share none of it


def test_carved_validation_is_seeded_and_shares_no_text_with_train(tmp_path):
    spec = get_task("headline")
    t1, e1 = build_task(spec, "offline", seed=11)
    t2, _ = build_task(spec, "offline", seed=11)
    assert t1["validation"].equals(t2["validation"])
    assert e1["raw_splits"]["validation"] == "carved from train"
    train, val = set(keys_of(t1["train"])), set(keys_of(t1["validation"]))
    assert val and not train & val
    # Whole headlines move: every validation headline carries all 9 questions.
    assert t1["validation"].num_rows % 9 == 0


def test_twitter_test_split_is_the_hub_validation_split():
    spec = get_task("twitter_sentiment")
    assert spec.raw_splits == {"train": "train", "validation": None, "test": "validation"}


def test_path_source_reads_parquet_jsonl_csv_and_file_uri(tmp_path):
    spec = get_task("fpb")
    rows = load_offline(spec, seed=0).tables
    write_raw(tmp_path, "fpb", "train", rows["train"].to_pylist(), spec.raw_schema, "jsonl")
    write_raw(tmp_path, "fpb", "test", rows["test"].to_pylist(), spec.raw_schema, "csv")
    local, entry = build_task(spec, str(tmp_path), seed=0)
    uri, _ = build_task(spec, tmp_path.as_uri(), seed=0)
    offline, _ = build_task(spec, "offline", seed=0)
    assert local["test"].column("output").equals(offline["test"].column("output"))
    assert uri["train"].column("input").equals(local["train"].column("input"))
    assert entry["source"] == f"path:{tmp_path}"
    write_raw(tmp_path, "finqa", "train", [], get_task("finqa").raw_schema)
    with pytest.raises(DataError, match=r"task 'finqa': no file for raw split 'valid'"):
        build_task(get_task("finqa"), str(tmp_path), seed=0)


def test_hub_source_goes_through_datasets_load_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    spec = get_task("twitter_topics")
    raw = load_offline(spec, seed=0).tables
    for split, table in raw.items():  # a local folder laid out like the hub repo
        (tmp_path / "repo/data").mkdir(parents=True, exist_ok=True)
        pq.write_table(table, tmp_path / f"repo/data/{split}-00000-of-00001.parquet")
    local_spec = dataclasses.replace(spec, hub_id=str(tmp_path / "repo"))
    tables, entry = build_task(local_spec, "hub", seed=0)
    offline, _ = build_task(spec, "offline", seed=0)
    assert tables["test"].column("output").equals(offline["test"].column("output"))
    assert entry["source"] == f"hub:{tmp_path / 'repo'}"


def test_missing_columns_name_task_file_and_columns(tmp_path, capsys):
    write_raw(tmp_path, "fpb", "train", [{"text": "x"}], pa.schema([("text", pa.string())]))
    write_raw(tmp_path, "fpb", "test", [{"text": "x"}], pa.schema([("text", pa.string())]))
    out = tmp_path / "out"
    assert main(["data", "prepare", "--tasks", "fpb", "--source", str(tmp_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "task 'fpb'" in err and "fpb/train.parquet" in err and "['sentence', 'label']" in err
    assert not out.exists()  # nothing half-written


def test_wrong_column_type_is_named(tmp_path):
    schema = pa.schema([("sentence", pa.string()), ("label", pa.string())])
    write_raw(tmp_path, "fpb", "train", [{"sentence": "x", "label": "good"}], schema)
    write_raw(tmp_path, "fpb", "test", [{"sentence": "x", "label": "good"}], schema)
    with pytest.raises(DataError, match=r"column 'label': expected int64"):
        build_task(get_task("fpb"), str(tmp_path), seed=0)


def test_unknown_task_lists_valid_names(tmp_path, capsys):
    assert main(["data", "prepare", "--tasks", "fpb,nope", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "unknown task 'nope'" in err and "twitter_topics" in err and "fiqa_sa" in err
    assert not (tmp_path / "o").exists()
    assert main(["data", "show", "nope"]) == 2


def bad_fpb_source(tmp_path, leak=False):
    spec = get_task("fpb")
    good = [{"sentence": f"Profit rose {i} % .", "label": 2} for i in range(30)]
    bad = [{"sentence": "x", "label": 7}, {"sentence": "", "label": 1}, {"sentence": "y", "label": 9}]
    test = [{"sentence": f"Sales fell {i} % .", "label": 0} for i in range(10)]
    if leak:
        test.append({"sentence": "PROFIT rose 3  % .", "label": 2})
    write_raw(tmp_path, "fpb", "train", good + bad, spec.raw_schema)
    write_raw(tmp_path, "fpb", "test", test, spec.raw_schema)
    return spec


def test_bad_rows_are_reported_in_the_manifest_and_strict_fails_without_output(tmp_path, capsys):
    bad_fpb_source(tmp_path / "src")
    out = tmp_path / "out"
    assert main(["data", "prepare", "--tasks", "fpb", "--source", str(tmp_path / "src"), "--out", str(out)]) == 0
    entry = json.loads((out / "manifest.json").read_text())["tasks"]["fpb"]
    assert entry["dropped"]["label_out_of_range"] == 2 and entry["dropped"]["empty_text"] == 1
    assert entry["splits"]["train"]["rows"] + entry["splits"]["validation"]["rows"] == 30
    strict_out = tmp_path / "strict"
    assert main(["data", "prepare", "--tasks", "fpb", "--source", str(tmp_path / "src"), "--out", str(strict_out),
                 "--strict"]) == 2
    assert "row 30: label_out_of_range" in capsys.readouterr().err
    assert not strict_out.exists()


def test_leakage_is_reported_dropped_and_fails_strict(tmp_path):
    spec = bad_fpb_source(tmp_path, leak=True)
    tables, entry = build_task(spec, str(tmp_path), seed=0)
    assert sum(entry["leakage"].values()) == 1 and entry["dropped"]["leaked_into_test"] == 1
    test_keys = set(keys_of(tables["test"]))
    assert not test_keys & set(keys_of(tables["train"])) and not test_keys & set(keys_of(tables["validation"]))
    # Without the bad rows, strict mode stops on the leak itself.
    clean = [{"sentence": f"Profit rose {i} % .", "label": 2} for i in range(30)]
    write_raw(tmp_path, "fpb", "train", clean, spec.raw_schema)
    with pytest.raises(DataError, match="leakage"):
        build_task(spec, str(tmp_path), seed=0, strict=True)


def test_show_prints_prompt_and_target(tmp_path, capsys):
    prepare(resolve_tasks("fpb"), "offline", tmp_path)
    assert main(["data", "show", "fpb", "--data", str(tmp_path), "-n", "2", "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert out.count("### Response:") == 2 and "{negative/neutral/positive}" in out
    assert main(["data", "show", "fpb", "--data", str(tmp_path / "none")]) == 2
    assert "not prepared" in capsys.readouterr().err


def test_training_refuses_data_prepared_from_another_source_and_sees_re_prepared_data(tmp_path):
    """data.source: hub over a directory prepared offline is refused (it would silently train on samples); a run
    whose data was prepared again (another seed) is not taken as done."""
    from ftlib.core.configs import validate
    from ftlib.core.errors import DataError
    from ftlib.tasks.prepare import ensure_prepared, prepare
    from ftlib.tasks.catalog import resolve_tasks
    from ftlib.run.config import RunConfig
    from ftlib.train.trial import data_fingerprint, stale_tasks

    data = tmp_path / "data"
    prepare(resolve_tasks("fpb,finqa"), "offline", data, seed=1)
    with pytest.raises(DataError, match=r"task 'fpb' was prepared from 'offline' but data.source is 'hub'.*"
                                        r"cocktail data prepare --tasks fpb --source hub"):
        ensure_prepared(data, ["fpb"], "hub", 1, same_source=True)
    assert ensure_prepared(data, ["fpb"], "hub", 1) == []  # evaluation reads what is there
    cfg = validate(RunConfig, {"mixture": {"sources": {"fpb": {"weight": 1}}, "budget": 8}, "eval_tasks": ["finqa"],
                               "data": {"dir": str(data)}}, "t")
    trial = {"data_fingerprint": data_fingerprint(cfg)}
    assert set(trial["data_fingerprint"]) == {"fpb", "finqa"} and stale_tasks(trial, cfg) == []
    prepare(resolve_tasks("finqa"), "offline", data, seed=2)
    assert stale_tasks(trial, cfg) == ["finqa"] and stale_tasks({}, cfg) == []


def test_hub_splits_come_from_one_recorded_commit(tmp_path, monkeypatch):
    """`revision: main` is resolved to the commit it names, once per task; every split loads at that commit and
    the manifest records it (re-preparing later can tell when the hub changed)."""
    import datasets

    from ftlib.tasks import sources

    calls = []
    monkeypatch.setattr(sources, "dataset_commit", lambda repo, revision, token: calls.append(revision) or "c0ffee")
    offline = load_offline(get_task("fpb"), seed=0).tables
    loaded = []

    def fake_load(repo, config, revision, split, token):
        loaded.append(revision)
        return datasets.Dataset(offline[split])

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    tables, entry = build_task(get_task("fpb"), "hub", seed=0)
    assert calls == ["main"] and set(loaded) == {"c0ffee"} and len(loaded) == len(offline)
    assert entry["revision"] == "c0ffee" and set(tables["train"].column("revision").to_pylist()) == {"c0ffee"}
