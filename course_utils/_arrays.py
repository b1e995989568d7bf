"""The one torch -> NumPy conversion of the package (decided without importing torch)."""

import sys

import numpy as np

__all__ = ["is_torch", "to_numpy"]


def is_torch(x) -> bool:
    """True if ``x`` is a torch tensor (decided without importing torch)."""
    return type(x).__module__.startswith("torch") and "torch" in sys.modules


def to_numpy(x, dtype=None) -> np.ndarray:
    """``x`` as a NumPy array: a torch tensor is detached and copied to the host first.

    Parameters
    ----------
    x : array_like or torch.Tensor
    dtype : numpy dtype, optional
        Convert to this dtype (e.g. ``float``); by default keep the input's.
    """
    if is_torch(x):
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":  # NumPy has no bfloat16
            x = x.float()
        x = x.numpy()
    return np.asarray(x, dtype=dtype)
