"""Dimensions of the study's hub models, from their published ``config.json``: the planner uses them when a
hub id's config cannot be fetched (no network), and says so. Phi-3-small ships its own modelling code
(``phi3small``); it is planned as the Llama-shaped model of the same dimensions and parameter count."""
from __future__ import annotations

from transformers import AutoConfig

KNOWN_MODELS = {
    "microsoft/Phi-3-mini-128k-instruct": dict(
        model_type="phi3", hidden_size=3072, intermediate_size=8192, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=32, vocab_size=32064, max_position_embeddings=131072, tie_word_embeddings=False),
    "microsoft/Phi-3-mini-4k-instruct": dict(
        model_type="phi3", hidden_size=3072, intermediate_size=8192, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=32, vocab_size=32064, max_position_embeddings=4096, tie_word_embeddings=False),
    "meta-llama/Llama-3.1-8B-Instruct": dict(
        model_type="llama", hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=8, vocab_size=128256, max_position_embeddings=131072, tie_word_embeddings=False),
    "mistralai/Mistral-7B-Instruct-v0.3": dict(
        model_type="mistral", hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=8, vocab_size=32768, max_position_embeddings=32768, tie_word_embeddings=False),
    "microsoft/Phi-3-small-128k-instruct": dict(
        model_type="llama", hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=8, vocab_size=100352, max_position_embeddings=131072, tie_word_embeddings=True),
}


def known_config(name: str):
    """A transformers config built from the table (no download), or None for a model not in it."""
    dims = KNOWN_MODELS.get(name)
    if dims is None:
        return None

    dims = dict(dims)
    return AutoConfig.for_model(dims.pop("model_type"), **dims)
