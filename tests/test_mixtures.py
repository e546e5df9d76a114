"""Mixture specs, plans, tokenization with loss masks, packing."""
import contextlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sweeps.cli.main import main
from ftlib.core.configs import load_yaml, validate
from ftlib.data.pack import pack
from ftlib.data.pipeline import cached_tokenizer, pack_plan, records_for, token_lengths_fn
from ftlib.data.plan import Plan, make_plan
from ftlib.data.spec import MixtureSpec
from ftlib.data.tokenize import IGNORE_INDEX, tokenize_records
from ftlib.core.errors import ConfigError, DataError
from ftlib.tasks.store import read_split

WEIGHTS = {"fpb": 0.5, "finqa": 0.3, "orca_math": 0.2}


@pytest.mark.parametrize("spec", [
    dict(budget=2000),  # fits inside the pools
    dict(budget=20000),  # up-sampling: every source repeats
    dict(budget=5000, temperature=2.0),
    dict(budget=300_000, unit="tokens"),
    dict(budget=1_500_000, unit="tokens"),  # token budget with repeats
], ids=["examples", "repeat", "temperature", "tokens", "tokens-repeat"])
def test_realized_shares_within_one_percent(prepared, tiny_model, spec):
    mixture = MixtureSpec.from_weights(WEIGHTS, **spec)
    plan = make_plan(mixture, prepared, token_lengths_fn(prepared, tiny_model))
    targets = {s.task: s.target_share for s in plan.sources}
    if "temperature" not in spec:
        assert targets == pytest.approx(WEIGHTS)
    for task, share in plan.realized_shares().items():
        assert abs(share - targets[task]) <= 0.01, (task, share, targets[task])
    if spec.get("unit") == "tokens":
        assert abs(sum(s.tokens for s in plan.sources) - spec["budget"]) / spec["budget"] < 0.01
    else:
        assert plan.num_examples == spec["budget"]
    if spec["budget"] in (20000, 1_500_000):
        assert all(s.epochs > 1 for s in plan.sources)


def test_temperature_flattens_towards_the_weights(prepared):
    sizes = {"openorca": 640, "fpb": 540, "convfinqa": 360}
    weights = {t: 1.0 for t in sizes}
    t1 = make_plan(MixtureSpec.from_weights(weights, 1000, temperature=1.0), prepared)
    shares = {s.task: s.target_share for s in t1.sources}
    assert shares == pytest.approx({t: n / sum(sizes.values()) for t, n in sizes.items()}, rel=1e-6)
    hot = make_plan(MixtureSpec.from_weights(weights, 1000, temperature=100.0), prepared)
    assert all(abs(s.target_share - 1 / 3) < 0.01 for s in hot.sources)


def test_cap_and_fill_cap_stop_at_the_pool(prepared):
    spec = MixtureSpec(sources={"fpb": {"weight": 0.5, "cap": 100}, "finqa": {"weight": 0.5}}, budget=1000,
                       fill="cap")
    plan = make_plan(spec, prepared)
    fpb = next(s for s in plan.sources if s.task == "fpb")
    assert (fpb.pool, fpb.rows, fpb.epochs) == (100, 100, 1.0)
    assert len(set(plan.row[plan.task_index == plan.task_names.index("fpb")].tolist())) == 100
    repeat = make_plan(spec.model_copy(update={"fill": "repeat"}), prepared)
    fpb = next(s for s in repeat.sources if s.task == "fpb")
    assert fpb.rows == 500 and fpb.epochs == 5.0
    rows = repeat.row[repeat.task_index == repeat.task_names.index("fpb")]
    assert len(set(rows.tolist())) == 100 and np.bincount(rows).max() == 5  # each pooled row exactly 5 times


def test_zero_weight_drops_the_task(prepared):
    plan = make_plan(MixtureSpec.from_weights({"fpb": 1.0, "finqa": 0.0}, 100), prepared)
    assert plan.task_names == ["fpb"]


