"""Raw hub schema -> canonical record, task by task, on hand-written raw rows."""
import pyarrow as pa
import pytest

from ftlib.tasks.canonical import to_canonical
from ftlib.tasks.catalog import STUDY_SOURCES, get_task, task_names
from ftlib.tasks.schema import CANONICAL_SCHEMA


def canon(name, rows, strict=False):
    spec = get_task(name)
    raw = pa.Table.from_pylist(rows, schema=spec.raw_schema)
    table, dropped = to_canonical(spec, raw, split="train", raw_split="train", file="mem", source="test",
                                  revision="r", strict=strict)
    assert table.schema == CANONICAL_SCHEMA
    return table.to_pylist(), dropped


def test_registry_has_the_ten_tasks():
    assert task_names() == sorted(["headline", "fpb", "finner_cls", "convfinqa", "twitter_topics",
                                   "twitter_sentiment", "finqa", "openorca", "orca_math", "fiqa_sa", "finance_mc"])
    assert len(STUDY_SOURCES) == 9 and "fiqa_sa" not in STUDY_SOURCES and "finance_mc" not in STUDY_SOURCES


def test_finance_mc_puts_options_in_the_input_and_the_letter_in_the_output():
    rows, _ = canon("finance_mc", [{"question": "Which ratio?", "A": "x", "B": "current ratio", "C": "y", "D": "z",
                                    "answer": "b"}])
    assert rows[0]["input"] == "Which ratio?\nA. x\nB. current ratio\nC. y\nD. z"
    assert rows[0]["output"] == "B" and rows[0]["choices"] == ["A", "B", "C", "D"]
    _, dropped = canon("finance_mc", [{"question": "q", "A": "a", "B": "b", "C": "c", "D": "d", "answer": "E"}])
    assert dropped["label_out_of_range"] == 1


def test_licensed_task_has_no_hub_source():
    from ftlib.core.errors import DataError
    from ftlib.tasks.sources import load_hub
    with pytest.raises(DataError, match="no public hub source.*--source PATH"):
        load_hub(get_task("finance_mc"))


def test_fpb_int_label_becomes_word_with_study_instruction():
    rows, _ = canon("fpb", [{"sentence": "Sales rose 5 % .", "label": 2}, {"sentence": "AGM in May .", "label": 1}])
    assert [r["output"] for r in rows] == ["positive", "neutral"]
    assert rows[0]["instruction"].startswith("What is the sentiment of this news?")
    assert "{negative/neutral/positive}" in rows[0]["instruction"]
    assert rows[0]["choices"] == ["negative", "neutral", "positive"]
    assert rows[0]["input"] == "Sales rose 5 % ." and rows[0]["id"] == "fpb:train:0"


def test_twitter_topics_maps_all_twenty_ints():
    rows, _ = canon("twitter_topics", [{"text": f"t{i}", "label": i} for i in range(20)])
    assert rows[1]["output"] == "Fed | Central Banks" and rows[19]["output"] == "Stock Movement"
    assert len({r["output"] for r in rows}) == 20


def test_twitter_sentiment_label_order_is_bearish_bullish_neutral():
    rows, _ = canon("twitter_sentiment", [{"text": "x", "label": 0}, {"text": "y", "label": 1}, {"text": "z", "label": 2}])
    assert [r["output"] for r in rows] == ["Bearish", "Bullish", "Neutral"]


def test_headline_keeps_raw_instruction_and_derives_question_type():
    rows, _ = canon("headline", [
        {"input": "gold up 5c", "output": "yes", "instruction": "Does the news headline talk about price going up? "
                                                                 "Please choose an answer from {Yes/No}."},
        {"input": "gold up 5c", "output": "No", "instruction": "Does the news headline compare gold with any other "
                                                               "asset? Please choose an answer from {Yes/No}."},
    ])
    assert [r["group"] for r in rows] == ["price_up", "asset_comparison"]
    assert rows[0]["output"] == "Yes"  # label case normalised to the label set


def test_headline_unknown_question_is_dropped():
    rows, dropped = canon("headline", [{"input": "gold", "output": "Yes", "instruction": "Is gold nice?"}])
    assert rows == [] and dropped["unknown_group"] == 1


