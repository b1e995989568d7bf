"""scikit-learn's 8×8 handwritten digits (weeks 3 and 6): a small real dataset that ships
with scikit-learn, so nothing is downloaded."""

from __future__ import annotations

import numpy as np

__all__ = ["load_digits_split"]


def load_digits_split(test_fraction: float = 0.25, seed: int = 0, as_tensors: bool = True):
    """The 1797 digits, scaled to [0, 1], split into train and test sets (stratified).

    Returns
    -------
    x_train, y_train, x_test, y_test
        ``x`` of shape ``(num, 1, 8, 8)`` (float32), ``y`` of shape ``(num,)`` with labels
        0–9 (int64); torch tensors if ``as_tensors`` else NumPy arrays.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_fraction, random_state=seed, stratify=labels
    )
    if not as_tensors:
        return x_train, y_train, x_test, y_test
    import torch

    return (torch.from_numpy(x_train), torch.from_numpy(y_train),
            torch.from_numpy(x_test), torch.from_numpy(y_test))
