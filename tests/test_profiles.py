"""Scoring profiles reproduce each peer's published rule, as written in its code, on outputs where the rules
disagree (labels negative / neutral / positive)."""
import pytest

from evaluation.harness import AT, headline_metric
from evaluation.profiles import outcomes, profile_scores
from ftlib.tasks.catalog import get_task

FPB = get_task("fpb")
# output -> (cocktail, finben, fingpt); None = missing
TRICKY = {
    "positive rather than negative": ("positive", "negative", "positive"),
    "negatively skewed": (None, "negative", "negative"),
    "nonnegative outlook": (None, "negative", "negative"),
    "Neutral.": ("neutral", "neutral", "neutral"),
    "The sentiment is POSITIVE": ("positive", "positive", "neutral"),  # FinGPT checks two spellings only
    "no idea": (None, None, "neutral"),  # FinGPT never says missing
    "neutral to positive": ("neutral", "neutral", "positive"),
}


def _read(profile: str, outputs: list[str]) -> list[str | None]:
    out = outcomes(profile, FPB, ["neutral"] * len(outputs), outputs, [""] * len(outputs))
    return [FPB.labels[i] if i < len(FPB.labels) else None for i in out.pred]


@pytest.mark.parametrize("k,profile", list(enumerate(["cocktail", "finben", "fingpt"])))
def test_each_profile_reads_tricky_outputs_as_its_peer_does(k, profile):
    assert _read(profile, list(TRICKY)) == [expected[k] for expected in TRICKY.values()]


def test_finben_headlines_are_exact_yes_and_fingpt_looks_for_yes():
    spec = get_task("headline")
    outputs, golds, groups = ["Yes", "yes", " Yes ", "Yes, it does", "No"], ["Yes"] * 5, ["up"] * 5
    finben = outcomes("finben", spec, golds, outputs, groups)
    fingpt = outcomes("fingpt", spec, golds, outputs, groups)
    assert [bool(c) for c in finben.correct] == [True, False, True, False, False]
    assert [bool(c) for c in fingpt.correct] == [True, True, True, True, False]
    assert profile_scores("fingpt", spec, golds, outputs, groups)["f1_binary"] == pytest.approx(2 * 4 / (4 + 5))
    assert headline_metric("headline", "fingpt") == f"f1_binary{AT}fingpt"


def test_missing_counts_against_finben_weighted_f1_and_mcc_merges_unseen_labels():
    golds = ["negative", "negative", "positive", "positive"]
    outputs = ["negative", "I cannot say", "positive", "neutral"]  # missing, and a label gold never uses
    scores = profile_scores("finben", FPB, golds, outputs, [""] * 4)
    # sklearn f1_score(golds, preds, average="weighted", labels=set(golds)) on these predictions:
    # negative: P 1, R 0.5 -> 2/3; positive: P 1, R 0.5 -> 2/3
    assert scores["f1_weighted"] == pytest.approx(2 / 3) and scores["missing_rate"] == pytest.approx(0.25)
    from sklearn.metrics import matthews_corrcoef

    finben_codes = {"negative": 0, "positive": 1}
    expected = matthews_corrcoef([0, 0, 1, 1], [finben_codes.get(p, -1) for p in ["negative", None, "positive",
                                                                                 "neutral"]])
    assert scores["mcc"] == pytest.approx(expected)


def test_fingpt_has_no_rule_for_numeric_or_topic_tasks_and_finben_reads_numbers_strictly():
    assert profile_scores("fingpt", get_task("finqa"), ["1.0"], ["1.0"], [""]) == {}
    assert outcomes("fingpt", get_task("twitter_topics"), ["Macro"], ["Macro"], [""]) is None
    finqa = get_task("finqa")
    assert profile_scores("finben", finqa, ["12.5", "yes"], ["12.5 ", "Yes"], ["", ""]) == {"exact_match": 0.5}
    assert profile_scores("cocktail", finqa, ["12.5", "yes"], ["12.5 ", "Yes"], ["", ""])["numeric_match"] == 1.0
