r"""Analysis of numerical methods: errors, convergence orders, order conditions, stability.

Used in notebooks ``01_one_step_methods`` (errors, empirical order, the θ-method's
stability) and ``02_runge_kutta_multistep`` (order conditions, stability regions of
RK and multistep methods, Richardson extrapolation). NumPy only (torch tensors are
accepted as inputs and converted); matplotlib is imported inside the plotting
function.

References
----------
Hairer, Nørsett & Wanner, *Solving ODEs I*, Sec. II.2 (order conditions), III.2-III.3
(multistep: order, zero-stability); Hairer & Wanner, *Solving ODEs II*, Sec. IV.2 and
V.1 (stability functions and regions); Süli & Mayers, Ch. 12; Butcher, Ch. 3.
"""

import math

import numpy as np
from numpy.polynomial import Polynomial

from ._arrays import to_numpy as _to_numpy
from .ode import _order_conditions

__all__ = [
    "max_norm",
    "rms_norm",
    "l2_norm",
    "error_norm",
    "empirical_order",
    "convergence_study",
    "order_conditions",
    "tableau_order",
    "rk_stability_function",
    "theta_stability_function",
    "lmm_characteristic_polynomials",
    "lmm_order",
    "lmm_boundary_locus",
    "lmm_root_condition",
    "is_absolutely_stable",
    "richardson_extrapolate",
]


# ----------------------------------------------------------------------------- norms
def max_norm(x):
    """Maximum norm ``max |x_i|`` of an array of any shape. Returns a float."""
    return float(np.max(np.abs(_to_numpy(x))))


def rms_norm(x):
    """Root-mean-square norm ``sqrt(mean |x_i|^2)`` (the norm adaptive solvers use)."""
    x = _to_numpy(x)
    return float(np.sqrt(np.mean(np.abs(x) ** 2)))


def l2_norm(x):
    """Euclidean norm ``sqrt(sum |x_i|^2)`` of all entries."""
    return float(np.sqrt(np.sum(np.abs(_to_numpy(x)) ** 2)))


_NORMS = {"max": max_norm, "rms": rms_norm, "l2": l2_norm}


def error_norm(approx, exact, norm="max"):
    """Norm of ``approx - exact`` (arrays of equal shape), ``norm`` in max, rms, l2.

    Introduced in notebook ``01_one_step_methods`` ("Measuring the error").
    """
    if norm not in _NORMS:
        raise ValueError(f"`norm` must be one of {sorted(_NORMS)}, got {norm!r}.")
    approx, exact = _to_numpy(approx), _to_numpy(exact)
    if approx.shape != exact.shape:
        raise ValueError(f"`approx` has shape {approx.shape} but `exact` has shape {exact.shape}.")
    return _NORMS[norm](approx - exact)


# ----------------------------------------------------------------------------- convergence
def empirical_order(step_sizes, errors):
    r"""Observed order of convergence: the least-squares slope of ``log error`` vs ``log h``.

    If ``error ≈ C h^p`` then ``log error = log C + p log h``; the slope is ``p``.
    Introduced in notebook ``01_one_step_methods`` ("Order of convergence").

    Parameters
    ----------
    step_sizes : array_like, shape (m,)
        Positive step sizes, ``m >= 2``.
    errors : array_like, shape (m,)
        Positive errors at those step sizes.

    Returns
    -------
    float
        The fitted order ``p``.
    """
    h = np.asarray(step_sizes, dtype=float)
    err = np.asarray(errors, dtype=float)
    if h.ndim != 1 or err.shape != h.shape or h.size < 2:
        raise ValueError(
            "`step_sizes` and `errors` must be 1-D of equal length >= 2, got shapes "
            f"{h.shape} and {err.shape}."
        )
    if np.any(h <= 0) or np.any(err <= 0) or not np.all(np.isfinite(err)):
        raise ValueError("`step_sizes` and `errors` must be positive and finite.")
    slope, _ = np.polyfit(np.log(h), np.log(err), 1)
    return float(slope)


