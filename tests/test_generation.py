"""Generation: the book's sampling, the KV cache against the model's own forward, the steps' candidates, and
`loss-tutor generate` end to end (run_generate) on small models."""

import json
import math

import pytest
import torch
from tiny_gpt import TINY_CONFIG, tiny_gpt

import tutor.lm.walkthrough
from tutor.core.generation import Generation, GenerationSettings
from tutor.generate_command import run_generate
from tutor.lm.generation import (
    KVCache,
    TextStream,
    choose_next_token,
    generate,
    generation_steps,
    keep_top_k,
)
from tutor.lm.matvec import VectorLinears, torch_on_one_thread
from tutor.lm.model import GPTModel, generate_tokens
from tutor.lm.tokenizer import decode, encode

PROMPT = "Every effort moves you"


@pytest.fixture(scope="module")
def model() -> GPTModel:
    return tiny_gpt(seed=3, emb_dim=8)


@pytest.fixture(scope="module")
def deep_model() -> GPTModel:
    """Several heads, several blocks and qkv bias: every path of the attention the cache redoes; a short context,
    so that generating past it is quick."""
    torch.manual_seed(11)
    config = {**TINY_CONFIG, "emb_dim": 16, "n_heads": 4, "n_layers": 3, "qkv_bias": True, "context_length": 40}
    return GPTModel(config).eval()


def tokens_of(model, prompt_ids, **settings) -> list[int]:
    return [step.token_id for step in generation_steps(model, prompt_ids, GenerationSettings(**settings))]


# ----- sampling ------------------------------------------------------------------------------------------------

def test_top_k_keeps_exactly_the_k_largest_logits():
    logits = torch.randn(1, 1000, generator=torch.Generator().manual_seed(0))
    kept = keep_top_k(logits, 7)
    finite = torch.isfinite(kept)
    assert int(finite.sum()) == 7
    assert set(torch.nonzero(finite[0]).flatten().tolist()) == set(torch.topk(logits[0], 7).indices.tolist())
    assert torch.equal(kept[finite], logits[finite])


def test_temperature_zero_takes_the_argmax():
    logits = torch.randn(3, 500, generator=torch.Generator().manual_seed(1))
    for top_k in (None, 5):
        chosen, probabilities = choose_next_token(logits, 0.0, top_k)
        assert torch.equal(chosen, logits.argmax(dim=-1, keepdim=True))
        assert torch.equal(probabilities, torch.nn.functional.one_hot(chosen[:, 0], 500).float())


def test_sampling_draws_only_from_the_top_k():
    logits = torch.randn(1, 500, generator=torch.Generator().manual_seed(2))
    allowed = set(torch.topk(logits[0], 3).indices.tolist())
    generator = torch.Generator().manual_seed(0)
    drawn = {int(choose_next_token(logits, 5.0, 3, generator)[0]) for _ in range(200)}
    assert drawn == allowed  # a high temperature makes all three likely, and nothing else is possible
    probabilities = choose_next_token(logits, 5.0, 3, generator)[1][0]
    assert set(torch.nonzero(probabilities).flatten().tolist()) == allowed
    assert float(probabilities.sum()) == pytest.approx(1.0)


def test_the_same_seed_gives_the_same_tokens_and_another_seed_others(model):
    ids = encode(PROMPT)
    first = tokens_of(model, ids, max_new_tokens=12, temperature=2.0, seed=5)
    assert tokens_of(model, ids, max_new_tokens=12, temperature=2.0, seed=5) == first
    assert tokens_of(model, ids, max_new_tokens=12, temperature=2.0, seed=6) != first