def test_finner_cls_and_convfinqa_pass_fingpt_columns_through():
    rows, _ = canon("finner_cls", [{"input": "Loan by Acme Bank .", "output": "Organization",
                                    "instruction": "What is the entity type of 'Acme Bank' in the input sentence."}])
    assert rows[0]["output"] == "organization"
    rows, _ = canon("convfinqa", [{"input": "table...\nQuestion: what was x?\nAnswer:", "output": "7983.0",
                                   "instruction": "Read the following texts."}])
    assert rows[0]["output"] == "7983.0" and rows[0]["choices"] == []


def test_finqa_splits_query_into_instruction_and_input_and_keeps_id():
    rows, _ = canon("finqa", [{"id": "ADI/2009/page_49.pdf-1",
                               "query": "Please answer the given financial question based on the context.\n"
                                        "Context: a | b\nQuestion: what is x?\nAnswer:",
                               "answer": "94", "text": "a | b"}])
    r = rows[0]
    assert r["id"] == "ADI/2009/page_49.pdf-1"
    assert r["instruction"] == "Please answer the given financial question based on the context."
    assert r["input"].startswith("Context: a | b") and r["output"] == "94"


@pytest.mark.parametrize("score,label", [(-0.5, "negative"), (-0.1, "neutral"), (0.0, "neutral"),
                                         (0.0999, "neutral"), (0.1, "positive"), (0.8, "positive")])
def test_fiqa_sa_thresholds(score, label):
    rows, _ = canon("fiqa_sa", [{"_id": "7", "sentence": "s", "target": "t", "aspect": "a", "score": score,
                                 "type": "post"}])
    assert rows[0]["output"] == label and rows[0]["id"] == "7"


def test_fiqa_sa_score_outside_range_is_label_out_of_range():
    rows, dropped = canon("fiqa_sa", [{"_id": "1", "sentence": "s", "target": "t", "aspect": "a", "score": 1.7,
                                       "type": "post"}])
    assert rows == [] and dropped["label_out_of_range"] == 1


def test_openorca_system_prompt_is_instruction_and_question_is_input():
    rows, _ = canon("openorca", [{"id": "niv.1", "system_prompt": "", "question": "Q?", "response": "A."},
                                 {"id": "niv.2", "system_prompt": "Be brief.", "question": "Q2?", "response": "B."}])
    assert (rows[0]["instruction"], rows[0]["input"], rows[0]["output"]) == ("", "Q?", "A.")
    assert rows[1]["instruction"] == "Be brief."


def test_orca_math_question_is_instruction():
    rows, _ = canon("orca_math", [{"question": "2+2?", "answer": "2 + 2 = 4. The answer is 4."}])
    assert rows[0]["instruction"] == "2+2?" and rows[0]["input"] == "" and rows[0]["output"].endswith("4.")


def test_finqa_keeps_its_yes_no_answers():
    rows, dropped = canon("finqa", [{"id": "1", "query": "head\nContext: c", "answer": "Yes", "text": "c"}])
    assert [r["output"] for r in rows] == ["Yes"] and not dropped["non_numeric_answer"]


@pytest.mark.parametrize("task,row,reason", [
    ("fpb", {"sentence": "x", "label": 3}, "label_out_of_range"),
    ("fpb", {"sentence": "x", "label": -1}, "label_out_of_range"),
    ("fpb", {"sentence": "   ", "label": 1}, "empty_text"),
    ("twitter_topics", {"text": "x", "label": 20}, "label_out_of_range"),
    ("finner_cls", {"input": "x", "output": "company", "instruction": "q"}, "label_out_of_range"),
    ("convfinqa", {"input": "x", "output": "about seven", "instruction": "q"}, "non_numeric_answer"),
    ("finqa", {"id": "1", "query": "head\nContext: c", "answer": "n/a", "text": "c"}, "non_numeric_answer"),
    ("orca_math", {"question": "q", "answer": ""}, "empty_text"),
])
def test_bad_rows_are_counted_and_strict_names_the_row(task, row, reason):
    good = canon(task, [row])
    assert good[0] == [] and good[1][reason] == 1
    from ftlib.core.errors import DataError
    with pytest.raises(DataError, match=rf"task '{task}': mem row 0: {reason}"):
        canon(task, [row], strict=True)