def convergence_study(method, problem, step_sizes, *, norm="max", **odeint_kwargs):
    """Errors at the final time of a fixed-step method for several step sizes.

    Introduced in notebook ``01_one_step_methods`` ("Order of convergence") and used
    for every method in ``02_runge_kutta_multistep``.

    Parameters
    ----------
    method : str or method object
        A fixed-step method of :func:`course_utils.ode.odeint`.
    problem : Problem or str
        A test problem of :mod:`course_utils.problems` (or its name); its exact or
        reference solution at ``problem.t1`` is the truth.
    step_sizes : array_like, shape (m,)
        Step sizes to try.
    norm : {"max", "rms", "l2"}
        Norm of the final-time error.
    **odeint_kwargs
        Passed on to ``odeint`` (e.g. ``theta=``, ``jac=``).

    Returns
    -------
    ndarray, shape (m,)
        The error for each step size; feed it to :func:`empirical_order`.
    """
    from .ode import odeint
    from .problems import Problem, get_problem

    if not isinstance(problem, Problem):
        problem = get_problem(problem)
    truth = np.asarray(problem.solution(problem.t1))
    errors = []
    for h in np.asarray(step_sizes, dtype=float):
        ys = odeint(
            problem.func,
            problem.y0,
            [problem.t0, problem.t1],
            method=method,
            step_size=float(h),
            **odeint_kwargs,
        )
        errors.append(error_norm(ys[-1], truth, norm))
    return np.array(errors)


def richardson_extrapolate(coarse, fine, order, ratio=2):
    r"""Richardson extrapolation of two solutions of a method of order ``p``.

    With ``coarse`` computed with step ``r h`` and ``fine`` with step ``h``,

    .. math:: y^* = \frac{r^p\, y_{\text{fine}} - y_{\text{coarse}}}{r^p - 1}

    cancels the leading ``C h^p`` error term (order at least ``p + 1``).
    Introduced in notebook ``02_runge_kutta_multistep``. Works on floats, arrays and
    tensors alike.
    """
    if order <= 0 or ratio <= 1:
        raise ValueError(f"Need `order` > 0 and `ratio` > 1, got {order!r} and {ratio!r}.")
    factor = float(ratio) ** order
    return (fine * factor - coarse) / (factor - 1.0)


# ----------------------------------------------------------------------------- order conditions
# Defined next to the tableaus (a ButcherTableau computes its order from them); these
# wrappers also accept a registered method name.
def _tableau_of(method):
    """A ButcherTableau from a tableau, a registered name or a method object."""
    from .ode import METHODS

    if isinstance(method, str):
        if method not in METHODS:
            raise ValueError(f"Unknown method {method!r}; known: {', '.join(METHODS)}.")
        method = METHODS[method]
    tableau = method if hasattr(method, "a") and hasattr(method, "c") else None
    tableau = tableau if tableau is not None else getattr(method, "tableau", None)
    if tableau is None:
        raise ValueError(f"{method!r} has no Butcher tableau.")
    return tableau


def order_conditions(tableau, max_order=4, weights="b"):
    r"""Residuals of the Runge–Kutta order conditions, one per rooted tree (see
    :func:`course_utils.ode._order_conditions.order_conditions`; ``tableau`` may be a
    registered method name). Notebook ``02_runge_kutta_multistep`` ("Order conditions").

    Returns
    -------
    dict of str -> float
        ``condition -> (value - target)``; zero (to rounding) where it holds.
    """
    return _order_conditions.order_conditions(_tableau_of(tableau), max_order, weights)


def tableau_order(tableau, tol=1e-10, weights="b"):
    """Order of a Runge–Kutta tableau (or registered method name) from its order conditions
    (checked up to 5). Notebook ``02_runge_kutta_multistep``."""
    return _order_conditions.tableau_order(_tableau_of(tableau), tol, weights)


