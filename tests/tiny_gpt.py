"""A real GPTModel of GPT-2's vocabulary and context with one narrow layer: logits of the 124M model's shape,
built and run in milliseconds, for tests that need the model's structure (its model card, its blocks) but not
its size."""

from __future__ import annotations

import torch

from tutor.lm.model import GPT_CONFIG_124M, GPTModel

TINY_CONFIG = {**GPT_CONFIG_124M, "emb_dim": 4, "n_heads": 1, "n_layers": 1}


def tiny_gpt(seed: int = 0, emb_dim: int = 4) -> GPTModel:
    torch.manual_seed(seed)
    return GPTModel({**TINY_CONFIG, "emb_dim": emb_dim}).eval()