def test_the_callers_random_state_is_left_alone(model):
    torch.manual_seed(99)
    before = torch.get_rng_state()
    tokens_of(model, encode(PROMPT), max_new_tokens=5, temperature=1.0, top_k=50)
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize(("temperature", "top_k"), [(0.0, None), (1.4, 25), (0.7, None)])
def test_the_tokens_are_the_books_generate(model, temperature, top_k):
    """The book's loop (tutor.lm.model.generate_tokens, drawing from the global generator) seeded alike."""
    ids = encode(PROMPT)
    torch.manual_seed(123)
    book = generate_tokens(model, torch.tensor([ids]), 10, 256, temperature=temperature, top_k=top_k)[0, len(ids):]
    for kv_cache in (False, True):
        assert tokens_of(model, ids, max_new_tokens=10, temperature=temperature, top_k=top_k, seed=123,
                         kv_cache=kv_cache) == book.tolist()


# ----- the KV cache --------------------------------------------------------------------------------------------

def test_cached_logits_are_the_full_forwards(deep_model):
    ids = torch.randint(0, 50257, (40,), generator=torch.Generator().manual_seed(4)).tolist()
    with torch.inference_mode():
        full = deep_model(torch.tensor([ids]))[0]
        cache = KVCache(deep_model)
        prefilled = cache.extend(ids[:25])
        one_by_one = [cache.extend([token]) for token in ids[25:32]]
        several = cache.extend(ids[32:])
    assert torch.allclose(prefilled, full[24], atol=1e-4)
    for offset, logits in enumerate(one_by_one):
        assert torch.allclose(logits, full[25 + offset], atol=1e-4)
    assert torch.allclose(several, full[39], atol=1e-4)
    assert cache.length == 40


def test_the_cache_refuses_positions_past_the_context(model):
    with torch.inference_mode():
        cache = KVCache(model)
        cache.extend(list(range(256)))
        with pytest.raises(ValueError, match="holds 256 positions"):
            cache.extend([1])


def test_cache_and_no_cache_give_the_same_tokens_also_past_the_context(deep_model):
    """A 34-token prompt, a context of 40 and 12 new tokens: the window slides for the last five, and the cache
    computes it anew."""
    ids = torch.randint(0, 50257, (34,), generator=torch.Generator().manual_seed(5)).tolist()
    cached = list(generation_steps(deep_model, ids, GenerationSettings(max_new_tokens=12)))
    plain = list(generation_steps(deep_model, ids, GenerationSettings(max_new_tokens=12, kv_cache=False)))
    assert [step.token_id for step in cached] == [step.token_id for step in plain]
    assert [step.positions_computed for step in cached] == [34, 1, 1, 1, 1, 1, 1, 40, 40, 40, 40, 40]
    assert [step.positions_computed for step in plain] == [34, 35, 36, 37, 38, 39, 40, 40, 40, 40, 40, 40]


def test_a_model_in_training_mode_generates_without_dropout_and_is_left_training(deep_model):
    ids = encode(PROMPT)
    expected = tokens_of(deep_model, ids, max_new_tokens=6, kv_cache=False)
    deep_model.train()
    try:
        assert tokens_of(deep_model, ids, max_new_tokens=6, kv_cache=False) == expected
        assert tokens_of(deep_model, ids, max_new_tokens=6) == expected
        assert deep_model.training
    finally:
        deep_model.eval()


def test_vector_linears_are_f_linear():
    generator = torch.Generator().manual_seed(6)
    vector = torch.randn(8, generator=generator)
    layers = [(torch.randn(7, 8, generator=generator), torch.randn(7, generator=generator)),
              (torch.randn(50257, 8, generator=generator), None)]
    with torch.inference_mode():
        linears = VectorLinears(layers)
        assert linears.by_numpy
        for given in (vector, -vector):  # the second call overwrites the first's results
            results = linears(given)
            assert all(result is kept for result, kept in zip(results, linears.results))
            for result, (weight, bias) in zip(results, layers):
                assert torch.allclose(result, torch.nn.functional.linear(given, weight, bias), atol=1e-5)


