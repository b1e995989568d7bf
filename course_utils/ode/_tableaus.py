"""Butcher tableaus held as data, and the class that validates them.

References
----------
.. [HNW] E. Hairer, S. P. Nørsett, G. Wanner, *Solving Ordinary Differential
   Equations I: Nonstiff Problems*, 2nd ed., Springer 1993 (Sections II.1, II.4, II.5).
.. [Butcher] J. C. Butcher, *Numerical Methods for Ordinary Differential Equations*,
   3rd ed., Wiley 2016 (Chapter 3).
.. [SM] E. Süli, D. Mayers, *An Introduction to Numerical Analysis*, CUP 2003 (Ch. 12).
"""

from fractions import Fraction as F

import numpy as np

__all__ = ["ButcherTableau", "TABLEAUS"]

_TOL = 1e-10


class ButcherTableau:
    r"""A Runge–Kutta method written as its Butcher tableau.

    .. math::

        k_i = f\Big(t_n + c_i h,\; y_n + h \sum_j a_{ij} k_j\Big), \qquad
        y_{n+1} = y_n + h \sum_i b_i k_i .

    The tableau validates itself on construction. Pass an instance as ``method=`` to
    :func:`~course_utils.ode.odeint` to solve with your own method (fixed step if
    ``b_hat`` is None, adaptive if it is given). Introduced in notebook
    ``02_runge_kutta_multistep`` ("Runge–Kutta methods as tableaus").

    Parameters
    ----------
    a : array_like, shape (s, s)
        Stage coefficients. Strictly lower triangular for an explicit method.
    b : array_like, shape (s,)
        Weights; must sum to 1.
    c : array_like, shape (s,)
        Nodes; must equal the row sums of ``a``.
    order : int, optional
        Order of the method. If omitted it is computed from the order conditions
        (:func:`course_utils.analysis.tableau_order`, checked up to order 5).
    b_hat : array_like, shape (s,), optional
        Weights of an embedded method of lower order (adaptive pairs); must sum to 1.
    embedded_order : int, optional
        Order of the embedded method (defaults to ``order - 1``).
    name : str
        A short name, used in messages and plots.
    explicit : bool, optional
        Declare whether the method is explicit. If True, ``a`` must be strictly lower
        triangular. If omitted it is inferred from ``a``.
    reference : str
        Where the method comes from.
    dense : array_like, shape (s, q), optional
        Dense-output (continuous extension) weights: ``b_i(θ) = Σ_k dense[i, k] θ^(k+1)``,
        so that ``y(t_n + θh) ≈ y_n + h Σ_i b_i(θ) k_i``; at θ = 1 they must equal ``b``.
        Without them the solver interpolates with a cubic Hermite polynomial.
    dense_order : int, optional
        Order of the continuous extension (required with ``dense``).

    A tableau is immutable once built (its arrays are read-only), so one tableau can be
    shared by every solve.

    Raises
    ------
    ValueError
        On wrong shapes, non-finite entries, ``a`` not strictly lower triangular for
        an explicit method, row sums of ``a`` different from ``c``, or weights that
        do not sum to 1.

    Examples
    --------
    >>> heun = ButcherTableau(a=[[0, 0], [1, 0]], b=[0.5, 0.5], c=[0, 1], order=2)
    >>> heun.num_stages, heun.is_explicit
    (2, True)
    """

    def __init__(
        self,
        a,
        b,
        c,
        *,
        order=None,
        b_hat=None,
        embedded_order=None,
        name="custom",
        explicit=None,
        reference="",
        dense=None,
        dense_order=None,
    ):
        self.a = _as_float_array(a, "a", ndim=2)
        num_stages = self.a.shape[0]
        if self.a.shape != (num_stages, num_stages) or num_stages == 0:
            raise ValueError(f"`a` must be a non-empty square matrix, got shape {self.a.shape}.")
        self.b = _as_float_array(b, "b", ndim=1, length=num_stages)
        self.c = _as_float_array(c, "c", ndim=1, length=num_stages)
        self.b_hat = None if b_hat is None else _as_float_array(b_hat, "b_hat", 1, num_stages)
        self.name = str(name)
        self.reference = str(reference)

        strictly_lower = bool(np.all(np.triu(self.a) == 0.0))
        if explicit is None:
            explicit = strictly_lower
        elif explicit and not strictly_lower:
            i, j = np.argwhere(np.triu(self.a) != 0.0)[0]
            raise ValueError(
                f"`a` must be strictly lower triangular for an explicit method, but "
                f"a[{i}, {j}] = {self.a[i, j]:g}; pass `explicit=False` for an implicit method."
            )
        self.is_explicit = bool(explicit)

        row_sums = self.a.sum(axis=1)
        bad = np.flatnonzero(np.abs(row_sums - self.c) > _TOL)
        if bad.size:
            i = bad[0]
            raise ValueError(
                f"The row sums of `a` must equal `c`: row {i} sums to {row_sums[i]:.12g} "
                f"but c[{i}] = {self.c[i]:.12g}."
            )
        for label, weights in (("b", self.b), ("b_hat", self.b_hat)):
            if weights is not None and abs(weights.sum() - 1.0) > _TOL:
                raise ValueError(
                    f"The weights `{label}` must sum to 1 (consistency); they sum to "
                    f"{weights.sum():.12g}."
                )

        if order is None:
            from ._order_conditions import tableau_order

            order = tableau_order(self)
        if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or order < 1:
            raise ValueError(f"`order` must be a positive integer, got {order!r}.")
        self.order = int(order)
        if self.b_hat is not None:
            if embedded_order is None:
                embedded_order = self.order - 1
            if not isinstance(embedded_order, (int, np.integer)) or embedded_order < 1:
                raise ValueError(
                    f"`embedded_order` must be a positive integer, got {embedded_order!r}."
                )
            self.embedded_order = int(embedded_order)
        else:
            self.embedded_order = None
        self.dense = None if dense is None else _as_float_array(dense, "dense", 2)
        self.dense_order = None
        if self.dense is not None:
            if self.dense.shape[0] != num_stages:
                raise ValueError(
                    f"`dense` must have one row per stage ({num_stages}), got shape "
                    f"{self.dense.shape}."
                )
            at_one = self.dense.sum(axis=1)
            bad = np.flatnonzero(np.abs(at_one - self.b) > _TOL)
            if bad.size:
                i = bad[0]
                raise ValueError(
                    f"The dense-output weights must equal `b` at θ = 1, but row {i} sums to "
                    f"{at_one[i]:.12g} and b[{i}] = {self.b[i]:.12g}."
                )
            if not isinstance(dense_order, (int, np.integer)) or dense_order < 1:
                raise ValueError("`dense_order` (a positive integer) must come with `dense`.")
            self.dense_order = int(dense_order)
        for name in ("a", "b", "c", "b_hat", "dense"):
            value = getattr(self, name)
            if value is not None:
                value.flags.writeable = False
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, name, value):
        if getattr(self, "_frozen", False):
            raise AttributeError(
                f"A ButcherTableau is immutable; build a new one instead of setting `{name}`."
            )
        object.__setattr__(self, name, value)

    # -- derived properties
    @property
    def num_stages(self) -> int:
        """Number of stages ``s``."""
        return self.a.shape[0]

    @property
    def is_embedded(self) -> bool:
        """True for an embedded pair (has ``b_hat``, usable adaptively)."""
        return self.b_hat is not None

    @property
    def error_weights(self):
        """``b - b_hat``: the embedded error estimate is ``h Σ_i (b_i - b̂_i) k_i``."""
        return None if self.b_hat is None else self.b - self.b_hat

    @property
    def is_fsal(self) -> bool:
        """First Same As Last: the last stage is evaluated at ``(t + h, y_{n+1})``."""
        s = self.num_stages
        return (
            self.is_explicit and s > 1 and self.c[-1] == 1.0 and np.array_equal(self.a[-1], self.b)
        )

    def __repr__(self) -> str:
        kind = "explicit" if self.is_explicit else "implicit"
        pair = f", embedded order {self.embedded_order}" if self.is_embedded else ""
        return (
            f"ButcherTableau(name={self.name!r}, {kind}, stages={self.num_stages}, "
            f"order={self.order}{pair})"
        )

    def __str__(self) -> str:
        """The tableau in the usual ``c | A`` over ``b`` layout."""
        s = self.num_stages
        fmt = lambda x: f"{x:9.4g}"
        lines = [fmt(self.c[i]) + " |" + "".join(fmt(v) for v in self.a[i]) for i in range(s)]
        lines.append("-" * len(lines[0]))
        lines.append(" " * 9 + " |" + "".join(fmt(v) for v in self.b))
        if self.b_hat is not None:
            lines.append(" " * 9 + " |" + "".join(fmt(v) for v in self.b_hat))
        return f"{self!r}\n" + "\n".join(lines)


