"""The whole walkthrough as plain text, for `loss-tutor --plain` (a terminal, a pipe or a notebook cell)."""

from __future__ import annotations

from tutor.core.counting import of_total, shown_number
from tutor.core.formatting import counted, format_number, format_shape, safe_to_draw, visible
from tutor.core.report import Report

GREEN, RED, BOLD, RESET = "\x1b[32m", "\x1b[31m", "\x1b[1m", "\x1b[0m"


class _Painter:
    def __init__(self, colour: bool):
        self.colour = colour

    def __call__(self, text: str, code: str) -> str:
        return f"{code}{text}{RESET}" if self.colour else text


def quoted(text: str) -> str:
    return f"'{visible(text)}'"


def render_plain(report: Report, *, colour: bool = False) -> str:
    paint = _Painter(colour)
    tensors = report.tensors
    s = report.settings
    lines: list[str] = []

    def heading(text: str) -> None:
        lines.extend(["", paint(text, BOLD), ""])

    def tensor(label: str, name: str) -> None:
        view = tensors[name]
        lines.append(f"{label} {format_shape(view.shape)} {view.dtype}")
        lines.append(view.text)

    lines.append(paint("loss-tutor: how a GPT model's training loss is computed", BOLD))
    lines.append(f"text: {safe_to_draw(report.source)} · {counted(report.token_count, 'token')} · {counted(report.window_count, 'window')}")
    lines.append(
        f"settings: batch size {s['batch_size']}, context length {s['context_length']}, stride {s['stride']}, "
        f"shuffle {'on' if s['shuffle'] else 'off'} (seed {s['seed']}), "
        f"batch {of_total(report.batch_index, report.batch_count)} (batch_index {report.batch_index})"
    )
    lines.append("spaces show as ·, newlines as ↵")

    heading("1. Text → token ids → input/target windows (target i is the token that follows input i)")
    tensor("inputs", "inputs")
    tensor("targets", "targets")
    lines.append("target i is the token that follows input i:")
    for row in range(report.batch_size):
        lines.extend(aligned_windows(report, row))

    heading("2. Forward pass: logits = model(inputs)")
    lines.extend(model_lines(report))
    tensor("logits", "logits")

    heading("3. Softmax → probabilities → argmax = predicted next tokens")
    tensor("probas", "probas")
    tensor("predicted_ids", "predicted_ids")
    for row in range(report.batch_size):
        lines.append(f"row {of_total(row, report.batch_size)}:")
        for token in report.row_tokens(row):
            mark = paint("✓", GREEN) if token.correct else paint("✗", RED)
            lines.append(
                f"  {quoted(token.context)} => {quoted(token.predicted_token)} [{token.predicted_id}]"
                f"  target {quoted(token.target_token)} [{token.target_id}] {mark}"
            )
    correct = sum(token.correct for token in report.tokens)
    lines.append(f"{correct} of {len(report.tokens)} predictions match their target")

    heading("4. Log-probability of each target token: log_probas.gather(-1, targets)")
    tensor("log_probas = torch.log(probas)", "log_probas")
    tensor("target_probs", "target_probs")
    tensor("target_log_probs", "target_log_probs")
    for row in range(report.batch_size):
        lines.append(f"row {of_total(row, report.batch_size)}:")
        for token in report.row_tokens(row):
            lines.append(
                f"  {token.position:>3} {quoted(token.target_token):<18} p = {format_number(token.target_prob, 6):>12}"
                f"  log p = {format_number(token.target_log_prob):>9}"
            )
    lines.append(f"average log-probability: {format_number(report.avg_log_prob)}")

    heading("5. Mean and negate = cross entropy")
    lines.append(f"per-sequence loss: {', '.join(format_number(value) for value in report.per_sequence_loss)}")
    lines.append(
        f"logits.flatten(0, 1) {format_shape(report.logits_flat_shape)}   "
        f"targets.flatten() {format_shape(report.targets_flat_shape)}"
    )
    lines.append(f"loss, manual  -mean(target_log_probs):          {format_number(report.loss_manual)}")
    lines.append(f"loss, PyTorch nn.CrossEntropyLoss(flat, flat):  {format_number(report.loss_pytorch)}")
    lines.append(f"difference: {abs(report.loss_manual - report.loss_pytorch):.2e}")

    heading("6. exp(loss) = perplexity")
    lines.append(f"perplexity:       {format_number(report.perplexity, 1)}")
    lines.append(f"vocabulary size:  {report.vocab_size:,}")
    lines.append(
        f"uniform baseline: loss ln({report.vocab_size}) = {format_number(report.uniform_loss)}, "
        f"perplexity {report.uniform_perplexity:,.0f} (a model that gives every token 1/{report.vocab_size})"
    )
    return "\n".join(lines) + "\n"


def model_lines(report: Report) -> list[str]:
    """The model that computed the numbers: its configuration, size, seed (if drawn from one) and mode, and whose
    weights it has (the untrained model's, this session's training or a file's name, as the app's header says)."""
    card = report.model
    seeded = f"torch.manual_seed({card.seed}) · " if card.seed is not None else ""
    return [
        f"model: GPTModel(vocab_size={card.vocab_size}, context_length={card.context_length}, emb_dim={card.emb_dim}, "
        f"n_heads={card.n_heads}, n_layers={card.n_layers}, drop_rate={card.drop_rate}, qkv_bias={card.qkv_bias})",
        f"       {card.parameter_count:,} parameters · {seeded}model.{card.mode}()"
        + (" (dropout off)" if not card.training else ""),
        f"       weights: {safe_to_draw(card.name)}",
    ]


def aligned_windows(report: Report, row: int) -> list[str]:
    """One row's input and target ids in aligned columns: each target stands under the input it follows."""
    inputs, targets = report.inputs[row], report.targets[row]
    widths = [max(len(str(a)), len(str(b))) for a, b in zip(inputs, targets)]
    label = f"row {shown_number(row)}"
    return [
        f"{label} inputs:  " + " ".join(f"{token:>{width}}" for token, width in zip(inputs, widths))
        + f"   {quoted(report.input_texts[row])}",
        f"{label} targets: " + " ".join(f"{token:>{width}}" for token, width in zip(targets, widths))
        + f"   {quoted(report.target_texts[row])}",
    ]