def test_vector_linears_take_transposed_weights_as_they_are():
    """Hugging Face's Conv1D weights, loaded as views: (in, out) transposed, query/key/value side by side."""
    generator = torch.Generator().manual_seed(8)
    vector = torch.randn(8, generator=generator)
    c_attn = torch.randn(8, 24, generator=generator)
    layers = [(c_attn[:, 8:16].T, torch.randn(8, generator=generator)), (torch.randn(8, 50257).T, None)]
    with torch.inference_mode():
        linears = VectorLinears(layers)
        assert linears.by_numpy
        for result, (weight, bias) in zip(linears(vector), layers):
            assert torch.allclose(result, torch.nn.functional.linear(vector, weight, bias), atol=1e-5)


def test_vector_linears_take_what_numpy_cannot_through_torch():
    generator = torch.Generator().manual_seed(7)
    vector = torch.randn(8, generator=generator)
    for layer in [(torch.randn(5, 8, generator=generator, dtype=torch.float64), None),  # not float32
                  (torch.randn(10, 16, generator=generator)[::2, ::2], torch.randn(5, generator=generator))]:  # gaps
        linears = VectorLinears([layer])
        assert not linears.by_numpy
        weight, bias = layer
        given = vector.to(weight.dtype)
        assert torch.equal(linears(given)[0], torch.nn.functional.linear(given, weight, bias))


def test_torch_on_one_thread_restores_the_thread_count():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with torch_on_one_thread():
            assert torch.get_num_threads() == 1
        with pytest.raises(KeyError), torch_on_one_thread():
            raise KeyError
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)


def test_generating_leaves_the_thread_count_as_it_was(model):
    threads = torch.get_num_threads()
    tokens_of(model, encode(PROMPT), max_new_tokens=3)
    assert torch.get_num_threads() == threads


# ----- the steps -----------------------------------------------------------------------------------------------

def test_greedy_steps_draw_the_most_likely_token_for_certain(model):
    for step in generation_steps(model, encode(PROMPT), GenerationSettings(max_new_tokens=4)):
        assert step.greedy
        assert step.before[0].token_id == step.token_id
        assert step.after == (step.before[0].__class__(step.token_id, step.token_text, 1.0),)
        assert step.chosen_probability == 1.0
        assert step.chosen_raw_probability == step.before[0].probability
        probabilities = [candidate.probability for candidate in step.before]
        assert probabilities == sorted(probabilities, reverse=True) and len(probabilities) == 10
        assert sum(probabilities) <= 1.0


def test_after_top_k_the_kept_tokens_share_all_the_probability(model):
    settings = GenerationSettings(max_new_tokens=5, temperature=0.8, top_k=3, seed=1)
    with torch.inference_mode():
        logits = model(torch.tensor([encode(PROMPT)]))[0, -1]
    first = next(generation_steps(model, encode(PROMPT), settings))
    raw = torch.softmax(logits, dim=-1)
    assert [candidate.token_id for candidate in first.after] == torch.topk(logits, 3).indices.tolist()
    assert [c.probability for c in first.after] == pytest.approx(
        torch.softmax(torch.topk(logits, 3).values / 0.8, dim=-1).tolist(), abs=1e-6)
    assert [c.probability for c in first.before] == pytest.approx(torch.topk(raw, 10).values.tolist(), abs=1e-6)
    for step in generation_steps(model, encode(PROMPT), settings):
        assert len(step.after) == 3
        assert sum(candidate.probability for candidate in step.after) == pytest.approx(1.0, abs=1e-5)
        assert step.token_id in {candidate.token_id for candidate in step.after}
        chosen = next(candidate for candidate in step.after if candidate.token_id == step.token_id)
        assert step.chosen_probability == chosen.probability
        assert not step.greedy


def test_temperature_flattens_the_distribution_drawn_from(model):
    ids = encode(PROMPT)
    hot = next(generation_steps(model, ids, GenerationSettings(max_new_tokens=1, temperature=5.0)))
    assert hot.after[0].probability < hot.before[0].probability
    cold = next(generation_steps(model, ids, GenerationSettings(max_new_tokens=1, temperature=0.2)))
    assert cold.after[0].probability > cold.before[0].probability


