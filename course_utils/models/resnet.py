"""Residual networks as discretisations of ODEs (week 3, ``03_resnets_as_odes``).

A residual network updates a hidden state ``x`` block by block,

    x_{k+1} = x_k + h f(x_k, θ_k),        k = 0, …, N - 1,

which is forward Euler with step ``h = T / N`` on ``dx/dt = f(x, θ(t))`` with ``θ(t) = θ_k``
on ``[t_k, t_{k+1})``. This module holds

* the residual functions ``f``: :class:`MLPBlock`, :class:`AntisymmetricBlock` (Haber &
  Ruthotto 2017) and :class:`ConvBlock` (images);
* :class:`ResNet`, a lift, ``N`` residual steps (forward Euler or the explicit midpoint
  rule) and a classification head, with its piecewise-constant vector field
  (:meth:`ResNet.vector_field`) and that field's exact flow (:meth:`ResNet.ode_flow`);
* :class:`PlainNet`, the same network without skip connections (why depth used to hurt);
* depth surgery: :func:`refine_depth` (multi-level training, Chang et al. 2017),
  :func:`drop_block` and :func:`append_identity_blocks`;
* factories :func:`mlp_resnet` (2-D toy problems) and :func:`conv_resnet` (8×8 digits).

Reversible networks are in :mod:`course_utils.models.reversible`.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

__all__ = [
    "MLPBlock",
    "AntisymmetricBlock",
    "ConvBlock",
    "ResNet",
    "PlainNet",
    "mlp_resnet",
    "conv_resnet",
    "plain_net",
    "refine_depth",
    "drop_block",
    "append_identity_blocks",
    "SCHEMES",
]

#: Time-stepping schemes of :class:`ResNet`: ``euler`` is the classical ResNet,
#: ``midpoint`` the explicit midpoint rule (a second-order Runge–Kutta ResNet).
SCHEMES = ("euler", "midpoint")


class _TwoLayerBlock(nn.Module):
    """``f(x) = outer(tanh(inner(x)))``; with ``zero_init`` the outer layer starts at zero, so
    ``f = 0`` and the residual step ``x + h f(x)`` is the identity."""

    def __init__(self, inner: nn.Module, outer: nn.Module, zero_init: bool):
        super().__init__()
        self.inner = inner
        self.outer = outer
        if zero_init:
            nn.init.zeros_(self.outer.weight)
            nn.init.zeros_(self.outer.bias)

    def forward(self, x):
        return self.outer(torch.tanh(self.inner(x)))


class MLPBlock(_TwoLayerBlock):
    """The residual function ``f(x) = W2 tanh(W1 x + b1) + b2`` of a toy ResNet.

    Parameters
    ----------
    dim : int
        Size of the state ``x``, shape ``(batch, dim)``.
    width : int
        Hidden width (rows of ``W1``).
    zero_init : bool
        Start with ``W2 = 0, b2 = 0``, so that ``f = 0`` and the residual step ``x + h f(x)``
        is the identity ("identity initialisation", section 1 of the notebook).
    """

    def __init__(self, dim: int, width: int, zero_init: bool = True):
        super().__init__(nn.Linear(dim, width), nn.Linear(width, dim), zero_init)


class AntisymmetricBlock(nn.Module):
    """Haber & Ruthotto's stable residual function ``f(x) = tanh((W - Wᵀ - γI) x + b)``.

    The Jacobian of ``f`` is ``diag(tanh') (W - Wᵀ - γI)``; with ``γ = 0`` its eigenvalues are
    purely imaginary, so the ODE neither blows up nor forgets its initial state, and a small
    damping ``γ > 0`` moves them into the left half-plane, where forward Euler with a small
    enough step is stable (section 3 of the notebook).

    Parameters
    ----------
    dim : int
        Size of the state, shape ``(batch, dim)``.
    gamma : float
        Damping ``γ ≥ 0``.
    """

    def __init__(self, dim: int, gamma: float = 0.01):
        super().__init__()
        if gamma < 0:
            raise ValueError(f"`gamma` must be non-negative, got {gamma}")
        self.weight = nn.Parameter(torch.randn(dim, dim) / math.sqrt(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.gamma = gamma

    def matrix(self):
        """``K = W - Wᵀ - γI``, shape ``(dim, dim)``."""
        eye = torch.eye(self.weight.shape[0], dtype=self.weight.dtype)
        return self.weight - self.weight.T - self.gamma * eye

    def forward(self, x):
        return torch.tanh(x @ self.matrix().T + self.bias)


class ConvBlock(_TwoLayerBlock):
    """``f(x) = conv2(tanh(conv1(x)))`` with 3×3 kernels and unchanged image size.

    ``x`` has shape ``(batch, channels, height, width)``; ``zero_init`` as in :class:`MLPBlock`.
    """

    def __init__(self, channels: int, zero_init: bool = True):
        super().__init__(nn.Conv2d(channels, channels, 3, padding=1),
                         nn.Conv2d(channels, channels, 3, padding=1), zero_init)


class ResNet(nn.Module):
    """``head(x_N)`` where ``x_0 = lift(input)`` and ``x_{k+1} = x_k + h Φ(f_k, x_k, h)``.

    With ``scheme="euler"`` the increment is ``Φ = f_k(x_k)`` (He et al. 2015, forward Euler);
    with ``"midpoint"`` it is ``f_k(x_k + h/2 f_k(x_k))`` (explicit midpoint rule). Block ``k``
    acts on ``[t_k, t_{k+1}) = [k h, (k + 1) h)``; ``final_time = N h``. Both schemes discretise
    the same field, :meth:`vector_field`, whose ``θ`` is constant on each step: Euler converges
    to its flow at first order and the midpoint rule at second order (sections 2 and 8).

    Parameters
    ----------
    blocks : sequence of nn.Module
        The residual functions ``f_0, …, f_{N-1}``, each mapping the state to its own shape.
    step_size : float
        ``h``.
    lift, head : nn.Module, optional
        Maps from the input to the initial state and from the final state to the output;
        the identity when omitted.
    scheme : str
        One of :data:`SCHEMES`.
    """

    def __init__(self, blocks, step_size: float, lift=None, head=None, scheme: str = "euler"):
        super().__init__()
        if step_size <= 0:
            raise ValueError(f"`step_size` must be positive, got {step_size}")
        if scheme not in SCHEMES:
            raise ValueError(f"unknown `scheme` {scheme!r}; choose one of {SCHEMES}")
        self.blocks = nn.ModuleList(blocks)
        self.step_size = float(step_size)
        self.lift = lift if lift is not None else nn.Identity()
        self.head = head if head is not None else nn.Identity()
        self.scheme = scheme

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    @property
    def final_time(self) -> float:
        """``T = N h``."""
        return self.num_blocks * self.step_size

    def step(self, block, x):
        """One residual step ``x + h Φ(block, x, h)`` of the network's scheme."""
        h = self.step_size
        if self.scheme == "midpoint":
            return x + h * block(x + 0.5 * h * block(x))
        return x + h * block(x)

    def features(self, inputs):
        """The final hidden state ``x_N``, shape of the state."""
        x = self.lift(inputs)
        for block in self.blocks:
            x = self.step(block, x)
        return x

    def forward(self, inputs):
        return self.head(self.features(inputs))

    def trajectory(self, inputs):
        """Hidden states ``x_0, …, x_N`` as one tensor of shape ``(N + 1, *state_shape)``."""
        x = self.lift(inputs)
        states = [x]
        for block in self.blocks:
            x = self.step(block, x)
            states.append(x)
        return torch.stack(states)

    def block_index(self, t: float) -> int:
        """Index ``k`` of the block acting at time ``t`` (``t_k ≤ t < t_{k+1}``, clipped)."""
        return min(max(int(math.floor(t / self.step_size)), 0), self.num_blocks - 1)

    def vector_field(self, t, x):
        """``f(x, θ(t))`` with the piecewise-constant ``θ(t) = θ_k`` on ``[t_k, t_{k+1})``.

        Forward Euler with the network's step on this field *is* the network; see
        :meth:`ode_flow` for the field's exact flow.
        """
        return self.blocks[self.block_index(float(t))](x)

    def ode_flow(self, inputs, substeps: int = 64, return_trajectory: bool = False):
        """The exact flow of :meth:`vector_field` from ``0`` to ``T``, to high accuracy.

        Each block interval ``[t_k, t_{k+1}]``, where the field is smooth, is crossed by the
        course's :func:`~course_utils.ode.odeint` with ``substeps`` classical RK4 steps, so the
        error is ``O((h / substeps)^4)``. (Integrating block by block matters: a solver
        stepping across ``t_k`` would evaluate the wrong block at the interval's end.)

        Returns the state at ``T`` (the state's shape), or with ``return_trajectory`` the
        states at ``t_0, …, t_N``, shape ``(N + 1, *state_shape)``.
        """
        from ..ode import odeint

        x = self.lift(inputs)
        states = [x]
        interval = torch.tensor([0.0, self.step_size], dtype=x.dtype, device=x.device)
        for block in self.blocks:
            x = odeint(lambda t, y, block=block: block(y), x, interval, method="rk4",
                       step_size=self.step_size / substeps)[-1]
            states.append(x)
        return torch.stack(states) if return_trajectory else x


class PlainNet(nn.Module):
    """The same layers without skip connections: ``x_{k+1} = f_k(x_k)``.

    Used in section 1 of the notebook to show why very deep plain networks were hard to
    train before ResNets: the gradient with respect to early layers vanishes with depth.
    """

    def __init__(self, blocks, lift=None, head=None):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.lift = lift if lift is not None else nn.Identity()
        self.head = head if head is not None else nn.Identity()

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    def features(self, inputs):
        x = self.lift(inputs)
        for block in self.blocks:
            x = block(x)
        return x

    def forward(self, inputs):
        return self.head(self.features(inputs))


def mlp_resnet(
    in_features: int = 2,
    num_classes: int = 2,
    *,
    dim: int = 2,
    width: int = 16,
    num_blocks: int = 10,
    final_time: float = 1.0,
    block: str = "mlp",
    scheme: str = "euler",
    zero_init: bool = True,
    gamma: float = 0.01,
    seed: int | None = None,
) -> ResNet:
    """A fully connected ResNet for vectors, shapes ``(batch, in_features) → (batch, num_classes)``.

    The lift is the identity when ``in_features == dim`` (so the hidden states live in the
    input plane and can be drawn, section 2), a linear map otherwise; the head is linear.
    ``block`` is ``"mlp"`` (:class:`MLPBlock` of ``width``) or ``"antisymmetric"``
    (:class:`AntisymmetricBlock` with damping ``gamma``). ``h = final_time / num_blocks``.
    ``seed`` makes the initial parameters reproducible.
    """
    if num_blocks < 1:
        raise ValueError(f"`num_blocks` must be at least 1, got {num_blocks}")
    if seed is not None:
        torch.manual_seed(seed)
    lift = nn.Identity() if in_features == dim else nn.Linear(in_features, dim)
    if block == "mlp":
        blocks = [MLPBlock(dim, width, zero_init=zero_init) for _ in range(num_blocks)]
    elif block == "antisymmetric":
        blocks = [AntisymmetricBlock(dim, gamma=gamma) for _ in range(num_blocks)]
    else:
        raise ValueError(f"unknown `block` {block!r}; choose 'mlp' or 'antisymmetric'")
    return ResNet(blocks, final_time / num_blocks, lift=lift, head=nn.Linear(dim, num_classes),
                  scheme=scheme)


def plain_net(
    in_features: int = 2,
    num_classes: int = 2,
    *,
    dim: int = 16,
    num_layers: int = 10,
    seed: int | None = None,
) -> PlainNet:
    """A plain deep network ``Linear → (Linear, tanh) × num_layers → Linear`` (no skips),
    with PyTorch's default initialisation; the counterpart of :func:`mlp_resnet`."""
    if seed is not None:
        torch.manual_seed(seed)
    layers = [nn.Sequential(nn.Linear(dim, dim), nn.Tanh()) for _ in range(num_layers)]
    return PlainNet(layers, lift=nn.Linear(in_features, dim), head=nn.Linear(dim, num_classes))


def conv_resnet(
    num_classes: int = 10,
    *,
    in_channels: int = 1,
    channels: int = 16,
    num_blocks: int = 4,
    final_time: float = 1.0,
    scheme: str = "euler",
    seed: int | None = None,
) -> ResNet:
    """A small convolutional ResNet, images ``(batch, in_channels, H, W) → (batch, num_classes)``.

    Lift: a 3×3 convolution to ``channels``; blocks: :class:`ConvBlock`; head: global average
    pooling and a linear layer. Used on the 8×8 digits (section 7).
    """
    if seed is not None:
        torch.manual_seed(seed)
    lift = nn.Conv2d(in_channels, channels, 3, padding=1)
    blocks = [ConvBlock(channels) for _ in range(num_blocks)]
    head = nn.Sequential(nn.Tanh(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(channels, num_classes))
    return ResNet(blocks, final_time / num_blocks, lift=lift, head=head, scheme=scheme)


def refine_depth(model: ResNet, mode: str = "copy") -> ResNet:
    """Twice the blocks with half the step, the same ``θ(t)``: multi-level training's
    interpolation step (Chang et al. 2017, section 5 of the notebook).

    ``mode="copy"`` repeats every block, so the piecewise-constant ``θ(t)`` is unchanged and
    only the discretisation is finer; ``mode="linear"`` makes each inserted block the average
    of its neighbours (the last one is copied), a piecewise-linear ``θ(t)``. Either way the
    refined network computes nearly the same function (the difference is the ``O(h)`` error
    of Euler). Returns a new model; ``model`` is untouched.
    """
    if mode not in ("copy", "linear"):
        raise ValueError(f"unknown `mode` {mode!r}; choose 'copy' or 'linear'")
    refined = copy.deepcopy(model)
    blocks = []
    for k, block in enumerate(model.blocks):
        blocks.append(copy.deepcopy(block))
        inserted = copy.deepcopy(block)
        if mode == "linear" and k + 1 < model.num_blocks:
            following = model.blocks[k + 1].state_dict()
            averaged = {name: 0.5 * (value + following[name])
                        for name, value in block.state_dict().items()}
            inserted.load_state_dict(averaged)
        blocks.append(inserted)
    refined.blocks = nn.ModuleList(blocks)
    refined.step_size = model.step_size / 2
    return refined


def drop_block(model, index: int):
    """A copy of ``model`` without block ``index`` (the step size is unchanged, so the final
    time shrinks by ``h``): the lesion experiment of section 6."""
    if not -model.num_blocks <= index < model.num_blocks:
        raise ValueError(f"`index` {index} is out of range for {model.num_blocks} blocks")
    lesioned = copy.deepcopy(model)
    kept = [block for k, block in enumerate(lesioned.blocks) if k != index % model.num_blocks]
    lesioned.blocks = nn.ModuleList(kept)
    return lesioned


def append_identity_blocks(model: ResNet, num_new: int, make_block) -> ResNet:
    """A copy of ``model`` with ``num_new`` more blocks from ``make_block()`` at the end.

    Blocks that start at ``f = 0`` (e.g. ``MLPBlock(..., zero_init=True)``) make the deeper
    network compute exactly the same function as ``model``: a deeper ResNet is never worse at
    initialisation (section 1 of the notebook). The step size is kept, so ``T`` grows.
    """
    deeper = copy.deepcopy(model)
    for _ in range(num_new):
        deeper.blocks.append(make_block())
    return deeper
