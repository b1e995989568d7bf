"""Discrete normalising flows (week 4; week 6 compares them with continuous flows).

A flow pushes a simple *base* density through invertible maps. Every layer here follows
one contract:

1. ``layer(z) -> (x, log_abs_det)``: the map ``x = f(z)`` applied to a batch ``z`` of
   shape ``(batch, dim)``, and ``log|det ∂f/∂z|`` per sample, shape ``(batch,)``;
2. ``layer.inverse(x) -> (z, log_abs_det)``: ``z = f⁻¹(x)`` and ``log|det ∂f⁻¹/∂x|``
   (minus the forward one at ``z``). It is closed form where one exists (radial, affine
   coupling, element-wise affine, rotations, piecewise-linear marginals) and a documented,
   vectorised bisection on a monotone scalar equation otherwise (planar). Either way it
   is exact to round-off.

:class:`NormalizingFlow` composes layers on a base density and gives ``log_prob``,
``sample`` and ``sample_with_log_prob``; :func:`reverse_kl_loss` and
:func:`negative_log_likelihood` are the two training objectives of the notebook;
:func:`jacobian_log_abs_det` is the O(N³) autograd reference that the tests compare
every layer's log-determinant with.

References: Rezende & Mohamed, "Variational Inference with Normalizing Flows" (ICML
2015) — planar and radial flows and their invertibility conditions (Appendix A);
Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP" (ICLR 2017) — affine
coupling; Tabak & Vanden-Eijnden (2010) and Tabak & Turner (2013) — density estimation
as a composition of small maps that Gaussianise the data (:func:`fit_gaussianization`).
Introduced in ``04_normalising_flows``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ._sizes import check_sizes

__all__ = [
    "StandardNormal",
    "FlowLayer",
    "PlanarFlow",
    "RadialFlow",
    "AffineCoupling",
    "ElementwiseAffine",
    "Rotation",
    "MonotonePiecewiseLinear",
    "kde_gaussianize",
    "NormalizingFlow",
    "planar_flow",
    "radial_flow",
    "realnvp_flow",
    "reverse_kl_loss",
    "negative_log_likelihood",
    "jacobian_log_abs_det",
    "fit_gaussianization",
    "GaussianizationResult",
]

_LOG_2PI = math.log(2.0 * math.pi)


def _as_float(value, like=None) -> torch.Tensor:
    """A floating tensor: tensors keep their dtype, anything else gets ``like``'s or the
    default dtype."""
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value if like is None else value.to(like.dtype)
    dtype = torch.get_default_dtype() if like is None else like.dtype
    return torch.as_tensor(value, dtype=dtype)


def _check_batch(z: torch.Tensor, dim: int, name: str = "z") -> None:
    if z.ndim != 2 or z.shape[1] != dim:
        raise ValueError(
            f"`{name}` must have shape (batch, {dim}), got {tuple(z.shape)}; "
            f"add a batch dimension with `{name}[None]` for a single point"
        )


def _bisect(fn, target: torch.Tensor, low: torch.Tensor, high: torch.Tensor,
            num_iterations: int = 100) -> torch.Tensor:
    """Solve ``fn(a) = target`` element-wise for an increasing ``fn`` on ``[low, high]``.

    Every tensor has the same shape; ``fn(low) <= target <= fn(high)`` is assumed. Each
    iteration halves the bracket, so 100 iterations reach round-off from any bracket
    narrower than 2^40 ≈ 10^12 in float64. Stops early when no bracket shrinks any more.
    """
    with torch.no_grad():
        low, high = low.clone(), high.clone()
        for _ in range(num_iterations):
            middle = 0.5 * (low + high)
            if torch.all((middle == low) | (middle == high)):
                break
            below = fn(middle) < target
            low = torch.where(below, middle, low)
            high = torch.where(below, high, middle)
        return 0.5 * (low + high)


# --------------------------------------------------------------------------- base


class StandardNormal(nn.Module):
    """The standard normal density N(0, I) on R^dim, the base of every flow.

    Parameters
    ----------
    dim : int
        Dimension of the samples.

    Notes
    -----
    It has no parameters; a zero buffer follows ``.to()`` / ``.double()`` so that samples
    have the flow's dtype and device.
    """

    def __init__(self, dim: int):
        super().__init__()
        if dim < 1:
            raise ValueError(f"`dim` must be a positive integer, got {dim}")
        self.dim = dim
        self.register_buffer("_anchor", torch.zeros(()))

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """``log N(z; 0, I)`` for ``z`` of shape ``(batch, dim)``; returns ``(batch,)``."""
        _check_batch(z, self.dim)
        return -0.5 * (z**2).sum(dim=1) - 0.5 * self.dim * _LOG_2PI

    def sample(self, num_samples: int, generator: torch.Generator | None = None):
        """``num_samples`` draws, shape ``(num_samples, dim)``."""
        return torch.randn(num_samples, self.dim, generator=generator,
                           dtype=self._anchor.dtype, device=self._anchor.device)


class FlowLayer(nn.Module):
    """Base class of the flow layers: an invertible map with a cheap log-determinant.

    Subclasses implement ``forward(z) -> (x, log_abs_det)`` and ``inverse(x) -> (z,
    log_abs_det)`` on batches of shape ``(batch, dim)``; both log-determinants have shape
    ``(batch,)``, and that of ``inverse`` is ``log|det ∂f⁻¹/∂x|``.
    """

    dim: int

    def inverse(self, x: torch.Tensor):  # pragma: no cover - documented interface
        raise NotImplementedError(f"{type(self).__name__} has no inverse")


# ------------------------------------------------------------------- planar / radial


def _m(a: torch.Tensor) -> torch.Tensor:
    """Rezende & Mohamed's ``m(a) = -1 + log(1 + e^a)``: maps R onto (-1, inf)."""
    return -1.0 + F.softplus(a)


