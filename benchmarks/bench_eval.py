"""Examples/s of batched vs one-at-a-time greedy generation, and of label scoring vs generation, on the same
model and prompts in the same run.

    python benchmarks/bench_eval.py [--model tiny-phi3] [--n 96] [--batch-size 16]
"""
from __future__ import annotations

import argparse
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny-phi3")
    ap.add_argument("--n", type=int, default=96)
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args()

    from evaluation.inference import generate, load_for_eval, score_labels
    from ftlib.tasks.prepare import prepare
    from ftlib.tasks.prompts import render_prompt
    from ftlib.tasks.catalog import get_task, resolve_tasks
    from ftlib.tasks.store import read_split

    data = tempfile.mkdtemp(prefix="bench_eval_")
    prepare(resolve_tasks("twitter_sentiment"), "offline", data, seed=0, offline_rows=2000)
    spec = get_task("twitter_sentiment")
    records = read_split(data, spec.name, "validation").slice(0, args.n).to_pylist()
    prompts = [render_prompt(r) for r in records]
    lm = load_for_eval(args.model)
    generate(lm, prompts[:4], spec.max_new_tokens, args.batch_size)  # warm-up

    def timed(fn):
        t = time.perf_counter()
        fn()
        return len(prompts) / (time.perf_counter() - t)

    batched = timed(lambda: generate(lm, prompts, spec.max_new_tokens, args.batch_size))
    single = timed(lambda: [generate(lm, [p], spec.max_new_tokens, 1) for p in prompts])
    scored = timed(lambda: score_labels(lm, prompts, list(spec.labels), args.batch_size))
    print(f"{len(prompts)} prompts of {spec.name}, max_new_tokens {spec.max_new_tokens}, batch {args.batch_size}, "
          f"device {lm.device}")
    print(f"batched generation:        {batched:8.1f} examples/s")
    print(f"one-at-a-time generation:  {single:8.1f} examples/s")
    print(f"label scoring ({len(spec.labels)} labels):  {scored:8.1f} examples/s")
    print(f"ratio batched / one-at-a-time = {batched / single:.2f}")
    print(f"ratio label scoring / batched generation = {scored / batched:.2f}")


if __name__ == "__main__":
    main()
