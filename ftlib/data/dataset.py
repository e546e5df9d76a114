"""A plan as a Ray Dataset of packed rows, in plan order, ready for ``get_dataset_shard``."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import ray.data
from ray.data.extensions import ArrowTensorArray

from ftlib.data.pipeline import pack_plan, pack_plan_batch
from ftlib.data.plan import Plan

# Plans up to this many examples are packed in the trial's own process: its data then needs no CPU beyond its
# Train workers' (a map task waits for a free CPU outside the trial's placement group), and an 800-example plan
# is ready 1.4x sooner than through map tasks on warm workers (benchmarks/bench_data.py --ray).
IN_PROCESS_EXAMPLES = 20_000


def training_dataset(plan: Plan, data_dir: str | Path, tokenizer_path: str, seq_len: int, style: str = "plain",
                     examples_per_batch: int = 512, in_process_examples: int = IN_PROCESS_EXAMPLES,
                     trust_remote_code: bool = False):
    """A Ray Dataset of packed rows in plan order, ready for ``get_dataset_shard``."""
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False  # one bar per trial and split floods a sweep's log; the dashboard shows them
    if plan.num_examples <= in_process_examples:
        rows = pack_plan(plan, data_dir, tokenizer_path, seq_len, style, examples_per_batch, trust_remote_code)
        # from_blocks, not from_arrow: from_arrow reads the table's schema in a 1-CPU task, which waits forever
        # where the trial's process holds the CPUs it trains on (the tune executor, trials on every core).
        return ray.data.from_blocks([pa.table({k: ArrowTensorArray.from_numpy(v) for k, v in rows.items()})])
    return ray.data.from_arrow(plan.table()).map_batches(
        pack_plan_batch, batch_size=examples_per_batch, batch_format="pyarrow",
        fn_kwargs=dict(data_dir=str(data_dir), fingerprints=plan.data_fingerprint, tokenizer_path=tokenizer_path,
                       seq_len=seq_len, style=style, trust_remote_code=trust_remote_code))


