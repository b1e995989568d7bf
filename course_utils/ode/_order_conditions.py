"""The Runge–Kutta order conditions, one per rooted tree up to order 5 (data + two functions).

They live next to the tableaus because a :class:`~course_utils.ode.ButcherTableau`
computes its own order from them; ``course_utils.analysis.order_conditions`` and
``tableau_order`` wrap them for the notebooks (accepting registered method names too).

Reference: Hairer, Nørsett & Wanner, *Solving ODEs I*, Sec. II.2 (Table 2.2); Butcher,
*Numerical Methods for ODEs*, Sec. 31.
"""

from fractions import Fraction

__all__ = ["order_conditions", "tableau_order", "rooted_tree_conditions"]


def rooted_tree_conditions(a, c):
    """``(order, label, function of the weights, target)`` for every tree up to order 5."""
    ac = a @ c
    ac2 = a @ c**2
    a2c = a @ ac
    return [
        (1, "sum(b) = 1", lambda b: b.sum(), Fraction(1)),
        (2, "b·c = 1/2", lambda b: b @ c, Fraction(1, 2)),
        (3, "b·c² = 1/3", lambda b: b @ c**2, Fraction(1, 3)),
        (3, "b·Ac = 1/6", lambda b: b @ ac, Fraction(1, 6)),
        (4, "b·c³ = 1/4", lambda b: b @ c**3, Fraction(1, 4)),
        (4, "b·(c∘Ac) = 1/8", lambda b: b @ (c * ac), Fraction(1, 8)),
        (4, "b·Ac² = 1/12", lambda b: b @ ac2, Fraction(1, 12)),
        (4, "b·A²c = 1/24", lambda b: b @ a2c, Fraction(1, 24)),
        (5, "b·c⁴ = 1/5", lambda b: b @ c**4, Fraction(1, 5)),
        (5, "b·(c²∘Ac) = 1/10", lambda b: b @ (c**2 * ac), Fraction(1, 10)),
        (5, "b·(c∘Ac²) = 1/15", lambda b: b @ (c * ac2), Fraction(1, 15)),
        (5, "b·(c∘A²c) = 1/30", lambda b: b @ (c * a2c), Fraction(1, 30)),
        (5, "b·(Ac)² = 1/20", lambda b: b @ (ac * ac), Fraction(1, 20)),
        (5, "b·Ac³ = 1/20", lambda b: b @ (a @ c**3), Fraction(1, 20)),
        (5, "b·A(c∘Ac) = 1/40", lambda b: b @ (a @ (c * ac)), Fraction(1, 40)),
        (5, "b·A²c² = 1/60", lambda b: b @ (a @ ac2), Fraction(1, 60)),
        (5, "b·A³c = 1/120", lambda b: b @ (a @ a2c), Fraction(1, 120)),
    ]


def order_conditions(tableau, max_order=4, weights="b"):
    r"""Residuals of the Runge–Kutta order conditions (one per rooted tree).

    A method has order ``p`` iff every condition of order ``≤ p`` holds (given
    ``c = A 1``). E.g. order 3 needs :math:`\sum b_i c_i^2 = 1/3` and
    :math:`\sum b_i a_{ij} c_j = 1/6`. Introduced in notebook
    ``02_runge_kutta_multistep`` ("Order conditions").

    Parameters
    ----------
    tableau : ButcherTableau
        The method (``course_utils.analysis.order_conditions`` also takes a registered
        method name).
    max_order : int
        Highest order to list, 1 to 5 (1, 2, 4, 8, 17 conditions in total).
    weights : {"b", "b_hat"}
        Check the method (``b``) or its embedded companion (``b_hat``).

    Returns
    -------
    dict of str -> float
        ``condition -> (value - target)``; zero (to rounding) where it holds.
    """
    if not 1 <= max_order <= 5:
        raise ValueError(f"`max_order` must be between 1 and 5, got {max_order!r}.")
    b = getattr(tableau, weights, None) if weights in ("b", "b_hat") else None
    if b is None:
        raise ValueError(
            f"`weights` must be 'b' or 'b_hat' (present on the tableau), got {weights!r}."
        )
    return {
        label: float(fn(b) - float(target))
        for order, label, fn, target in rooted_tree_conditions(tableau.a, tableau.c)
        if order <= max_order
    }


def tableau_order(tableau, tol=1e-10, weights="b"):
    """Order of a Runge–Kutta tableau from its order conditions (checked up to 5).

    Returns the largest ``p <= 5`` such that all conditions of order ``<= p`` hold to
    ``tol``; 5 therefore means "at least 5". Notebook ``02_runge_kutta_multistep``.
    """
    residuals = order_conditions(tableau, 5, weights)
    trees = rooted_tree_conditions(tableau.a, tableau.c)
    order = 0
    for p in range(1, 6):
        if all(abs(residuals[label]) <= tol for q, label, _, _ in trees if q == p):
            order = p
        else:
            break
    return order
