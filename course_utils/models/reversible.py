"""Reversible residual networks (week 3, section 4 of ``03_resnets_as_odes``).

A reversible block maps a state split into halves ``(x1, x2)`` so that its input can be
computed back from its output. Backpropagation then need not store the hidden states of
every block: it reconstructs them on the way back, so the memory for activations no longer
grows with depth (Gomez et al. 2017; Chang et al. 2018).

* :class:`AdditiveCoupling` — the RevNet block ``y1 = x1 + F(x2)``, ``y2 = x2 + G(y1)``;
* :class:`HamiltonianBlock` — the same with ``F, G`` chosen so that the block is one
  leapfrog (Störmer–Verlet) step of a Hamiltonian-like ODE (Chang et al. 2018);
* :class:`ReversibleNet` — lift, reversible blocks, head; its backward pass reconstructs
  the activations instead of storing them;
* :func:`saved_tensor_bytes` — how many bytes of activations autograd keeps for backward.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["AdditiveCoupling", "HamiltonianBlock", "ReversibleNet", "saved_tensor_bytes"]


class AdditiveCoupling(nn.Module):
    """RevNet block ``y1 = x1 + F(x2)``, ``y2 = x2 + G(y1)`` on ``x = (x1, x2)``.

    The state has shape ``(batch, 2 m, …)`` and is split in two along dimension 1
    (features or channels). The inverse is ``x2 = y2 - G(y1)``, ``x1 = y1 - F(x2)``:
    the same additions in reverse order, so it is exact up to round-off.

    Parameters
    ----------
    F, G : nn.Module
        Any maps from a half of the state to a half of the state.
    """

    def __init__(self, F: nn.Module, G: nn.Module):
        super().__init__()
        self.F = F
        self.G = G

    def forward(self, x):
        x1, x2 = torch.chunk(x, 2, dim=1)
        y1 = x1 + self.F(x2)
        y2 = x2 + self.G(y1)
        return torch.cat([y1, y2], dim=1)

    def inverse(self, y):
        """The input ``x`` that this block maps to ``y`` (same shape as ``y``)."""
        y1, y2 = torch.chunk(y, 2, dim=1)
        x2 = y2 - self.G(y1)
        x1 = y1 - self.F(x2)
        return torch.cat([x1, x2], dim=1)


class _GradientOfPotential(nn.Module):
    """``v ↦ scale · Kᵀ tanh(K v + b)`` for ``v`` of shape ``(batch, m)``, ``K`` of ``(width, m)``.

    It is the gradient of the potential ``scale · Σ log cosh(K v + b)``, whose Hessian
    ``scale · Kᵀ diag(tanh') K`` is symmetric positive semi-definite for ``scale > 0``.
    """

    def __init__(self, half_dim: int, width: int, scale: float):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(width, half_dim) / math.sqrt(half_dim))
        self.bias = nn.Parameter(torch.zeros(width))
        self.scale = scale

    def forward(self, v):
        return self.scale * (torch.tanh(v @ self.weight.T + self.bias) @ self.weight)


class HamiltonianBlock(AdditiveCoupling):
    """One leapfrog step of ``Y' = K1ᵀ tanh(K1 Z + b1)``, ``Z' = -K2ᵀ tanh(K2 Y + b2)``.

    Chang et al. (2018), "Reversible Architectures for Arbitrarily Deep Residual Neural
    Networks": the Hamiltonian reversible block

        Y_{j+1} = Y_j + h K1ᵀ tanh(K1 Z_j + b1),
        Z_{j+1} = Z_j - h K2ᵀ tanh(K2 Y_{j+1} + b2),

    is an :class:`AdditiveCoupling` with ``F = h K1ᵀ tanh(K1 · + b1)`` and ``G = -h K2ᵀ
    tanh(K2 · + b2)``. The Jacobian of the ODE is ``[[0, A], [-B, 0]]`` with ``A``, ``B``
    symmetric positive semi-definite, so its eigenvalues are purely imaginary: the
    continuous dynamics neither explode nor decay.

    Parameters
    ----------
    half_dim : int
        Size ``m`` of each of ``Y`` and ``Z``; the state is ``(batch, 2 m)``.
    width : int
        Rows of ``K1`` and ``K2``.
    step_size : float
        ``h``.
    """

    def __init__(self, half_dim: int, width: int, step_size: float):
        super().__init__(
            _GradientOfPotential(half_dim, width, step_size),
            _GradientOfPotential(half_dim, width, -step_size),
        )
        self.step_size = step_size


class _ReversibleFunction(torch.autograd.Function):
    """Run reversible blocks without a graph; in backward, reconstruct each block's input
    from its output and backpropagate through that one block only."""

    @staticmethod
    def forward(ctx, x, blocks, *params):
        ctx.blocks = blocks
        with torch.no_grad():
            for block in blocks:
                x = block(x)
        ctx.save_for_backward(x)  # the only activation kept: the output
        return x

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        grad = grad_output
        per_block = []
        for block in reversed(ctx.blocks):
            with torch.no_grad():
                x = block.inverse(y)
            with torch.enable_grad():
                x = x.detach().requires_grad_(True)
                params = [p for p in block.parameters() if p.requires_grad]
                grads = torch.autograd.grad(block(x), (x, *params), grad, allow_unused=True)
            grad = grads[0]
            per_block.append(grads[1:])
            y = x.detach()
        param_grads = [g for grads in reversed(per_block) for g in grads]
        return (grad, None, *param_grads)


class ReversibleNet(nn.Module):
    """``head(x_N)`` with ``x_0 = lift(input)`` and ``x_{k+1} = block_k(x_k)``, reversible blocks.

    Parameters
    ----------
    blocks : sequence of AdditiveCoupling
        Blocks with ``forward`` and ``inverse``.
    lift, head : nn.Module, optional
        Input → initial state (its size must be even) and final state → output.
    memory_saving : bool
        If ``True``, training does not store the blocks' activations: the backward pass
        reconstructs them from the output (gradients equal those of ordinary backprop up
        to round-off). If ``False``, autograd stores them as for any network.
    """

    def __init__(self, blocks, lift=None, head=None, memory_saving: bool = True):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.lift = lift if lift is not None else nn.Identity()
        self.head = head if head is not None else nn.Identity()
        self.memory_saving = memory_saving

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    def features(self, inputs):
        """The final state ``x_N``."""
        x = self.lift(inputs)
        params = [p for block in self.blocks for p in block.parameters() if p.requires_grad]
        if self.memory_saving and torch.is_grad_enabled() and (x.requires_grad or params):
            return _ReversibleFunction.apply(x, tuple(self.blocks), *params)
        for block in self.blocks:
            x = block(x)
        return x

    def forward(self, inputs):
        return self.head(self.features(inputs))

    def trajectory(self, inputs):
        """States ``x_0, …, x_N``, shape ``(N + 1, batch, 2 m)`` (no gradients kept)."""
        with torch.no_grad():
            x = self.lift(inputs)
            states = [x]
            for block in self.blocks:
                x = block(x)
                states.append(x)
        return torch.stack(states)

    def reconstruct(self, final_state):
        """The initial state ``x_0`` computed back from ``x_N`` by the blocks' inverses."""
        x = final_state
        with torch.no_grad():
            for block in reversed(self.blocks):
                x = block.inverse(x)
        return x


def saved_tensor_bytes(compute, exclude=()):
    """Run ``compute()`` and count the bytes of the tensors autograd saves for backward.

    Each distinct tensor is counted once; tensors in ``exclude`` (typically
    ``model.parameters()``, which exist whether or not we train) are left out, so the count
    is the memory of the *activations* that backpropagation needs.

    Returns
    -------
    (result, num_bytes)
        What ``compute()`` returned, and the bytes saved.
    """
    excluded = {(p.data_ptr(), p.numel()) for p in exclude}
    seen = {}

    def pack(tensor):
        key = (tensor.data_ptr(), tensor.numel(), tensor.dtype)
        if (key[0], key[1]) not in excluded:
            seen[key] = tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        result = compute()
    return result, sum(seen.values())
