r"""A regularised Neural ODE: kinetic-energy and Jacobian-norm penalties (week 6).

A Neural ODE is free to learn any field that maps inputs to targets; many such fields are
curved and stiff, and an adaptive solver then needs many steps. Finlay, Jacobsen, Nurbekyan
& Oberman (2020, "How to train your neural ODE: the world of Jacobian and kinetic
regularization") add two penalties that prefer straight, slowly varying trajectories:

.. math::
   \mathcal{K} = \int_0^T \lVert f(t, y(t)) \rVert^2\, dt, \qquad
   \mathcal{B} = \int_0^T \lVert \nabla_y f(t, y(t)) \rVert_F^2\, dt
   \approx \int_0^T \lVert \varepsilon^\top \nabla_y f \rVert^2\, dt,
   \quad \varepsilon \sim \mathcal{N}(0, I),

the second estimated by Hutchinson's trick with one ``ε`` per sample and solve (one
vector–Jacobian product per evaluation). Both integrals are computed by the same solve:
the state is augmented with two channels per sample whose derivatives are the integrands,
and the loss is ``task + λ_K mean(𝒦) + λ_B mean(ℬ)``.

Introduced in ``06_neural_odes``, section "Keeping NFE down".

Reference
---------
C. Finlay, J.-H. Jacobsen, L. Nurbekyan, A. M. Oberman, "How to train your neural ODE: the
world of Jacobian and kinetic regularization", ICML 2020.
"""

from __future__ import annotations

import torch
from torch import nn

from ..ode import odeint

__all__ = ["RegularisedField", "RegularisedNeuralODE"]


class RegularisedField(nn.Module):
    """The augmented field ``(y, k, b) ↦ (f, |f|², |εᵀ ∂f/∂y|²)`` for states ``(batch, dim + 2)``.

    Parameters
    ----------
    func : nn.Module
        The vector field ``func(t, y)`` on ``(batch, dim)`` states.
    dim : int
        Size of ``y``.
    jacobian : bool
        Compute the Jacobian channel (one vector–Jacobian product per call, with a graph
        so that the penalty can be differentiated); without it the channel is 0.

    Attributes
    ----------
    noise : torch.Tensor, shape (batch, dim)
        Hutchinson's ``ε``, set by :class:`RegularisedNeuralODE` before each solve.
    """

    def __init__(self, func: nn.Module, dim: int, jacobian: bool = True):
        super().__init__()
        self.func = func
        self.dim = dim
        self.jacobian = jacobian
        self.noise = None

    def forward(self, t, state):
        y = state[:, :self.dim]                                           # (batch, dim)
        if not self.jacobian:
            f = self.func(t, y)
            return torch.cat([f, (f * f).sum(1, keepdim=True), torch.zeros_like(f[:, :1])], 1)
        with torch.enable_grad():
            if not y.requires_grad:
                y = y.detach().requires_grad_(True)
            f = self.func(t, y)
            (vjp,) = torch.autograd.grad(f, y, self.noise, create_graph=True)
        kinetic = (f * f).sum(1, keepdim=True)                            # (batch, 1)
        frobenius = (vjp * vjp).sum(1, keepdim=True)                      # (batch, 1)
        return torch.cat([f, kinetic, frobenius], 1)                      # (batch, dim + 2)


class RegularisedNeuralODE(nn.Module):
    """``x ↦ y(T)`` and the penalty ``λ_K mean 𝒦 + λ_B mean ℬ`` (Finlay et al. 2020).

    Parameters
    ----------
    func : nn.Module
        The vector field ``func(t, y)``, ``y`` of shape ``(batch, dim)`` (e.g. an
        :class:`~course_utils.models.neural_ode.ODEFunc`).
    dim : int
        Size of the state.
    kinetic, jacobian : float
        ``λ_K`` and ``λ_B`` (both 0: the plain Neural ODE, solved without the extra
        channels).
    final_time : float
    method, rtol, atol
        The solver's settings (gradients by backpropagation through the solver, which
        differentiates the penalties too).

    Attributes
    ----------
    last_stats : SolveStats
        Statistics of the last solve (``nfe`` is what the penalties keep down).
    last_kinetic, last_jacobian : float
        ``mean 𝒦`` and ``mean ℬ`` of the last solve.

    Shapes: ``forward(x)`` with ``x`` of shape ``(batch, dim)`` returns ``(y_T, penalty)``,
    ``y_T`` of shape ``(batch, dim)`` and ``penalty`` a 0-d tensor.
    """

    def __init__(self, func: nn.Module, dim: int, kinetic: float = 0.0,
                 jacobian: float = 0.0, final_time: float = 1.0, method: str = "dopri5",
                 rtol: float = 1e-3, atol: float = 1e-4):
        super().__init__()
        for name, value in (("kinetic", kinetic), ("jacobian", jacobian)):
            if not (isinstance(value, (int, float)) and value >= 0):
                raise ValueError(f"`{name}` must be a number >= 0 (the penalty's weight), "
                                 f"got {value!r}.")
        self.func = func
        self.dim = dim
        self.kinetic, self.jacobian = float(kinetic), float(jacobian)
        self.field = RegularisedField(func, dim, jacobian=self.jacobian > 0)
        self.final_time = final_time
        self.method, self.rtol, self.atol = method, rtol, atol
        self.last_stats = None
        self.last_kinetic = self.last_jacobian = 0.0

    def forward(self, x):
        times = torch.tensor([0.0, self.final_time], dtype=x.dtype, device=x.device)
        settings = dict(method=self.method, rtol=self.rtol, atol=self.atol,
                        return_stats=True)
        if self.kinetic == 0 and self.jacobian == 0:
            ys, self.last_stats = odeint(self.func, x, times, **settings)
            return ys[-1], x.new_zeros(())
        self.field.noise = torch.randn_like(x)
        state = torch.cat([x, x.new_zeros(x.shape[0], 2)], 1)               # (batch, dim + 2)
        ys, self.last_stats = odeint(self.field, state, times, **settings)
        end = ys[-1]
        kinetic, frobenius = end[:, self.dim].mean(), end[:, self.dim + 1].mean()
        self.last_kinetic = float(kinetic.detach())
        self.last_jacobian = float(frobenius.detach())
        penalty = self.kinetic * kinetic + self.jacobian * frobenius
        return end[:, :self.dim], penalty