class PlanarFlow(FlowLayer):
    """Planar flow ``f(z) = z + û tanh(wᵀz + b)`` (Rezende & Mohamed 2015, §4.1).

    The log-determinant is ``log|1 + ûᵀψ(z)|`` with ``ψ(z) = tanh'(wᵀz + b) w`` — O(dim)
    per sample (matrix determinant lemma). Invertibility is built in (their Appendix A):
    the free parameter ``u`` is mapped to ``û = u + (m(wᵀu) - wᵀu) w / ‖w‖²`` with
    ``m(a) = -1 + log(1 + e^a)``, so that ``wᵀû > -1`` and ``f`` is strictly increasing
    along ``w``.

    Parameters
    ----------
    dim : int
        Dimension of ``z``.
    init_scale : float
        Standard deviation of the random initial ``w`` and ``u`` (``b`` starts at 0); a
        small value starts the layer near the identity.

    Notes
    -----
    ``inverse`` has no closed form. Writing ``a = wᵀz + b``, the image satisfies
    ``wᵀx + b = a + (wᵀû) tanh(a)``, an increasing scalar equation in ``a`` whose root lies
    within ``|wᵀû|`` of ``wᵀx + b``; it is solved by bisection to round-off, then
    ``z = x - û tanh(a)``. One Newton step with gradients enabled follows the bisection,
    so gradients of the inverse with respect to ``x`` and the parameters are exact
    (implicit function theorem).

    The parameters are stored in one vector, ``params = [w, u, b]`` (length
    ``2 dim + 1``), read through the properties ``w``, ``u`` and ``b``.
    """

    def __init__(self, dim: int, init_scale: float = 0.5):
        super().__init__()
        check_sizes(dim=dim)
        self.dim = dim
        # w, u and b live in one vector: one tensor per layer for the optimiser to update
        # (a quarter faster for long flows on a CPU); read them as .w, .u and .b.
        initial = torch.cat([init_scale * torch.randn(2 * dim), torch.zeros(1)])
        self.params = nn.Parameter(initial)

    @property
    def w(self) -> torch.Tensor:
        """The normal ``w`` of the hyperplane, shape ``(dim,)``."""
        return self.params[: self.dim]

    @property
    def u(self) -> torch.Tensor:
        """The free (unconstrained) direction ``u``, shape ``(dim,)``."""
        return self.params[self.dim : 2 * self.dim]

    @property
    def b(self) -> torch.Tensor:
        """The offset ``b``, a scalar."""
        return self.params[2 * self.dim]

    def u_hat(self) -> torch.Tensor:
        """The constrained ``û`` (shape ``(dim,)``) with ``wᵀû = m(wᵀu) > -1``."""
        w, u = self.w, self.u
        w_dot_u = w @ u
        return u + (_m(w_dot_u) - w_dot_u) / (w @ w + 1e-12) * w

    def forward(self, z: torch.Tensor):
        _check_batch(z, self.dim)
        w, u_hat = self.w, self.u_hat()                         # (dim,) each
        h = torch.tanh(torch.addmv(self.b, z, w))               # tanh(wᵀz + b), (batch,)
        x = torch.addr(z, h, u_hat)                             # z + h ûᵀ, (batch, dim)
        log_abs_det = torch.log1p((1.0 - h * h) * (w @ u_hat))  # (batch,), wᵀû > -1
        return x, log_abs_det

    def inverse(self, x: torch.Tensor):
        _check_batch(x, self.dim, "x")
        u_hat = self.u_hat()
        kappa = self.w @ u_hat                                  # wᵀû > -1, scalar
        target = x @ self.w + self.b                            # (batch,)
        equation = lambda a: a + kappa * torch.tanh(a)
        spread = kappa.detach().abs() + 1e-12
        activation = _bisect(equation, target.detach(), target.detach() - spread,
                             target.detach() + spread)
        # One Newton step with the graph on: exact gradients at the root.
        slope = 1.0 + kappa * (1.0 - torch.tanh(activation) ** 2)
        activation = activation - (equation(activation) - target) / slope
        z = x - torch.tanh(activation)[:, None] * u_hat
        log_abs_det = -torch.log1p((1.0 - torch.tanh(activation) ** 2) * kappa)
        return z, log_abs_det


