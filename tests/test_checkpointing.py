"""Activation checkpointing: the same loss and gradients, less memory, under LoRA, DDP and every ZeRO stage."""
import json
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from ftlib.core.configs import validate
from ftlib.data.pack import pack
from ftlib.run.config import RunConfig
from ftlib.train.loop import build_model
from ftlib.run.resolve import resolve
from ftlib.train.model_inputs import MODEL_KEYS


def _config(tiny_model, **kw):
    return validate(RunConfig, {"model": {"name": tiny_model}, "mixture": {"sources": {"fpb": {"weight": 1}},
                                                                             "budget": 8}, **kw}, "test")


def _batch(seq_len=128, rows=2):
    rng = np.random.default_rng(0)
    ids = [rng.integers(10, 2000, size=int(n)).tolist() for n in rng.integers(20, 120, size=40)]
    packed, _ = pack(ids, [5] * len(ids), seq_len, pad_id=0)
    return {k: torch.tensor(v[:rows], dtype=torch.long) for k, v in packed.items() if k in MODEL_KEYS}


def _loss_and_grads(cfg, checkpointing):
    model = build_model(cfg, resolve(cfg, cuda=False), None, checkpointing)
    assert (model if cfg.method == "full" else model.base_model.model).is_activation_checkpointing == checkpointing
    model.config.use_cache = False  # as the trial's loop sets it: a cache would turn off the packed-rows mask
    model.train()
    torch.manual_seed(7)  # LoRA dropout: checkpointing replays the same masks in its recomputation
    loss = model(**_batch()).loss
    loss.backward()
    return loss.item(), {n: p.grad for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("method", ["full", "lora"])
def test_checkpointing_gives_the_same_loss_and_gradients(tiny_model, method):
    cfg = _config(tiny_model, method=method, lora={"dropout": 0.1})
    loss, grads = _loss_and_grads(cfg, False)
    loss_ckpt, grads_ckpt = _loss_and_grads(cfg, True)
    assert loss_ckpt == pytest.approx(loss, abs=1e-6)
    assert grads.keys() == grads_ckpt.keys() and grads
    for name in grads:
        torch.testing.assert_close(grads_ckpt[name], grads[name], rtol=1e-5, atol=1e-7, msg=name)


def test_resolution_of_auto():
    from ftlib.run.resolve import activation_checkpointing

    mix = {"sources": {"fpb": {"weight": 1}}, "budget": 8}
    full, lora = (validate(RunConfig, {"method": m, "mixture": mix}, "t") for m in ("full", "lora"))
    assert activation_checkpointing(full, cuda=True) is True and activation_checkpointing(full, cuda=False) is False
    assert activation_checkpointing(lora, cuda=True) is None  # the worker asks the planner about its GPU
    on = full.model_copy(update={"activation_checkpointing": "on"})
    assert activation_checkpointing(on, cuda=False) is True


@pytest.mark.slow
@pytest.mark.parametrize("engine,method", [("ddp", "full"), ("zero1", "full"), ("zero2", "full"), ("zero3", "full"),
                                           ("zero3", "lora")])
def test_checkpointing_under_ddp_and_each_zero_stage(tiny_model, engine, method):
    def steps(checkpointing):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        out = subprocess.run([sys.executable, "tests/checkpointing_steps.py", tiny_model, engine, checkpointing,
                              str(port), method], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    plain, ckpt = steps("off"), steps("on")
    assert ckpt == pytest.approx(plain, rel=1e-5)
    assert plain[-1] < plain[0]  # it trains
