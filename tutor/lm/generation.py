"""Continuing a prompt token by token, with the sampling of the book's chapter 5 and a KV cache.

Sampling (`choose_next_token`), as the book's `generate`: top-k keeps the k largest logits (every other becomes
-inf; ties with the k-th are kept), then above temperature 0 the logits are divided by the temperature, put
through softmax and sampled with `torch.multinomial`; temperature 0 takes the argmax. The random numbers come
from a `torch.Generator` seeded with the settings' seed, so the same seed gives the same text and the caller's
global random state is left alone.

The KV cache (`KVCache`) does the work of `GPTModel.forward` on the model's own weights, keeping each block's
keys and values of the positions seen so far: the prompt goes through the model's modules in one pass, then each
new token is one position's work. The model, its state_dict and its forward are untouched. Dropout is left out,
as in eval mode.

Past the model's context the book's loop looks at the last `context_length` tokens only, so every position
shifts by one at each new token and its position embedding, hence every cached key and value, changes. The
cache then computes the whole last window again at each step (as without it): the tokens stay exactly the
book's, and the cache speeds up the first `context_length` tokens only. `GenerationStep.positions_computed`
shows which.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tutor.core.generation import (
    SHOWN_CANDIDATES,
    Candidate,
    Generation,
    GenerationSettings,
    GenerationStep,
    check_prompt,
)
from tutor.lm.matvec import Layer, VectorLinears, torch_on_one_thread
from tutor.lm.model import GPTModel
from tutor.lm.tokenizer import encode, get_tokenizer, token_text

Checkpoint = Callable[[], None]  # called between steps; raises to stop the generation there


def keep_top_k(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    """The book's top-k: logits below the k-th largest become -inf."""
    top_logits, _ = torch.topk(logits, top_k)
    min_val = top_logits[..., -1:]
    return torch.where(logits < min_val, torch.tensor(float("-inf")), logits)


