"""Scoring profiles reproduce each peer's published rule, as written in its code, on outputs where the rules
disagree (labels negative / neutral / positive)."""
import pytest

from evaluation.harness import AT, TaskResult, _collect, headline_metric
from evaluation.profiles import PROFILES, outcomes, profile_scores
from evaluation.readout import readouts
from ftlib.tasks.catalog import get_task

FPB = get_task("fpb")
# output -> (cocktail, finben, fingpt); None = missing
TRICKY = {
    "positive rather than negative": ("positive", "positive", "positive"),
    "negatively skewed": (None, "negative", "negative"),  # flare-fpb's choices: positive, neutral, negative
    "nonnegative outlook": (None, "negative", "negative"),
    "Neutral.": ("neutral", "neutral", "neutral"),
    "The sentiment is POSITIVE": ("positive", "positive", "neutral"),  # FinGPT checks two spellings only
    "no idea": (None, None, "neutral"),  # FinGPT never says missing
    "neutral to positive": ("neutral", "positive", "positive"),  # PIXIU: the first choice *in choices order*
    "\nnegative": ("negative", "negative", "negative"),  # a leading newline hides nothing from any reader
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


# The peers' rules, written here as their code does it, to check ours against case by case.
def pixiu_classification(output: str, choices: list[str]) -> str:
    """PIXIU ``src/tasks/flare.py`` (The-FinAI/PIXIU @ 040f886132a8) ``Classification.process_results``."""
    text = output.strip().lower()
    return next((c.lower() for c in choices if c.lower() in text), "missing")


def pixiu_headline(output: str) -> int:
    """Same file, ``Headlines.process_results``: 0 (Yes) only for exactly "Yes"."""
    return int(output.strip() != "Yes")


def pixiu_qa(output: str, gold: str) -> bool:
    """Same file, ``QA.process_results``: ``results[0].strip() == gold``."""
    return output.strip() == gold


def fingpt_change_target(x: str) -> str:
    """AI4Finance-Foundation/FinGPT ``fingpt/FinGPT_Benchmark/benchmarks/fpb.py`` @ 52b1ed1c7a69 ``change_target``."""
    if "positive" in x or "Positive" in x:
        return "positive"
    if "negative" in x or "Negative" in x:
        return "negative"
    return "neutral"


def fingpt_cvt_text_to_pred(text: str) -> str:
    """Same repository, ``benchmarks/convfinqa.py`` @ f20170588eac ``cvt_text_to_pred``."""
    import re

    if not text:
        return "nan"
    match = re.search(r"\d+(.\d+)", text)
    return match.group() if match is not None else "0.0"


TRICKY_BY_TASK = {
    "fpb": ["positive, not negative", "\nneutral", "Negative. Explanation: neutral tone", "neutral\npositive",
            "NEGATIVE", "The sentiment is neutral", "no label", "positive"],
    "fiqa_sa": ["negative but positive", "\npositive", "neutral; negative later", "Positive.", "", "neg",
                "negative\n\nbecause positive"],
    "twitter_sentiment": ["Bullish, then Bearish", "\nNeutral", "bearish", "Neutral. Bullish", "none"],
}


@pytest.mark.parametrize("task", sorted(TRICKY_BY_TASK))
def test_finben_and_fingpt_agree_case_by_case_with_the_peers_code(task):
    spec = get_task(task)
    outputs = TRICKY_BY_TASK[task]
    golds = [spec.labels[i % len(spec.labels)] for i in range(len(outputs))]
    finben = outcomes("finben", spec, golds, outputs, [""] * len(outputs))
    ours = [spec.labels[i].lower() if i < len(spec.labels) else "missing" for i in finben.pred]
    assert ours == [pixiu_classification(o, list(spec.flare_choices or spec.labels)) for o in outputs]
    if task != "twitter_sentiment":  # FinGPT's sentiment words (tfns.py maps its labels to them)
        fingpt = outcomes("fingpt", spec, golds, outputs, [""] * len(outputs))
        assert [spec.labels[i] for i in fingpt.pred] == [fingpt_change_target(o) for o in outputs]
        scores = profile_scores("fingpt", spec, golds, outputs, [""] * len(outputs))
        from sklearn.metrics import f1_score

        new_gold, new_out = [fingpt_change_target(g) for g in golds], [fingpt_change_target(o) for o in outputs]
        assert scores["f1_macro"] == pytest.approx(f1_score(new_gold, new_out, average="macro"))
        assert scores["f1_weighted"] == pytest.approx(f1_score(new_gold, new_out, average="weighted"))


def test_headlines_and_qa_agree_case_by_case_with_the_peers_code():
    outputs = ["Yes", " Yes\n", "\nYes", "Yes, it rose", "yes", "No"]
    headline = outcomes("finben", get_task("headline"), ["Yes"] * 6, outputs, ["up"] * 6)
    assert [int(p != 0) for p in headline.pred] == [pixiu_headline(o) for o in outputs]
    finqa = get_task("finqa")
    golds, answers = ["12.5", " 7", "yes", "3.14"], ["12.5\n", "7", "yes", "\n3.14"]
    finben = outcomes("finben", finqa, golds, answers, [""] * 4)
    assert [bool(c) for c in finben.correct] == [pixiu_qa(o, g) for o, g in zip(answers, golds)]
    assert profile_scores("finben", finqa, golds, answers, [""] * 4)["exact_match"] == finben.correct.mean()
    convfinqa = get_task("convfinqa")
    golds, answers = ["12.5", "100", "7.25", "3"], ["12.50", "", "The answer is 7.25", "3"]
    kept = [(fingpt_cvt_text_to_pred(g), fingpt_cvt_text_to_pred(o)) for g, o in zip(golds, answers)
            if fingpt_cvt_text_to_pred(o) != "nan"]
    scores = profile_scores("fingpt", convfinqa, golds, answers, [""] * 4)
    assert scores["accuracy"] == pytest.approx(sum(float(g) == float(o) for g, o in kept) / len(kept))
    assert scores["left_out"] == 0.25 and outcomes("fingpt", convfinqa, golds, answers, [""] * 4) is None


def test_parse_rates_and_the_majority_floor_per_profile():
    spec = get_task("fpb")
    records = [{"id": str(i), "output": g, "group": ""} for i, g in
               enumerate(["neutral", "neutral", "neutral", "positive"])]
    outputs = ["The sentiment is neutral.", "**Positive**", "I cannot say", "Negative, not positive"]
    result: TaskResult = _collect(spec, records, [""] * 4, ["generate"], [{"text": o} for o in outputs], "validation")
    rows = {o.profile: o for o in readouts(result, PROFILES)}
    assert rows["cocktail"].parsed == 0.75 and rows["finben"].parsed == 0.75  # "I cannot say" has no label
    assert rows["fingpt"].parsed == 1.0  # FinGPT reads no label as "neutral": never missing
    # Always "neutral": accuracy 3/4, weighted F1 = 3/4 * (2 * 3/4 / (1 + 3/4)) under every profile.
    assert all(o.majority == pytest.approx(0.75 * 1.5 / 1.75) for o in rows.values())
    assert rows["cocktail"].value == pytest.approx(result.scores["f1_weighted"])
