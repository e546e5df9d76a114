"""Tokens/s of sample -> render -> tokenize -> pack, against (a) LLaMA-Factory's way and (b) the raw tokenizer.

(a) HF ``datasets.interleave_datasets`` with probabilities + ``.map(tokenize)`` (batched), as LLaMA-Factory
    mixes and preprocesses; (b) the tokenizer's batch throughput on the same full texts (the limit).
All three run in this process on the same mixture (>= 1M tokens). Targets: >= 1.5x (a), >= 0.7x (b).
Packing: rows and fill of our best-fit-decreasing packer beside next-fit in plan order on the same examples
(the packer before), at --seq-len with --examples-per-block per block. Target: fill >= 0.99.

    python benchmarks/bench_data.py [--rows 6000] [--budget 30000] [--seq-len 2048] [--ray]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=6000, help="offline train rows per task")
    ap.add_argument("--budget", type=int, default=30000, help="examples in the mixture")
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--examples-per-block", type=int, default=4096, help="plan examples packed together")
    ap.add_argument("--ray", action="store_true", help="also time the Ray Data path (includes Ray start-up)")
    args = ap.parse_args()

    import datasets

    from ftlib.data.pipeline import cached_tokenizer, pack_plan, records_for
    from ftlib.data.plan import make_plan
    from ftlib.data.spec import MixtureSpec
    from ftlib.data.tokenize import IGNORE_INDEX, encode_batch
    from ftlib.models.locate import resolve_model
    from ftlib.tasks.prepare import prepare
    from ftlib.tasks.prompts import render_prompt
    from ftlib.tasks.catalog import resolve_tasks

    weights = {"fpb": 0.3, "convfinqa": 0.3, "finqa": 0.2, "orca_math": 0.2}
    work = tempfile.mkdtemp(prefix="bench_data_")
    data_dir = f"{work}/data"
    prepare(resolve_tasks(",".join(weights)), "offline", data_dir, seed=0, offline_rows=args.rows)
    tokenizer_path = resolve_model("tiny-phi3")
    tok = cached_tokenizer(tokenizer_path)
    plan = make_plan(MixtureSpec.from_weights(weights, args.budget, seed=0), data_dir)
    records = records_for(plan.table(), data_dir, plan.data_fingerprint)
    texts = [render_prompt({"instruction": i, "input": x}) + o + tok.eos_token
             for i, x, o in zip(records["instruction"], records["input"], records["output"])]

    # (b) the limit: the fastest batched call of the tokenizer on the full texts (ids only).
    t = time.perf_counter()
    raw_tokens = sum(len(x) for x in encode_batch(tok, texts, add_special_tokens=False))
    raw_s = time.perf_counter() - t

    # ours: the function Ray Data maps over the plan, here in-process.
    t = time.perf_counter()
    packed = pack_plan(plan, data_dir, tokenizer_path, args.seq_len, examples_per_batch=args.examples_per_block)
    ours_s = time.perf_counter() - t
    ours_tokens = int((packed["input_ids"] != tok.pad_token_id).sum())

    # (a) LLaMA-Factory: interleave sources with probabilities, then map(tokenize) with the same mask.
    t = time.perf_counter()
    sources = [datasets.Dataset.from_parquet(f"{data_dir}/{task}/train.parquet") for task in weights]
    mixed = datasets.interleave_datasets(sources, probabilities=list(weights.values()), seed=0,
                                         stopping_strategy="all_exhausted")
    mixed = mixed.select(range(min(args.budget, len(mixed))))

    def tokenize(batch):
        prompts = [render_prompt({"instruction": i, "input": x}) for i, x in zip(batch["instruction"], batch["input"])]
        p = tok(prompts)["input_ids"]
        r = tok(batch["output"], add_special_tokens=False)["input_ids"]
        return {"input_ids": [a + b + [tok.eos_token_id] for a, b in zip(p, r)],
                "labels": [[IGNORE_INDEX] * len(a) + b + [tok.eos_token_id] for a, b in zip(p, r)]}

    mapped = mixed.map(tokenize, batched=True, remove_columns=mixed.column_names, keep_in_memory=True)
    lf_tokens = int(sum(len(x) for x in mapped["input_ids"]))
    lf_s = time.perf_counter() - t

    ours_tps, lf_tps, raw_tps = ours_tokens / ours_s, lf_tokens / lf_s, raw_tokens / raw_s
    print(f"tokens: ours {ours_tokens:,}  LLaMA-Factory-style {lf_tokens:,}  raw {raw_tokens:,}")
    print(f"ours (plan -> render -> tokenize -> mask -> pack): {ours_tps:,.0f} tok/s  ({ours_s:.2f} s)")
    print(f"(a) interleave_datasets + map(tokenize):          {lf_tps:,.0f} tok/s  ({lf_s:.2f} s)")
    print(f"(b) raw tokenizer batch (encode_batch_fast):      {raw_tps:,.0f} tok/s  ({raw_s:.2f} s)")
    print(f"ratio ours / (a) = {ours_tps / lf_tps:.2f}  (target >= 1.5)")
    print(f"ratio ours / (b) = {ours_tps / raw_tps:.2f}  (target >= 0.7)")
    rows = packed["input_ids"].shape[0]
    kept = _kept_lengths(plan, data_dir, tok, args.seq_len)
    nf_rows = sum(_next_fit_rows(kept[i:i + args.examples_per_block], args.seq_len)
                  for i in range(0, len(kept), args.examples_per_block))
    print(f"packing {len(kept):,} examples into {args.seq_len}-token rows, {args.examples_per_block} per block:")
    print(f"  best-fit decreasing: {rows:,} rows, fill {ours_tokens / (rows * args.seq_len):.3f}  (target >= 0.99)")
    print(f"  next-fit, plan order: {nf_rows:,} rows, fill {ours_tokens / (nf_rows * args.seq_len):.3f}"
          f"  ({nf_rows / rows - 1:+.1%} rows)")

    if args.ray:
        import ray

        from ftlib.data.dataset import training_dataset

        t = time.perf_counter()
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        start_s = time.perf_counter() - t
        t = time.perf_counter()
        rows = sum(1 for _ in training_dataset(plan, data_dir, tokenizer_path, args.seq_len, examples_per_batch=2048)
                   .iter_rows())
        ray_s = time.perf_counter() - t
        print(f"Ray Data path: {ours_tokens / ray_s:,.0f} tok/s over {rows} rows ({ray_s:.2f} s; ray.init {start_s:.1f} s apart)")
        # A trial of the mini study: ~800 examples. Map tasks over the plan, against packing it in the trial.
        small = make_plan(MixtureSpec.from_weights(weights, 800, seed=1), data_dir)
        took: dict[str, list[float]] = {"map tasks": [], "in the trial": []}
        # Round 1 follows the full Ray Data path above, whose workers may still be up; round 2 finds them warm.
        for _ in range(2):
            for name, in_process in (("map tasks", 0), ("in the trial", small.num_examples)):
                t = time.perf_counter()
                training_dataset(small, data_dir, tokenizer_path, 256, in_process_examples=in_process).materialize()
                took[name].append(time.perf_counter() - t)
        for i, label in enumerate(("first round", "second round, warm")):
            ratio = took["map tasks"][i] / took["in the trial"][i]
            print(f"small plan (800 examples) ready for Train, {label}: map tasks {took['map tasks'][i]:.2f} s,"
                  f" packed in the trial {took['in the trial'][i]:.2f} s: ratio {ratio:.1f}x")
        ray.shutdown()


def _kept_lengths(plan, data_dir: str, tok, seq_len: int) -> list[int]:
    """Each planned example's tokens as the packer keeps them (cut to seq_len)."""
    from ftlib.data.pipeline import records_for
    from ftlib.data.tokenize import tokenize_records

    ids, _ = tokenize_records(records_for(plan.table(), data_dir, plan.data_fingerprint), tok, "plain")
    return [min(len(x), seq_len) for x in ids]


def _next_fit_rows(lengths: list[int], seq_len: int) -> int:
    rows, used = (1, 0) if lengths else (0, 0)
    for n in lengths:
        rows, used = (rows + 1, n) if used + n > seq_len else (rows, used + n)
    return rows


if __name__ == "__main__":
    main()
