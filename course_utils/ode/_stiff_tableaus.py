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

import numpy as np

from ._tableaus import ButcherTableau

__all__ = ["STIFF_TABLEAUS", "ROSENBROCK23_D", "ROSENBROCK23_E32", "RADAU5", "RadauIIA5"]


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


# ----------------------------------------------------------------------------- Radau IIA
class RadauIIA5:
    r"""The 3-stage Radau IIA method (order 5) and everything its step needs, derived here.

    * **The method** is collocation at the nodes :math:`c_{1,2} = (4 \mp \sqrt6)/10`,
      :math:`c_3 = 1` (the zeros of :math:`\frac{d^2}{dx^2}[x^2(x-1)^3]`): with
      :math:`\ell_j` the Lagrange polynomials on ``c``, :math:`a_{ij} = \int_0^{c_i}
      \ell_j`, and :math:`b = a_{3\cdot}` (stiffly accurate). L-stable, stage order 3.
    * **The Newton system decouples.** With stage increments :math:`Z = (Y_i - y)`, the
      stage equations are :math:`(A^{-1} \otimes I)Z = hF(Z)`. ``A⁻¹`` has one real
      eigenvalue ``mu_real`` and a complex pair ``mu_complex``, conj: with
      :math:`A^{-1} = VDV^{-1}` simplified Newton is one real system with
      :math:`\mu_{real} I - hJ` and one complex system with :math:`\mu_{complex} I - hJ`
      (the third, conjugate one, is the conjugate of the second): two ``n × n`` LUs
      instead of one ``3n × 3n`` (Hairer & Wanner II, Sec. IV.8).
    * **The error estimate** compares with the order-3 formula
      :math:`\hat y = y + h(γ_0 f(t, y) + \sum_i \hat b_i f(Y_i))`, where
      :math:`γ_0 = 1/\mu_{real}` and :math:`\hat b` makes the quadrature on the nodes
      ``(0, c)`` exact for degree 2. Since :math:`hF = A^{-1}Z`,
      :math:`\hat y - y_1 = γ_0 h f(t, y) + \sum_j e_j z_j` with
      :math:`e = (\hat b - b)^T A^{-1}`; the step filters it by
      :math:`(I - hγ_0 J)^{-1}`, the real system's matrix.
    * **Dense output** is the collocation polynomial itself: :math:`y(t + θh) ≈ y +
      \sum_i z_i L_i(θ)` with :math:`L_i` the Lagrange polynomials on ``(0, c)`` that
      vanish at 0; ``dense[i, k]`` is the coefficient of :math:`θ^{k+1}` in :math:`L_i`.
    """

    def __init__(self):
        root6 = math.sqrt(6.0)
        c = np.array([(4.0 - root6) / 10.0, (4.0 + root6) / 10.0, 1.0])
        s = len(c)
        a = np.empty((s, s))
        for j in range(s):
            others = np.delete(c, j)
            ell = np.poly1d(others, r=True) / np.prod(c[j] - others)  # ℓ_j(c_j) = 1
            antiderivative = ell.integ()
            a[:, j] = antiderivative(c) - antiderivative(0.0)
        self.tableau = ButcherTableau(a, a[-1], c, explicit=False, name="radau5",
                                      reference="Hairer & Wanner, Solving ODEs II, "
                                      "Sec. IV.5, Table 5.6 (Radau IIA, s = 3)")
        inverse = np.linalg.inv(a)
        eigenvalues, vectors = np.linalg.eig(inverse)
        real = int(np.argmin(np.abs(eigenvalues.imag)))
        pair = next(i for i in range(s) if i != real and eigenvalues[i].imag > 0)
        self.mu_real = float(eigenvalues[real].real)
        self.mu_complex = complex(eigenvalues[pair])
        self.v_real = vectors[:, real].real / np.max(np.abs(vectors[:, real].real))
        self.v_complex = vectors[:, pair]
        v = np.column_stack([self.v_real, self.v_complex, self.v_complex.conj()])
        v_inverse = np.linalg.inv(v)
        self.v_inverse_real = v_inverse[0].real  # the row for the real eigenvalue
        self.v_inverse_complex = v_inverse[1]  # (the third row is its conjugate)
        self.gamma0 = 1.0 / self.mu_real
        nodes = np.concatenate([[0.0], c])
        vandermonde = np.vander(nodes, 3, increasing=True).T  # rows: Σ w_i c_i^k = 1/(k+1)
        exact = 1.0 / np.arange(1, 4)
        b_hat = np.linalg.solve(vandermonde[:, 1:], exact - self.gamma0 * vandermonde[:, 0])
        self.error_weights = (b_hat - a[-1]) @ inverse
        dense = np.empty((s, s))
        for i in range(s):
            others = np.delete(nodes, i + 1)  # L_i vanishes at 0 and the other c_j
            poly = np.poly1d(others, r=True) / np.prod(c[i] - others)
            dense[i] = poly.coeffs[::-1][1:]  # coefficients of θ, θ², θ³
        self.dense = dense
        for name in ("v_real", "v_inverse_real", "error_weights", "dense"):
            getattr(self, name).flags.writeable = False


RADAU5 = RadauIIA5()
"""The Radau IIA (order 5) data: tableau, Newton transformation, error weights, dense output."""