class RadialFlow(FlowLayer):
    """Radial flow ``f(z) = z + β h(α, r) (z - z₀)``, ``h = 1/(α + r)``, ``r = ‖z - z₀‖``.

    Rezende & Mohamed 2015, §4.1: it contracts (``β < 0``) or expands (``β > 0``) the
    space around the centre ``z₀``. The log-determinant is
    ``(dim - 1) log(1 + βh) + log(1 + βh + βh'(r) r) = (dim - 1) log(1 + βh) +
    log(1 + αβh²)``. Invertibility (their Appendix A) needs ``α > 0`` and ``β ≥ -α``; both
    are built in: ``α = softplus(α_raw)`` and ``β = -α + softplus(β_raw)``.

    Parameters
    ----------
    dim : int
        Dimension of ``z``.
    init_scale : float
        Standard deviation of the random initial centre ``z₀``.

    Notes
    -----
    The inverse is closed form: ``ρ = ‖x - z₀‖ = r (1 + β/(α + r))`` is the quadratic
    ``r² + (α + β - ρ) r - αρ = 0`` in ``r``, whose non-negative root gives
    ``z = z₀ + (x - z₀) / (1 + βh(r))``.

    The parameters are stored in one vector, ``params = [z₀, α_raw, β_raw]`` (length
    ``dim + 2``); ``z0`` and :meth:`alpha_beta` read them.
    """

    def __init__(self, dim: int, init_scale: float = 1.0):
        super().__init__()
        check_sizes(dim=dim)
        self.dim = dim
        # z₀, α_raw and β_raw in one vector (one tensor per layer for the optimiser)
        initial = torch.cat([init_scale * torch.randn(dim), torch.zeros(1),
                             torch.randn(1) * 0.1 - 1.0])
        self.params = nn.Parameter(initial)

    @property
    def z0(self) -> torch.Tensor:
        """The centre ``z₀``, shape ``(dim,)``."""
        return self.params[: self.dim]

    def alpha_beta(self):
        """The constrained ``(α, β)`` with ``α > 0`` and ``β > -α`` (two scalars)."""
        alpha = F.softplus(self.params[self.dim])
        return alpha, -alpha + F.softplus(self.params[self.dim + 1])

    def _log_abs_det(self, radius, alpha, beta):
        h = 1.0 / (alpha + radius)                                          # (batch,)
        return (self.dim - 1) * torch.log1p(beta * h) + torch.log1p(alpha * beta * h**2)

    def forward(self, z: torch.Tensor):
        _check_batch(z, self.dim)
        alpha, beta = self.alpha_beta()
        offset = z - self.z0                                    # (batch, dim)
        radius = torch.linalg.vector_norm(offset, dim=1)        # (batch,)
        x = z + (beta / (alpha + radius))[:, None] * offset     # (batch, dim)
        return x, self._log_abs_det(radius, alpha, beta)

    def inverse(self, x: torch.Tensor):
        _check_batch(x, self.dim, "x")
        alpha, beta = self.alpha_beta()
        offset = x - self.z0                                    # (batch, dim)
        rho = torch.linalg.vector_norm(offset, dim=1)           # ‖x - z₀‖, (batch,)
        linear = alpha + beta - rho
        root = torch.sqrt(linear**2 + 4.0 * alpha * rho)
        # the non-negative root of r² + linear r - αρ = 0, without cancellation
        radius = torch.where(linear > 0, 2.0 * alpha * rho / (linear + root + 1e-300),
                             0.5 * (root - linear))
        z = self.z0 + offset / (1.0 + beta / (alpha + radius))[:, None]
        return z, -self._log_abs_det(radius, alpha, beta)


# -------------------------------------------------------------- coupling and friends


