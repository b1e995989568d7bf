"""Interpolation inside one step: the cubic Hermite polynomial and continuous extensions.

A step from ``(t, y)`` to ``(t + h, y_new)`` serves output times inside it from an
interpolant of ``θ = (t_out - t) / h``. Tableaus that carry dense-output weights
(``ButcherTableau.dense``) use them (:func:`dense_weights`); every other step uses the
cubic Hermite polynomial through ``y`` and ``f`` at both ends (order 3).

Reference: Hairer, Nørsett & Wanner, *Solving ODEs I*, Sec. II.6.
"""

import numpy as np

__all__ = ["hermite", "dense_weights"]


def hermite(y, y_new, f, f_new, h, theta):
    r"""Cubic Hermite interpolant at ``t + θh``, ``0 <= θ <= 1``.

    .. math:: y(\theta) = h_{00} y + h_{01} y_{new} + h_{10} h f + h_{11} h f_{new}
    """
    t2 = theta * theta
    t3 = t2 * theta
    h00 = 2.0 * t3 - 3.0 * t2 + 1.0
    h01 = 3.0 * t2 - 2.0 * t3
    h10 = (t3 - 2.0 * t2 + theta) * h
    h11 = (t3 - t2) * h
    return y * h00 + y_new * h01 + f * h10 + f_new * h11


def dense_weights(dense, theta):
    """The weights ``b_i(θ) = Σ_k dense[i, k] θ^(k+1)`` of a continuous extension, ``(s,)``."""
    powers = theta ** np.arange(1, dense.shape[1] + 1)
    return dense @ powers