def test_the_checkpoint_is_called_before_each_step_and_can_stop_it(model):
    calls = []

    def checkpoint():
        calls.append(len(calls))
        if len(calls) == 4:
            raise InterruptedError

    steps = generation_steps(model, encode(PROMPT), GenerationSettings(max_new_tokens=10), checkpoint=checkpoint)
    drawn = []
    with pytest.raises(InterruptedError):
        for step in steps:
            drawn.append(step)
    assert len(drawn) == 3 and calls == [0, 1, 2, 3]


def test_generate_collects_the_steps_and_decodes_the_continuation(model):
    seen = []
    generation = generate(model, PROMPT, GenerationSettings(max_new_tokens=7), model_name="tiny", on_step=seen.append)
    assert isinstance(generation, Generation)
    assert generation.steps == tuple(seen) and len(seen) == 7
    assert [step.index for step in seen] == list(range(7))
    assert generation.prompt_ids == tuple(encode(PROMPT))
    assert generation.text == decode(list(generation.token_ids))
    assert generation.tokens_per_second > 0 and generation.context_length == 256


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (GenerationSettings(max_new_tokens=0), "new tokens: 0 is out of range"),
        (GenerationSettings(max_new_tokens=1001), "1 to 1,000"),
        (GenerationSettings(temperature=-0.5), "temperature"),
        (GenerationSettings(temperature=math.nan), "temperature"),
        (GenerationSettings(temperature=10.5), "0 to 10"),
        (GenerationSettings(top_k=0), "top-k: 0"),
        (GenerationSettings(top_k=50258), "1 to 50,257"),
        (GenerationSettings(seed=-1), "seed"),
    ],
)
def test_settings_out_of_range_are_refused(model, settings, message):
    with pytest.raises(ValueError, match=message):
        generation_steps(model, [1, 2], settings)  # at once, before the first step is asked for


def test_text_stream_gives_whole_characters(model):
    ids = encode("a 🦙 and ü")
    assert len(ids) > len("a 🦙 and ü".split())  # the llama is split over tokens
    stream = TextStream()
    pieces = [stream.add(token) for token in ids] + [stream.finish()]
    assert "".join(pieces) == "a 🦙 and ü"
    assert "\ufffd" not in "".join(pieces)


# ----- loss-tutor generate -------------------------------------------------------------------------------------

@pytest.fixture
def tiny_default_model(monkeypatch, model):
    """The command's default model, replaced by the tiny one (it is imported when the command runs)."""
    model.seed = 3
    monkeypatch.setattr(tutor.lm.walkthrough, "default_model", lambda: model)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    return model


