"""A --weights file that is not there, or is a folder, is said the same way by every command: one line on stderr,
exit code 2, before any model is loaded."""

from __future__ import annotations

import pytest

from tutor.cli import UsageError, main
from tutor.workshop.options import parse_serve_options

COMMANDS = (["--plain"], ["--json"], ["generate", "once upon a time"], ["train"], ["train", "--overfit-batch"])


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_says_a_missing_weights_file_in_the_same_words(command, tmp_path, capsys):
    missing = tmp_path / "missing.pth"
    assert main([*command, "--weights", str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    prog = " ".join(["loss-tutor", *command[:1]]) if command[0] in ("generate", "train") else "loss-tutor"
    assert captured.err == f"{prog}: error: --weights: no such file: {missing}\n"


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_says_a_folder_given_as_weights_in_the_same_words(command, tmp_path, capsys):
    assert main([*command, "--weights", str(tmp_path)]) == 2
    assert capsys.readouterr().err.endswith(
        f"error: --weights: {tmp_path} is a folder: name the weights file inside it (e.g. model.safetensors)\n"
    )


def test_the_workshop_server_says_it_in_the_same_words(tmp_path):
    missing = tmp_path / "missing.pth"
    with pytest.raises(UsageError) as refused:
        parse_serve_options(["--state-dir", str(tmp_path), "--weights", str(missing)])
    assert str(refused.value) == f"--weights: no such file: {missing}"
