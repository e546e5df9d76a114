"""Who answers inference requests: this process, or a Ray Data actor pool (one model load per actor,
many batches each) so a sweep can evaluate on GPUs. Both run ``answer`` on their requests."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import ray.data

from evaluation.inference import LoadedModel, continuation_logprobs, generate, load_for_eval, score_labels

# A request: {"op": "generate"|"score"|"logprob", "prompt": str, "max_new_tokens": int,
#             "labels": list[str], "continuation": str, "specials": bool}
# An answer:  {"text": str, "logprob": float, "tokens": int}


def answer(lm: LoadedModel, requests: list[dict[str, Any]], batch_size: int) -> list[dict[str, Any]]:
    """Groups requests that share settings, so each group runs as real batches."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, r in enumerate(requests):
        groups[(r["op"], r["max_new_tokens"], tuple(r["labels"]), r["specials"])].append(i)
    answers: list[dict[str, Any]] = [{} for _ in requests]
    for (op, max_new, labels, specials), idx in groups.items():
        prompts = [requests[i]["prompt"] for i in idx]
        if op == "generate":
            texts = generate(lm, prompts, max_new, batch_size, specials)
            results = [{"text": t, "logprob": 0.0, "tokens": 0} for t in texts]
        elif op == "score":
            results = [{"text": t, "logprob": 0.0, "tokens": 0}
                       for t in score_labels(lm, prompts, list(labels), batch_size, specials)]
        else:
            pairs = continuation_logprobs(lm, prompts, [requests[i]["continuation"] for i in idx], batch_size,
                                          specials)
            results = [{"text": "", "logprob": lp, "tokens": n} for lp, n in pairs]
        for i, result in zip(idx, results):
            answers[i] = result
    return answers


class LocalBackend:
    def __init__(self, lm: LoadedModel, batch_size: int = 16):
        self.lm, self.batch_size = lm, batch_size

    @property
    def tokenizer(self):
        return self.lm.tokenizer

    def run(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return answer(self.lm, requests, self.batch_size)


class _EvalActor:
    def __init__(self, model: str, adapter: str | None, batch_size: int, trust_remote_code: bool = False):
        self.lm = load_for_eval(model, adapter, trust_remote_code=trust_remote_code)
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        keys = list(batch)
        requests = [{k: _plain(batch[k][i]) for k in keys} for i in range(len(batch["op"]))]
        answers = answer(self.lm, requests, self.batch_size)
        return {"index": batch["index"], **{k: [a[k] for a in answers] for k in ("text", "logprob", "tokens")}}


def _plain(value):
    return value.tolist() if hasattr(value, "tolist") else value


class RayBackend:
    """``map_batches`` over the requests with an actor pool; ``num_gpus`` per actor on GPU clusters."""

    def __init__(self, model: str, adapter: str | None = None, tokenizer=None, actors: int = 1,
                 num_gpus: float = 0, batch_size: int = 16, rows_per_block: int = 64, trust_remote_code: bool = False):
        self.model, self.adapter, self._tokenizer = model, adapter, tokenizer
        self.trust_remote_code = trust_remote_code
        self.actors, self.num_gpus, self.batch_size, self.rows_per_block = actors, num_gpus, batch_size, rows_per_block

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = load_for_eval(self.model, self.adapter, device="cpu",
                                            trust_remote_code=self.trust_remote_code).tokenizer
        return self._tokenizer

    def run(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows = [{**r, "index": i} for i, r in enumerate(requests)]
        ds = ray.data.from_items(rows).map_batches(
            _EvalActor, fn_constructor_kwargs={"model": self.model, "adapter": self.adapter,
                                               "batch_size": self.batch_size,
                                               "trust_remote_code": self.trust_remote_code},
            batch_size=self.rows_per_block, concurrency=self.actors, num_gpus=self.num_gpus or None,
            batch_format="numpy")
        out: list[dict[str, Any]] = [{} for _ in requests]
        for row in ds.iter_rows():
            out[int(row["index"])] = {"text": str(row["text"]), "logprob": float(row["logprob"]),
                                      "tokens": int(row["tokens"])}
        return out
