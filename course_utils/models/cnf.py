r"""Continuous normalising flows: planar CNF and FFJORD-style free-form dynamics (week 6).

A continuous normalising flow (CNF) moves samples of a base density ``p_0 = N(0, I)`` by
an ODE ``dz/dt = f(t, z)`` from ``t = 0`` to ``t = T``. The log-density along a trajectory
obeys the *instantaneous change of variables* (Chen et al. 2018, Theorem 1)

.. math::
   \frac{d}{dt} \log p_t(z(t)) = -\operatorname{tr}\frac{\partial f}{\partial z}(t, z(t)),

so a CNF integrates the augmented state ``(z, log p)`` with one ODE solve, in either
direction: forwards to sample (``z_0 → x`` with ``log q(x)``), backwards to evaluate the
density of data (``x → z_0``). The trace is the only model-specific piece; this module
provides

* :class:`PlanarCNFDynamics` — Chen et al.'s continuous planar flow
  ``f = Σ_m u_m(t) tanh(w_m(t)ᵀz + b_m(t))`` with ``M = width`` hidden units whose
  parameters come from a small hypernetwork of ``t``; its trace
  ``Σ_m (u_mᵀ w_m) tanh'(w_mᵀ z + b_m)`` costs ``O(M d)``, no autograd;
* :class:`FreeFormDynamics` — FFJORD's unrestricted MLP ``f(t, z)`` (Grathwohl et al.
  2019), with the trace computed *exactly* (``d`` vector–Jacobian products) or by the
  *Hutchinson estimator* ``εᵀ (∂f/∂z) ε`` (one product) with the noise ``ε`` drawn once per
  solve and held fixed during it;
* :func:`divergence_exact` and :func:`divergence_hutchinson`, the two traces on their own;
* :class:`CNF` — the flow itself, with the interface of week 4's
  :class:`~course_utils.models.flows.NormalizingFlow` (``log_prob``, ``sample``,
  ``sample_with_log_prob``), so week 4's ``reverse_kl_loss`` and
  ``negative_log_likelihood`` train it unchanged.

Introduced in ``06_neural_odes``, sections 5 and 6.

References
----------
R. T. Q. Chen, Y. Rubanova, J. Bettencourt, D. Duvenaud, "Neural Ordinary Differential
Equations", NeurIPS 2018, section 4 and appendix A.
W. Grathwohl, R. T. Q. Chen, J. Bettencourt, I. Sutskever, D. Duvenaud, "FFJORD:
Free-form Continuous Dynamics for Scalable Reversible Generative Models", ICLR 2019.
M. F. Hutchinson, "A stochastic estimator of the trace of the influence matrix for
Laplacian smoothing splines", 1990.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..adjoint import odeint_adjoint
from ..ode import odeint
from .neural_ode import ConcatLinear, _activation

__all__ = [
    "divergence_exact",
    "divergence_hutchinson",
    "sample_noise",
    "PlanarCNFDynamics",
    "FreeFormDynamics",
    "CNF",
    "planar_cnf",
    "ffjord_cnf",
]

_LOG_2PI = math.log(2.0 * math.pi)
NOISE_KINDS = ("gaussian", "rademacher")


def divergence_exact(dz: torch.Tensor, z: torch.Tensor, create_graph: bool = True):
    """``tr ∂f/∂z`` per sample from ``dim`` vector–Jacobian products (FFJORD's "exact").

    Parameters
    ----------
    dz : tensor, shape (batch, dim)
        ``f(t, z)``, computed from ``z`` with autograd recording.
    z : tensor, shape (batch, dim)
        The input that requires grad. Samples must not interact (row ``i`` of ``dz``
        depends on row ``i`` of ``z`` only), as for any batched vector field.
    create_graph : bool
        Keep the graph of the result (needed to train through it).

    Returns
    -------
    tensor, shape (batch,)
        The sum of the diagonal of each sample's ``dim × dim`` Jacobian: one backward
        pass per coordinate, so ``O(dim)`` passes.

    Notes
    -----
    Introduced in ``06_neural_odes``, section 6.
    """
    diagonal = []
    for i in range(z.shape[1]):
        row = torch.autograd.grad(dz[:, i].sum(), z, create_graph=create_graph,
                                  retain_graph=True)[0]               # (batch, dim)
        diagonal.append(row[:, i])
    return torch.stack(diagonal, dim=1).sum(dim=1)                    # (batch,)


def divergence_hutchinson(dz: torch.Tensor, z: torch.Tensor, noise: torch.Tensor,
                          create_graph: bool = True):
    """The Hutchinson estimate ``εᵀ (∂f/∂z) ε`` per sample, from one vector–Jacobian product.

    ``E[εᵀ A ε] = tr A`` whenever ``E[ε] = 0`` and ``E[ε εᵀ] = I`` (Gaussian or Rademacher
    noise), so the estimate is unbiased; its variance is ``2 ‖(A + Aᵀ)/2‖_F²`` for Gaussian
    noise and that minus ``2 Σ_i A_ii²`` for Rademacher noise.

    Parameters
    ----------
    dz, z : tensor, shape (batch, dim)
        As in :func:`divergence_exact`.
    noise : tensor, shape (batch, dim)
        ``ε``, one probe vector per sample (see :func:`sample_noise`).
    create_graph : bool
        Keep the graph of the result.

    Returns
    -------
    tensor, shape (batch,)

    Notes
    -----
    Introduced in ``06_neural_odes``, section 6 (Exercise 6.7 asks for it).
    """
    if noise.shape != z.shape:
        raise ValueError(f"`noise` must have the shape of `z` {tuple(z.shape)}, got "
                         f"{tuple(noise.shape)}")
    vjp = torch.autograd.grad(dz, z, noise, create_graph=create_graph,
                              retain_graph=True)[0]                     # εᵀ J, (batch, dim)
    return (vjp * noise).sum(dim=1)                                           # (batch,)


def sample_noise(shape, kind: str = "gaussian", generator: torch.Generator | None = None,
                 dtype=None, device=None) -> torch.Tensor:
    """Probe vectors for the Hutchinson estimator: standard normal or Rademacher (±1).

    Both have mean zero and identity covariance. Returns a tensor of ``shape``.
    """
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise {kind!r}; choose one of {NOISE_KINDS}")
    dtype = torch.get_default_dtype() if dtype is None else dtype
    noise = torch.randn(shape, generator=generator, dtype=dtype, device=device)
    return noise if kind == "gaussian" else torch.sign(noise) + (noise == 0).to(dtype)


class PlanarCNFDynamics(nn.Module):
    """Chen et al.'s continuous planar flow ``f(t, z) = Σ_m u_m(t) tanh(w_m(t)ᵀ z + b_m(t))``.

    The ``M = width`` triples ``(w_m, u_m, b_m)`` are functions of time produced by a
    hypernetwork ``t ↦ Linear(tanh(Linear(t)))``; ``u_m`` is gated by ``σ(g_m(t))`` as in
    the paper's code. The trace is exact and cheap,

    ``tr ∂f/∂z = Σ_m (u_mᵀ w_m) (1 - tanh²(w_mᵀ z + b_m))``,

    the continuous counterpart of a planar flow's determinant lemma — but with no
    invertibility constraint on ``u`` (an ODE flow is always invertible).

    Parameters
    ----------
    dim : int
        Dimension ``d`` of ``z``.
    width : int
        Number of hidden units ``M``.
    hyper_hidden : int
        Width of the hypernetwork.
    init_scale : float
        The hypernetwork's last layer starts at ``N(0, init_scale²)``: a small value
        starts the flow near the identity.

    Notes
    -----
    Shapes: ``z`` of shape ``(batch, dim)``; :meth:`velocity_and_divergence` returns
    ``(batch, dim)`` and ``(batch,)``. Introduced in ``06_neural_odes``, section 5.
    """

    def __init__(self, dim: int, width: int, hyper_hidden: int = 32, init_scale: float = 0.1):
        super().__init__()
        if dim < 1 or width < 1:
            raise ValueError(f"`dim` and `width` must be positive, got {dim} and {width}")
        self.dim, self.width = dim, width
        self.hyper_in = nn.Linear(1, hyper_hidden)
        self.hyper_out = nn.Linear(hyper_hidden, width * (2 * dim + 2))
        with torch.no_grad():
            self.hyper_out.weight.normal_(0.0, init_scale)
            self.hyper_out.bias.normal_(0.0, init_scale)
        self.nfe = 0

    def parameters_at(self, t):
        """``(W, U, b)`` at time ``t``: shapes ``(M, d)``, ``(M, d)`` (gated) and ``(M,)``."""
        time = torch.as_tensor(t, dtype=self.hyper_in.weight.dtype).reshape(1, 1)
        out = self.hyper_out(torch.tanh(self.hyper_in(time)))[0]      # (M (2d + 2),)
        m, d = self.width, self.dim
        weight = out[: m * d].view(m, d)
        direction = out[m * d : 2 * m * d].view(m, d)
        bias = out[2 * m * d : 2 * m * d + m]
        gate = torch.sigmoid(out[2 * m * d + m :])                    # (M,)
        return weight, direction * gate[:, None], bias

    def velocity_and_divergence(self, t, z):
        """``f(t, z)`` and ``tr ∂f/∂z``, shapes ``(batch, dim)`` and ``(batch,)``."""
        self.nfe += 1
        weight, direction, bias = self.parameters_at(t)
        h = torch.tanh(torch.addmm(bias, z, weight.T))                # (batch, M)
        velocity = h @ direction                                      # (batch, d)
        divergence = (1.0 - h * h) @ (weight * direction).sum(dim=1)  # (batch,)
        return velocity, divergence

    def forward(self, t, z):
        return self.velocity_and_divergence(t, z)[0]


class FreeFormDynamics(nn.Module):
    """FFJORD's free-form vector field: an MLP ``f(t, z)`` that sees ``t`` at every layer.

    The trace of its Jacobian is computed by autograd, either exactly (``estimator=
    "exact"``, :func:`divergence_exact`, ``dim`` backward passes) or by the Hutchinson
    estimator (``"hutchinson"``, :func:`divergence_hutchinson`, one pass). The probe noise
    is held in :attr:`noise`; :class:`CNF` draws it once per solve (:meth:`begin_solve`),
    so the dynamics is one fixed ODE during a solve — an adaptive solver would otherwise
    see a different right-hand side at every stage.

    Parameters
    ----------
    dim : int
        Dimension of ``z``.
    hidden : int
        Width of the hidden layers.
    num_layers : int
        Number of hidden layers.
    activation : {"tanh", "softplus", "elu", "silu"}
        Smooth activations only: the trace needs second derivatives to train.
    estimator : {"exact", "hutchinson"}
    noise : {"gaussian", "rademacher"}
        Distribution of the Hutchinson probe.

    Notes
    -----
    Shapes: ``z`` of shape ``(batch, dim)``. Introduced in ``06_neural_odes``, section 6.
    """

    def __init__(self, dim: int, hidden: int = 32, num_layers: int = 2,
                 activation: str = "tanh", estimator: str = "exact",
                 noise: str = "gaussian"):
        super().__init__()
        if estimator not in ("exact", "hutchinson"):
            raise ValueError(f"unknown `estimator` {estimator!r}; choose 'exact' or "
                             "'hutchinson'")
        if noise not in NOISE_KINDS:
            raise ValueError(f"unknown `noise` {noise!r}; choose one of {NOISE_KINDS}")
        self.dim = dim
        sizes = [dim] + [hidden] * num_layers + [dim]
        self.layers = nn.ModuleList(ConcatLinear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = _activation(activation)
        self.estimator = estimator
        self.noise_kind = noise
        self.noise = None
        self.generator = None
        self.nfe = 0

    def begin_solve(self, batch_shape, dtype, device=None):
        """Draw the Hutchinson noise for the next solve (shape ``(batch, dim)``)."""
        if self.estimator == "hutchinson":
            self.noise = sample_noise(batch_shape, self.noise_kind, self.generator, dtype,
                                      device)

    def forward(self, t, z):
        h = z
        for index, layer in enumerate(self.layers):
            h = layer(t, h)
            if index < len(self.layers) - 1:
                h = self.act(h)
        return h                                                      # (batch, dim)

    def velocity_and_divergence(self, t, z):
        """``f(t, z)`` and its (exact or estimated) trace, ``(batch, dim)`` and ``(batch,)``."""
        self.nfe += 1
        create_graph = torch.is_grad_enabled()
        with torch.enable_grad():
            if not z.requires_grad:
                z = z.detach().requires_grad_(True)
            velocity = self(t, z)
            if self.estimator == "exact":
                divergence = divergence_exact(velocity, z, create_graph)
            else:
                if self.noise is None or self.noise.shape != z.shape:
                    raise RuntimeError(
                        "the Hutchinson noise is not set for this batch: call "
                        "`begin_solve(z.shape, dtype)` before a solve (CNF does it for you)"
                    )
                divergence = divergence_hutchinson(velocity, z, self.noise, create_graph)
        if not create_graph:
            velocity, divergence = velocity.detach(), divergence.detach()
        return velocity, divergence


class _Augmented(nn.Module):
    """The vector field of the augmented state ``(z, log p)``: ``(f, -tr ∂f/∂z)``.

    A tuple state, as in FFJORD: ``odeint`` solves both parts together (one error norm
    over all of them) and returns them as a tuple.
    """

    def __init__(self, dynamics: nn.Module, dim: int):
        super().__init__()
        self.dynamics = dynamics
        self.dim = dim

    def forward(self, t, state):
        z, _ = state                                                  # (batch, dim), (batch,)
        velocity, divergence = self.dynamics.velocity_and_divergence(t, z)
        return velocity, -divergence                                  # d z/dt, d log p/dt


class CNF(nn.Module):
    """A continuous normalising flow from ``N(0, I)`` at ``t = 0`` to the model at ``t = T``.

    ``log p_T(x) = log N(z_0; 0, I) - ∫_0^T tr ∂f/∂z (t, z(t)) dt`` along the trajectory
    through ``x``. Sampling integrates ``(z, log p)`` forwards; :meth:`log_prob` integrates
    ``(x, 0)`` backwards from ``T`` to 0. Same interface as week 4's ``NormalizingFlow``.

    Parameters
    ----------
    dynamics : nn.Module
        Has ``velocity_and_divergence(t, z) -> (f (batch, dim), tr (batch,))``, and
        optionally ``begin_solve(shape, dtype, device)`` (called before every solve) and an
        ``nfe`` counter. E.g. :class:`PlanarCNFDynamics`, :class:`FreeFormDynamics`.
    dim : int
        Dimension of the samples.
    final_time : float
        ``T``.
    method, rtol, atol, step_size
        The solver (:func:`course_utils.ode.odeint`).
    adjoint : bool
        Gradients by :func:`course_utils.adjoint.odeint_adjoint` instead of
        backpropagation through the solver.

    Attributes
    ----------
    last_stats : SolveStats or AdjointStats
        Statistics of the last solve.

    Notes
    -----
    Introduced in ``06_neural_odes``, section 5.
    """

    def __init__(self, dynamics: nn.Module, dim: int, final_time: float = 1.0,
                 method: str = "dopri5", rtol: float = 1e-5, atol: float = 1e-5,
                 step_size: float | None = None, adjoint: bool = False):
        super().__init__()
        if final_time <= 0:
            raise ValueError(f"`final_time` must be positive, got {final_time}")
        self.dim = dim
        self.field = _Augmented(dynamics, dim)
        self.final_time = float(final_time)
        self.method, self.rtol, self.atol, self.step_size = method, rtol, atol, step_size
        self.adjoint = adjoint
        self.last_stats = None
        self.register_buffer("_anchor", torch.zeros(()))

    @property
    def dynamics(self) -> nn.Module:
        return self.field.dynamics

    def _check(self, x, name):
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"`{name}` must have shape (batch, {self.dim}), got "
                             f"{tuple(x.shape)}")

    def integrate(self, z, log_p, times):
        """Solve the augmented ODE from ``(z, log_p)`` at ``times[0]`` through ``times``.

        Returns ``(zs, log_ps)`` of shapes ``(len(times), batch, dim)`` and
        ``(len(times), batch)``: ``log_ps`` is ``log_p`` plus ``-∫ tr`` since ``times[0]``.
        """
        times = torch.as_tensor(times, dtype=z.dtype, device=z.device)
        state = (z, log_p)                                            # (batch, dim), (batch,)
        if hasattr(self.dynamics, "begin_solve"):
            self.dynamics.begin_solve(z.shape, z.dtype, z.device)
        kwargs = dict(method=self.method, return_stats=True)
        if self.step_size is not None:
            kwargs["step_size"] = self.step_size
        else:
            kwargs.update(rtol=self.rtol, atol=self.atol)
        if self.adjoint:
            states, self.last_stats = odeint_adjoint(self.field, state, times, **kwargs)
        else:
            states, self.last_stats = odeint(self.field, state, times, **kwargs)
        zs, log_ps = states                          # (len(times), batch, dim), (len(times), batch)
        return zs, log_ps

    def base_log_prob(self, z):
        """``log N(z; 0, I)``, shape ``(batch,)``."""
        return -0.5 * (z**2).sum(dim=1) - 0.5 * self.dim * _LOG_2PI

    def log_prob(self, x, time: float | None = None):
        """``log p_t(x)`` for ``x`` of shape ``(batch, dim)`` at ``t = time`` (default ``T``).

        Integrates ``(x, 0)`` from ``time`` back to 0 and returns
        ``log N(z_0) + Δ`` with ``Δ = ∫_time^0 (-tr) dt``; shape ``(batch,)``. At
        ``time = 0`` it is the base density.
        """
        self._check(x, "x")
        time = self.final_time if time is None else float(time)
        if time == 0.0:
            return self.base_log_prob(x)
        zs, deltas = self.integrate(x, x.new_zeros(x.shape[0]), [time, 0.0])
        return self.base_log_prob(zs[-1]) - deltas[-1]

    def sample_with_log_prob(self, num_samples: int, generator: torch.Generator | None = None):
        """Samples and their ``log q``, shapes ``(num_samples, dim)`` and ``(num_samples,)``.

        Integrates forwards from ``z_0 ~ N(0, I)``; differentiable (reverse-KL training).
        """
        z = torch.randn(num_samples, self.dim, generator=generator, dtype=self._anchor.dtype,
                        device=self._anchor.device)
        zs, log_ps = self.integrate(z, self.base_log_prob(z), [0.0, self.final_time])
        return zs[-1], log_ps[-1]

    def sample(self, num_samples: int, generator: torch.Generator | None = None):
        """``num_samples`` draws, shape ``(num_samples, dim)``."""
        return self.sample_with_log_prob(num_samples, generator)[0]

    def forward(self, z):
        """Push ``z`` (``(batch, dim)``) from 0 to ``T``: ``(x, -∫ tr dt)``."""
        self._check(z, "z")
        zs, deltas = self.integrate(z, z.new_zeros(z.shape[0]), [0.0, self.final_time])
        return zs[-1], deltas[-1]

    def trajectory(self, z, times):
        """The positions at ``times`` (1-D, starting where ``z`` is given), shape
        ``(len(times), batch, dim)``."""
        self._check(z, "z")
        return self.integrate(z, z.new_zeros(z.shape[0]), times)[0]


def planar_cnf(dim: int, width: int, final_time: float = 1.0, **solver) -> CNF:
    """A :class:`CNF` with :class:`PlanarCNFDynamics` of ``width`` hidden units (``M``).

    ``solver`` keywords go to :class:`CNF` (``method``, ``rtol``, ``atol``, ``step_size``,
    ``adjoint``).
    """
    return CNF(PlanarCNFDynamics(dim, width), dim, final_time, **solver)


def ffjord_cnf(dim: int, hidden: int = 32, num_layers: int = 2, estimator: str = "exact",
               noise: str = "gaussian", activation: str = "tanh", final_time: float = 1.0,
               **solver) -> CNF:
    """A :class:`CNF` with :class:`FreeFormDynamics` (FFJORD).

    ``solver`` keywords go to :class:`CNF` (``method``, ``rtol``, ``atol``, ``step_size``,
    ``adjoint``).
    """
    dynamics = FreeFormDynamics(dim, hidden, num_layers, activation, estimator, noise)
    return CNF(dynamics, dim, final_time, **solver)
