"""Linear multistep methods worked out by hand, for ``02_runge_kutta_multistep`` §3 and §7.

The solver's registry (``course_utils.ode.METHODS``) holds the Adams and BDF coefficients
as data. This module *derives* them, in exact rational arithmetic, the way section 3.1
explains — by integrating (Adams) or differentiating (BDF) a Lagrange interpolation
polynomial — so the notebook can compare the derivation with the registry. It also holds
the error constants ``C_q`` of section 3.4 and a small explicit multistep solver for
methods that are not in the registry (section 3.3's starting values, section 3.4's
unstable method, section 7's exercises).

A method ``sum_j alpha_j y_{n+j} = h sum_j beta_j f_{n+j}`` (``j = 0, …, k``) is a pair of
sequences ``(alpha, beta)`` of length ``k + 1``, lowest index first, ``alpha_k = 1``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np

__all__ = [
    "adams_coefficients",
    "bdf_coefficients",
    "lmm_error_constants",
    "explicit_multistep",
]


def _poly_mul(p: list, q: list) -> list:
    """Product of two polynomials given by coefficient lists (ascending powers)."""
    out = [Fraction(0)] * (len(p) + len(q) - 1)
    for i, pi in enumerate(p):
        for j, qj in enumerate(q):
            out[i + j] += pi * qj
    return out


def _lagrange_basis(nodes: Sequence[int], j: int) -> list:
    """Coefficients of the Lagrange polynomial equal to 1 at ``nodes[j]``, 0 at the others."""
    poly = [Fraction(1)]
    for m, node in enumerate(nodes):
        if m != j:
            width = nodes[j] - node
            poly = _poly_mul(poly, [Fraction(-node, width), Fraction(1, width)])
    return poly


def _integral(poly: list, lower: int, upper: int) -> Fraction:
    return sum(c * (Fraction(upper) ** (i + 1) - Fraction(lower) ** (i + 1)) / (i + 1)
               for i, c in enumerate(poly))


def _derivative_at(poly: list, point: int) -> Fraction:
    return sum(i * c * Fraction(point) ** (i - 1) for i, c in enumerate(poly) if i > 0)


def _check_steps(k: int) -> None:
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"`k` (the number of steps) must be a positive integer, got {k!r}.")


def adams_coefficients(k: int, implicit: bool = False) -> tuple[list, list]:
    """``(alpha, beta)`` of the ``k``-step Adams–Bashforth or Adams–Moulton method.

    In ``y(t_{n+k}) = y(t_{n+k-1}) + ∫ f dt`` the integrand is replaced by the polynomial
    interpolating ``f`` at the nodes ``0, …, k-1`` (Bashforth, explicit, order ``k``) or
    ``0, …, k`` (Moulton, implicit, order ``k + 1``), so with ``t = t_n + s h``,
    ``beta_j = ∫_{k-1}^{k} ℓ_j(s) ds``.

    Parameters
    ----------
    k : int
        Number of steps, ``k >= 1``.
    implicit : bool
        ``False`` for Adams–Bashforth, ``True`` for Adams–Moulton.

    Returns
    -------
    alpha, beta : list of Fraction, each of length ``k + 1``

    Examples
    --------
    >>> [str(b) for b in adams_coefficients(2)[1]]
    ['-1/2', '3/2', '0']

    Notes
    -----
    ``02_runge_kutta_multistep``, section 3.1 (Süli & Mayers §12.6; Hairer, Nørsett &
    Wanner I §III.1).
    """
    _check_steps(k)
    nodes = list(range(k + 1 if implicit else k))
    beta = [_integral(_lagrange_basis(nodes, j), k - 1, k) for j in range(len(nodes))]
    beta += [Fraction(0)] * (k + 1 - len(beta))
    alpha = [Fraction(0)] * (k - 1) + [Fraction(-1), Fraction(1)]
    return alpha, beta


def bdf_coefficients(k: int) -> tuple[list, list]:
    """``(alpha, beta)`` of the ``k``-step backward differentiation formula (order ``k``).

    The polynomial ``q`` interpolating ``y_n, …, y_{n+k}`` must satisfy
    ``q'(t_{n+k}) = f_{n+k}``: ``sum_j ℓ_j'(k) y_{n+j} = h f_{n+k}``, divided by ``ℓ_k'(k)``
    so that ``alpha_k = 1``.

    Parameters
    ----------
    k : int
        Number of steps, ``k >= 1`` (zero-stable for ``k <= 6`` only).

    Returns
    -------
    alpha, beta : list of Fraction, each of length ``k + 1`` (only ``beta_k`` non-zero)

    Examples
    --------
    >>> [str(a) for a in bdf_coefficients(2)[0]], str(bdf_coefficients(2)[1][-1])
    (['1/3', '-4/3', '1'], '2/3')

    Notes
    -----
    ``02_runge_kutta_multistep``, sections 3.1 and 3.4 (BDF up to 7 steps).
    """
    _check_steps(k)
    nodes = list(range(k + 1))
    slopes = [_derivative_at(_lagrange_basis(nodes, j), k) for j in nodes]
    alpha = [s / slopes[-1] for s in slopes]
    beta = [Fraction(0)] * k + [1 / slopes[-1]]
    return alpha, beta


def lmm_error_constants(alpha: Sequence, beta: Sequence, max_q: int = 6) -> list:
    """The constants ``C_q = sum_j alpha_j j^q - q sum_j beta_j j^(q-1)``, ``q = 0..max_q``.

    Inserting a smooth ``y`` into the method and expanding in ``h`` gives the residual

    ``sum_j alpha_j y(t + jh) - h sum_j beta_j y'(t + jh) = sum_q C_q / q! · h^q y^(q)(t)``,

    so the method has order ``p`` iff ``C_0 = … = C_p = 0``, and then its residual is
    ``C_{p+1} / (p+1)! · h^{p+1} y^{(p+1)}(t) + O(h^{p+2})`` — note the factorial.
    Süli & Mayers' truncation error divides the residual by ``h σ(1)``.

    Parameters
    ----------
    alpha, beta : sequences of length ``k + 1``
        Integers or Fractions give exact constants; floats give floats.
    max_q : int

    Returns
    -------
    list of length ``max_q + 1``

    Examples
    --------
    >>> [str(c) for c in lmm_error_constants([0, -1, 1], [Fraction(-1, 2), Fraction(3, 2), 0], 3)]
    ['0', '0', '0', '5/2']

    Notes
    -----
    ``02_runge_kutta_multistep``, section 3.4 and exercise 7.3 (cf. S&M Exercise 12.12).
    """
    if len(alpha) != len(beta):
        raise ValueError(f"`alpha` and `beta` must have the same length (k + 1), got "
                         f"{len(alpha)} and {len(beta)}.")
    constants = []
    for q in range(max_q + 1):
        total = sum(a * j**q for j, a in enumerate(alpha))
        if q > 0:
            total = total - q * sum(b * j ** (q - 1) for j, b in enumerate(beta))
        constants.append(total)
    return constants


def explicit_multistep(alpha: Sequence, beta: Sequence, f: Callable, times,
                       starting_values) -> np.ndarray:
    """Run an explicit linear multistep method on a uniform grid.

    ``y_{n+k} = -sum_{j<k} alpha_j y_{n+j} + h sum_{j<k} beta_j f(t_{n+j}, y_{n+j})``, one
    evaluation of ``f`` per step. Overflow is allowed (an unstable method may reach inf):
    the values are returned as computed.

    Parameters
    ----------
    alpha, beta : sequences of length ``k + 1``
        An explicit method normalised to ``alpha_k = 1``, ``beta_k = 0``.
    f : callable
        ``f(t, y)`` returning an array shaped like ``y``.
    times : array of shape ``(N + 1,)``
        Uniform grid ``t_0, …, t_N`` (``N >= k - 1``).
    starting_values : array of shape ``(k, *y.shape)``
        ``y_0, …, y_{k-1}`` (exact values, or from a one-step method).

    Returns
    -------
    ndarray of shape ``(N + 1, *y.shape)``

    Raises
    ------
    ValueError
        If the method is not explicit and normalised, or the starting values do not
        number ``k``.

    Notes
    -----
    ``02_runge_kutta_multistep``, sections 3.3 (starting values), 3.4 (an unstable
    method) and 7 (exercises).
    """
    k = len(alpha) - 1
    if len(beta) != k + 1 or alpha[k] != 1 or beta[k] != 0:
        raise ValueError("`alpha`, `beta` must describe an explicit method normalised to "
                         "alpha_k = 1, beta_k = 0 (both of length k + 1).")
    if len(starting_values) != k:
        raise ValueError(f"A {k}-step method needs {k} starting values y_0..y_{k - 1}, got "
                         f"{len(starting_values)}.")
    times = np.asarray(times, dtype=float)
    h = times[1] - times[0]
    ys = [np.asarray(y, dtype=float) for y in starting_values]
    slopes = [f(t, y) for t, y in zip(times, ys)]
    with np.errstate(over="ignore", invalid="ignore"):
        for n in range(len(times) - k):
            y_next = sum(-float(alpha[j]) * ys[n + j] + h * float(beta[j]) * slopes[n + j]
                         for j in range(k))
            ys.append(y_next)
            slopes.append(f(times[n + k], y_next))
    return np.array(ys)