class AffineCoupling(FlowLayer):
    """RealNVP affine coupling (Dinh et al. 2017): half the coordinates steer the rest.

    With a binary ``mask`` (1 = passed through), ``x = m ⊙ z + (1 - m) ⊙ (z ⊙ exp(s) + t)``
    where ``(s, t) = net(m ⊙ z)``. The Jacobian is triangular (after a permutation), so
    ``log|det| = Σ (1 - m) ⊙ s`` — O(dim) instead of O(dim³) — and the inverse is closed
    form, ``z = m ⊙ x + (1 - m) ⊙ (x - t) ⊙ exp(-s)``.

    Parameters
    ----------
    mask : sequence of 0/1, length dim
        Which coordinates pass through unchanged and condition the others.
    hidden : int
        Width of the conditioner MLP.
    num_hidden_layers : int
        Number of hidden layers of the MLP.
    max_log_scale : float
        ``s = max_log_scale * tanh(raw / max_log_scale)`` keeps the scales bounded, which
        keeps training stable.

    Notes
    -----
    The last linear layer starts at zero, so the layer starts as the identity.
    """

    def __init__(self, mask, hidden: int = 64, num_hidden_layers: int = 2,
                 max_log_scale: float = 3.0):
        super().__init__()
        check_sizes(hidden=hidden, num_hidden_layers=num_hidden_layers)
        mask = _as_float(mask)
        if mask.ndim != 1 or not torch.all((mask == 0) | (mask == 1)):
            raise ValueError("`mask` must be a 1-D sequence of 0s and 1s, e.g. [1, 0]")
        if mask.sum() in (0, len(mask)):
            raise ValueError("`mask` must pass some coordinates through and change others")
        self.dim = len(mask)
        self.max_log_scale = max_log_scale
        self.register_buffer("mask", mask)
        layers, width = [], self.dim
        for _ in range(num_hidden_layers):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        last = nn.Linear(width, 2 * self.dim)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)

    def _scale_shift(self, kept: torch.Tensor):
        raw_scale, shift = self.net(kept).chunk(2, dim=1)      # (batch, dim) each
        free = 1.0 - self.mask
        log_scale = self.max_log_scale * torch.tanh(raw_scale / self.max_log_scale)
        return free * log_scale, free * shift

    def forward(self, z: torch.Tensor):
        _check_batch(z, self.dim)
        log_scale, shift = self._scale_shift(self.mask * z)
        x = self.mask * z + (1.0 - self.mask) * (z * torch.exp(log_scale) + shift)
        return x, log_scale.sum(dim=1)

    def inverse(self, x: torch.Tensor):
        _check_batch(x, self.dim, "x")
        log_scale, shift = self._scale_shift(self.mask * x)
        z = self.mask * x + (1.0 - self.mask) * (x - shift) * torch.exp(-log_scale)
        return z, -log_scale.sum(dim=1)


class ElementwiseAffine(FlowLayer):
    """``x = z ⊙ exp(log_scale) + shift``: a diagonal Jacobian, ``log|det| = Σ log_scale``.

    Parameters
    ----------
    dim : int
        Dimension of ``z``; the layer starts as the identity.
    """

    def __init__(self, dim: int):
        super().__init__()
        check_sizes(dim=dim)
        self.dim = dim
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.shift = nn.Parameter(torch.zeros(dim))

    def forward(self, z: torch.Tensor):
        _check_batch(z, self.dim)
        log_abs_det = self.log_scale.sum().expand(z.shape[0])
        return z * torch.exp(self.log_scale) + self.shift, log_abs_det

    def inverse(self, x: torch.Tensor):
        _check_batch(x, self.dim, "x")
        log_abs_det = -self.log_scale.sum().expand(x.shape[0])
        return (x - self.shift) * torch.exp(-self.log_scale), log_abs_det


class Rotation(FlowLayer):
    """A fixed orthogonal map ``x = z Qᵀ`` (row convention: ``x_i = Q z_i``); ``log|det| = 0``.

    Parameters
    ----------
    matrix : array-like, shape (dim, dim)
        An orthogonal matrix ``Q`` (checked to 1e-6).
    """

    def __init__(self, matrix):
        super().__init__()
        matrix = _as_float(matrix)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"`matrix` must be square, got shape {tuple(matrix.shape)}")
        eye = torch.eye(len(matrix), dtype=matrix.dtype)
        if not torch.allclose(matrix @ matrix.T, eye, atol=1e-6):
            raise ValueError("`matrix` must be orthogonal; use the Q of a QR factorisation")
        self.dim = len(matrix)
        self.register_buffer("matrix", matrix)

    def forward(self, z: torch.Tensor):
        _check_batch(z, self.dim)
        return z @ self.matrix.T, z.new_zeros(z.shape[0])

    def inverse(self, x: torch.Tensor):
        _check_batch(x, self.dim, "x")
        return x @ self.matrix, x.new_zeros(x.shape[0])


