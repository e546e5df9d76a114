"""Metrics against hand-computed cases and sklearn; parsing of ugly real-world outputs."""
import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from evaluation import metrics
from evaluation.parsing import answer_number, extract_numbers, first_number, last_number, parse_label, parse_letter
from ftlib.tasks.numbers import parse_number

SENT = ["negative", "neutral", "positive"]
TOPICS = ["Stock Commentary", "Stock Movement", "Markets", "Fed | Central Banks"]


@pytest.mark.parametrize("text,label", [
    ("positive", "positive"), ("Positive.", "positive"), ("The sentiment is NEGATIVE", "negative"),
    ("neutral, maybe positive", "neutral"),  # first label word wins
    ("neutrality", None), ("", None), ("I cannot tell", None),
])
def test_parse_label(text, label):
    assert parse_label(text, SENT) == label


@pytest.mark.parametrize("text,label", [  # what SmolLM2-135M-Instruct says when asked zero-shot, read as a human would
    ("The sentiment of this news is negative.", "negative"), ("Answer: positive", "positive"),
    ("**Negative**", "negative"), ("The sentiment of this financial sentence is neutral", "neutral"),
])
def test_a_chat_models_sentence_answers_are_read(text, label):
    assert parse_label(text, SENT) == label


@pytest.mark.parametrize("text,value", [  # the number a sentence states, not a year or count before it
    ("The operating income in 2012 was $96.", 96.0), ("The answer is 1470 / 10 = 147.", 147.0),
    ("Net sales in 2013 were 27 million", 27.0), ("Answer: 96", 96.0), ("96", 96.0), ("$96 in 2012", 96.0),
    ("The change from 2016 to 2017 is 12.5%, up from 10%", 12.5), ("The answer is: nothing. 2012 it was", 2012.0),
])
def test_the_number_an_answer_states(text, value):
    assert answer_number(text)[0] == value
    assert metrics.numeric_correct(text, str(value))


def test_overlapping_labels_resolve_by_position_then_length():
    assert parse_label("Stock Movement", TOPICS) == "Stock Movement"
    assert parse_label("stock commentary on $AAPL", TOPICS) == "Stock Commentary"
    assert parse_label("Stock", TOPICS) is None  # the shared word alone is no label
    assert parse_label("Fed | Central Banks", TOPICS) == "Fed | Central Banks"
    assert parse_label("Markets moved; Stock Movement", TOPICS) == "Markets"
    assert parse_label("x", ["Stock", "Stock Movement"]) is None
    assert parse_label("Stock Movement", ["Stock", "Stock Movement"]) == "Stock Movement"


def test_classification_hand_computed():
    gold = ["positive", "positive", "negative", "neutral"]
    pred = ["positive", None, "negative", "positive"]
    m = metrics.classification(gold, pred, SENT)
    assert m["accuracy"] == 0.5 and m["missing_rate"] == 0.25
    # F1: positive P=1/2 R=1/2 -> 0.5 (support 2); negative 1 (support 1); neutral 0 (support 1)
    assert m["f1_weighted"] == pytest.approx((0.5 * 2 + 1 * 1 + 0 * 1) / 4)
    assert m["f1_macro"] == pytest.approx((0.5 + 1 + 0) / 3)


@pytest.mark.parametrize("seed", range(5))
def test_classification_matches_sklearn_with_missing_answers(seed):
    rng = np.random.default_rng(seed)
    gold = [SENT[i] for i in rng.integers(0, 3, 200)]
    pred = [SENT[i] if i < 3 else None for i in rng.integers(0, 4, 200)]
    m = metrics.classification(gold, pred, SENT)
    sk_pred = [p if p is not None else "MISSING" for p in pred]
    assert m["accuracy"] == pytest.approx(accuracy_score(gold, sk_pred))
    assert m["f1_weighted"] == pytest.approx(f1_score(gold, sk_pred, labels=SENT, average="weighted", zero_division=0))
    assert m["f1_macro"] == pytest.approx(f1_score(gold, sk_pred, labels=SENT, average="macro", zero_division=0))
    assert m["mcc"] == pytest.approx(matthews_corrcoef(gold, sk_pred))
    assert m["missing_rate"] == pytest.approx(sum(p is None for p in pred) / 200)


def test_missing_is_never_mapped_to_a_label():
    m = metrics.classification(["neutral"] * 4, [None] * 4, SENT)
    assert m["accuracy"] == 0 and m["missing_rate"] == 1 and m["f1_weighted"] == 0


def test_headline_avg_f1_by_question_type():
    gold = ["Yes", "No", "Yes", "Yes", "No", "No"]
    pred = ["Yes", "No", "No", "Yes", "Yes", None]
    groups = ["up", "up", "up", "down", "down", "down"]
    m = metrics.grouped_f1(gold, pred, groups, ["Yes", "No"])
    up = f1_score(gold[:3], pred[:3], labels=["Yes", "No"], average="weighted")
    down = f1_score(gold[3:], ["Yes", "Yes", "MISSING"], labels=["Yes", "No"], average="weighted", zero_division=0)
    assert m["f1_up"] == pytest.approx(up) and m["f1_down"] == pytest.approx(down)
    assert m["avg_f1"] == pytest.approx((up + down) / 2)
    assert m["accuracy"] == pytest.approx(3 / 6)