# ----------------------------------------------------------------------------- stability (RK)
def rk_stability_function(tableau):
    r"""Stability function ``R(z)`` of a Runge–Kutta method: ``y_{n+1} = R(hλ) y_n``.

    For ``y' = λy``: :math:`R(z) = 1 + z b^T (I - zA)^{-1} \mathbf 1
    = \det(I - zA + z \mathbf 1 b^T) / \det(I - zA)`. Introduced in notebook
    ``02_runge_kutta_multistep`` ("Absolute stability").

    Parameters
    ----------
    tableau : ButcherTableau or str
        The method (or a registered name with a tableau, e.g. ``'backward_euler'``).

    Returns
    -------
    callable
        For an explicit method a :class:`numpy.polynomial.Polynomial` (callable, with
        ``.coef`` ``(1, b·1, b·A1, b·A²1, ...)``); for an implicit one a function of
        complex arrays evaluating the determinant ratio elementwise.
    """
    tableau = _tableau_of(tableau)
    a, b = tableau.a, tableau.b
    s = tableau.num_stages
    ones = np.ones(s)
    if tableau.is_explicit:
        coefs = [1.0]
        power = ones
        for _ in range(s):
            coefs.append(float(b @ power))
            power = a @ power
        return Polynomial(coefs)
    outer = np.outer(ones, b)
    eye = np.eye(s)

    def stability(z):
        z = np.asarray(z, dtype=complex)
        zz = z[..., None, None]
        numerator = np.linalg.det(eye - zz * a + zz * outer)
        denominator = np.linalg.det(eye - zz * a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return numerator / denominator

    stability.__doc__ = f"Stability function of {tableau.name!r} (det(I - zA + z1bᵀ)/det(I - zA))."
    return stability


def theta_stability_function(theta):
    r"""Stability function of the θ-method, :math:`R(z) = (1 + θz) / (1 - (1-θ)z)`.

    θ = 1 explicit Euler (1 + z), θ = 0 backward Euler (1/(1 - z)), θ = ½ trapezoidal.
    Introduced in notebook ``01_one_step_methods`` ("Stiffness").
    """
    theta = float(theta)
    if not 0.0 <= theta <= 1.0:
        raise ValueError(f"`theta` must be in [0, 1], got {theta!r}.")

    def stability(z):
        z = np.asarray(z, dtype=complex)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (1.0 + theta * z) / (1.0 - (1.0 - theta) * z)

    stability.__doc__ = f"(1 + {theta:g} z) / (1 - {1 - theta:g} z)"
    return stability


# ----------------------------------------------------------------------------- multistep
def lmm_characteristic_polynomials(method):
    r"""The characteristic polynomials ρ, σ of a linear multistep method.

    :math:`\sum_j \alpha_j y_{n+j} = h \sum_j \beta_j f_{n+j}` has
    :math:`\rho(\zeta) = \sum_j \alpha_j \zeta^j`, :math:`\sigma(\zeta) = \sum_j \beta_j \zeta^j`.

    Parameters
    ----------
    method : str or method object
        A registered multistep name (``'ab2'``, ``'am3'``, ``'bdf2'``; ``'abm<p>'``
        gives its corrector) or a ``LinearMultistep``.

    Returns
    -------
    rho, sigma : numpy.polynomial.Polynomial
    """
    from .ode import METHODS

    if isinstance(method, str):
        key = method.lower()
        if key.startswith("abm"):
            key = "am" + key[3:]
        if key not in METHODS or not hasattr(METHODS[key], "alpha"):
            raise ValueError(f"{method!r} is not a registered linear multistep method.")
        method = METHODS[key]
    return Polynomial(method.rho), Polynomial(method.sigma)


def _as_polynomial(p):
    return p if isinstance(p, Polynomial) else Polynomial(np.asarray(p, dtype=float))


def lmm_order(rho, sigma, max_order=8, tol=1e-10):
    r"""Order of a linear multistep method from ρ and σ.

    The method has order ``p`` iff :math:`\sum_j \alpha_j j^q = q \sum_j \beta_j j^{q-1}`
    for ``q = 0..p`` (HNW I, Sec. III.2).
    """
    alpha = _as_polynomial(rho).coef
    beta = np.zeros_like(alpha)
    sig = _as_polynomial(sigma).coef
    beta[: sig.size] = sig
    j = np.arange(alpha.size, dtype=float)
    order = -1
    for q in range(max_order + 1):
        lhs = alpha @ j**q
        rhs = q * (beta @ j ** (q - 1)) if q > 0 else 0.0
        if abs(lhs - rhs) > tol:
            break
        order = q
    return order


def lmm_boundary_locus(rho, sigma, num_points=512):
    r"""The boundary locus :math:`z(\phi) = \rho(e^{i\phi}) / \sigma(e^{i\phi})`, φ ∈ [0, 2π].

    The boundary of the absolute stability region lies on this curve.
    Introduced in notebook ``02_runge_kutta_multistep`` ("Stability of multistep methods").

    Returns
    -------
    ndarray of complex, shape (num_points,)
    """
    rho, sigma = _as_polynomial(rho), _as_polynomial(sigma)
    zeta = np.exp(1j * np.linspace(0.0, 2.0 * np.pi, num_points))
    with np.errstate(divide="ignore", invalid="ignore"):
        return rho(zeta) / sigma(zeta)


def lmm_root_condition(rho, tol=1e-8):
    """Zero-stability (Dahlquist's root condition) of ρ.

    All roots of ρ lie in the closed unit disc and those on the unit circle are
    simple. Returns a bool. Notebook ``02_runge_kutta_multistep``.
    """
    roots = _as_polynomial(rho).roots()
    moduli = np.abs(roots)
    if np.any(moduli > 1.0 + tol):
        return False
    on_circle = roots[np.abs(moduli - 1.0) <= tol]
    for i, root in enumerate(on_circle):
        others = np.delete(on_circle, i)
        if np.any(np.abs(others - root) <= math.sqrt(tol)):
            return False
    return True


def _max_root_modulus(rho, sigma, z):
    """max |ζ| over the roots of ρ(ζ) - z σ(ζ), elementwise for complex ``z``."""
    alpha = _as_polynomial(rho).coef.astype(complex)
    beta = np.zeros_like(alpha)
    sig = _as_polynomial(sigma).coef
    beta[: sig.size] = sig
    z = np.asarray(z, dtype=complex)
    coeffs = alpha - z[..., None] * beta  # (..., k+1), ascending
    lead = coeffs[..., -1]
    lead = np.where(np.abs(lead) < 1e-14, 1e-14, lead)
    monic = coeffs[..., :-1] / lead[..., None]
    k = monic.shape[-1]
    if k == 1:
        return np.abs(-monic[..., 0])
    companion = np.zeros(z.shape + (k, k), dtype=complex)
    companion[..., 1:, :-1] = np.eye(k - 1)
    companion[..., :, -1] = -monic
    return np.max(np.abs(np.linalg.eigvals(companion)), axis=-1)


def _stability_spec(method, theta=None):
    """Return ('rk', R) or ('lmm', (rho, sigma)) and a label for a method spec."""
    from .ode import METHODS, ButcherTableau

    if isinstance(method, tuple) and len(method) == 2 and isinstance(method[0], str):
        if method[0] != "theta":
            raise ValueError(f"Unknown method spec {method!r}; use ('theta', θ).")
        return "rk", theta_stability_function(method[1]), f"θ = {float(method[1]):g}"
    if isinstance(method, tuple) and len(method) == 2:
        return "lmm", method, "multistep"
    if isinstance(method, ButcherTableau):
        return "rk", rk_stability_function(method), method.name
    if isinstance(method, str):
        key = method.lower()
        if key == "theta":
            if theta is None:
                raise ValueError("The 'theta' method needs `theta=` (or pass ('theta', θ)).")
            return "rk", theta_stability_function(theta), f"θ = {float(theta):g}"
        if key not in METHODS:
            raise ValueError(f"Unknown method {method!r}; known: {', '.join(METHODS)}.")
        method = METHODS[key]
    if hasattr(method, "alpha"):
        return "lmm", (method.rho, method.sigma), method.name
    if getattr(method, "name", "").startswith("abm"):
        raise ValueError(
            "A PECE predictor–corrector has no (ρ, σ) pair; plot its corrector ('am<p>')."
        )
    if hasattr(method, "tableau"):
        return "rk", rk_stability_function(method.tableau), method.name
    if callable(method):
        return "rk", method, getattr(method, "__name__", "R(z)")
    raise ValueError(f"Cannot find a stability function for {method!r}.")


def is_absolutely_stable(method, z, theta=None):
    """Whether ``hλ = z`` lies in the absolute stability region of ``method``.

    One-step methods: ``|R(z)| <= 1``. Multistep methods: every root of
    ``ρ(ζ) - z σ(ζ)`` has ``|ζ| <= 1`` (boundary included).

    Parameters
    ----------
    method : str, ButcherTableau, method object, callable R(z), (rho, sigma) or ("theta", θ)
    z : complex or array_like of complex
    theta : float, optional
        θ for ``method='theta'``.

    Returns
    -------
    bool or ndarray of bool, shape of ``z``
    """
    kind, data, _ = _stability_spec(method, theta)
    z_arr = np.asarray(z, dtype=complex)
    if kind == "rk":
        with np.errstate(all="ignore"):
            stable = np.abs(np.asarray(data(z_arr))) <= 1.0 + 1e-12
    else:
        stable = _max_root_modulus(data[0], data[1], z_arr) <= 1.0 + 1e-9
    return bool(stable) if np.ndim(stable) == 0 else stable