class MonotonePiecewiseLinear(FlowLayer):
    """An increasing piecewise-linear map of each coordinate, given by its knots.

    Coordinate ``j`` maps ``in_knots[k, j]`` to ``out_knots[k, j]`` and interpolates
    linearly in between; outside the knots it continues with slope 1. The Jacobian is
    diagonal, ``log|det| = Σ_j log(slope_j)``, and the inverse is the same construction
    with the knots swapped — both exact, no root-finding. Used by
    :func:`fit_gaussianization` to tabulate the marginal Gaussianisation maps.

    Parameters
    ----------
    in_knots, out_knots : tensor, shape (num_knots, dim)
        Strictly increasing down each column; ``num_knots >= 2``.
    """

    def __init__(self, in_knots, out_knots):
        super().__init__()
        in_knots = _as_float(in_knots)
        out_knots = _as_float(out_knots, like=in_knots)
        if in_knots.ndim != 2 or in_knots.shape != out_knots.shape or len(in_knots) < 2:
            raise ValueError("`in_knots` and `out_knots` must both have shape "
                             "(num_knots >= 2, dim)")
        if torch.any(in_knots.diff(dim=0) <= 0) or torch.any(out_knots.diff(dim=0) <= 0):
            raise ValueError("knots must increase strictly down each column, so that the "
                             "map is invertible")
        self.dim = in_knots.shape[1]
        # stored (dim, num_knots), the layout torch.searchsorted wants
        self.register_buffer("in_knots", in_knots.T.contiguous())
        self.register_buffer("out_knots", out_knots.T.contiguous())

    @staticmethod
    def _interpolate(values, sources, targets):
        """Map ``values`` (batch, dim) through the knots ``sources → targets`` (dim, m)."""
        columns = values.T.contiguous()                                  # (dim, batch)
        index = torch.searchsorted(sources, columns).clamp(1, sources.shape[1] - 1)
        left_s, right_s = sources.gather(1, index - 1), sources.gather(1, index)
        left_t, right_t = targets.gather(1, index - 1), targets.gather(1, index)
        slope = (right_t - left_t) / (right_s - left_s)                  # (dim, batch)
        below, above = columns < sources[:, :1], columns > sources[:, -1:]
        slope = torch.where(below | above, torch.ones_like(slope), slope)
        anchor_s = torch.where(above, right_s, left_s)
        anchor_t = torch.where(above, right_t, left_t)
        mapped = anchor_t + slope * (columns - anchor_s)
        return mapped.T, slope.T                                         # (batch, dim) each

    def forward(self, z: torch.Tensor):
        _check_batch(z, self.dim)
        x, slope = self._interpolate(z, self.in_knots, self.out_knots)
        return x, torch.log(slope).sum(dim=1)

    def inverse(self, x: torch.Tensor):
        _check_batch(x, self.dim, "x")
        z, slope = self._interpolate(x, self.out_knots, self.in_knots)
        return z, torch.log(slope).sum(dim=1)


def kde_gaussianize(points: torch.Tensor, centres: torch.Tensor, bandwidths: torch.Tensor):
    """Marginal Gaussianisation ``Φ⁻¹(F_j(x_j))`` by a Gaussian kernel density estimate.

    ``F_j(x) = mean_i Φ((x - c_ij) / h_j)`` is the CDF of the kernel density estimate of
    coordinate ``j``, so ``Φ⁻¹(F_j)`` maps that marginal to a standard normal (the
    probability integral transform, then the normal quantile).

    Parameters
    ----------
    points : tensor, shape (batch, dim)
    centres : tensor, shape (num_centres, dim)
    bandwidths : tensor, shape (dim,)

    Returns
    -------
    tensor, shape (batch, dim)
        Computed from the smaller of ``F`` and ``1 - F`` in log space, so it stays finite
        many bandwidths away from the centres.
    """
    scaled = (points[:, None, :] - centres[None]) / bandwidths   # (batch, centres, dim)
    log_count = math.log(centres.shape[0])
    log_lower = torch.logsumexp(torch.special.log_ndtr(scaled), dim=1) - log_count
    log_upper = torch.logsumexp(torch.special.log_ndtr(-scaled), dim=1) - log_count
    tiny = torch.finfo(points.dtype).tiny
    return torch.where(log_lower < log_upper,
                       torch.special.ndtri(torch.exp(log_lower).clamp_min(tiny)),
                       -torch.special.ndtri(torch.exp(log_upper).clamp_min(tiny)))


# -------------------------------------------------------------------------- the flow