# (text, first number found, written as percent)
NUMBER_CASES = [
    ("7983.0", 7983.0, False), ("  42 ", 42.0, False), ("-3.5", -3.5, False), ("+12", 12.0, False),
    ("1,234", 1234.0, False), ("1,234,567.89", 1234567.89, False), ("$1,234.50", 1234.5, False),
    ("-$12.5", -12.5, False), ("$-12.5", -12.5, False), ("(12.5)", -12.5, False), ("($1,200)", -1200.0, False),
    ("25%", 25.0, True), ("25 %", 25.0, True), ("-14.1%", -14.1, True), ("(3.2%)", -3.2, True),
    ("\u22125.2", -5.2, False), (".5", 0.5, False), ("0.14136", 0.14136, False),
    ("The answer is 94.", 94.0, False), ("about 1,116.10 dollars", 1116.1, False),
    ("answer: 3.0 million", 3.0, False), ("€300", 300.0, False), ("£ 7", 7.0, False),
    ("It fell by 2.5% in 2019", 2.5, True), ("Answer:\n 12", 12.0, False), ("12.50 USD", 12.5, False),
    ("x = 0", 0.0, False), ("-0.0", -0.0, False), ("1,23", 123.0, False), ("2019", 2019.0, False),
    ("net change of -206588", -206588.0, False), ("~ 17.3", 17.3, False),
    ("12 percent", 12.0, True), ("12.5 per cent rise", 12.5, True), ("(3 Percent)", -3.0, True),
    ("5 percentage points", 5.0, False),
]


@pytest.mark.parametrize("text,value,percent", NUMBER_CASES)
def test_first_number_in_ugly_outputs(text, value, percent):
    found = first_number(text)
    assert found is not None and found[0] == pytest.approx(value) and found[1] is percent


def test_at_least_thirty_number_cases_and_the_ones_without_numbers():
    assert len(NUMBER_CASES) >= 30
    assert first_number("no number here") is None and first_number("") is None
    assert last_number("2 + 3 = 5. The answer is 5.")[0] == 5.0
    assert [v for v, _ in extract_numbers("from 10 to 12.5%")] == [10.0, 12.5]


@pytest.mark.parametrize("text,value", [("7983.0", 7983.0), ("$1,234", 1234.0), ("(12.5)", -12.5),
                                        ("25%", 25.0), ("-3", -3.0)])
def test_parse_number_strict(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["about 7", "7 8", "n/a", "", "1.2.3", "12,34,5"])
def test_parse_number_strict_refuses(text):
    assert parse_number(text) is None


def test_numeric_qa_strict_and_tolerant():
    gold = ["7983.0", "0.25", "94", "14.5", "-206588", "3.0"]
    outs = ["7983.0", "25%", "94.4", "14.49", "(206,588)", "none"]
    m = metrics.numeric_qa(gold, outs)
    assert m["exact_match"] == pytest.approx(1 / 6)
    # 7983.0 yes; 25% ~ 0.25 yes; 94.4 within 1% of 94 yes; 14.49 yes; (206,588) = -206588 yes; none missing
    assert m["numeric_match"] == pytest.approx(5 / 6) and m["missing_rate"] == pytest.approx(1 / 6)
    assert metrics.numeric_qa(["100"], ["102"])["numeric_match"] == 0
    assert metrics.numeric_qa(["0.1234"], ["0.12"])["numeric_match"] == 0  # 2.8 % off, and not a rounding of gold


def test_final_number_takes_the_last_number():
    gold = ["3 + 4 = 7. The answer is 7.", "10 / 4 = 2.5. The answer is 2.5."]
    assert metrics.final_number(gold, ["So 3 + 4 = 7", "2.5 then 3"]) == {"final_number_match": 0.5,
                                                                          "missing_rate": 0.0}


def test_perplexity_and_letters():
    assert metrics.perplexity(2 * math.log(4), 2)["perplexity"] == pytest.approx(4.0)
    assert [parse_letter(t) for t in ["B", "(c)", "Answer: D.", "a) the first", "none", "E is right"]] == [
        "B", "C", "D", "A", None, "E"]
    assert metrics.letter_accuracy(["A", "B", "C"], ["A", None, "D"]) == {"accuracy": 1 / 3, "missing_rate": 1 / 3}


def test_percent_words_and_word_answers_in_numeric_qa():
    m = metrics.numeric_qa(["0.25", "12.5", "yes", "no"], ["25 percent", "12.5 per cent", "Yes", "yes, it did"])
    # 25 percent ~ 0.25; 12.5 per cent = 12.5; a yes / no gold is matched exactly, ignoring case
    assert m["numeric_match"] == pytest.approx(3 / 4) and m["missing_rate"] == 0
    assert metrics.numeric_correct("", "no") is False and metrics.numeric_missing("", "no")