def _as_float_array(values, name, ndim, length=None):
    try:
        arr = np.array(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`{name}` must be an array of numbers: {exc}") from None
    if arr.ndim != ndim:
        raise ValueError(f"`{name}` must be {ndim}-D, got shape {arr.shape}.")
    if length is not None and arr.shape[0] != length:
        raise ValueError(
            f"`{name}` must have one entry per stage ({length}), got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` contains NaN or inf.")
    return arr


def _lower(rows):
    """Pad the rows of a strictly lower-triangular ``a`` given without zeros."""
    s = len(rows)
    return [[F(v) for v in row] + [F(0)] * (s - len(row)) for row in rows]


def _tab(rows, b, c, **kw):
    to_float = lambda xs: [float(F(x)) for x in xs]
    a = [[float(v) for v in row] for row in _lower(rows)]
    b_hat = kw.pop("b_hat", None)
    return ButcherTableau(
        a, to_float(b), to_float(c), b_hat=None if b_hat is None else to_float(b_hat), **kw
    )


_HNW = "Hairer, Nørsett & Wanner, Solving ODEs I, Sec. II.1"

_DOPRI5_B = [F(35, 384), 0, F(500, 1113), F(125, 192), F(-2187, 6784), F(11, 84), 0]
# Shampine's order-4 continuous extension of dopri5, as in Hairer's DOPRI5 code (HNW I,
# Sec. II.6): y(θ) = y0 + θ(Δ + (1-θ)(B + θ(R4 + (1-θ) R5))) with Δ = h Σ b_i k_i,
# B = h k_1 - Δ, R4 = Δ - h k_7 - B and R5 = h Σ d_i k_i. Expanded in powers of θ
# these are the weights b_i(θ) = Σ_k dense[i, k] θ^(k+1) below.
_DOPRI5_D = [
    F(-12715105075, 11282082432), 0, F(87487479700, 32700410799),
    F(-10690763975, 1880347072), F(701980252875, 199316789632),
    F(-1453857185, 822651844), F(69997945, 29380423),
]


def _dopri5_dense():
    rows = []
    for i in range(7):
        first, last = F(int(i == 0)), F(int(i == 6))
        delta = F(_DOPRI5_B[i])
        bspl = first - delta
        rc4 = delta - last - bspl
        rc5 = _DOPRI5_D[i]
        rows.append([float(x) for x in (delta + bspl, rc4 + rc5 - bspl, -rc4 - 2 * rc5, rc5)])
    return rows


TABLEAUS = {
    "euler": _tab([[]], [1], [0], order=1, name="euler", reference="Euler (1768); " + _HNW),
    "midpoint": _tab(
        [[], [F(1, 2)]],
        [0, 1],
        [0, F(1, 2)],
        order=2,
        name="midpoint",
        reference="Runge (1895); " + _HNW,
    ),
    "heun": _tab(
        [[], [1]],
        [F(1, 2), F(1, 2)],
        [0, 1],
        order=2,
        name="heun",
        reference="Heun (1900); Süli & Mayers, Sec. 12.5",
    ),
    "ralston": _tab(
        [[], [F(2, 3)]],
        [F(1, 4), F(3, 4)],
        [0, F(2, 3)],
        order=2,
        name="ralston",
        reference="Ralston (1962), minimum error bound; Butcher, Sec. 32",
    ),
    "rk3": _tab(
        [[], [F(1, 2)], [-1, 2]],
        [F(1, 6), F(2, 3), F(1, 6)],
        [0, F(1, 2), 1],
        order=3,
        name="rk3",
        reference="Kutta (1901), third-order method; " + _HNW,
    ),
    "rk4": _tab(
        [[], [F(1, 2)], [0, F(1, 2)], [0, 0, 1]],
        [F(1, 6), F(1, 3), F(1, 3), F(1, 6)],
        [0, F(1, 2), F(1, 2), 1],
        order=4,
        name="rk4",
        reference="Kutta (1901), the classical method; " + _HNW,
    ),
    "rk38": _tab(
        [[], [F(1, 3)], [F(-1, 3), 1], [1, -1, 1]],
        [F(1, 8), F(3, 8), F(3, 8), F(1, 8)],
        [0, F(1, 3), F(2, 3), 1],
        order=4,
        name="rk38",
        reference="Kutta (1901), the 3/8 rule; " + _HNW,
    ),
    "bosh3": _tab(
        [[], [F(1, 2)], [0, F(3, 4)], [F(2, 9), F(1, 3), F(4, 9)]],
        [F(2, 9), F(1, 3), F(4, 9), 0],
        [0, F(1, 2), F(3, 4), 1],
        b_hat=[F(7, 24), F(1, 4), F(1, 3), F(1, 8)],
        order=3,
        embedded_order=2,
        name="bosh3",
        reference="Bogacki & Shampine, Appl. Math. Lett. 2 (1989) 321-325; HNW Sec. II.4",
    ),
    "dopri5": _tab(
        [
            [],
            [F(1, 5)],
            [F(3, 40), F(9, 40)],
            [F(44, 45), F(-56, 15), F(32, 9)],
            [F(19372, 6561), F(-25360, 2187), F(64448, 6561), F(-212, 729)],
            [F(9017, 3168), F(-355, 33), F(46732, 5247), F(49, 176), F(-5103, 18656)],
            [F(35, 384), 0, F(500, 1113), F(125, 192), F(-2187, 6784), F(11, 84)],
        ],
        _DOPRI5_B,
        [0, F(1, 5), F(3, 10), F(4, 5), F(8, 9), 1, 1],
        b_hat=[
            F(5179, 57600),
            0,
            F(7571, 16695),
            F(393, 640),
            F(-92097, 339200),
            F(187, 2100),
            F(1, 40),
        ],
        order=5,
        embedded_order=4,
        name="dopri5",
        reference="Dormand & Prince, J. Comput. Appl. Math. 6 (1980) 19-26; HNW Sec. II.5",
        dense=_dopri5_dense(),
        dense_order=4,
    ),
    "fehlberg45": _tab(
        [
            [],
            [F(1, 4)],
            [F(3, 32), F(9, 32)],
            [F(1932, 2197), F(-7200, 2197), F(7296, 2197)],
            [F(439, 216), -8, F(3680, 513), F(-845, 4104)],
            [F(-8, 27), 2, F(-3544, 2565), F(1859, 4104), F(-11, 40)],
        ],
        [F(16, 135), 0, F(6656, 12825), F(28561, 56430), F(-9, 50), F(2, 55)],
        [0, F(1, 4), F(3, 8), F(12, 13), 1, F(1, 2)],
        b_hat=[F(25, 216), 0, F(1408, 2565), F(2197, 4104), F(-1, 5), 0],
        order=5,
        embedded_order=4,
        name="fehlberg45",
        reference="Fehlberg, NASA TR R-315 (1969); HNW Sec. II.4 (Table 4.3)",
    ),
}

# -- torchdiffeq's methods (feature: torchdiffeq compatibility)
TABLEAUS["heun3"] = _tab(
    [[], [F(1, 3)], [0, F(2, 3)]],
    [F(1, 4), 0, F(3, 4)],
    [0, F(1, 3), F(2, 3)],
    order=3,
    name="heun3",
    reference="Heun (1900), third-order method; " + _HNW + " (Table 1.1)",
)
TABLEAUS["adaptive_heun"] = _tab(
    [[], [1]],
    [F(1, 2), F(1, 2)],
    [0, 1],
    b_hat=[1, 0],
    order=2,
    embedded_order=1,
    name="adaptive_heun",
    reference="Heun–Euler 2(1) pair (Heun's method with explicit Euler as its embedded "
    "estimate); HNW Sec. II.4",
)
TABLEAUS["fehlberg2"] = _tab(
    [[], [F(1, 2)], [F(1, 256), F(255, 256)]],
    [F(1, 512), F(255, 256), F(1, 512)],
    [0, F(1, 2), 1],
    b_hat=[F(1, 256), F(255, 256), 0],
    order=2,
    embedded_order=1,
    name="fehlberg2",
    reference="Fehlberg's RK1(2), propagating the second-order solution; Fehlberg, NASA "
    "TR R-315 (1969); HNW Sec. II.4",
)


# -- beyond torchdiffeq: Tsitouras 5(4) (feature: torchdiffeq compatibility)
# Ch. Tsitouras, "Runge–Kutta pairs of order 5(4) satisfying only the first column
# simplifying assumption", Comput. Math. Appl. 62 (2011) 770-775: the published decimals
# (Table 1), FSAL (the last row of a is b), and the error weights b - b_hat. The tests
# check them against the order conditions (order 5 for b, 4 for b_hat, 4 for the dense
# output below at every θ).
_TSIT5_C = [0, 0.161, 0.327, 0.9, 0.9800255409045097, 1, 1]
_TSIT5_A = [
    [],
    [0.161],
    [-0.008480655492356989, 0.335480655492357],
    [2.897153057105493, -6.359448489975075, 4.3622954328695815],
    [5.325864828439257, -11.748883564062828, 7.4955393428898365, -0.09249506636175525],
    [5.86145544294642, -12.92096931784711, 8.159367898576159, -0.071584973281401,
     -0.028269050394068383],
    [0.09646076681806523, 0.01, 0.4798896504144996, 1.379008574103742, -3.290069515436081,
     2.324710524099774],
]
_TSIT5_ERROR = [-0.001780011052226, -0.000816434459657, 0.007880878010262,
                -0.144711007173263, 0.582357165452555, -0.458082105929187, 1 / 66]


def _tsit5_dense():
    """Tsitouras's order-4 continuous extension (his paper, Sec. 3), written as products
    of factors in θ as published and expanded here into ``dense[i, k]`` (θ^(k+1))."""
    theta = np.polynomial.Polynomial([0.0, 1.0])
    weights = [
        -1.0530884977290216 * theta * (theta - 1.3299890189751412)
        * (theta**2 - 1.4364028541716351 * theta + 0.7139816917074209),
        0.1017 * theta**2 * (theta**2 - 2.1966568338249754 * theta + 1.2949852507374631),
        2.490627285651252793 * theta**2
        * (theta**2 - 2.38535645472061657 * theta + 1.57803468208092486),
        -16.54810288924490272 * (theta - 1.21712927295533244)
        * (theta - 0.61620406037800089) * theta**2,
        47.37952196281928122 * (theta - 1.203071208372362603)
        * (theta - 0.658047292653547382) * theta**2,
        -34.87065786149660974 * (theta - 1.2) * (theta - 0.666666666666666667) * theta**2,
        2.5 * (theta - 1) * (theta - 0.6) * theta**2,
    ]
    rows = []
    for poly in weights:
        coef = list(poly.coef) + [0.0] * 5
        rows.append(coef[1:5])
    return rows


def _tsit5():
    a = np.zeros((7, 7))
    for i, row in enumerate(_TSIT5_A):
        a[i, : len(row)] = row
    b = a[6].copy()
    return ButcherTableau(
        a, b, _TSIT5_C, b_hat=b - np.array(_TSIT5_ERROR), order=5, embedded_order=4,
        name="tsit5", dense=_tsit5_dense(), dense_order=4,
        reference="Tsitouras, Comput. Math. Appl. 62 (2011) 770-775",
    )


TABLEAUS["tsit5"] = _tsit5()
