"""Checkpoint layout: ``model/`` (adapter for LoRA, full weights otherwise, plus tokenizer: what the
evaluation loads) and ``state/`` (what a resumed run needs: optimizer, scheduler, step, or DeepSpeed's
sharded engine state, one file per rank, merged by Ray Train into one directory)."""
from __future__ import annotations

import json
from pathlib import Path

import deepspeed
import torch

TRAINER_STATE = "trainer.json"
START = {"step": 0, "tokens": 0, "examples_cut": 0, "examples_trained": 0}  # a run's counters before its first step
DS_TAG = "zero"


def save(directory: Path, *, rank: int, module, engine, optimizer, scheduler, tokenizer, counters: dict[str, int],
         base_model: str, method: str) -> None:
    """``counters``: step, tokens, examples_cut so far (a resumed run counts on from them)."""
    model_dir, state_dir = directory / "model", directory / "state"
    state_dir.mkdir(parents=True, exist_ok=True)
    if engine is not None:
        engine.save_checkpoint(str(state_dir), tag=DS_TAG)  # collective: every rank writes its shards
        _save_weights_deepspeed(engine, module, model_dir, rank)
    elif rank == 0:
        module.save_pretrained(model_dir)
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, state_dir / "optim.pt")
    if rank == 0:
        tokenizer.save_pretrained(model_dir)
        (model_dir / "cocktail.json").write_text(json.dumps({"base_model": base_model, "method": method}))
        (state_dir / TRAINER_STATE).write_text(json.dumps(counters))


def _save_weights_deepspeed(engine, module, model_dir: Path, rank: int) -> None:
    if engine.zero_optimization_stage() == 3:
        with deepspeed.zero.GatheredParameters(list(module.parameters()), modifier_rank=None):
            if rank == 0:
                module.save_pretrained(model_dir)
    elif rank == 0:
        module.save_pretrained(model_dir)


def restore(directory: Path, *, engine, optimizer, scheduler) -> dict[str, int]:
    """Loads optimizer / scheduler (or the DeepSpeed engine); returns the counters to continue from.
    Model weights come back through ``model/`` when the model is built (see loop.build_model)."""
    state_dir = directory / "state"
    if engine is not None:
        engine.load_checkpoint(str(state_dir), tag=DS_TAG)
    else:
        state = torch.load(state_dir / "optim.pt", weights_only=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
    return {**START, **json.loads((state_dir / TRAINER_STATE).read_text())}
