"""An optimizer step's loss is the mean over all its loss tokens, however they fall into micro-batches."""
import numpy as np
import torch

from ftlib.data.pack import pack
from ftlib.train.model_inputs import model_inputs
from ftlib.train.step_loss import loss_tokens, step_loss_tokens
from ftlib.train.model_inputs import MODEL_KEYS


def _micro_batches():
    """Two micro-batches of one row each: short answers in the first, long ones in the second."""
    rng = np.random.default_rng(2)
    out = []
    for response in (2, 40):
        ids = [rng.integers(10, 2000, size=response + 20).tolist() for _ in range(3)]
        packed, _ = pack(ids, [20] * 3, 256, pad_id=0)
        out.append({k: torch.tensor(v, dtype=torch.long) for k, v in packed.items() if k in MODEL_KEYS})
    return out


def _grads(model):
    g = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return g


def test_accumulated_micro_batches_give_the_gradient_of_the_step_token_mean(tiny_model):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    model.config.use_cache = False
    group = [model_inputs(b, "sdpa") for b in _micro_batches()]
    counts = [int(loss_tokens(x)) for x in group]
    assert counts[1] > 5 * counts[0]
    # Reference: the token mean over both micro-batches at once.
    both = {k: torch.cat([x[k] for x in group]) for k in group[0]}
    model(**both).loss.backward()
    reference = _grads(model)
    # The loop's way: each micro-batch's token sum over the step's tokens, accumulated.
    total = step_loss_tokens(group, world=1)
    assert int(total) == sum(counts)
    for x in group:
        model(**x, num_items_in_batch=total).loss.backward()
    accumulated = _grads(model)
    for name in reference:
        torch.testing.assert_close(accumulated[name], reference[name], rtol=1e-4, atol=1e-6)
    # A mean of micro-batch means (the loop before) weighs the few short-answer tokens far more: another gradient.
    for x in group:
        (model(**x).loss / 2).backward()
    means = _grads(model)
    assert max((means[n] - reference[n]).abs().max() for n in reference) > 10 * max(
        (accumulated[n] - reference[n]).abs().max() for n in reference)
