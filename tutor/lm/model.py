"""A small GPT, written from scratch, laid out like chapter 4 of "Build a Large Language Model (From Scratch)".

Module names, parameter names and the order in which modules are created match the book's
`GPTModel`, so the same seed gives the same weights and a state_dict saved by one loads into the other.

Shapes in the comments: B = batch size, T = number of tokens, C = embedding size (emb_dim),
H = number of heads, D = head size (C // H), V = vocabulary size.
"""

from __future__ import annotations

import math

import torch
from torch import nn

GPT_CONFIG_124M = {
    "vocab_size": 50257,     # GPT-2's BPE vocabulary
    "context_length": 256,   # the longest input the model sees at once
    "emb_dim": 768,
    "n_heads": 12,
    "n_layers": 12,
    "drop_rate": 0.1,
    "qkv_bias": False,
}


class LayerNorm(nn.Module):
    """Normalise each token's vector to mean 0 and variance 1, then rescale and shift it."""

    def __init__(self, emb_dim: int):
        super().__init__()
        self.eps = 1e-5
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)
        # unbiased=False: divide by n, not n - 1, as GPT-2 does.
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        norm_x = (x - mean) / torch.sqrt(var + self.eps)
        return self.scale * norm_x + self.shift


# sqrt(2 / pi) computed in float32, as the book does, so that our logits match its logits bit for bit
# (math.sqrt in float64 rounds to a float32 one unit in the last place away).
SQRT_2_OVER_PI = torch.tensor(2.0 / math.pi).sqrt().item()


class GELU(nn.Module):
    """GELU activation, the tanh approximation used by GPT-2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x * (1.0 + torch.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x.pow(3))))


class FeedForward(nn.Module):
    """Widen each token's vector 4x, apply GELU, and project it back."""

    def __init__(self, cfg: dict):
        super().__init__()
        emb_dim = cfg["emb_dim"]
        self.layers = nn.Sequential(
            nn.Linear(emb_dim, 4 * emb_dim),
            GELU(),
            nn.Linear(4 * emb_dim, emb_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)  # (B, T, C) -> (B, T, 4C) -> (B, T, C)


class MultiHeadAttention(nn.Module):
    """Causal self-attention: each token mixes in the value vectors of itself and earlier tokens."""

    def __init__(self, d_in: int, d_out: int, context_length: int, dropout: float, num_heads: int,
                 qkv_bias: bool = False):
        super().__init__()
        if d_out % num_heads != 0:
            raise ValueError(f"d_out ({d_out}) must be divisible by num_heads ({num_heads})")
        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)
        # 1 above the diagonal marks a future token that a position must not attend to.
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), diagonal=1))

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, T, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        queries = self.split_heads(self.W_query(x))  # (B, H, T, D)
        keys = self.split_heads(self.W_key(x))       # (B, H, T, D)
        values = self.split_heads(self.W_value(x))   # (B, H, T, D)

        attn_scores = queries @ keys.transpose(2, 3)  # (B, H, T, T)
        future = self.mask.bool()[:t, :t]
        attn_scores = attn_scores.masked_fill(future, -torch.inf)
        # Dividing by sqrt(D) keeps the scores from growing with the head size,
        # so softmax does not saturate.
        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)
        attn_weights = self.dropout(attn_weights)

        context_vec = (attn_weights @ values).transpose(1, 2)  # (B, T, H, D)
        context_vec = context_vec.contiguous().view(b, t, self.d_out)  # (B, T, C)
        return self.out_proj(context_vec)


class TransformerBlock(nn.Module):
    """Attention then feed-forward, each behind a LayerNorm (pre-norm) and with a residual connection."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"],
            d_out=cfg["emb_dim"],
            context_length=cfg["context_length"],
            dropout=cfg["drop_rate"],
            num_heads=cfg["n_heads"],
            qkv_bias=cfg["qkv_bias"],
        )
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(cfg["drop_rate"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_shortcut(self.att(self.norm1(x)))
        x = x + self.drop_shortcut(self.ff(self.norm2(x)))
        return x  # (B, T, C)


class GPTModel(nn.Module):
    """Token ids in, next-token logits out."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        self.trf_blocks = nn.Sequential(*[TransformerBlock(cfg) for _ in range(cfg["n_layers"])])
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)

    def forward(self, in_idx: torch.Tensor) -> torch.Tensor:
        _, t = in_idx.shape                                               # (B, T)
        tok_embeds = self.tok_emb(in_idx)                                 # (B, T, C)
        pos_embeds = self.pos_emb(torch.arange(t, device=in_idx.device))  # (T, C)
        x = self.drop_emb(tok_embeds + pos_embeds)                        # (B, T, C)
        x = self.trf_blocks(x)
        x = self.final_norm(x)
        return self.out_head(x)                                           # (B, T, V)


def generate_tokens(model: nn.Module, idx: torch.Tensor, max_new_tokens: int, context_size: int,
                    temperature: float = 0.0, top_k: int | None = None) -> torch.Tensor:
    """Append `max_new_tokens` tokens to `idx` (B, T), one at a time.

    temperature 0 picks the most likely token (greedy); above 0 it samples from the softmax of
    logits / temperature. top_k keeps only the k most likely tokens before choosing.
    """
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = model(idx[:, -context_size:])[:, -1, :]  # (B, V): logits for the next token only
            if top_k is not None:
                kth_best = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
                logits = logits.masked_fill(logits < kth_best, -torch.inf)
            if temperature > 0.0:
                probs = torch.softmax(logits / temperature, dim=-1)
                next_id = torch.multinomial(probs, num_samples=1)   # (B, 1)
            else:
                next_id = torch.argmax(logits, dim=-1, keepdim=True)  # (B, 1)
            idx = torch.cat([idx, next_id], dim=1)                  # (B, T + 1)
    return idx
