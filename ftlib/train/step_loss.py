"""One optimizer step's loss: the mean over every loss token of the step, whichever micro-batch and worker holds
it (not a mean of micro-batch means, which weighs a token of a short-answer micro-batch more than one of a long).

Each micro-batch's loss is its token-loss sum over ``tokens / world`` (transformers' ``num_items_in_batch``):
gradients accumulated over the step's micro-batches and averaged over workers (DDP, DeepSpeed) then give the
gradient of the step's token mean.
"""
from __future__ import annotations

import torch
import torch.distributed as dist

from ftlib.data.tokenize import IGNORE_INDEX


def loss_tokens(inputs) -> "torch.Tensor":  # noqa: F821
    """Tokens the model's loss counts: labels after transformers' shift by one."""
    return (inputs["labels"][..., 1:] != IGNORE_INDEX).sum()


def step_loss_tokens(group: list[dict], world: int):
    """Loss tokens of a whole step (its micro-batches, on every worker), at least 1."""
    total = torch.stack([loss_tokens(inputs) for inputs in group]).sum().to(torch.float64)
    if world > 1:
        dist.all_reduce(total)
    return total.clamp(min=1)
