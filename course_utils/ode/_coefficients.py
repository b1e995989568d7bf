r"""Linear multistep methods as data: the coefficients of ρ and σ, in ascending powers.

A k-step method

.. math:: \sum_{j=0}^{k} \alpha_j\, y_{n+j} = h \sum_{j=0}^{k} \beta_j\, f_{n+j},
   \qquad \alpha_k = 1,

is stored as ``alpha = (α_0, …, α_k)`` and ``beta = (β_0, …, β_k)``: the characteristic
polynomials :math:`\rho(\zeta) = \sum_j \alpha_j \zeta^j`, :math:`\sigma(\zeta) = \sum_j
\beta_j \zeta^j` (see ``course_utils.analysis``). Explicit when :math:`\beta_k = 0`.
Each table validates itself when imported (consistency ρ(1) = 0, ρ'(1) = σ(1), and the
stated order from the conditions Σα_j j^q = qΣβ_j j^{q-1}).

References: Hairer, Nørsett & Wanner, *Solving ODEs I*, Sec. III.1–III.2; Süli & Mayers,
Sec. 12.9–12.10.
"""

from fractions import Fraction as F

__all__ = ["ADAMS_BASHFORTH", "ADAMS_MOULTON", "BDF", "adams_alpha", "lmm_order_exact"]

# Adams–Bashforth of order p: p steps, beta ascending (beta_k = 0).
ADAMS_BASHFORTH = {
    1: (F(1), F(0)),
    2: (F(-1, 2), F(3, 2), F(0)),
    3: (F(5, 12), F(-16, 12), F(23, 12), F(0)),
    4: (F(-9, 24), F(37, 24), F(-59, 24), F(55, 24), F(0)),
}
# Adams–Moulton of order p: max(1, p - 1) steps, beta ascending.
ADAMS_MOULTON = {
    1: (F(0), F(1)),
    2: (F(1, 2), F(1, 2)),
    3: (F(-1, 12), F(8, 12), F(5, 12)),
    4: (F(1, 24), F(-5, 24), F(19, 24), F(9, 24)),
}
# BDF of order p: p steps, (alpha ascending, beta_k).
BDF = {
    1: ((F(-1), F(1)), F(1)),
    2: ((F(1, 3), F(-4, 3), F(1)), F(2, 3)),
    3: ((F(-2, 11), F(9, 11), F(-18, 11), F(1)), F(6, 11)),
    4: ((F(3, 25), F(-16, 25), F(36, 25), F(-48, 25), F(1)), F(12, 25)),
}


def adams_alpha(num_steps):
    """ρ(ζ) = ζ^k - ζ^{k-1} of the Adams methods, ascending."""
    return (F(0),) * (num_steps - 1) + (F(-1), F(1))


def lmm_order_exact(alpha, beta, max_order=10):
    """The order of a linear multistep method, in exact arithmetic (0 if inconsistent)."""
    order = 0
    for q in range(max_order + 1):
        lhs = sum(a * j**q for j, a in enumerate(alpha))
        rhs = q * sum(b * j ** (q - 1) for j, b in enumerate(beta)) if q else 0
        if lhs != rhs:
            break
        order = q
    return order


def _validate():
    cases = [(f"ab{p}", adams_alpha(p), beta, p) for p, beta in ADAMS_BASHFORTH.items()]
    cases += [(f"am{p}", adams_alpha(len(b) - 1), b, p) for p, b in ADAMS_MOULTON.items()]
    cases += [
        (f"bdf{p}", alpha, (F(0),) * (len(alpha) - 1) + (beta_k,), p)
        for p, (alpha, beta_k) in BDF.items()
    ]
    for name, alpha, beta, order in cases:
        if len(alpha) != len(beta) or alpha[-1] != 1:
            raise ValueError(f"{name}: alpha and beta need k + 1 entries and alpha[k] = 1.")
        if lmm_order_exact(alpha, beta) != order:
            raise ValueError(f"{name}: its coefficients do not give order {order}.")


_validate()
