"""Published numbers a study is compared with. They are not measurements of ours: the report shows them in their
own column, labelled, and next to our numbers read by the profile they were produced with."""
from __future__ import annotations

# GPT-4o, from the Azure model card of a sibling Microsoft model (the study's comparison point; see
# ../shared/notes/paper-facts.md). F1 for the sentiment / topic sets, exact match for the numeric QA sets. The
# card does not name its parser; FinBen's conventions (weighted F1, exact match of the stripped answer) are the
# ones these benchmarks are published under, so they are compared with our outputs read by the finben profile.
GPT4O = {
    "twitter_sentiment": 80.4,
    "twitter_topics": 63.8,
    "fiqa_sa": 78.2,
    "fpb": 82.8,
    "convfinqa": 75.4,
    "finqa": 69.9,
}
SOURCE = "GPT-4o, Azure model card of a sibling Microsoft model (as cited by Brief et al. 2024)"
PROFILE = "finben"
