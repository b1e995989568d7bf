"""Data of the adaptive stiff solvers (issue 14): embedded DIRK pairs and ode23s's constants.

Each tableau validates itself and computes its order from the order conditions (the
orders written in the comments are what ``tableau_order`` finds, checked by
``tests/test_ode_stiff_adaptive.py``). All three propagate an L-stable, stiffly
accurate solution (its stability function vanishes at -∞); their embedded solutions
are not L-stable, so the steps filter the error estimate through ``(I - hγJ)⁻¹``
(Hairer & Wanner II, Sec. IV.8, Shampine's filter).

References
----------
.. [K] A. Kværnø, "Singly diagonally implicit Runge–Kutta methods with an explicit
   first stage", BIT 44 (2004) 489–502 (the 3(2) pair, four stages, γ ≈ 0.4359).
.. [HW] E. Hairer, G. Wanner, *Solving ODEs II*, 2nd ed., Springer 1996, Sec. IV.6,
   Table 6.5 (the L-stable SDIRK method of order 4 with an embedded order-3 method).
.. [HS] M. E. Hosea, L. F. Shampine, "Analysis and implementation of TR-BDF2",
   Appl. Numer. Math. 20 (1996) 21–37 (TR-BDF2 as a three-stage ESDIRK, γ = 2 - √2).
.. [SR] L. F. Shampine, M. W. Reichelt, "The MATLAB ODE suite", SIAM J. Sci. Comput.
   18 (1997) 1–22 (the Rosenbrock 2(3) pair of ``ode23s``).
"""

import math
from fractions import Fraction as F

from ._tableaus import ButcherTableau

__all__ = ["STIFF_TABLEAUS", "ROSENBROCK23_D", "ROSENBROCK23_E32"]


def _kvaerno3():
    # γ is the root near 0.436 of 6γ³ - 18γ² + 9γ - 1 = 0, which makes the order-3
    # method L-stable (its stability function's numerator loses its z³ term); two Newton
    # steps from the 10-digit value give it to the last bit.
    g = 0.4358665215
    for _ in range(3):
        g -= (6 * g**3 - 18 * g**2 + 9 * g - 1) / (18 * g**2 - 36 * g + 9)
    a31 = (-4 * g * g + 6 * g - 1) / (4 * g)
    a32 = (-2 * g + 1) / (4 * g)
    a41 = (6 * g - 1) / (12 * g)
    a42 = -1 / ((24 * g - 12) * g)
    a43 = (-6 * g * g + 6 * g - 1) / (6 * g - 3)
    return ButcherTableau(
        [[0, 0, 0, 0], [g, g, 0, 0], [a31, a32, g, 0], [a41, a42, a43, g]],
        [a41, a42, a43, g],
        [0, 2 * g, 1, 1],
        b_hat=[a31, a32, g, 0],  # the third stage: an order-2 solution at t + h
        explicit=False,
        name="kvaerno3",
        reference="Kværnø, BIT 44 (2004) 489-502, the ESDIRK 3(2) pair",
    )


def _sdirk4():
    q = F(1, 4)
    rows = [
        [q],
        [F(1, 2), q],
        [F(17, 50), F(-1, 25), q],
        [F(371, 1360), F(-137, 2720), F(15, 544), q],
        [F(25, 24), F(-49, 48), F(125, 16), F(-85, 12), q],
    ]
    a = [[float(v) for v in row] + [0.0] * (5 - len(row)) for row in rows]
    c = [float(sum(row)) for row in rows]  # 1/4, 3/4, 11/20, 1/2, 1
    return ButcherTableau(
        a,
        a[-1],  # stiffly accurate
        c,
        b_hat=[float(v) for v in (F(59, 48), F(-17, 96), F(225, 32), F(-85, 12), 0)],
        explicit=False,
        name="sdirk4",
        reference="Hairer & Wanner, Solving ODEs II, Sec. IV.6, Table 6.5 (SDIRK4)",
    )


def _trbdf2():
    g = 2.0 - math.sqrt(2.0)  # the trapezoidal stage ends at t + γh
    d = g / 2.0
    w = math.sqrt(2.0) / 4.0
    return ButcherTableau(
        [[0, 0, 0], [d, d, 0], [w, w, d]],
        [w, w, d],  # order 2, L-stable: the BDF2 stage
        [0, g, 1],
        b_hat=[(1 - w) / 3, (3 * w + 1) / 3, d / 3],  # order 3 (not A-stable)
        embedded_order=3,
        explicit=False,
        name="trbdf2",
        reference="Hosea & Shampine, Appl. Numer. Math. 20 (1996) 21-37",
    )


STIFF_TABLEAUS = {"kvaerno3": _kvaerno3(), "sdirk4": _sdirk4(), "trbdf2": _trbdf2()}
"""dict: name -> the embedded DIRK pair of each adaptive stiff one-step method."""

ROSENBROCK23_D = 1.0 / (2.0 + math.sqrt(2.0))  # γ of ode23s: W = I - h d J
ROSENBROCK23_E32 = 6.0 + math.sqrt(2.0)