class NormalizingFlow(nn.Module):
    """A base density pushed through a list of flow layers, ``x = f_K ∘ … ∘ f_1(z)``.

    ``log q(x) = log p_base(z) - Σ_k log|det ∂f_k/∂z_{k-1}|`` (the change of variables).

    Parameters
    ----------
    base : StandardNormal or any module with ``log_prob`` and ``sample(n, generator)``
        The base density of ``z``.
    layers : sequence of FlowLayer
        Applied in order by ``forward``/``sample``, in reverse by ``inverse``/``log_prob``.
        An empty list gives the base density itself.

    Examples
    --------
    >>> flow = NormalizingFlow(StandardNormal(2), [PlanarFlow(2) for _ in range(8)])
    >>> x, log_q = flow.sample_with_log_prob(256)     # (256, 2), (256,)
    """

    def __init__(self, base, layers):
        super().__init__()
        self.base = base
        self.layers = nn.ModuleList(layers)
        self.dim = base.dim

    def forward(self, z: torch.Tensor):
        """Push ``z`` (``(batch, dim)``) through every layer: ``(x, Σ log|det|)``."""
        _check_batch(z, self.dim)
        total = z.new_zeros(z.shape[0])
        for layer in self.layers:
            z, log_abs_det = layer(z)
            total = total + log_abs_det
        return z, total

    def inverse(self, x: torch.Tensor):
        """Pull ``x`` back to the base: ``(z, log|det ∂z/∂x|)``, shapes as ``forward``."""
        _check_batch(x, self.dim, "x")
        total = x.new_zeros(x.shape[0])
        for layer in reversed(self.layers):
            x, log_abs_det = layer.inverse(x)
            total = total + log_abs_det
        return x, total

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``log q(x)`` for ``x`` of shape ``(batch, dim)``; returns ``(batch,)``."""
        z, log_abs_det = self.inverse(x)
        return self.base.log_prob(z) + log_abs_det

    def sample(self, num_samples: int, generator: torch.Generator | None = None):
        """``num_samples`` draws from the flow, shape ``(num_samples, dim)``."""
        return self(self.base.sample(num_samples, generator))[0]

    def sample_with_log_prob(self, num_samples: int, generator: torch.Generator | None = None):
        """Draws and their ``log q``, shapes ``(num_samples, dim)`` and ``(num_samples,)``.

        Needs only the forward direction, so it is cheap for every layer (planar flows
        included) and differentiable: the reparameterisation used by reverse-KL training.
        """
        z = self.base.sample(num_samples, generator)
        x, log_abs_det = self(z)
        return x, self.base.log_prob(z) - log_abs_det

    def trajectory(self, z: torch.Tensor) -> list:
        """The states ``[z, f_1(z), f_2(f_1(z)), …, x]``, ``K + 1`` tensors ``(batch, dim)``."""
        states = [z]
        for layer in self.layers:
            z, _ = layer(z)
            states.append(z)
        return states


def planar_flow(dim: int, num_layers: int) -> NormalizingFlow:
    """``num_layers`` planar layers on a standard normal base (Rezende & Mohamed's ``K``)."""
    check_sizes(dim=dim, num_layers=num_layers)
    return NormalizingFlow(StandardNormal(dim), [PlanarFlow(dim) for _ in range(num_layers)])


def radial_flow(dim: int, num_layers: int) -> NormalizingFlow:
    """``num_layers`` radial layers on a standard normal base."""
    check_sizes(dim=dim, num_layers=num_layers)
    return NormalizingFlow(StandardNormal(dim), [RadialFlow(dim) for _ in range(num_layers)])


def realnvp_flow(dim: int, num_layers: int, hidden: int = 64,
                 num_hidden_layers: int = 2) -> NormalizingFlow:
    """Affine couplings with alternating masks ([1, 0, 1, …] then [0, 1, 0, …]).

    Parameters
    ----------
    dim : int
        At least 2.
    num_layers : int
        Number of coupling layers; use an even number so every coordinate is transformed
        as often as the others.
    hidden, num_hidden_layers : int
        Size of each conditioner MLP.
    """
    check_sizes(minimum=2, dim=dim)
    check_sizes(num_layers=num_layers)
    even = [float(i % 2 == 0) for i in range(dim)]
    layers = [
        AffineCoupling(even if k % 2 == 0 else [1.0 - m for m in even], hidden,
                       num_hidden_layers)
        for k in range(num_layers)
    ]
    return NormalizingFlow(StandardNormal(dim), layers)


# -------------------------------------------------------------------------- objectives


def reverse_kl_loss(flow: NormalizingFlow, energy, num_samples: int,
                    generator: torch.Generator | None = None,
                    inverse_temperature: float = 1.0) -> torch.Tensor:
    """Monte Carlo estimate of ``E_q[log q(x) + U(x)] = KL(q ‖ p) - log Z``.

    The target is ``p(x) = exp(-U(x)) / Z``; the unknown ``log Z`` does not depend on the
    flow, so minimising this scalar minimises ``KL(q ‖ p)`` (Rezende & Mohamed 2015,
    §6.1: the free energy with the data term replaced by the energy). The samples are
    reparameterised (``x = f(z₀)``), so the estimate is differentiable.

    Parameters
    ----------
    flow : NormalizingFlow
    energy : callable
        ``energy(x)`` for ``x`` of shape ``(batch, dim)`` returns ``(batch,)``.
    num_samples : int
        Monte Carlo sample size.
    generator : torch.Generator, optional
        For the base samples.
    inverse_temperature : float
        ``β`` in ``E_q[log q + β U]``: Rezende & Mohamed anneal ``β`` from about 0 to 1
        during training so that ``q`` spreads over every mode before the target sharpens.

    Returns
    -------
    tensor
        A scalar.
    """
    x, log_q = flow.sample_with_log_prob(num_samples, generator)   # (n, dim), (n,)
    return (log_q + inverse_temperature * energy(x)).mean()


def negative_log_likelihood(flow: NormalizingFlow, x: torch.Tensor) -> torch.Tensor:
    """``-mean log q(x)`` for data ``x`` of shape ``(batch, dim)`` (maximum likelihood)."""
    return -flow.log_prob(x).mean()


def jacobian_log_abs_det(fn, z: torch.Tensor) -> torch.Tensor:
    """``log|det ∂fn/∂z|`` per sample from the full autograd Jacobian — the O(N³) way.

    Parameters
    ----------
    fn : callable
        Maps ``(batch, dim)`` to ``(batch, dim)`` row by row (a flow layer's first output
        is fine: ``lambda z: layer(z)[0]``).
    z : tensor, shape (batch, dim)

    Returns
    -------
    tensor, shape (batch,)
        Built from ``dim`` backward passes per sample and a dense ``slogdet``; the
        reference every layer's cheap log-determinant is tested against.
    """
    if z.ndim != 2:
        raise ValueError(f"`z` must have shape (batch, dim), got {tuple(z.shape)}")
    rows = []
    for point in z:
        jacobian = torch.autograd.functional.jacobian(lambda p: fn(p[None])[0], point)
        rows.append(torch.linalg.slogdet(jacobian)[1])          # (dim, dim) -> scalar
    return torch.stack(rows)


# --------------------------------------------------------------- Gaussianisation (§2)


class GaussianizationResult:
    """What :func:`fit_gaussianization` returns.

    Attributes
    ----------
    flow : NormalizingFlow
        The fitted model; ``flow.inverse`` maps data to (nearly) Gaussian latents and
        ``flow.log_prob`` is the density estimate ``ρ̃``.
    train_log_likelihood, test_log_likelihood : list of float
        Mean log-likelihood ``L`` after 0, 1, …, ``num_steps`` steps.
    latents : list of tensor
        The training data mapped by the first 0, 1, …, ``num_steps`` steps.
    steps : tensor, shape (num_steps, dim)
        The step size ``ε`` chosen for each coordinate at each step.
    """

    def __init__(self, flow, train_log_likelihood, test_log_likelihood, latents, steps):
        self.flow = flow
        self.train_log_likelihood = train_log_likelihood
        self.test_log_likelihood = test_log_likelihood
        self.latents = latents
        self.steps = steps


def _gaussian_mean_log_likelihood(y, log_abs_det):
    return float((-0.5 * (y**2).sum(dim=1) - 0.5 * y.shape[1] * _LOG_2PI + log_abs_det).mean())


def fit_gaussianization(x_train, x_test=None, num_steps: int = 40, max_step: float = 0.9,
                        num_candidates: int = 19, bandwidth_factor: float = 1.0,
                        num_knots: int = 256, seed: int = 0) -> GaussianizationResult:
    """Gaussianise data by small maps: random rotation, then damped marginal Gaussianisation.

    At every step the data ``y`` (initially ``x_train``) are rotated by a random orthogonal
    matrix, then each coordinate is moved towards normality,

    ``y_j ← (1 - ε_j) y_j + ε_j Φ⁻¹(F_j(y_j))``,

    with ``F_j`` the CDF of a Gaussian kernel density estimate of that coordinate
    (:func:`kde_gaussianize`; Silverman's bandwidth times ``bandwidth_factor``),
    tabulated on ``num_knots`` knots and interpolated linearly
    (:class:`MonotonePiecewiseLinear`), so each map and its log-derivative are exact and
    cheap. The step ``ε_j`` of each coordinate is picked from ``{0, …, max_step}`` to
    maximise the gain of the mean log-likelihood ``L = mean[log φ(y) + log|det ∂y/∂x|]``
    on the training data. Since ``ε = 0`` (the identity) is a candidate, ``L`` never
    decreases — the discrete counterpart of the monotone ascent of Tabak &
    Vanden-Eijnden (2010); the composition of many small maps follows Tabak & Turner
    (2013).

    Parameters
    ----------
    x_train : array-like, shape (num_train, dim)
    x_test : array-like, shape (num_test, dim), optional
        Held-out data whose log-likelihood is tracked (never used for fitting).
    num_steps : int
        Number of rotation + marginal steps.
    max_step : float
        Largest ``ε``, in (0, 1].
    num_candidates : int
        Size of the grid of ``ε``.
    bandwidth_factor : float
        Multiplies Silverman's rule-of-thumb bandwidth; larger values give smoother maps
        that overfit less.
    num_knots : int
        Knots per coordinate, spread over the data's range plus one bandwidth each side
        (beyond them each map continues with slope 1, like a Gaussian's own tail).
    seed : int
        Seeds the random rotations.

    Returns
    -------
    GaussianizationResult
        Computed in float64.
    """
    if not 0.0 < max_step <= 1.0:
        raise ValueError(f"`max_step` must lie in (0, 1], got {max_step}")
    if num_steps < 1:
        raise ValueError(f"`num_steps` must be at least 1, got {num_steps}")
    x_train = torch.as_tensor(x_train, dtype=torch.float64)
    if x_train.ndim != 2:
        raise ValueError(f"`x_train` must have shape (num_train, dim), got {tuple(x_train.shape)}")
    dim = x_train.shape[1]
    x_test = None if x_test is None else torch.as_tensor(x_test, dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    candidates = torch.linspace(0.0, max_step, num_candidates, dtype=torch.float64)
    fraction = torch.linspace(0.0, 1.0, num_knots, dtype=torch.float64)[:, None]

    def log_likelihood(y, log_det):
        log_normal = -0.5 * (y**2).sum(dim=1) - 0.5 * dim * _LOG_2PI
        return float((log_normal + log_det).mean())

    y, log_det = x_train.clone(), torch.zeros(len(x_train), dtype=torch.float64)
    if x_test is not None:
        y_test, log_det_test = x_test.clone(), torch.zeros(len(x_test), dtype=torch.float64)
    train_ll = [log_likelihood(y, log_det)]
    test_ll = [] if x_test is None else [log_likelihood(y_test, log_det_test)]
    latents = [y.clone()]
    steps_taken = []
    layers = []  # data → latent order; the flow's forward runs latent → data
    for _ in range(num_steps):
        q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
        rotation = q * torch.sign(torch.diagonal(r))              # Haar-distributed
        y = y @ rotation.T                                         # (n, dim)
        quartiles = y.quantile(torch.tensor([0.25, 0.75], dtype=torch.float64), dim=0)
        spread = torch.minimum(y.std(dim=0), (quartiles[1] - quartiles[0]) / 1.34)
        bandwidths = bandwidth_factor * 0.9 * spread * len(y) ** (-0.2)   # (dim,)
        low, high = y.min(dim=0).values - bandwidths, y.max(dim=0).values + bandwidths
        knots = low + fraction * (high - low)                      # (num_knots, dim)
        gaussian = kde_gaussianize(knots, y, bandwidths)           # (num_knots, dim)
        # The blended map is linear in ε, values and slopes alike, so the gain of the
        # log-likelihood of every candidate ε follows from one interpolation of g.
        g_at_y, g_slope = MonotonePiecewiseLinear._interpolate(
            y, knots.T.contiguous(), gaussian.T.contiguous())     # (n, dim) each
        eps = candidates[:, None, None]                           # (candidates, 1, 1)
        moved = (1 - eps) * y + eps * g_at_y                      # (candidates, n, dim)
        log_slope = torch.log((1 - eps) + eps * g_slope)
        gains = (-0.5 * moved**2 + 0.5 * y**2 + log_slope).mean(dim=1)   # (candidates, dim)
        best = candidates[gains.argmax(dim=0)]                    # (dim,)
        steps_taken.append(best)
        step = MonotonePiecewiseLinear(knots, (1 - best) * knots + best * gaussian)
        y, step_log_det = step(y)
        log_det = log_det + step_log_det
        # latent → data: undo the marginal map, then the rotation
        layers += [Rotation(rotation.T), MonotonePiecewiseLinear(step.out_knots.T, knots)]
        train_ll.append(log_likelihood(y, log_det))
        latents.append(y.clone())
        if x_test is not None:
            y_test, step_log_det = step(y_test @ rotation.T)
            log_det_test = log_det_test + step_log_det
            test_ll.append(log_likelihood(y_test, log_det_test))
    flow = NormalizingFlow(StandardNormal(dim).double(), list(reversed(layers)))
    return GaussianizationResult(flow, train_ll, test_ll, latents, torch.stack(steps_taken))
