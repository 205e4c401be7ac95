"""Linear layers applied to one vector on two cores: the calling thread computes the first half of each layer's
rows, a helper thread the second half, at the same time.

Generating one token with the KV cache is one vector through every weight matrix of the model, and the BLAS
computes a matrix-vector product on one core. Reading the weights is nearly all the cost (about 500 MB for the
124M model), and here one core's matrix-vector product reads them at well under what the memory gives, so two
cores reading half each take about two thirds of the time. Each row's dot product is computed as `torch.mv`
computes it alone, so the results are the same numbers.

One helper thread serves the process (a daemon, started on first use, and again in a forked child); calls from
several threads take turns.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch

Layer = tuple[torch.Tensor, torch.Tensor | None]  # an nn.Linear's weight (out, in) and bias (out,) or None
_Part = tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]  # weight rows, their bias, where their results go


def _apply(parts: Sequence[_Part], vector: torch.Tensor) -> None:
    for weight, bias, out in parts:
        if bias is None:
            torch.mv(weight, vector, out=out)
        else:
            torch.addmv(bias, weight, vector, out=out)


class _Helper:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.tasks: queue.SimpleQueue[tuple[Sequence[_Part], torch.Tensor]] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="loss-tutor-matvec", daemon=True).start()

    def _serve(self) -> None:
        while True:
            parts, vector = self.tasks.get()
            try:
                with torch.inference_mode():
                    _apply(parts, vector)
            except BaseException as error:  # handed to the caller, who raises it
                self.done.put(error)
            else:
                self.done.put(None)

    def run(self, mine: Sequence[_Part], theirs: Sequence[_Part], vector: torch.Tensor) -> None:
        with self.lock:
            self.tasks.put((theirs, vector))
            try:
                _apply(mine, vector)
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


class SplitLinears:
    """`F.linear(vector, weight, bias)` for each of `layers`, on two cores when `two_cores`. The halves of the
    weights and the results' memory are set out once: each call overwrites the results of the one before. Call
    it under torch.inference_mode()."""

    def __init__(self, layers: Sequence[Layer], *, two_cores: bool):
        self.results = [torch.empty(weight.shape[0], dtype=weight.dtype) for weight, _ in layers]
        self.two_cores = two_cores
        whole = [(weight, bias, out) for (weight, bias), out in zip(layers, self.results)]
        self.mine = [_half(part, first=True) for part in whole] if two_cores else whole
        self.theirs = [_half(part, first=False) for part in whole]

    def __call__(self, vector: torch.Tensor) -> list[torch.Tensor]:
        if self.two_cores:
            _shared_helper().run(self.mine, self.theirs, vector)
        else:
            _apply(self.mine, vector)
        return self.results


def _half(part: _Part, *, first: bool) -> _Part:
    weight, bias, out = part
    rows = slice(None, weight.shape[0] // 2) if first else slice(weight.shape[0] // 2, None)
    return weight[rows], None if bias is None else bias[rows], out[rows]


def two_cores_available() -> bool:
    return torch.get_num_threads() >= 2


@contextmanager
def small_operations_on_one_thread(active: bool = True) -> Iterator[None]:
    """PyTorch's own threads for this thread's other operations, off for the while: an idle OpenMP thread waits
    for work by spinning on the second core, which the helper thread needs."""
    if not active:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
