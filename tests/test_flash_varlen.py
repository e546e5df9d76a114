"""Packed rows under flash-attention 2's varlen path are wired as under sdpa's block-diagonal mask."""
import importlib.util

import numpy as np
import pytest
import torch

from ftlib.data.pack import pack
from ftlib.train.model_inputs import model_inputs
from ftlib.train.model_inputs import MODEL_KEYS

HAS_FLASH = importlib.util.find_spec("flash_attn") is not None and torch.cuda.is_available()


def _rows(seq_len=48, n=14, pad_id=1):
    rng = np.random.default_rng(5)
    ids = [rng.integers(10, 2000, size=int(k)).tolist() for k in rng.integers(5, 30, size=n)]
    packed, _ = pack(ids, [3] * n, seq_len, pad_id)
    return {k: torch.tensor(v, dtype=torch.long) for k, v in packed.items() if k in MODEL_KEYS}


def test_flash_gets_one_row_whose_cu_seqlens_are_the_packers_boundaries():
    from transformers.modeling_flash_attention_utils import _is_packed_sequence, prepare_fa_kwargs_from_position_ids

    batch = _rows()
    rows, seq_len = batch["input_ids"].shape
    assert rows > 1
    flat = model_inputs(batch, "flash_attention_2")
    assert flat["input_ids"].shape == (1, rows * seq_len) and _is_packed_sequence(flat["position_ids"], 1)
    # Given the rows as they are, transformers would not read them as packed: the reason they are flattened.
    assert not _is_packed_sequence(batch["position_ids"], rows)
    (cu_seqlens, _), (max_len, _) = prepare_fa_kwargs_from_position_ids(flat["position_ids"])
    starts = [r * seq_len + i for r in range(rows) for i in range(seq_len) if batch["position_ids"][r, i] == 0]
    assert cu_seqlens.tolist() == starts + [rows * seq_len]
    assert int(max_len) == max(b - a for a, b in zip(starts + [rows * seq_len], (starts + [rows * seq_len])[1:]))
    assert model_inputs(batch, "sdpa")["input_ids"].shape == (rows, seq_len)


def test_flattened_rows_give_the_same_loss_as_rows(tiny_model):
    """One row of micro × seq_len tokens is the same training signal: sdpa on both shapes, same loss."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation="sdpa").eval()
    batch = _rows()
    flat = {k: v.reshape(1, -1) for k, v in batch.items()}
    with torch.no_grad():
        rows_loss = model(**batch, use_cache=False).loss
        flat_loss = model(**flat, use_cache=False).loss
    torch.testing.assert_close(flat_loss, rows_loss, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not HAS_FLASH, reason="flash_attn is not installed or there is no CUDA GPU: the varlen kernel "
                                          "cannot run here")
def test_flash_varlen_matches_sdpa_on_packed_rows(tiny_model):
    from transformers import AutoModelForCausalLM

    batch = {k: v.cuda() for k, v in _rows().items()}
    losses = {}
    for attn in ("sdpa", "flash_attention_2"):
        model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation=attn,
                                                     dtype=torch.bfloat16).cuda().eval()
        with torch.no_grad():
            losses[attn] = model(**model_inputs(batch, attn), use_cache=False).loss.float()
            if attn == "flash_attention_2":  # unflattened, flash attends across a row's examples
                losses["rows"] = model(**batch, use_cache=False).loss.float()
    torch.testing.assert_close(losses["flash_attention_2"], losses["sdpa"], rtol=2e-2, atol=2e-2)
    assert abs(losses["rows"] - losses["sdpa"]) > abs(losses["flash_attention_2"] - losses["sdpa"])