def choose_next_token(logits: torch.Tensor, temperature: float, top_k: int | None,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The book's choice of the next token from `logits` (B, V): a (B, 1) tensor of token ids, and the
    probabilities (B, V) it was drawn from (greedy: all of them on the argmax)."""
    if top_k is not None:
        logits = keep_top_k(logits, top_k)
    if temperature > 0.0:
        logits = logits / temperature
        probs = torch.softmax(logits, dim=-1)
        return torch.multinomial(probs, num_samples=1, generator=generator), probs
    idx_next = torch.argmax(logits, dim=-1, keepdim=True)
    return idx_next, torch.zeros_like(logits).scatter_(-1, idx_next, 1.0)


@dataclass(frozen=True)
class _BlockWork:
    """One transformer block's weights, set out for one position at a time."""

    norm1: tuple[torch.Tensor, torch.Tensor, float]  # scale, shift, eps
    norm2: tuple[torch.Tensor, torch.Tensor, float]
    query_key_value: VectorLinears
    out_proj: VectorLinears
    expand: VectorLinears  # the feed-forward's first layer, before GELU
    project: VectorLinears  # and its second
    heads: tuple[int, int]  # H, D
    scores_divisor: float  # sqrt(D)

    @classmethod
    def of(cls, block) -> _BlockWork:
        att, (expand, _, project) = block.att, block.ff.layers
        return cls(
            norm1=(block.norm1.scale, block.norm1.shift, block.norm1.eps),
            norm2=(block.norm2.scale, block.norm2.shift, block.norm2.eps),
            query_key_value=VectorLinears([_layer(att.W_query), _layer(att.W_key), _layer(att.W_value)]),
            out_proj=VectorLinears([_layer(att.out_proj)]),
            expand=VectorLinears([_layer(expand)]),
            project=VectorLinears([_layer(project)]),
            heads=(att.num_heads, att.head_dim),
            scores_divisor=att.head_dim**0.5,
        )


def _layer(linear: torch.nn.Linear) -> Layer:
    return linear.weight, linear.bias


class KVCache:
    """Each block's keys and values for up to `context_length` positions of one sequence, allocated once. Make
    it, and use it, under torch.inference_mode(); one position at a time is quickest under `torch_on_one_thread`
    (tutor/lm/matvec.py), as `generation_steps` runs it."""

    def __init__(self, model: GPTModel):
        self.model = model
        self.context_length = model.pos_emb.num_embeddings
        shape = [(1, block.att.num_heads, self.context_length, block.att.head_dim) for block in model.trf_blocks]
        dtype = model.tok_emb.weight.dtype
        self.keys = [torch.empty(size, dtype=dtype) for size in shape]
        self.values = [torch.empty(size, dtype=dtype) for size in shape]
        self.length = 0  # positions cached
        self.start = 0  # where in the whole sequence its position 0 is
        self._blocks = [_BlockWork.of(block) for block in model.trf_blocks]
        self._final_norm = (model.final_norm.scale, model.final_norm.shift, model.final_norm.eps)
        self._out_head = VectorLinears([_layer(model.out_head)])

    def reset(self, start: int = 0) -> None:
        self.length, self.start = 0, start

    def extend(self, token_ids: Sequence[int]) -> torch.Tensor:
        """Run `token_ids` at the next positions, keeping their keys and values; the logits (V,) for the token
        after the last of them."""
        begin, count = self.length, len(token_ids)
        end = begin + count
        if end > self.context_length:
            raise ValueError(f"the cache holds {self.context_length} positions; {end} were asked for")
        logits = self._one_position(token_ids[0]) if count == 1 else self._positions(token_ids, begin, end)
        self.length = end
        return logits

    def _positions(self, token_ids: Sequence[int], begin: int, end: int) -> torch.Tensor:
        """Several positions at once (the prompt), through the model's own modules."""
        model = self.model
        x = model.tok_emb(torch.tensor([list(token_ids)])) + model.pos_emb.weight[begin:end]  # (1, T, C)
        for layer, block in enumerate(model.trf_blocks):
            x = x + self._attention(block.att, block.norm1(x), layer, begin, end)
            x = x + block.ff(block.norm2(x))
        return model.out_head(model.final_norm(x[0, -1]))  # (V,)

    def _one_position(self, token_id: int) -> torch.Tensor:
        """One new position: the arithmetic of `GPTModel.forward` on the model's weights, written with
        torch.nn.functional so that each token costs little more than reading the weights once (the book's
        LayerNorm is F.layer_norm, its GELU F.gelu(approximate="tanh"); a single query needs no mask), the
        matrix-vector products by NumPy's BLAS, which reads the weights on every core (tutor/lm/matvec.py)."""
        model, position = self.model, self.length
        x = model.tok_emb.weight[token_id] + model.pos_emb.weight[position]  # (C,)
        width, seen = x.shape, position + 1
        for work, keys, values in zip(self._blocks, self.keys, self.values):
            keys, values = keys[0], values[0]  # (H, context, D)
            query, key, value = work.query_key_value(F.layer_norm(x, width, *work.norm1))
            keys[:, position] = key.view(work.heads)
            values[:, position] = value.view(work.heads)
            attn_scores = query.view(work.heads[0], 1, -1) @ keys[:, :seen].transpose(1, 2)  # (H, 1, T)
            attn_weights = torch.softmax(attn_scores / work.scores_divisor, dim=-1)
            [attended] = work.out_proj((attn_weights @ values[:, :seen]).view(width))
            x = x + attended
            [hidden] = work.expand(F.layer_norm(x, width, *work.norm2))
            [fed_forward] = work.project(F.gelu(hidden, approximate="tanh"))
            x = x + fed_forward
        [logits] = self._out_head(F.layer_norm(x, width, *self._final_norm))
        return logits.clone()  # (V,), its own: the next position overwrites the results of this one

    def _attention(self, att, x: torch.Tensor, layer: int, begin: int, end: int) -> torch.Tensor:
        """`MultiHeadAttention.forward` for the queries at positions begin..end-1, over the keys of 0..end-1."""
        count = end - begin
        queries = att.split_heads(att.W_query(x))  # (1, H, T, D)
        self.keys[layer][:, :, begin:end] = att.split_heads(att.W_key(x))
        self.values[layer][:, :, begin:end] = att.split_heads(att.W_value(x))
        keys, values = self.keys[layer][:, :, :end], self.values[layer][:, :, :end]  # (1, H, end, D)
        attn_scores = queries @ keys.transpose(2, 3)  # (1, H, T, end)
        if count > 1:  # a single new query may look at every position so far
            attn_scores = attn_scores.masked_fill(att.mask.bool()[begin:end, :end], -torch.inf)
        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)
        context_vec = (attn_weights @ values).transpose(1, 2).reshape(1, count, att.d_out)  # (1, T, C)
        return att.out_proj(context_vec)


@contextmanager
def _computing(model: GPTModel) -> Iterator[None]:
    """Eval mode (dropout off) and no autograd, for one step only: never held across a `yield`."""
    was_training = model.training
    if was_training:
        model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        if was_training:
            model.train()


