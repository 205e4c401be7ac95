"""Linear layers applied to one vector, by NumPy's BLAS.

Generating one token with the KV cache is one vector through every weight matrix of the model: reading the
weights is nearly all the cost (about 500 MB for the 124M model). PyTorch's BLAS (MKL) computes a
matrix-vector product on one core, and here at well under what the memory gives: a pass over the 124M weights
takes about 40 ms. NumPy's (OpenBLAS) shares each product among the cores and takes about 20 ms. The arrays are
views of the same memory (a memory-mapped weights file stays shared), and each result is the same dot product
up to the order of the additions.

OpenBLAS's threads and PyTorch's (OpenMP) both wait for work by spinning for a while. With both busy on two
cores, each keeps the other's waiting, and a token took five times as long here: so while the products run,
PyTorch's own operations (small ones, on one vector) run on the calling thread alone (`torch_on_one_thread`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F

Layer = tuple[torch.Tensor, torch.Tensor | None]  # an nn.Linear's weight (out, in) and bias (out,) or None


class VectorLinears:
    """`F.linear(vector, weight, bias)` for each of `layers`, one vector (in,) at a time. The results' memory is
    set out once: each call overwrites the results of the one before. Weights that NumPy cannot take as they are
    (not float32, or laid out otherwise) go through `F.linear`."""

    def __init__(self, layers: Sequence[Layer]):
        self.layers = list(layers)
        self.by_numpy = all(_numpy_can_take(weight) and (bias is None or _numpy_can_take(bias))
                            for weight, bias in self.layers)
        if self.by_numpy:
            self._weights = [weight.detach().numpy() for weight, _ in self.layers]
            self._biases = [None if bias is None else bias.detach().numpy() for _, bias in self.layers]
            self._results = [np.empty(weight.shape[0], dtype=np.float32) for weight in self._weights]
            self.results = [torch.from_numpy(result) for result in self._results]

    def __call__(self, vector: torch.Tensor) -> list[torch.Tensor]:
        if not self.by_numpy:
            return [F.linear(vector, weight, bias) for weight, bias in self.layers]
        given = vector.detach().contiguous().numpy()
        for weight, bias, result in zip(self._weights, self._biases, self._results):
            np.dot(weight, given, out=result)
            if bias is not None:
                np.add(result, bias, out=result)
        return self.results


def _numpy_can_take(tensor: torch.Tensor) -> bool:
    """float32 on the CPU, laid out as the BLAS takes it without a copy: a vector of adjacent numbers, or a matrix
    whose rows or columns are (a transposed view, as Hugging Face's Conv1D weights are loaded)."""
    if tensor.dtype != torch.float32 or tensor.device.type != "cpu":
        return False
    if tensor.dim() == 1:
        return tensor.stride(0) == 1
    (rows, columns), (row_step, column_step) = tensor.shape, tensor.stride()
    return (column_step == 1 and row_step >= columns) or (row_step == 1 and column_step >= rows)


@contextmanager
def torch_on_one_thread() -> Iterator[None]:
    """PyTorch's operations on the calling thread alone for the while; its thread count is restored after."""
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