def test_generate_streams_the_text_then_the_speed(tiny_default_model, capsys):
    assert run_generate([PROMPT, "--max-new-tokens", "6", "--temperature", "1.2", "--top-k", "40", "--seed", "9"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    expected = generate(tiny_default_model, PROMPT, GenerationSettings(6, 1.2, 40, 9), model_name="")
    body, speed, end = out.rsplit("\n", 2)
    assert body == PROMPT + expected.text.replace("\r\n", "\n") or "\\x" in body
    assert end == ""
    assert speed.startswith("6 new tokens in ") and "tokens/s with the KV cache · model: untrained (seed 3)" in speed


def test_generate_json(tiny_default_model, capsys):
    assert run_generate([PROMPT, "--max-new-tokens", "3", "--top-k", "2", "--no-kv-cache", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    data = json.loads(out)
    assert set(data) == {"prompt", "prompt_ids", "model", "context_length", "settings", "kv_cache", "text",
                         "token_ids", "tokens_per_second", "seconds", "tokens"}
    assert data["prompt"] == PROMPT and data["prompt_ids"] == encode(PROMPT)
    assert data["kv_cache"] is False and data["model"] == "untrained (seed 3)"
    assert data["settings"] == {"max_new_tokens": 3, "temperature": 0.0, "top_k": 2, "seed": 123, "kv_cache": False}
    assert len(data["tokens"]) == 3 and data["text"] == decode(data["token_ids"])
    step = data["tokens"][0]
    assert set(step) == {"index", "token_id", "text", "probability", "raw_probability", "greedy",
                         "positions_computed", "seconds", "before", "after"}
    assert set(step["before"][0]) == {"token_id", "text", "probability"}
    assert len(step["before"]) == 10 and len(step["after"]) == 1 and step["after"][0]["probability"] == 1.0
    assert [token["positions_computed"] for token in data["tokens"]] == [4, 5, 6]


def test_generate_never_sends_control_characters(tiny_default_model, capsys):
    prompt = "red \x1b[31m alarm\x07 \u202e reversed \x9b"
    assert run_generate([prompt, "--max-new-tokens", "2"]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("red \\x1b[31m alarm\\x07 \\u202e reversed \\x9b")
    assert run_generate([prompt, "--max-new-tokens", "2", "--json"]) == 0
    out, _ = capsys.readouterr()
    assert not any(char in out for char in "\x1b\x07\u202e\x9b")
    assert json.loads(out)["prompt"] == prompt


def test_generate_on_an_ascii_terminal(tiny_default_model, monkeypatch, capsys):
    monkeypatch.setenv("LC_ALL", "C")
    assert run_generate(["Café → naïve", "--max-new-tokens", "20", "--temperature", "3"]) == 0
    out, _ = capsys.readouterr()
    assert out.isascii()
    assert out.startswith("Cafe -> naive")
    assert "tokens/s with the KV cache - model:" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([PROMPT, "--max-new-tokens", "0"], "new tokens: 0 is out of range; it must be 1 to 1,000"),
        ([PROMPT, "--max-new-tokens", "many"], "argument --max-new-tokens: invalid int value: 'many'"),
        ([PROMPT, "--temperature", "-1"], "temperature: -1.0 is out of range; it must be 0 to 10"),
        ([PROMPT, "--temperature", "inf"], "temperature: inf is out of range; it must be 0 to 10"),
        ([PROMPT, "--top-k", "0"], "top-k: 0 is out of range; it must be 1 to 50,257"),
        ([PROMPT, "--seed", "-3"], "seed: -3 is out of range; it must be 0 to 9,223,372,036,854,775,807"),
        (["   "], "the prompt is empty: give a few words for the model to continue"),
        (["x" * 10_001], "the prompt is 10,001 characters; at most 10,000 are taken"),
        ([], "the following arguments are required: PROMPT"),
        ([PROMPT, "--colour"], "unrecognized arguments: --colour"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(tiny_default_model, capsys, argv, message):
    assert run_generate(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"loss-tutor generate: error: {message}\n"


def test_generate_with_a_weights_file(model, tmp_path, capsys):
    from tutor.lm.weight_files import save_weights

    file = tmp_path / "tiny.safetensors"
    save_weights(model, file)
    assert run_generate([PROMPT, "--weights", str(file), "--max-new-tokens", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = generate(model, PROMPT, GenerationSettings(max_new_tokens=4), model_name="")
    assert data["model"] == "tiny.safetensors"
    assert data["token_ids"] == list(expected.token_ids)


@pytest.mark.parametrize("content", [None, b"just some words, not a model\n"])
def test_generate_refuses_a_weights_file_that_is_not_a_model(tmp_path, capsys, content):
    file = tmp_path / "notes.pth"
    if content is not None:
        file.write_bytes(content)
    assert run_generate([PROMPT, "--weights", str(file)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    if content is None:  # said as every command says a missing --weights file
        assert err == f"loss-tutor generate: error: --weights: no such file: {file}\n"
    else:
        assert err.startswith("loss-tutor generate: error: notes.pth: ") and err.count("\n") == 1
