"""A short training loop with a progress bar and seeding (weeks 3, 4 and 6).

The loop is deliberately small: it takes a closure that returns the loss, so the same
function trains a classifier, a normalising flow by maximum likelihood or reverse KL,
and a Neural ODE.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = ["fit", "FitResult", "accuracy", "minibatches", "count_parameters"]


@dataclass
class FitResult:
    """What :func:`fit` returns: the loss after each step and the wall time."""

    losses: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def final_loss(self) -> float:
        """Mean of the last 10 % of the recorded losses (less noisy than the last one)."""
        tail = self.losses[-max(1, len(self.losses) // 10):]
        return sum(tail) / len(tail)


def fit(
    loss_fn: Callable[[int], object],
    parameters: Iterable,
    *,
    num_steps: int,
    lr: float = 1e-2,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    seed: int | None = None,
    grad_clip: float | None = None,
    desc: str = "training",
    progress: bool = True,
    callback: Callable[[int, float], None] | None = None,
) -> FitResult:
    """Minimise ``loss_fn(step)`` over ``parameters`` for ``num_steps`` steps.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(step) -> torch scalar``; draws its own mini-batch if it needs one.
    parameters : iterable of torch tensors
        What to optimise, e.g. ``model.parameters()``.
    num_steps : int
        Number of optimiser steps.
    lr, optimizer, weight_decay
        Learning rate, ``"adam"`` or ``"sgd"``, and L2 weight decay.
    seed : int, optional
        Seed torch before the first step (mini-batch sampling inside ``loss_fn``).
    grad_clip : float, optional
        Clip the global gradient norm to this value.
    desc, progress
        Label and on/off switch of the tqdm progress bar (text, so it renders in saved
        notebooks and on the course site).
    callback : callable, optional
        ``callback(step, loss)`` after every step.

    Returns
    -------
    FitResult
        The losses (floats) and the wall time in seconds.
    """
    import torch
    from tqdm import tqdm

    if num_steps < 1:
        raise ValueError(f"`num_steps` must be at least 1, got {num_steps}")
    if seed is not None:
        torch.manual_seed(seed)
    parameters = [p for p in parameters if p.requires_grad]
    if not parameters:
        raise ValueError("`parameters` holds no tensor with requires_grad=True")
    if optimizer == "adam":
        opt = torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(parameters, lr=lr, momentum=0.9, weight_decay=weight_decay)
    else:
        raise ValueError(f"unknown `optimizer` {optimizer!r}; choose 'adam' or 'sgd'")
    result = FitResult()
    start = time.perf_counter()
    bar = tqdm(range(num_steps), desc=desc, disable=not progress, file=sys.stdout,
               ncols=80, mininterval=1.0, ascii=True)
    for step in bar:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(step)
        if not torch.isfinite(loss):
            raise RuntimeError(
                f"the loss became {loss.item()} at step {step}; lower `lr` or set `grad_clip`"
            )
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
        opt.step()
        value = float(loss.detach())
        result.losses.append(value)
        if step % 10 == 0 or step == num_steps - 1:
            bar.set_postfix(loss=f"{value:.4f}", refresh=False)
        if callback is not None:
            callback(step, value)
    bar.close()
    result.seconds = time.perf_counter() - start
    return result


def minibatches(num_samples: int, batch_size: int, generator=None):
    """Random indices of one mini-batch, shape ``(batch_size,)`` (torch, with replacement
    across calls, without within a batch)."""
    import torch

    return torch.randperm(num_samples, generator=generator)[:batch_size]


def accuracy(model, x, labels) -> float:
    """Fraction of ``x`` whose arg-max logit equals the label (no gradients)."""
    import torch

    with torch.no_grad():
        return (model(x).argmax(dim=-1) == labels).float().mean().item()


def count_parameters(model) -> int:
    """Number of trainable scalars in a torch module."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
