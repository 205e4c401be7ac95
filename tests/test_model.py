"""The from-scratch GPT matches the book's chapter-4 GPTModel: names, shapes, sizes and behaviour."""

import pytest
import torch

from tutor.lm.model import GPT_CONFIG_124M, GPTModel, generate_tokens

SMALL = {"vocab_size": 100, "context_length": 8, "emb_dim": 16, "n_heads": 2, "n_layers": 2,
         "drop_rate": 0.1, "qkv_bias": False}


def expected_keys(cfg):
    keys = {"tok_emb.weight", "pos_emb.weight", "final_norm.scale", "final_norm.shift", "out_head.weight"}
    for i in range(cfg["n_layers"]):
        block = f"trf_blocks.{i}"
        for name in ("W_query", "W_key", "W_value"):
            keys.add(f"{block}.att.{name}.weight")
            if cfg["qkv_bias"]:
                keys.add(f"{block}.att.{name}.bias")
        keys |= {
            f"{block}.att.mask",
            f"{block}.att.out_proj.weight", f"{block}.att.out_proj.bias",
            f"{block}.ff.layers.0.weight", f"{block}.ff.layers.0.bias",
            f"{block}.ff.layers.2.weight", f"{block}.ff.layers.2.bias",
            f"{block}.norm1.scale", f"{block}.norm1.shift",
            f"{block}.norm2.scale", f"{block}.norm2.shift",
        }
    return keys


@pytest.fixture(scope="module")
def gpt124m():
    torch.manual_seed(42)
    return GPTModel(GPT_CONFIG_124M).eval()


@pytest.fixture
def small():
    torch.manual_seed(0)
    return GPTModel(SMALL).eval()


def test_parameter_count(gpt124m):
    assert sum(p.numel() for p in gpt124m.parameters()) == 162_419_712


def test_state_dict_keys_are_the_books(gpt124m):
    assert set(gpt124m.state_dict()) == expected_keys(GPT_CONFIG_124M)
    assert len(expected_keys(GPT_CONFIG_124M)) == 2 + 12 * 14 + 3


def test_seed_42_gives_the_books_weights(gpt124m):
    # Values from the book's chapter-4 GPTModel after torch.manual_seed(42): any change in the order
    # modules are created in changes them.
    state = gpt124m.state_dict()
    assert state["tok_emb.weight"][0, 0].item() == 1.9269152879714966
    assert state["pos_emb.weight"][255, 767].item() == 0.22561965882778168
    assert state["trf_blocks.0.att.W_query.weight"][0, 0].item() == -0.023825805634260178
    assert state["trf_blocks.11.ff.layers.2.bias"][767].item() == 0.0070393746718764305
    assert state["out_head.weight"][50256, 767].item() == 0.009723449125885963


def test_mask_is_a_saved_upper_triangle(small):
    mask = small.state_dict()["trf_blocks.0.att.mask"]
    assert torch.equal(mask, torch.triu(torch.ones(8, 8), diagonal=1))


def test_loads_a_book_layout_state_dict_strictly():
    emb, vocab, ctx, hidden = SMALL["emb_dim"], SMALL["vocab_size"], SMALL["context_length"], 4 * SMALL["emb_dim"]
    state = {
        "tok_emb.weight": torch.randn(vocab, emb),
        "pos_emb.weight": torch.randn(ctx, emb),
        "final_norm.scale": torch.ones(emb),
        "final_norm.shift": torch.zeros(emb),
        "out_head.weight": torch.randn(vocab, emb),
    }
    for i in range(SMALL["n_layers"]):
        b = f"trf_blocks.{i}"
        state.update({
            f"{b}.att.W_query.weight": torch.randn(emb, emb),
            f"{b}.att.W_key.weight": torch.randn(emb, emb),
            f"{b}.att.W_value.weight": torch.randn(emb, emb),
            f"{b}.att.out_proj.weight": torch.randn(emb, emb),
            f"{b}.att.out_proj.bias": torch.randn(emb),
            f"{b}.att.mask": torch.triu(torch.ones(ctx, ctx), diagonal=1),
            f"{b}.ff.layers.0.weight": torch.randn(hidden, emb),
            f"{b}.ff.layers.0.bias": torch.randn(hidden),
            f"{b}.ff.layers.2.weight": torch.randn(emb, hidden),
            f"{b}.ff.layers.2.bias": torch.randn(emb),
            f"{b}.norm1.scale": torch.ones(emb),
            f"{b}.norm1.shift": torch.zeros(emb),
            f"{b}.norm2.scale": torch.ones(emb),
            f"{b}.norm2.shift": torch.zeros(emb),
        })
    model = GPTModel(SMALL)
    model.load_state_dict(state, strict=True)
    assert torch.equal(model.out_head.weight, state["out_head.weight"])


