"""Matrix-vector products on two cores: the calling thread computes the first half of the rows, a helper thread
the second half, at the same time.

Generating one token with the KV cache is one vector through every weight matrix of the model, and PyTorch's
BLAS computes a matrix-vector product on one core. Reading the weights is nearly all the cost (about 500 MB for
the 124M model), so with two cores reading half each a token takes about two thirds of the time. Each row's
dot product is computed as `torch.mv` computes it alone, so the results are the same numbers.

One helper thread serves the process (a daemon, started on first use and again in a forked child); calls from
several threads take turns. With `torch.get_num_threads()` at 1 nothing is split.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Sequence

import torch
import torch.nn.functional as F

Layer = tuple[torch.Tensor, torch.Tensor | None]  # an nn.Linear's weight (out, in) and bias (out,) or None
_Job = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]  # weight rows, vector, bias, out


def _matvec(weight: torch.Tensor, vector: torch.Tensor, bias: torch.Tensor | None, out: torch.Tensor) -> None:
    torch.mv(weight, vector, out=out)
    if bias is not None:
        out += bias


class _Helper:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.tasks: queue.SimpleQueue[list[_Job]] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="loss-tutor-matvec", daemon=True).start()

    def _serve(self) -> None:
        while True:
            jobs = self.tasks.get()
            try:
                with torch.inference_mode():
                    for job in jobs:
                        _matvec(*job)
            except BaseException as error:  # handed to the caller, who raises it
                self.done.put(error)
            else:
                self.done.put(None)

    def run(self, mine: list[_Job], theirs: list[_Job]) -> None:
        with self.lock:
            self.tasks.put(theirs)
            try:
                for job in mine:
                    _matvec(*job)
            finally:
                failure = self.done.get()  # wait for the helper whatever happens, so that the next call starts clean
        if failure is not None:
            raise failure


_helper: _Helper | None = None
_helper_lock = threading.Lock()


def _shared_helper() -> _Helper:
    global _helper
    with _helper_lock:
        if _helper is None or _helper.pid != os.getpid():  # a forked child has no helper thread
            _helper = _Helper()
        return _helper


def linears(vector: torch.Tensor, layers: Sequence[Layer]) -> list[torch.Tensor]:
    """`F.linear(vector, weight, bias)` for each layer, on one vector (in,), each result (out,). Call it under
    torch.inference_mode() or torch.no_grad(); the weights must not need gradients."""
    if torch.get_num_threads() < 2:
        return [F.linear(vector, weight, bias) for weight, bias in layers]
    outs, mine, theirs = [], [], []
    for weight, bias in layers:
        rows = weight.shape[0]
        half = rows // 2
        out = torch.empty(rows, dtype=vector.dtype)
        outs.append(out)
        mine.append((weight[:half], vector, None if bias is None else bias[:half], out[:half]))
        theirs.append((weight[half:], vector, None if bias is None else bias[half:], out[half:]))
    _shared_helper().run(mine, theirs)
    return outs
