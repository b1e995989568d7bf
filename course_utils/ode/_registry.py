"""The registry: method name -> method object."""

from ._adaptive import EmbeddedRungeKutta
from ._base import OdeMethod
from ._explicit import ExplicitRungeKutta
from ._implicit import ImplicitMidpoint, ThetaMethod
from ._multistep import (
    ADAMS_BASHFORTH,
    ADAMS_MOULTON,
    BDF,
    AdamsPredictorCorrector,
    LinearMultistep,
    _adams_alpha,
)
from ._tableaus import TABLEAUS, ButcherTableau

__all__ = ["METHODS", "list_methods", "resolve_method"]

_HNW1 = "Hairer, Nørsett & Wanner, Solving ODEs I (2nd ed., 1993)"
_HW2 = "Hairer & Wanner, Solving ODEs II (2nd ed., 1996)"
_SM = "Süli & Mayers, An Introduction to Numerical Analysis (2003), Ch. 12"

_EXPLICIT_DOCS = {
    "euler": "Explicit (forward) Euler, order 1, one stage: y_{n+1} = y_n + h f(t_n, y_n). "
    f"Sources: {_HNW1}, Sec. I.7; {_SM}, Sec. 12.2. Notebook 01_one_step_methods.",
    "midpoint": "Explicit midpoint (modified Euler / Runge's method), order 2, two stages. "
    f"Source: {_HNW1}, Sec. II.1. Notebook 02_runge_kutta_multistep.",
    "heun": "Heun's method (explicit trapezoidal rule), order 2, two stages. "
    f"Sources: {_SM}, Sec. 12.5; {_HNW1}, Sec. II.1. Notebook 02_runge_kutta_multistep.",
    "ralston": "Ralston's second-order method (minimum local error bound), two stages. "
    "Source: Ralston, Math. Comp. 16 (1962); Butcher, Numerical Methods for ODEs "
    "(3rd ed., 2016), Sec. 32. Notebook 02_runge_kutta_multistep.",
    "rk3": "Kutta's third-order method, three stages. "
    f"Source: {_HNW1}, Sec. II.1, Table 1.1. Notebook 02_runge_kutta_multistep.",
    "rk4": "The classical fourth-order Runge–Kutta method (Kutta 1901), four stages. "
    f"Source: {_HNW1}, Sec. II.1, Table 1.2. Notebooks 02 and 05/06.",
    "rk38": "Kutta's 3/8 rule, fourth order, four stages. "
    f"Source: {_HNW1}, Sec. II.1, Table 1.2. Notebook 02_runge_kutta_multistep.",
}
_ADAPTIVE_DOCS = {
    "bosh3": "Bogacki–Shampine 3(2) pair, FSAL (3 new evaluations per step), "
    "cubic Hermite dense output (order 3). Source: Bogacki & Shampine, Appl. Math. "
    f"Lett. 2 (1989); {_HNW1}, Sec. II.4. Notebook 02_runge_kutta_multistep.",
    "dopri5": "Dormand–Prince 5(4) pair (the default; scipy's RK45, torchdiffeq's "
    "dopri5), FSAL (6 new evaluations per step), Shampine's order-4 continuous "
    "extension for dense output. Source: Dormand & Prince, J. Comput. Appl. Math. 6 "
    f"(1980); {_HNW1}, Sec. II.5 and II.6. Notebooks 02, 05 and 06.",
    "fehlberg45": "Runge–Kutta–Fehlberg 4(5) pair, propagating the fifth-order "
    "solution (local extrapolation), 6 evaluations per step, cubic Hermite dense "
    f"output. Source: Fehlberg, NASA TR R-315 (1969); {_HNW1}, Sec. II.4, Table 4.3.",
}


def _implicit_start(p, steps):
    """How an implicit multistep method of order p with `steps` steps starts."""
    if p == 1:
        return "It gives the numbers of backward_euler (one step, no starting values)."
    what = "Started (and a short last step taken)" if steps > 1 else "A short last step is taken"
    return (
        f"{what} with backward Euler extrapolated to order {p} (Aitken–Neville over "
        f"1..{p} substeps; implicit, stiffly stable; {_HW2}, Sec. IV.9)."
    )