def _top_candidates(probabilities: torch.Tensor, count: int, *, drawable_only: bool = False) -> tuple[Candidate, ...]:
    values, ids = torch.topk(probabilities, min(count, probabilities.shape[-1]))
    return tuple(
        Candidate(token_id, token_text(token_id), probability)
        for token_id, probability in zip(ids.tolist(), values.tolist())
        if probability > 0.0 or not drawable_only
    )


def generation_steps(model: GPTModel, prompt_ids: Sequence[int], settings: GenerationSettings, *,
                     candidates: int = SHOWN_CANDIDATES,
                     checkpoint: Checkpoint | None = None) -> Iterator[GenerationStep]:
    """The new tokens, one at a time, computed as each is asked for. `checkpoint` is called before each step;
    whatever it raises ends the generation there. Raises `ValueError` at once for bad settings or an empty prompt."""
    settings.check()
    if not prompt_ids:
        raise ValueError("the prompt has no tokens")
    vocab_size = model.out_head.out_features
    if settings.top_k is not None and settings.top_k > vocab_size:
        raise ValueError(f"top-k: {settings.top_k} is more than the model's {vocab_size:,} tokens")
    return _steps(model, list(prompt_ids), settings, candidates, checkpoint)


def _steps(model: GPTModel, ids: list[int], settings: GenerationSettings, candidates: int,
           checkpoint: Checkpoint | None) -> Iterator[GenerationStep]:
    generator = torch.Generator().manual_seed(settings.seed)
    context_length = model.pos_emb.num_embeddings
    cache = None
    if settings.kv_cache:
        with torch.inference_mode():
            cache = KVCache(model)
    for index in range(settings.max_new_tokens):
        if checkpoint is not None:
            checkpoint()
        started = time.perf_counter()
        window_start = max(0, len(ids) - context_length)
        one_position = cache is not None and cache.start == window_start and cache.length == len(ids) - window_start - 1
        with _computing(model), torch_on_one_thread() if one_position else nullcontext():
            if cache is None:
                logits = model(torch.tensor([ids[window_start:]]))[0, -1]
                positions = len(ids) - window_start
            elif one_position:
                logits, positions = cache.extend(ids[-1:]), 1
            else:  # the first step, or the window has moved past the context: every position is new
                cache.reset(window_start)
                logits, positions = cache.extend(ids[window_start:]), len(ids) - window_start
            next_id, drawn_from = choose_next_token(logits[None], settings.temperature, settings.top_k, generator)
            token_id, drawn_from = int(next_id), drawn_from[0]
            raw = torch.softmax(logits, dim=-1)
            step = GenerationStep(
                index=index,
                token_id=token_id,
                token_text=token_text(token_id),
                before=_top_candidates(raw, candidates),
                after=_top_candidates(drawn_from, candidates, drawable_only=True),
                chosen_probability=float(drawn_from[token_id]),
                chosen_raw_probability=float(raw[token_id]),
                greedy=settings.greedy,
                positions_computed=positions,
                seconds=time.perf_counter() - started,
            )
        ids.append(token_id)
        yield step


def generate(model: GPTModel, prompt: str, settings: GenerationSettings, *, model_name: str,
             candidates: int = SHOWN_CANDIDATES, checkpoint: Checkpoint | None = None,
             on_step: Callable[[GenerationStep], None] | None = None) -> Generation:
    """Continue `prompt` to the end, calling `on_step` with each new token as it is drawn."""
    check_prompt(prompt)
    prompt_ids = encode(prompt)
    steps = []
    for step in generation_steps(model, prompt_ids, settings, candidates=candidates, checkpoint=checkpoint):
        steps.append(step)
        if on_step is not None:
            on_step(step)
    return Generation(
        prompt=prompt,
        prompt_ids=tuple(prompt_ids),
        steps=tuple(steps),
        text=get_tokenizer().decode([step.token_id for step in steps]),
        settings=settings,
        model=model_name,
        context_length=model.pos_emb.num_embeddings,
    )


class TextStream:
    """The text of tokens given one at a time, as far as it can be decoded: a character split between two
    tokens comes out whole with the second. All the pieces joined equal `tokenizer.decode` of all the tokens."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def add(self, token_id: int) -> str:
        return self._decoder.decode(get_tokenizer().decode_single_token_bytes(token_id))

    def finish(self) -> str:
        return self._decoder.decode(b"", final=True)