def test_qkv_bias_adds_bias_keys():
    model = GPTModel({**SMALL, "qkv_bias": True})
    keys = set(model.state_dict())
    assert keys == expected_keys({**SMALL, "qkv_bias": True})
    assert {"trf_blocks.1.att.W_query.bias", "trf_blocks.1.att.W_key.bias", "trf_blocks.1.att.W_value.bias"} <= keys
    assert "trf_blocks.0.att.W_query.bias" not in GPTModel(SMALL).state_dict()


def test_output_shape(small, gpt124m):
    with torch.no_grad():
        assert small(torch.randint(0, 100, (3, 5))).shape == (3, 5, 100)
        assert gpt124m(torch.randint(0, 50257, (2, 8))).shape == (2, 8, 50257)


def test_attention_is_causal(small):
    idx = torch.randint(0, 100, (1, 8))
    changed = idx.clone()
    changed[0, 5] = (idx[0, 5] + 1) % 100
    with torch.no_grad():
        before, after = small(idx), small(changed)
    assert torch.allclose(before[:, :5], after[:, :5], atol=1e-6, rtol=0)
    assert not torch.allclose(before[:, 5:], after[:, 5:])


def test_eval_mode_is_deterministic_and_train_mode_uses_dropout(small):
    idx = torch.randint(0, 100, (2, 8))
    with torch.no_grad():
        assert torch.equal(small(idx), small(idx))
        small.train()
        assert not torch.equal(small(idx), small(idx))


def test_generate_greedy_is_deterministic_and_has_the_right_length(small):
    idx = torch.randint(0, 100, (2, 3))
    first = generate_tokens(small, idx, max_new_tokens=4, context_size=8)
    second = generate_tokens(small, idx, max_new_tokens=4, context_size=8)
    assert first.shape == (2, 7)
    assert torch.equal(first, second)
    assert torch.equal(first[:, :3], idx)
    with torch.no_grad():
        assert torch.equal(first[:, 3], small(idx)[:, -1].argmax(dim=-1))


def test_generate_crops_to_the_context_size(small):
    idx = torch.randint(0, 100, (1, 12))  # longer than the model's 8 positions
    out = generate_tokens(small, idx, max_new_tokens=3, context_size=8)
    assert out.shape == (1, 15)


def test_generate_top_k_one_is_greedy_and_sampling_follows_the_seed(small):
    idx = torch.randint(0, 100, (2, 3))
    greedy = generate_tokens(small, idx, max_new_tokens=4, context_size=8)
    assert torch.equal(generate_tokens(small, idx, 4, 8, temperature=1.0, top_k=1), greedy)
    torch.manual_seed(1)
    sampled = generate_tokens(small, idx, 4, 8, temperature=1.5, top_k=10)
    torch.manual_seed(1)
    assert torch.equal(generate_tokens(small, idx, 4, 8, temperature=1.5, top_k=10), sampled)


def test_generate_does_not_track_gradients(small):
    small.requires_grad_(True)
    out = generate_tokens(small, torch.randint(0, 100, (1, 2)), 2, 8)
    assert not out.requires_grad