def _build():
    methods = {}
    for name, doc in _EXPLICIT_DOCS.items():
        methods[name] = ExplicitRungeKutta(TABLEAUS[name], doc)
    for name, doc in _ADAPTIVE_DOCS.items():
        dense = "dopri5" if name == "dopri5" else "hermite"
        methods[name] = EmbeddedRungeKutta(TABLEAUS[name], dense=dense, doc=doc)

    backward = ThetaMethod(
        0.0,
        "backward_euler",
        "Backward (implicit) Euler, order 1, A- and L-stable: "
        "y_{n+1} = y_n + h f(t_{n+1}, y_{n+1}); the θ-method with θ = 0. "
        f"Sources: {_SM}, Sec. 12.6; {_HW2}, Sec. IV.3. Notebook 01_one_step_methods.",
    )
    backward.tableau = ButcherTableau(
        [[1.0]],
        [1.0],
        [1.0],
        order=1,
        name="backward_euler",
        explicit=False,
        reference=_HW2,
    )
    methods["backward_euler"] = backward
    methods["trapezoidal"] = ThetaMethod(
        0.5,
        "trapezoidal",
        "Trapezoidal rule (Crank–Nicolson), order 2, A-stable: the θ-method with θ = ½. "
        f"Sources: {_SM}, Sec. 12.6; {_HW2}, Sec. IV.3. Notebook 01_one_step_methods.",
    )
    methods["theta"] = ThetaMethod(
        None,
        "theta",
        "The θ-method y_{n+1} = y_n + h(θ f_n + (1-θ) f_{n+1}) with `theta=` given to "
        "odeint (θ = 1 explicit Euler, θ = 0 backward Euler, θ = ½ trapezoidal). "
        f"Order 2 at θ = ½, else 1. Source: {_SM}, Sec. 12.6. "
        "Notebook 01_one_step_methods.",
    )
    methods["implicit_midpoint"] = ImplicitMidpoint()

    for p, beta in ADAMS_BASHFORTH.items():
        methods[f"ab{p}"] = LinearMultistep(
            f"ab{p}",
            _adams_alpha(p),
            beta,
            p,
            f"Adams–Bashforth, {p}-step, order {p}, explicit. Started (and a short last "
            "step taken) with rk4. "
            f"Sources: {_HNW1}, Sec. III.1; {_SM}, Sec. 12.9. "
            "Notebook 02_runge_kutta_multistep.",
        )
    for p, beta in ADAMS_MOULTON.items():
        steps = len(beta) - 1
        methods[f"am{p}"] = LinearMultistep(
            f"am{p}",
            _adams_alpha(steps),
            beta,
            p,
            f"Adams–Moulton, {steps}-step, order {p}, implicit (Newton). "
            f"{_implicit_start(p, steps)} "
            f"Sources: {_HNW1}, Sec. III.1; {_SM}, Sec. 12.9. "
            "Notebook 02_runge_kutta_multistep.",
        )
    for p in ADAMS_BASHFORTH:
        methods[f"abm{p}"] = AdamsPredictorCorrector(p)
    for p, (alpha, beta_k) in BDF.items():
        beta = [0] * (len(alpha) - 1) + [beta_k]
        methods[f"bdf{p}"] = LinearMultistep(
            f"bdf{p}",
            alpha,
            beta,
            p,
            f"Backward differentiation formula, {p}-step, order {p}, implicit (Newton); "
            f"{'A-stable' if p <= 2 else 'A(α)-stable'}, for stiff problems. "
            f"{_implicit_start(p, len(alpha) - 1)} Sources: {_HNW1}, Sec. III.1; {_HW2}, Sec. V.1. "
            "Notebook 02_runge_kutta_multistep.",
        )
    return methods


METHODS = _build()
"""dict: method name -> method object (with ``.order``, ``.adaptive``, ``.implicit``)."""


def list_methods(family=None):
    """Names of the registered methods, in registry order.

    Parameters
    ----------
    family : {None, "explicit", "adaptive", "implicit", "multistep"}
        Keep only fixed-step explicit RK, adaptive pairs, implicit one-step, or
        linear multistep methods.

    Returns
    -------
    list of str
    """
    selectors = {
        None: lambda m: True,
        "explicit": lambda m: isinstance(m, ExplicitRungeKutta),
        "adaptive": lambda m: m.adaptive,
        "implicit": lambda m: isinstance(m, (ThetaMethod, ImplicitMidpoint)),
        "multistep": lambda m: isinstance(m, (LinearMultistep, AdamsPredictorCorrector)),
    }
    if family not in selectors:
        raise ValueError(f"`family` must be one of {sorted(k for k in selectors if k)} or None.")
    return [name for name, m in METHODS.items() if selectors[family](m)]


def resolve_method(method):
    """Turn ``method`` (a name, a ButcherTableau or a method object) into a method object."""
    if isinstance(method, OdeMethod):
        return method
    if isinstance(method, ButcherTableau):
        if method.is_embedded:
            return EmbeddedRungeKutta(method)
        return ExplicitRungeKutta(method)
    if isinstance(method, str):
        key = method.lower()
        if key in METHODS:
            return METHODS[key]
    raise ValueError(
        f"Unknown `method` {method!r}. Known methods: {', '.join(METHODS)}; "
        "or pass a ButcherTableau."
    )
