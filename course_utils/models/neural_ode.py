"""Neural ODEs: the ODE block, ODE-Net and RK-Net classifiers, augmented Neural ODEs (week 6).

A *Neural ODE* replaces a stack of residual blocks ``x_{k+1} = x_k + f(x_k, θ_k)`` by the
solution of one initial value problem,

    dy/dt = f(t, y, θ),   y(0) = x,   output y(T),

computed by an ODE solver (Chen, Rubanova, Bettencourt & Duvenaud 2018). This module holds

* :class:`ConcatLinear` and :class:`ODEFunc`, a multilayer perceptron vector field that
  sees the time ``t`` at every layer and counts its own evaluations (NFE);
* :class:`ODEBlock`, ``odeint`` or ``odeint_adjoint`` inside an ``nn.Module``, with the
  solver's settings as attributes that may be changed after training (e.g. a looser
  tolerance at test time) and the statistics of the last solve;
* :class:`Classifier` and :func:`digits_classifier`, the three models of the paper's
  MNIST table at the size of scikit-learn's 8×8 digits: a ResNet (week 3's
  :class:`~course_utils.models.resnet.ResNet`), an RK-Net (backpropagation through a
  fixed-step RK4 solve) and an ODE-Net (adaptive dopri5, gradients by the adjoint);
* :class:`AugmentedNeuralODE` (Dupont, Doucet & Teh 2019): the state gets extra zero
  coordinates, so the flow may move points around each other — ``augment_dim=0`` is the
  plain Neural ODE whose trajectories cannot cross.

Introduced in ``06_neural_odes``, sections 1, 2 and 4.

References
----------
R. T. Q. Chen, Y. Rubanova, J. Bettencourt, D. Duvenaud, "Neural Ordinary Differential
Equations", NeurIPS 2018 (section 3 and Table 1).
E. Dupont, A. Doucet, Y. W. Teh, "Augmented Neural ODEs", NeurIPS 2019.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..adjoint import odeint_adjoint
from ..ode import odeint
from ._sizes import check_sizes

__all__ = [
    "ConcatLinear",
    "ODEFunc",
    "ODEBlock",
    "Classifier",
    "digits_classifier",
    "DIGITS_MODELS",
    "AugmentedNeuralODE",
]

_ACTIVATIONS = {"tanh": nn.Tanh, "softplus": nn.Softplus, "elu": nn.ELU, "silu": nn.SiLU}


def _activation(name: str) -> nn.Module:
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown `activation` {name!r}; choose one of {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]()


class ConcatLinear(nn.Module):
    """A linear layer that also sees the time: ``W [x, t] + b = W_x x + (b + t w_t)``.

    The fully connected counterpart of the paper's ``ConcatConv2d``: the time enters as
    one extra input feature, so the vector field ``f(t, y)`` may change with ``t`` the way
    the blocks of a ResNet change with depth. The time column of ``W`` only shifts the
    bias, which is how it is computed (no concatenation).

    Parameters
    ----------
    in_features, out_features : int
        Sizes of ``x`` (without the time) and of the output.

    Shapes: ``t`` a 0-d tensor or float, ``x`` of shape ``(batch, in_features)``; returns
    ``(batch, out_features)``.
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        check_sizes(in_features=in_features, out_features=out_features)
        # initialised as nn.Linear(in_features + 1, out_features) would be
        bound = 1.0 / math.sqrt(in_features + 1)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.time_weight = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))

    def forward(self, t, x):
        return F.linear(x, self.weight, self.bias + t * self.time_weight)   # (batch, out)