def test_study_recipe_reproduces_its_sizes(prepared, small_study):
    data, caps = small_study
    G = sum(caps.values())
    rows = {s.task: s.rows for s in make_plan(validate(MixtureSpec, data, "study_all.yaml"), prepared).sources}
    assert rows == {**caps, "openorca": G, "orca_math": G // 2}
    # A single-task run keeps G and G // 2 over all seven financial sets.
    single = dict(data, sources={k: v for k, v in data["sources"].items() if k in ("fpb", "openorca", "orca_math")})
    rows = {s.task: s.rows for s in make_plan(validate(MixtureSpec, single, "single"), prepared).sources}
    assert rows == {"fpb": 50, "openorca": G, "orca_math": G // 2}
    # Uncapped, the recipe takes every prepared row of the financial sets (the study's caps exceed them here).
    full = make_plan(validate(MixtureSpec, load_yaml("sweeps/mixtures/study_all.yaml"), "study"), prepared)
    sizes = {t: pq.read_metadata(prepared / t / "train.parquet").num_rows for t in caps}
    assert {s.task: s.rows for s in full.sources if s.task in caps} == sizes


def test_same_seed_same_plan_new_seed_new_plan(prepared, tmp_path):
    spec = MixtureSpec.from_weights(WEIGHTS, 3000, seed=1)
    a, b = make_plan(spec, prepared), make_plan(spec, prepared)
    c = make_plan(spec.model_copy(update={"seed": 2}), prepared)
    assert a.hash == b.hash and np.array_equal(a.row, b.row)
    assert c.hash != a.hash and not np.array_equal(a.row, c.row)
    a.save(tmp_path / "plan.parquet")
    loaded = Plan.load(tmp_path / "plan.parquet")
    assert loaded.hash == a.hash and np.array_equal(loaded.row, a.row) and loaded.spec == spec


def test_plans_hold_no_validation_or_test_row(prepared):
    tasks = ["fpb", "headline", "openorca", "twitter_topics", "finqa"]
    plan = make_plan(MixtureSpec.from_weights({t: 1.0 for t in tasks}, 20000), prepared)
    table = plan.table()
    for code, task in enumerate(plan.task_names):
        train = read_split(prepared, task, "train")
        rows = plan.row[plan.task_index == code]
        assert rows.max() < train.num_rows
        planned = set(train.take(rows).column("row_hash").to_pylist())
        held_out = set(read_split(prepared, task, "validation").column("row_hash").to_pylist()) | set(
            read_split(prepared, task, "test").column("row_hash").to_pylist())
        assert planned and not planned & held_out
    assert table.num_rows == 20000


def test_loss_mask_covers_exactly_the_response(prepared, tiny_model):
    tok = cached_tokenizer(tiny_model)
    table = read_split(prepared, "convfinqa", "train").slice(0, 16)
    records = {c: table.column(c).to_pylist() for c in ("instruction", "input", "output")}
    ids, prompt_lens = tokenize_records(records, tok)
    packed, stats = pack(ids, prompt_lens, 4096, tok.pad_token_id)
    expected = sorted(tuple(tok(out, add_special_tokens=False)["input_ids"] + [tok.eos_token_id])
                      for out in records["output"])
    trained = []
    for labels, pos in zip(packed["labels"].tolist(), packed["position_ids"].tolist()):
        starts = [i for i, p in enumerate(pos) if p == 0] + [len(pos)]
        trained += [tuple(t for t in labels[a:b] if t != IGNORE_INDEX) for a, b in zip(starts, starts[1:])]
    assert sorted(t for t in trained if t) == expected
    assert stats.loss_tokens == sum(map(len, expected))
    assert tok.decode(list(expected[0])[:-1]) in records["output"]


def _examples_in(packed, pad_id):
    """The examples of packed rows, split where position ids restart; padded tails dropped."""
    out = []
    for row, pos in zip(packed["input_ids"].tolist(), packed["position_ids"].tolist()):
        starts = [i for i, p in enumerate(pos) if p == 0] + [len(row)]
        out += [row[a:b] for a, b in zip(starts, starts[1:]) if any(t != pad_id for t in row[a:b])]
    return out


def test_packing_keeps_every_example_whole_once_and_rows_in_plan_order():
    rng = np.random.default_rng(0)
    ids = [rng.integers(10, 500, size=int(n)).tolist() for n in rng.integers(1, 60, size=300)]
    prompt_lens = [len(x) // 2 for x in ids]
    packed, stats = pack(ids, prompt_lens, 64, pad_id=0)
    examples = _examples_in(packed, 0)
    assert sorted(map(tuple, examples)) == sorted(map(tuple, ids))
    assert stats.truncated == 0 and stats.tokens == sum(map(len, ids)) and stats.rows == packed["input_ids"].shape[0]
    # Each row's first plan example comes later than the previous row's.
    index = {tuple(x): i for i, x in enumerate(ids)}
    firsts = []
    for row, pos in zip(packed["input_ids"].tolist(), packed["position_ids"].tolist()):
        starts = [i for i, p in enumerate(pos) if p == 0] + [len(row)]
        firsts.append(min(index[tuple(row[a:b])] for a, b in zip(starts, starts[1:]) if row[a] != 0))
    assert firsts == sorted(firsts)
    # Labels follow their example: the response part of each, nothing of the padding.
    assert (packed["labels"] != IGNORE_INDEX).sum() == stats.loss_tokens == sum(len(x) - len(x) // 2 for x in ids)


def test_best_fit_decreasing_fills_rows_that_next_fit_leaves_half_empty():
    from ftlib.data.pack import best_fit_decreasing

    rng = np.random.default_rng(3)
    lengths = rng.integers(5, 300, size=2000)
    row_of, start_of, rows = best_fit_decreasing(lengths, 1024)
    assert lengths.sum() / (rows * 1024) >= 0.99
    ends = np.zeros(rows, np.int64)
    np.maximum.at(ends, row_of, start_of + lengths)
    assert ends.max() <= 1024 and np.bincount(row_of, weights=lengths).max() <= 1024
    # No two examples of a row overlap.
    for r in range(rows):
        spans = sorted(zip(start_of[row_of == r], lengths[row_of == r]))
        assert all(a + n <= b for (a, n), (b, _) in zip(spans, spans[1:]))
    next_fit_rows, used = 1, 0
    for n in lengths.tolist():
        next_fit_rows, used = (next_fit_rows + 1, n) if used + n > 1024 else (next_fit_rows, used + n)
    assert rows < next_fit_rows


def test_packing_cuts_the_prompt_of_a_long_example_first_and_counts_it():
    prompt, response = [1, *range(10, 19)], [7, 8, 9]  # a BOS, 9 prompt tokens; the response and its EOS
    packed, stats = pack([prompt + response, [6] * 3], [len(prompt), 1], seq_len=8, pad_id=0)
    # The start of the prompt goes (its first token, the BOS, stays): the question's end and the response stay.
    assert packed["input_ids"][0].tolist() == [1, 15, 16, 17, 18, 7, 8, 9]
    assert packed["labels"][0].tolist() == [IGNORE_INDEX] * 5 + [7, 8, 9]
    assert packed["position_ids"][0].tolist() == list(range(8))
    assert stats.truncated == 1 and stats.response_cut == 0 and stats.loss_tokens == 3 + 2
    # A response that alone fills the row keeps a quarter row of prompt and is cut from its end.
    packed, stats = pack([[1, 2, 3, 4] + list(range(50, 62))], [4], seq_len=8, pad_id=0)
    assert packed["input_ids"][0].tolist() == [1, 4, 50, 51, 52, 53, 54, 55] and stats.response_cut == 1
    assert (packed["labels"][0] != IGNORE_INDEX).sum() == 6


def test_packed_rows_do_not_attend_across_examples(tiny_model):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    rng = np.random.default_rng(1)
    ids = [rng.integers(10, 2000, size=n).tolist() for n in (7, 11, 5)]
    packed, _ = pack(ids, [0, 0, 0], 32, pad_id=1)
    assert packed["input_ids"].shape[0] == 1
    with torch.no_grad():
        together = model(torch.tensor(packed["input_ids"], dtype=torch.long),
                         position_ids=torch.tensor(packed["position_ids"], dtype=torch.long), use_cache=False).logits[0]
        start = 0
        for x in _examples_in(packed, 1):
            alone = model(torch.tensor([x])).logits[0]
            assert torch.allclose(together[start:start + len(x)], alone, atol=1e-4)
            start += len(x)
        assert start == sum(map(len, ids))


@pytest.mark.parametrize("data,match", [
    ({"sources": {"nope": {"weight": 1}}, "budget": 10}, "unknown task 'nope'"),
    ({"sources": {"fpb": {"weight": -1}}, "budget": 10}, "sources.fpb.weight: weight must be a finite number >= 0"),
    ({"sources": {"fpb": {"weight": float("nan")}}, "budget": 10}, "finite"),
    ({"sources": {"fpb": {"weight": 0}, "finqa": {"weight": 0}}, "budget": 10}, "all zero"),
    ({"sources": {"fpb": {"weight": 1}}, "budget": 0}, "budget must be > 0"),
    ({"sources": {"fpb": {"weight": 1}}}, "budget must be > 0"),
    ({"sources": {"fpb": {"weight": 1}, "finqa": {"rows": 5}}, "budget": 10}, "mix weights"),
    ({"sources": {"fpb": {"weight": 1, "colour": 2}}, "budget": 10}, "sources.fpb.colour: unknown key"),
    ({"sources": {}, "budget": 10}, "sources"),
])
def test_bad_specs_get_one_clear_error(data, match):
    with pytest.raises(ConfigError, match=match):
        validate(MixtureSpec, data, "mix.yaml")


def test_task_without_prepared_data(tmp_path):
    with pytest.raises(DataError, match="task 'fpb' has no prepared data"):
        make_plan(MixtureSpec.from_weights({"fpb": 1}, 10), tmp_path)


def test_mix_cli_previews_and_writes_the_plan(prepared, tiny_model, tmp_path, capsys):
    out = tmp_path / "plan.parquet"
    assert main(["data", "mix", "--weights", "fpb=0.5,finqa=0.3,orca_math=0.2", "--budget", "2000", "--data",
                 str(prepared), "--tokenizer", tiny_model, "--out", str(out), "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert "fpb" in text and "1000" in text and "50.00%" in text and "epochs" in text
    plan = Plan.load(out)
    assert plan.num_examples == 2000 and plan.spec.seed == 3
    assert main(["data", "mix", "--weights", "fpb=x", "--budget", "5"]) == 2
    assert "--weights item 'fpb=x': expected TASK=NUMBER" in capsys.readouterr().err


@pytest.mark.slow
def test_ray_data_executes_the_plan_like_the_in_process_path(prepared, tiny_model, ray_session):
    from ftlib.data.dataset import training_dataset

    plan = make_plan(MixtureSpec.from_weights(WEIGHTS, 1500, seed=5), prepared)
    local = pack_plan(plan, prepared, tiny_model, 128, examples_per_batch=256)
    assert local["cut"].sum() > 0  # some examples exceed 128 tokens: each path counts them alike
    for in_process in (0, 1500):  # map tasks over the plan; packed in this process (a small plan)
        ds = training_dataset(plan, prepared, tiny_model, 128, examples_per_batch=256, in_process_examples=in_process)
        rows = ds.take_all()
        for column in ("input_ids", "labels", "position_ids", "cut", "examples"):
            assert np.array_equal(np.stack([r[column] for r in rows]), local[column])
        assert ds.sum("cut") == local["cut"].sum()
    records = records_for(plan.table().slice(0, 3), str(prepared), plan.data_fingerprint)
    assert len(records["output"]) == 3


def test_fast_encode_matches_the_tokenizer_call(tiny_model):
    from ftlib.data.tokenize import encode_batch

    tok = cached_tokenizer(tiny_model)
    texts = ["What is the sentiment?\nProfit rose 5 % .", "", "ünïcode $1,234.5 (12)"]
    for specials in (True, False):
        assert encode_batch(tok, texts, specials) == tok(texts, add_special_tokens=specials)["input_ids"]


def test_plan_does_not_depend_on_the_order_sources_are_written(prepared):
    a = make_plan(MixtureSpec.from_weights({"fpb": 0.2, "finqa": 0.5, "orca_math": 0.3}, 999), prepared)
    b = make_plan(MixtureSpec.from_weights({"orca_math": 0.3, "fpb": 0.2, "finqa": 0.5}, 999), prepared)
    assert a.hash == b.hash and np.array_equal(a.row, b.row)


@contextlib.contextmanager
def study_caps(caps):
    """Task caps for a test (the registry's specs are frozen dataclasses: set and restored here)."""
    from ftlib.tasks.catalog import get_task

    old = {t: get_task(t).default_cap for t in caps}
    for t, cap in caps.items():
        object.__setattr__(get_task(t), "default_cap", cap)
    try:
        yield
    finally:
        for t, cap in old.items():
            object.__setattr__(get_task(t), "default_cap", cap)


def test_study_selection_draws_the_rows_and_order_of_the_studys_hf_shuffle(tmp_path):
    """`selection: study` against the study's own code path, run here with Hugging Face datasets: each source's
    raw train split `.shuffle(seed=42).select(range(N))`, concatenated, `.shuffle(seed=42)`."""
    import datasets

    from ftlib.tasks.prepare import prepare
    from ftlib.tasks.catalog import get_task, resolve_tasks
    from ftlib.tasks.sources import load_offline
    from ftlib.tasks.store import read_manifest

    data = tmp_path / "data"
    caps = {"finqa": 150, "fpb": 200, "headline": 120}
    # The study's caps are for the hub's sets, larger than the offline samples: caps the samples exceed stand in
    # (twitter_sentiment plays the uncapped general data, sized by the others' caps).
    with study_caps({**caps, "twitter_sentiment": None}):
        prepare(resolve_tasks("fpb,finqa,headline,twitter_sentiment"), "offline", data, seed=7, study=True)
    spec = MixtureSpec.model_validate({"sources": {"finqa": {"rows": "all", "cap": 150}, "fpb": {"rows": "all",
                                       "cap": 200}, "headline": {"rows": "all", "cap": 120}, "twitter_sentiment": {
                                       "rows": {"sum_of": caps, "scale": 0.5}}}, "fill": "cap", "selection": "study"})
    plan = make_plan(spec, data)
    # The study's way, on the raw rows the preparation read (offline samples, raw hub schema).
    raw_rows = {t: read_manifest(data)["tasks"][t]["raw_rows"][get_task(t).raw_splits["train"]] for t in spec.sources}
    sizes = {**caps, "twitter_sentiment": sum(min(c, raw_rows[t]) for t, c in caps.items()) // 2}
    raw = {t: load_offline(get_task(t), 7).tables[get_task(t).raw_splits["train"]] for t in spec.sources}
    picked = [datasets.Dataset(raw[t]).shuffle(seed=42).select(range(n)) for t, n in sizes.items()]
    mixed = datasets.concatenate_datasets(
        [p.select_columns([get_task(t).text_column]).rename_column(get_task(t).text_column, "key")
         .add_column("task", [t] * len(p)) for t, p in zip(sizes, picked)]).shuffle(seed=42)
    trains = {t: read_split(data, t, "train").column("raw_index").to_numpy() for t in spec.sources}
    ours = [(t, raw[t].column(get_task(t).text_column)[int(trains[t][r])].as_py())
            for t, r in zip(plan.table().column("task").to_pylist(), plan.row.tolist())]
    assert ours == list(zip(mixed["task"], mixed["key"]))
    assert plan.num_examples == len(mixed) and all(s.rows == s.pool for s in plan.sources)  # nothing missing


def test_study_preparation_takes_validation_from_beyond_the_cap(tmp_path):
    from ftlib.core.errors import DataError
    from ftlib.core.seeding import study_order
    from ftlib.tasks.prepare import ensure_prepared, prepare
    from ftlib.tasks.catalog import resolve_tasks
    from ftlib.tasks.splits import keys_of

    data = tmp_path / "data"
    cap = 150  # of ~900 rows, 9 per headline: some headlines lie wholly beyond it (FPB keeps the study's 5,000)
    with study_caps({"headline": cap}):
        manifest = prepare(resolve_tasks("headline,fpb,finqa"), "offline", data, seed=3, study=True)
    raw_rows = manifest["tasks"]["headline"]["raw_rows"]["train"]
    rank = np.empty(raw_rows, np.int64)
    rank[study_order(raw_rows)] = np.arange(raw_rows)
    validation, train = read_split(data, "headline", "validation"), read_split(data, "headline", "train")
    assert manifest["tasks"]["headline"]["validation"] == "beyond the study's cap" and validation.num_rows > 0
    assert (rank[validation.column("raw_index").to_numpy()] >= cap).all()
    within = train.filter(pa.array(rank[train.column("raw_index").to_numpy()] < cap))
    assert within.num_rows == cap  # every row the study trains on stays in train
    assert not set(keys_of(validation)) & set(keys_of(within))  # no headline on both sides
    # FPB's sample is smaller than its cap: the seeded carve stands in, and the manifest says so.
    assert manifest["tasks"]["fpb"]["validation"].startswith("carved from train")
    # FinQA's input as the study prepared it; a study run refuses data not prepared that way.
    assert not any(x.startswith("Context: ") for x in read_split(data, "finqa", "train").column("input").to_pylist())
    plain = tmp_path / "plain"
    prepare(resolve_tasks("fpb"), "offline", plain, seed=3)
    with pytest.raises(DataError, match=r"not prepared as the study prepared it.*--study"):
        ensure_prepared(plain, ["fpb"], "offline", 3, same_source=True, study=True)
