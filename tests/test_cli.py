"""`loss-tutor --plain` and `--json` end to end, and one clear line for every bad option."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from report_fixture import assert_reports_close

from tutor.cli import main
from tutor.core.protocol import Request
from tutor.core.settings import Settings
from tutor.core.texts import sample_text
from tutor.lm.compute import compute_report
from tutor.lm.data import create_dataloader
from tutor.lm.tokenizer import encode

PROJECT = Path(__file__).resolve().parents[1]
JSON_KEYS = {
    "inputs", "targets", "predicted", "target_log_probs", "loss_manual", "loss_pytorch", "perplexity",
    "vocab_size", "settings",
}
FILE_TEXT = (
    "The lighthouse keeper counted the ships every night. Some were fishing boats, some were ferries, "
    "and once, in a storm, a tall ship with torn sails came close enough to read her name.\n"
    "He wrote it in the log and never saw her again."
)


def run(*args: str, cwd: Path = PROJECT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    env.pop("NO_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "tutor", *args],
        cwd=cwd, env=env, capture_output=True, text=True, encoding="utf-8", timeout=120,
    )


@pytest.fixture(scope="module")
def default_json():
    result = run("--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def test_plain_to_a_pipe():
    result = run("--plain")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "\x1b" not in result.stdout
    assert result.stdout.startswith("loss-tutor: how a GPT model's training loss is computed\n")
    assert "loss, PyTorch nn.CrossEntropyLoss(flat, flat):" in result.stdout
    assert "uniform baseline: loss ln(50257) = 10.8249" in result.stdout


def test_json_default(default_json):
    data = default_json
    assert JSON_KEYS <= set(data)
    assert data["settings"] == Settings().to_dict()
    assert data["vocab_size"] == 50257
    assert data["source"].startswith("story.txt · ")
    ids = encode(sample_text())
    assert data["inputs"] == [ids[0:8], ids[4:12]]
    assert data["targets"] == [ids[1:9], ids[5:13]]
    assert len(data["predicted"]) == 2 and all(len(row) == 8 for row in data["predicted"])
    assert data["loss_manual"] == pytest.approx(data["loss_pytorch"], abs=1e-5)
    mean = -sum(sum(row) for row in data["target_log_probs"]) / 16
    assert data["loss_manual"] == pytest.approx(mean, abs=1e-5)
    assert data["perplexity"] == pytest.approx(2.718281828459045 ** data["loss_pytorch"], rel=1e-9)


def test_json_with_a_text_file_and_options(tmp_path, default_json):
    path = tmp_path / "lighthouse.txt"
    path.write_text(FILE_TEXT, encoding="utf-8")
    result = run(
        "--json", "--text", str(path), "--batch-size", "3", "--context-length", "5", "--stride", "2",
        "--shuffle", "--seed", "7",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["settings"] == {
        "batch_size": 3, "context_length": 5, "stride": 2, "seed": 7, "shuffle": True, "batch_index": 0,
    }
    assert data["source"].startswith("lighthouse.txt · ")
    ids = encode(FILE_TEXT)
    assert data["token_count"] == len(ids)
    expected_inputs, expected_targets = next(
        iter(create_dataloader(FILE_TEXT, batch_size=3, context_length=5, stride=2, shuffle=True, seed=7))
    )
    assert data["inputs"] == expected_inputs.tolist()
    assert data["targets"] == expected_targets.tolist()
    assert data["inputs"] != [ids[0:5], ids[2:7], ids[4:9]]  # shuffled
    assert len(data["target_log_probs"]) == 3 and all(len(row) == 5 for row in data["target_log_probs"])
    assert data["loss_pytorch"] != default_json["loss_pytorch"]
    assert data["perplexity"] != default_json["perplexity"]


def test_json_in_process_equals_compute_report(capsys):
    assert main(["--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    data = json.loads(captured.out)
    report = compute_report(Request(text=sample_text(), settings=Settings(), source=data["source"]))
    assert data["source"].startswith("story.txt · ")
    # two forward passes (the CLI's and this one): the same numbers, floats within rounding
    assert data["loss_manual"] == pytest.approx(report.loss_manual, rel=1e-6)
    assert data["loss_pytorch"] == pytest.approx(report.loss_pytorch, rel=1e-6)
    assert data["perplexity"] == pytest.approx(report.perplexity, rel=1e-5)
    assert data["predicted"] == report.predicted
    assert_reports_close(data, json.loads(json.dumps(report.to_json_dict())))


def test_bad_option_in_process(capsys):
    assert main(["--plain", "--stride", "0"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "loss-tutor: error: 0 is out of range: stride must be 1 or more\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    (folder / "binary.dat").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00\xff\xfe")
    (folder / "short.txt").write_text("Hello world", encoding="utf-8")
    return folder


BAD_OPTIONS = [
    (["--plain", "--batch-size", "0"], "0 is out of range: batch size must be 1 or more"),
    (["--plain", "--context-length", "999"], "999 is out of range: context length must be 1 to 256"),
    (["--plain", "--stride", "x"], "argument --stride: invalid int value: 'x'"),
    (["--plain", "--text", "/nonexistent"], "no such file: /nonexistent"),
    (["--plain", "--text", "{dir}"], "is a directory, not a text file"),
    (["--plain", "--text", "{dir}/binary.dat"], "looks like a binary file"),
    (["--json", "--text", "{dir}/short.txt"], "the text is too short: it has 2 tokens"),
    (["--plain", "--batch", "100000"], "batch number 100000 does not exist: this text makes"),
    (["--plain", "--json"], "not allowed with argument"),
    (["--plain", "--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["--json", "--seed", str(2**64)], f"{2**64} is out of range: seed must be -9223372036854775808 to"),
]


@pytest.mark.parametrize(("args", "message"), BAD_OPTIONS, ids=[" ".join(args) for args, _ in BAD_OPTIONS])
def test_bad_options(files, args, message):
    result = run(*(arg.replace("{dir}", str(files)) for arg in args))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("loss-tutor: error: ")
    assert message in lines[0]