class ODEFunc(nn.Module):
    """A multilayer perceptron vector field ``f(t, y)`` that counts its evaluations.

    ``y`` of shape ``(batch, dim)`` goes through ``num_layers`` hidden layers of width
    ``hidden`` with the chosen activation; with ``time_dependent`` every layer is a
    :class:`ConcatLinear` (it sees ``t``), otherwise a plain ``nn.Linear``.

    Parameters
    ----------
    dim : int
        Size of the state.
    hidden : int
        Width of the hidden layers.
    num_layers : int
        Number of hidden layers (at least 1).
    time_dependent : bool
        Feed ``t`` to every layer.
    activation : {"tanh", "softplus", "elu", "silu"}
    zero_init : bool
        Start the last layer at zero, so that ``f = 0`` and the flow is the identity (the
        continuous version of a ResNet's identity initialisation).

    Attributes
    ----------
    nfe : int
        Number of calls since the last :meth:`reset_nfe` (the *number of function
        evaluations* of the paper; an :class:`ODEBlock` resets it before each solve).

    Notes
    -----
    Introduced in ``06_neural_odes``, section 1.
    """

    def __init__(self, dim: int, hidden: int = 64, num_layers: int = 1,
                 time_dependent: bool = True, activation: str = "tanh",
                 zero_init: bool = False):
        super().__init__()
        check_sizes(dim=dim, hidden=hidden, num_layers=num_layers)
        self.dim = dim
        self.time_dependent = time_dependent
        sizes = [dim] + [hidden] * num_layers + [dim]
        make = ConcatLinear if time_dependent else nn.Linear
        self.layers = nn.ModuleList(make(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = _activation(activation)
        if zero_init:
            for parameter in self.layers[-1].parameters():
                nn.init.zeros_(parameter)
        self.nfe = 0

    def reset_nfe(self) -> None:
        """Set the evaluation counter back to zero."""
        self.nfe = 0

    def forward(self, t, y):
        self.nfe += 1
        h = y                                                       # (batch, dim)
        for index, layer in enumerate(self.layers):
            h = layer(t, h) if self.time_dependent else layer(h)
            if index < len(self.layers) - 1:
                h = self.act(h)                                     # (batch, hidden)
        return h                                                    # (batch, dim)


class ODEBlock(nn.Module):
    """``odeint`` (or ``odeint_adjoint``) inside an ``nn.Module``: ``x ↦ y(T)``.

    The block solves ``dy/dt = func(t, y)``, ``y(0) = x`` on ``[0, final_time]`` and
    returns ``y(final_time)``. The solver settings are plain attributes, so they can be
    changed after training (section 3 of the notebook varies ``rtol``/``atol`` at test
    time).

    Parameters
    ----------
    func : nn.Module
        The vector field, ``func(t, y)`` with ``y`` of any shape (e.g. an
        :class:`ODEFunc`).
    final_time : float
        ``T``.
    method : str
        Any method of :func:`course_utils.ode.odeint` (``"dopri5"``: ODE-Net; ``"rk4"``
        with ``step_size``: RK-Net).
    rtol, atol : float
        Tolerances of adaptive methods.
    step_size : float, optional
        Step of fixed-step methods.
    adjoint : bool
        Differentiate by the continuous adjoint (:func:`course_utils.adjoint.odeint_adjoint`,
        memory independent of the number of steps) instead of backpropagating through the
        solver's operations.
    seminorm : bool
        Passed to ``odeint_adjoint`` (Kidger, Chen & Lyons 2021).

    Attributes
    ----------
    last_stats : SolveStats or AdjointStats or None
        Statistics of the last forward solve (an ``AdjointStats`` whose ``backward`` part
        is filled in by ``.backward()`` when ``adjoint`` is on).

    Notes
    -----
    Shapes: ``x`` of shape ``(batch, *state)``; ``forward`` returns the same shape and
    :meth:`trajectory` ``(len(times), batch, *state)``. Introduced in ``06_neural_odes``,
    section 1.
    """

    def __init__(self, func: nn.Module, final_time: float = 1.0, method: str = "dopri5",
                 rtol: float = 1e-3, atol: float = 1e-4, step_size: float | None = None,
                 adjoint: bool = False, seminorm: bool = False):
        super().__init__()
        if final_time <= 0:
            raise ValueError(f"`final_time` must be positive, got {final_time}")
        self.func = func
        self.final_time = float(final_time)
        self.method = method
        self.rtol = rtol
        self.atol = atol
        self.step_size = step_size
        self.adjoint = adjoint
        self.seminorm = seminorm
        self.last_stats = None

    def _solve(self, x, times):
        kwargs = dict(method=self.method, return_stats=True)
        if self.step_size is not None:
            kwargs["step_size"] = self.step_size
        else:
            kwargs.update(rtol=self.rtol, atol=self.atol)
        if hasattr(self.func, "reset_nfe"):
            self.func.reset_nfe()
        if self.adjoint:
            ys, stats = odeint_adjoint(self.func, x, times, seminorm=self.seminorm, **kwargs)
        else:
            ys, stats = odeint(self.func, x, times, **kwargs)
        self.last_stats = stats
        return ys

    def forward(self, x):
        times = torch.tensor([0.0, self.final_time], dtype=x.dtype, device=x.device)
        return self._solve(x, times)[-1]

    def trajectory(self, x, times):
        """The states at ``times`` (1-D, starting at 0), shape ``(len(times), *x.shape)``."""
        times = torch.as_tensor(times, dtype=x.dtype, device=x.device)
        return self._solve(x, times)

    @property
    def nfe_forward(self) -> int:
        """Evaluations of ``func`` in the last forward solve (0 before any)."""
        if self.last_stats is None:
            return 0
        return getattr(self.last_stats, "forward", self.last_stats).nfe

    @property
    def nfe_backward(self) -> int:
        """Evaluations of the adjoint dynamics in the last backward pass (0 without the
        adjoint, or before ``.backward()``)."""
        backward = getattr(self.last_stats, "backward", None)
        return 0 if backward is None else backward.nfe


class Classifier(nn.Module):
    """``head(body(lift(x)))``: a feature map, a residual/ODE body and a linear read-out.

    Parameters
    ----------
    lift, body, head : nn.Module
        E.g. ``nn.Linear(64, dim)``, an :class:`ODEBlock` or a week-3 ``ResNet`` without
        lift and head, and ``nn.Linear(dim, num_classes)``.

    Shapes: ``x`` of shape ``(batch, in_features)`` (images are flattened first);
    returns logits ``(batch, num_classes)``.
    """

    def __init__(self, lift: nn.Module, body: nn.Module, head: nn.Module):
        super().__init__()
        self.lift = lift
        self.body = body
        self.head = head

    def forward(self, x):
        return self.head(self.body(self.lift(x.flatten(1))))


#: The kinds accepted by :func:`digits_classifier`.
DIGITS_MODELS = ("resnet", "rknet", "odenet")


def digits_classifier(kind: str, *, in_features: int = 64, num_classes: int = 10,
                      dim: int = 32, hidden: int = 64, num_blocks: int = 6,
                      rk_steps: int = 4, final_time: float = 1.0, rtol: float = 1e-3,
                      atol: float = 1e-4, adjoint: bool = True,
                      seed: int | None = None) -> Classifier:
    """The three models of Chen et al.'s Table 1, sized for the 8×8 digits.

    All three share the lift ``Linear(in_features, dim)`` and the head
    ``Linear(dim, num_classes)``; they differ in the body that maps ``R^dim`` to itself:

    * ``"resnet"``: ``num_blocks`` residual blocks ``x + h f_k(x)`` with
      ``f_k(x) = W2 tanh(W1 x + b1) + b2`` of width ``hidden`` (week 3's
      :class:`~course_utils.models.resnet.ResNet` with ``MLPBlock``) and ``h = T/N``;
    * ``"rknet"``: one time-dependent vector field (:class:`ODEFunc`) integrated by RK4
      with ``rk_steps`` steps; gradients by backpropagation through the solver;
    * ``"odenet"``: the same field integrated by dopri5 with tolerances ``rtol``/``atol``;
      gradients by the adjoint method when ``adjoint`` (the paper's ODE-Net).

    Parameters
    ----------
    kind : {"resnet", "rknet", "odenet"}
    in_features, num_classes, dim, hidden : int
        Input size (64 pixels), classes, state size and hidden width.
    num_blocks : int
        Residual blocks of the ResNet (the paper uses 6).
    rk_steps : int
        RK4 steps of the RK-Net.
    final_time : float
        ``T`` of every body.
    rtol, atol : float
        Tolerances of the ODE-Net's solver.
    adjoint : bool
        ODE-Net gradients by ``odeint_adjoint`` (``True``) or by backpropagation.
    seed : int, optional
        Seed torch before creating the parameters.

    Returns
    -------
    Classifier
        ``(batch, 1, 8, 8)`` or ``(batch, 64)`` → logits ``(batch, num_classes)``.

    Notes
    -----
    Introduced in ``06_neural_odes``, section 2.
    """
    if kind not in DIGITS_MODELS:
        raise ValueError(f"unknown `kind` {kind!r}; choose one of {DIGITS_MODELS}")
    if seed is not None:
        torch.manual_seed(seed)
    lift = nn.Linear(in_features, dim)
    if kind == "resnet":
        from .resnet import MLPBlock, ResNet

        blocks = [MLPBlock(dim, hidden, zero_init=False) for _ in range(num_blocks)]
        body = ResNet(blocks, final_time / num_blocks)
    elif kind == "rknet":
        if rk_steps < 1:
            raise ValueError(f"`rk_steps` must be at least 1, got {rk_steps}")
        body = ODEBlock(ODEFunc(dim, hidden), final_time, method="rk4",
                        step_size=final_time / rk_steps)
    else:
        body = ODEBlock(ODEFunc(dim, hidden), final_time, method="dopri5", rtol=rtol,
                        atol=atol, adjoint=adjoint)
    return Classifier(lift, body, nn.Linear(dim, num_classes))


class AugmentedNeuralODE(nn.Module):
    """An (augmented) Neural ODE for vectors: ``x ↦ P φ_T([x, 0])``.

    The input ``x ∈ R^d`` is padded with ``augment_dim`` zeros, flowed for a time ``T`` by
    the time-dependent MLP field :class:`ODEFunc` in ``R^(d + augment_dim)``, and read out
    either by keeping the first ``output_dim`` coordinates (``readout="project"``, no
    parameters) or by a linear layer (``readout="linear"``).

    With ``augment_dim=0`` and the projection this is a plain Neural ODE, a homeomorphism
    of ``R^d``: in one dimension its flow is increasing, so it cannot represent
    ``g(x) = -x`` (Dupont, Doucet & Teh 2019). One extra dimension lets the trajectories
    go around each other.

    Parameters
    ----------
    data_dim : int
        ``d``.
    augment_dim : int
        Number of zero coordinates appended (0: a plain Neural ODE).
    hidden : int
        Width of the field's hidden layer.
    final_time : float
        ``T``.
    output_dim : int, optional
        Size of the output (default ``data_dim``).
    readout : {"project", "linear"}
    method, step_size, rtol, atol
        The solver of the :class:`ODEBlock` (default: RK4 with 20 steps on ``[0, T]``).

    Shapes: ``x`` of shape ``(batch, data_dim)`` → ``(batch, output_dim)``;
    :meth:`trajectory` returns the augmented states ``(len(times), batch, d + augment_dim)``.

    Notes
    -----
    Introduced in ``06_neural_odes``, section 4.
    """

    def __init__(self, data_dim: int, augment_dim: int = 0, hidden: int = 32,
                 final_time: float = 1.0, output_dim: int | None = None,
                 readout: str = "project", method: str = "rk4",
                 step_size: float | None = None, rtol: float = 1e-3, atol: float = 1e-4):
        super().__init__()
        check_sizes(data_dim=data_dim, hidden=hidden, output_dim=output_dim)
        check_sizes(minimum=0, augment_dim=augment_dim)
        if readout not in ("project", "linear"):
            raise ValueError(f"unknown `readout` {readout!r}; choose 'project' or 'linear'")
        self.data_dim = data_dim
        self.augment_dim = augment_dim
        self.output_dim = data_dim if output_dim is None else output_dim
        state_dim = data_dim + augment_dim
        if readout == "project" and self.output_dim > state_dim:
            raise ValueError(
                f"`output_dim` {self.output_dim} exceeds the state size {state_dim}: use "
                "readout='linear' or augment more dimensions"
            )
        if step_size is None and method in ("euler", "midpoint", "heun", "rk4", "rk38"):
            step_size = final_time / 20
        self.block = ODEBlock(ODEFunc(state_dim, hidden), final_time, method=method,
                              rtol=rtol, atol=atol, step_size=step_size)
        self.readout = readout
        self.head = nn.Linear(state_dim, self.output_dim) if readout == "linear" else None

    def augment(self, x):
        """``[x, 0]``: shape ``(batch, data_dim)`` → ``(batch, data_dim + augment_dim)``."""
        if x.ndim != 2 or x.shape[1] != self.data_dim:
            raise ValueError(f"`x` must have shape (batch, {self.data_dim}), got "
                             f"{tuple(x.shape)}")
        return torch.cat([x, x.new_zeros(x.shape[0], self.augment_dim)], dim=1)

    def forward(self, x):
        final = self.block(self.augment(x))                         # (batch, d + p)
        if self.head is not None:
            return self.head(final)
        return final[:, : self.output_dim]

    def trajectory(self, x, num_times: int = 41):
        """Augmented states at ``num_times`` equally spaced times on ``[0, T]``."""
        times = torch.linspace(0.0, self.block.final_time, num_times, dtype=x.dtype)
        return self.block.trajectory(self.augment(x), times)

