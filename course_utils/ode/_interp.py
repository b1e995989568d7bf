"""Interpolants used for dense output: cubic Hermite and the dopri5 extension."""

__all__ = ["hermite_coefficients", "evaluate_hermite", "dopri5_coefficients", "evaluate_dopri5"]


def hermite_coefficients(h, y0, y1, f0, f1):
    """Data of the cubic Hermite interpolant on one step (order 3, needs f at both ends)."""
    return (y0, y1, f0 * h, f1 * h)


def evaluate_hermite(coeffs, theta):
    r"""Cubic Hermite interpolant at ``t_n + theta * h``, ``0 <= theta <= 1``.

    .. math:: y(\theta) = h_{00} y_0 + h_{01} y_1 + h_{10} h f_0 + h_{11} h f_1
    """
    y0, y1, hf0, hf1 = coeffs
    t2 = theta * theta
    t3 = t2 * theta
    h00 = 2.0 * t3 - 3.0 * t2 + 1.0
    h01 = 3.0 * t2 - 2.0 * t3
    h10 = t3 - 2.0 * t2 + theta
    h11 = t3 - t2
    return y0 * h00 + y1 * h01 + hf0 * h10 + hf1 * h11


# Shampine's order-4 continuous extension of dopri5, in the form of Hairer's DOPRI5
# code (HNW I, Sec. II.6): y(θ) = y0 + θ(Δ + (1-θ)(B + θ(R4 + (1-θ) R5))).
_DOPRI5_D = (
    (0, -12715105075 / 11282082432),
    (2, 87487479700 / 32700410799),
    (3, -10690763975 / 1880347072),
    (4, 701980252875 / 199316789632),
    (5, -1453857185 / 822651844),
    (6, 69997945 / 29380423),
)


def dopri5_coefficients(h, y0, y1, ks):
    """Data of the dopri5 dense output on one step from its seven stages ``ks``."""
    ydiff = y1 - y0
    bspl = ks[0] * h - ydiff
    rc4 = ydiff - ks[6] * h - bspl
    rc5 = None
    for j, d in _DOPRI5_D:
        term = ks[j] * (h * d)
        rc5 = term if rc5 is None else rc5 + term
    return (y0, ydiff, bspl, rc4, rc5)


def evaluate_dopri5(coeffs, theta):
    """The dopri5 continuous extension (order 4) at ``t_n + theta * h``."""
    y0, ydiff, bspl, rc4, rc5 = coeffs
    one_minus = 1.0 - theta
    return y0 + (ydiff + (bspl + (rc4 + rc5 * one_minus) * theta) * one_minus) * theta
