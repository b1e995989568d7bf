"""Methods: what each name means, and the registry ``METHODS`` (name -> method object).

A method object is a description, not a solver: its name, order, family and source, the
options it accepts (from the table in ``_options``), and ``make_step(evaluator, backend,
options, stats)`` which builds the step object ``odeint`` hands to the loop. The loop
never calls back into a method.
"""

from ._coefficients import ADAMS_BASHFORTH, ADAMS_MOULTON, BDF, adams_alpha
from ._controllers import PIController
from ._newton import NewtonSolver
from ._options import OPTIONS
from ._steps import (
    DiagonallyImplicitRungeKutta,
    ExplicitRungeKutta,
    ExtrapolatedEuler,
    LinearMultistepStep,
    PredictorCorrectorStep,
)
from ._tableaus import TABLEAUS, ButcherTableau

__all__ = [
    "OdeMethod",
    "RungeKuttaMethod",
    "ImplicitRungeKuttaMethod",
    "LinearMultistep",
    "AdamsPredictorCorrector",
    "METHODS",
    "list_methods",
    "resolve_method",
    "theta_tableau",
]

_HNW1 = "Hairer, Nørsett & Wanner, Solving ODEs I (2nd ed., 1993)"
_HW2 = "Hairer & Wanner, Solving ODEs II (2nd ed., 1996)"
_SM = "Süli & Mayers, An Introduction to Numerical Analysis (2003), Ch. 12"


class OdeMethod:
    """Base class of the method objects in :data:`~course_utils.ode.METHODS`.

    1. ``name``, ``order``, ``family`` and a docstring citing where the method comes from;
    2. ``adaptive`` (chooses its own steps from ``rtol``/``atol``, needs ``error_order``)
       or fixed step (needs ``step_size``); ``implicit`` (solves by Newton);
    3. ``options``: the solver options it accepts (derived from the options table);
    4. ``make_step(evaluator, backend, options, stats)``: the step object to integrate
       with (see ``_steps``).
    """

    name = "method"
    order = 0
    adaptive = False
    implicit = False
    needs_theta = False
    family = ""
    error_order = None

    @property
    def options(self):
        """The names of the solver options this method accepts."""
        return frozenset(name for name, option in OPTIONS.items() if option.applies_to(self))

    def make_step(self, evaluator, backend, options, stats):
        raise NotImplementedError

    def __repr__(self) -> str:
        kind = "adaptive" if self.adaptive else "fixed step"
        kind += ", implicit" if self.implicit else ""
        return f"<{type(self).__name__} {self.name!r}: order {self.order}, {kind}>"


class RungeKuttaMethod(OdeMethod):
    """An explicit Runge–Kutta method: fixed step, or adaptive if the tableau has ``b_hat``.

    ``fast=False`` steps with the plain stages instead of the backend's fast kernel (the
    same numbers; ``benchmarks/solvers.py`` times both).
    """

    def __init__(self, tableau, doc=None, fast=True):
        self.fast = fast
        if not tableau.is_explicit:
            raise ValueError(
                f"Tableau {tableau.name!r} is implicit; odeint steps explicit tableaus and "
                "diagonally implicit ones (lower-triangular `a`), e.g. 'backward_euler', "
                "'trapezoidal', 'implicit_midpoint' or 'theta'."
            )
        if tableau.is_embedded and not any(tableau.error_weights != 0):
            raise ValueError(
                f"Tableau {tableau.name!r} has `b_hat` equal to `b`: no error estimate."
            )
        self.tableau = tableau
        self.name = tableau.name
        self.order = tableau.order
        self.adaptive = tableau.is_embedded
        self.error_order = tableau.embedded_order
        self.family = "adaptive Runge–Kutta" if self.adaptive else "explicit Runge–Kutta"
        pair = f"({tableau.embedded_order}) pair" if self.adaptive else ""
        self.__doc__ = doc or (
            f"Explicit Runge–Kutta method {tableau.name!r} of order {tableau.order}{pair}, "
            f"{tableau.num_stages} stages. Source: {tableau.reference or 'user-defined'}."
        )

    def make_step(self, evaluator, backend, options, stats):
        return ExplicitRungeKutta(self.tableau, evaluator, backend, fast=self.fast)


class ImplicitRungeKuttaMethod(OdeMethod):
    """A diagonally implicit Runge–Kutta method (fixed step), stages solved by Newton.

    ``tableau=None`` is the generic θ-method, whose tableau is built from ``theta=``.
    """

    implicit = True
    family = "implicit one-step"

    def __init__(self, name, tableau, doc):
        self.name = name
        self.tableau = tableau
        self.needs_theta = tableau is None
        self.order = 1 if tableau is None else tableau.order
        self.__doc__ = doc

    def order_for(self, theta):
        """Order of the θ-method for a given θ (2 at ½, else 1)."""
        return 2 if theta == 0.5 else 1

    def make_step(self, evaluator, backend, options, stats):
        tableau = self.tableau if self.tableau is not None else theta_tableau(options.theta)
        newton = NewtonSolver(evaluator, backend, options, stats)
        return DiagonallyImplicitRungeKutta(tableau, evaluator, backend, newton)


class LinearMultistep(OdeMethod):
    """A linear multistep method given by its coefficients ``alpha``, ``beta`` (ascending).

    Explicit methods start (and take a shortened last step) with rk4, implicit ones with
    backward Euler extrapolated to ``order`` (an explicit starter would undo the point of
    BDF on a stiff problem: on Robertson's reactions with h = 0.1 an rk4 starting step
    lands far outside rk4's stability region and the BDF steps after it cannot recover).
    """

    family = "linear multistep"

    def __init__(self, name, alpha, beta, order, doc):
        self.name = name
        self.alpha = tuple(alpha)
        self.beta = tuple(beta)
        self.order = order
        self.num_steps = len(alpha) - 1
        self.implicit = beta[-1] != 0
        self.__doc__ = doc

    @property
    def rho(self):
        """Coefficients of ρ(ζ), ascending powers, as floats (shape (k+1,))."""
        import numpy as np

        return np.array([float(a) for a in self.alpha])

    @property
    def sigma(self):
        """Coefficients of σ(ζ), ascending powers, as floats (shape (k+1,))."""
        import numpy as np

        return np.array([float(b) for b in self.beta])

    def make_step(self, evaluator, backend, options, stats):
        newton = NewtonSolver(evaluator, backend, options, stats) if self.implicit else None
        if self.implicit:
            starter = ExtrapolatedEuler(self.order, evaluator, newton)
        else:
            starter = ExplicitRungeKutta(TABLEAUS["rk4"], evaluator, backend)
        predictor = ADAMS_BASHFORTH.get(self.num_steps, ())
        return LinearMultistepStep(self, evaluator, starter, newton, options.step_size, predictor)


class AdamsPredictorCorrector(OdeMethod):
    """Adams–Bashforth–Moulton predictor–corrector of order p in PECE mode.

    Predict with AB(p), Evaluate, Correct with AM(p), Evaluate: two evaluations of
    ``func`` per step, order p, explicit (no Newton). Source: Hairer, Nørsett &
    Wanner, *Solving ODEs I*, Sec. III.1; Süli & Mayers, Sec. 12.9. Started with rk4.
    """

    family = "linear multistep"

    def __init__(self, order):
        self.order = order
        self.name = f"abm{order}"
        self.num_steps = order

    def make_step(self, evaluator, backend, options, stats):
        starter = ExplicitRungeKutta(TABLEAUS["rk4"], evaluator, backend)
        return PredictorCorrectorStep(
            self.order, evaluator, starter, options.step_size,
            ADAMS_BASHFORTH[self.order], ADAMS_MOULTON[self.order],
        )


def theta_tableau(theta):
    """The θ-method as a two-stage Runge–Kutta tableau.

    ``c = (0, 1)``, ``a = [[0, 0], [θ, 1-θ]]``, ``b = (θ, 1-θ)``; its stability function
    is ``(1 + θz) / (1 - (1-θ)z)``. Notebook ``01_one_step_methods`` ("Stiffness").

    Parameters
    ----------
    theta : float
        θ in [0, 1].

    Returns
    -------
    ButcherTableau
    """
    theta = float(theta)
    return ButcherTableau(
        [[0.0, 0.0], [theta, 1.0 - theta]],
        [theta, 1.0 - theta],
        [0.0, 1.0],
        order=2 if theta == 0.5 else 1,
        name=f"theta={theta:g}",
        explicit=theta == 1.0,
        reference="Süli & Mayers, Sec. 12.6",
    )


# ----------------------------------------------------------------------------- the registry
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
    "NOT torchdiffeq's 'rk4', which is Kutta's 3/8 rule: use 'rk38' for its numbers. "
    f"Source: {_HNW1}, Sec. II.1, Table 1.2. Notebooks 02 and 05/06.",
    "rk38": "Kutta's 3/8 rule, fourth order, four stages; what torchdiffeq calls 'rk4'. "
    f"Source: {_HNW1}, Sec. II.1, Table 1.2. Notebook 02_runge_kutta_multistep.",
    "bosh3": "Bogacki–Shampine 3(2) pair, FSAL (3 new evaluations per step), "
    "cubic Hermite dense output (order 3). Source: Bogacki & Shampine, Appl. Math. "
    f"Lett. 2 (1989); {_HNW1}, Sec. II.4. Notebook 02_runge_kutta_multistep.",
    "dopri5": "Dormand–Prince 5(4) pair (the default; scipy's RK45, torchdiffeq's "
    "dopri5), FSAL (6 new evaluations per step), Shampine's order-4 continuous "
    "extension for dense output, Hairer's stiffness test. Source: Dormand & Prince, "
    f"J. Comput. Appl. Math. 6 (1980); {_HNW1}, Sec. II.5 and II.6. Notebooks 02, 05, 06.",
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
    methods = {name: RungeKuttaMethod(TABLEAUS[name], doc) for name, doc in _EXPLICIT_DOCS.items()}
    methods["backward_euler"] = ImplicitRungeKuttaMethod(
        "backward_euler",
        ButcherTableau([[1.0]], [1.0], [1.0], order=1, name="backward_euler",
                       explicit=False, reference=_HW2),
        "Backward (implicit) Euler, order 1, A- and L-stable: "
        "y_{n+1} = y_n + h f(t_{n+1}, y_{n+1}); the θ-method with θ = 0. "
        f"Sources: {_SM}, Sec. 12.6; {_HW2}, Sec. IV.3. Notebook 01_one_step_methods.",
    )
    methods["trapezoidal"] = ImplicitRungeKuttaMethod(
        "trapezoidal",
        theta_tableau(0.5),
        "Trapezoidal rule (Crank–Nicolson), order 2, A-stable: the θ-method with θ = ½. "
        f"Sources: {_SM}, Sec. 12.6; {_HW2}, Sec. IV.3. Notebook 01_one_step_methods.",
    )
    methods["theta"] = ImplicitRungeKuttaMethod(
        "theta",
        None,
        "The θ-method y_{n+1} = y_n + h(θ f_n + (1-θ) f_{n+1}) with `theta=` given to "
        "odeint (θ = 1 explicit Euler, θ = 0 backward Euler, θ = ½ trapezoidal). "
        f"Order 2 at θ = ½, else 1. Source: {_SM}, Sec. 12.6. "
        "Notebook 01_one_step_methods.",
    )
    methods["implicit_midpoint"] = ImplicitRungeKuttaMethod(
        "implicit_midpoint",
        ButcherTableau([[0.5]], [1.0], [0.5], order=2, name="implicit_midpoint",
                       explicit=False, reference="Gauss–Legendre, s = 1"),
        "Implicit midpoint rule y_{n+1} = y_n + h f(t_n + h/2, (y_n + y_{n+1})/2): the "
        "one-stage Gauss–Legendre method, order 2, A-stable, symplectic (it preserves "
        "quadratic invariants such as the energy of a linear oscillator). Sources: Hairer, "
        "Lubich & Wanner, Geometric Numerical Integration, Sec. II.1; Butcher, Sec. 34. "
        "Notebook 01_one_step_methods.",
    )
    for p, beta in ADAMS_BASHFORTH.items():
        methods[f"ab{p}"] = LinearMultistep(
            f"ab{p}", adams_alpha(p), beta, p,
            f"Adams–Bashforth, {p}-step, order {p}, explicit. Started (and a short last "
            f"step taken) with rk4. Sources: {_HNW1}, Sec. III.1; {_SM}, Sec. 12.9. "
            "Notebook 02_runge_kutta_multistep.",
        )
    for p, beta in ADAMS_MOULTON.items():
        steps = len(beta) - 1
        methods[f"am{p}"] = LinearMultistep(
            f"am{p}", adams_alpha(steps), beta, p,
            f"Adams–Moulton, {steps}-step, order {p}, implicit (Newton). "
            f"{_implicit_start(p, steps)} Sources: {_HNW1}, Sec. III.1; {_SM}, Sec. 12.9. "
            "Notebook 02_runge_kutta_multistep.",
        )
    for p in ADAMS_BASHFORTH:
        methods[f"abm{p}"] = AdamsPredictorCorrector(p)
    for p, (alpha, beta_k) in BDF.items():
        beta = (0,) * (len(alpha) - 1) + (beta_k,)
        methods[f"bdf{p}"] = LinearMultistep(
            f"bdf{p}", alpha, beta, p,
            f"Backward differentiation formula, {p}-step, order {p}, implicit (Newton); "
            f"{'A-stable' if p <= 2 else 'A(α)-stable'}, for stiff problems. "
            f"{_implicit_start(p, len(alpha) - 1)} Sources: {_HNW1}, Sec. III.1; "
            f"{_HW2}, Sec. V.1. Notebook 02_runge_kutta_multistep.",
        )
    return methods


def _alias(method, name, doc):
    """The same method object under another name (its own name and docstring)."""
    import copy

    twin = copy.copy(method)
    twin.name = name
    twin.__doc__ = doc
    return twin


# -- torchdiffeq's method names (feature: torchdiffeq compatibility). Where a name means
# the same method in both libraries it is an entry here; torchdiffeq's "rk4" is Kutta's
# 3/8 rule, which is "rk38" here: this library's "rk4" stays the classical method.
TORCHDIFFEQ_NAMES = {
    "dopri5": "dopri5", "bosh3": "bosh3", "fehlberg2": "fehlberg2",
    "adaptive_heun": "adaptive_heun", "euler": "euler", "midpoint": "midpoint",
    "heun2": "heun2", "heun3": "heun3", "rk4": "rk38 (torchdiffeq's rk4 is the 3/8 rule)",
    "explicit_adams": "explicit_adams (= ab4)", "implicit_adams": "implicit_adams (= am4)",
    "fixed_adams": "fixed_adams (= am4)", "scipy_solver": "scipy_solver",
    "dopri8": "dopri8 (Hairer's DOP853 here, RK8(7)13M there: equal to the tolerance)",
}
"""torchdiffeq's method name -> the name here that computes the same numbers."""


class Dop853Method(RungeKuttaMethod):
    """``dopri8``: Hairer's DOP853 with its order-7 dense output (``_dop853.py``).

    Its tableau is built when first used: the coefficients come from scipy, which
    ``import course_utils.ode`` must not import.
    """

    name = "dopri8"
    order = 8
    adaptive = True
    error_order = 7
    family = "adaptive Runge–Kutta"

    def __init__(self):
        from ._dop853 import DOP853_DOC

        self.__doc__ = DOP853_DOC
        self._tableau = None

    @property
    def tableau(self):
        if self._tableau is None:
            from ._dop853 import dop853_tableau

            self._tableau = dop853_tableau()
        return self._tableau

    def make_step(self, evaluator, backend, options, stats):
        from ._dop853 import Dop853Step

        return Dop853Step(self.tableau, evaluator, backend)


def _build_torchdiffeq_names(methods):
    _TD = "torchdiffeq's name"
    methods["heun2"] = _alias(
        methods["heun"], "heun2",
        f"Heun's method (explicit trapezoidal rule), order 2: {_TD} for 'heun'. "
        f"Source: {_SM}, Sec. 12.5.")
    methods["heun3"] = RungeKuttaMethod(
        TABLEAUS["heun3"],
        "Heun's third-order method, three stages (c = 0, 1/3, 2/3; b = 1/4, 0, 3/4), as "
        f"torchdiffeq's 'heun3'. Source: {_HNW1}, Sec. II.1, Table 1.1.")
    methods["fehlberg2"] = RungeKuttaMethod(
        TABLEAUS["fehlberg2"],
        "Fehlberg's RK1(2) pair, propagating the order-2 solution, 3 evaluations per "
        "step, cubic Hermite dense output (torchdiffeq's 'fehlberg2'). Source: Fehlberg, "
        f"NASA TR R-315 (1969); {_HNW1}, Sec. II.4.")
    methods["adaptive_heun"] = RungeKuttaMethod(
        TABLEAUS["adaptive_heun"],
        "Heun–Euler 2(1) pair: Heun's method with explicit Euler as the error estimate, "
        f"cubic Hermite dense output (torchdiffeq's 'adaptive_heun'). Source: {_HNW1}, "
        "Sec. II.4.")
    methods["explicit_adams"] = _alias(
        methods["ab4"], "explicit_adams",
        "Adams–Bashforth, 4-step, order 4, fixed step: torchdiffeq's 'explicit_adams' "
        "(it starts at order 1 and raises the order as history accumulates; this one "
        f"starts with rk4 steps, so the first steps differ). Source: {_HNW1}, Sec. III.1.")
    implicit_doc = (
        "Adams–Moulton of order 4 (3-step), the corrector solved by Newton: "
        "torchdiffeq's '{name}' (an AB4 predictor with fixed-point iterations of the AM4 "
        "corrector towards the same solution; it starts at order 1, this one with backward "
        f"Euler extrapolated to order 4). Source: {_HNW1}, Sec. III.1.")
    for name in ("implicit_adams", "fixed_adams"):
        methods[name] = _alias(methods["am4"], name, implicit_doc.format(name=name))
    methods["dopri8"] = Dop853Method()
    # beyond torchdiffeq: the default of diffrax and DifferentialEquations.jl
    methods["tsit5"] = RungeKuttaMethod(
        TABLEAUS["tsit5"],
        "Tsitouras 5(4) pair (the default of diffrax and DifferentialEquations.jl), FSAL "
        "(6 new evaluations per step), its own order-4 continuous extension for dense "
        "output; smaller error constants than dopri5 at the same cost. Source: Tsitouras, "
        "Comput. Math. Appl. 62 (2011) 770-775.")
    return methods


METHODS = _build_torchdiffeq_names(_build())
"""dict: method name -> method object (with ``.order``, ``.adaptive``, ``.implicit``)."""


# ----------------------------------------------------------------------------- stiff solvers
# Issue 14: adaptive implicit pairs (ESDIRK/SDIRK, Rosenbrock) and method="auto".
class AdaptiveStiffMethod(OdeMethod):
    """An adaptive implicit pair for stiff problems: Jacobian and LU reused across steps.

    ``kind`` is ``"dirk"`` (an embedded diagonally implicit tableau, Newton stages) or
    ``"rosenbrock23"`` (ode23s). The step comes from ``_stiff_steps``, the controller
    (PI, Newton failure -> rejection) from ``_switching``. Newton's stopping tolerance
    follows ``rtol`` (``newton_tol`` is for the fixed-step implicit methods); at most
    ``min(max_newton_iters, 7)`` iterations per stage.
    """

    adaptive = True
    implicit = True
    family = "adaptive implicit (stiff)"

    def __init__(self, name, kind, tableau, order, error_order, doc):
        self.name, self.kind, self.tableau = name, kind, tableau
        self.order, self.error_order = order, error_order
        self.__doc__ = doc

    def make_step(self, evaluator, backend, options, stats):
        from ._stiff_steps import (
            NEWTON_MAX_ITERS,
            AdaptiveDIRK,
            JacobianState,
            Radau5,
            Rosenbrock23,
            StageNewton,
        )

        jacobian = JacobianState(evaluator, backend, options.jac, stats)
        if self.kind == "rosenbrock23":
            return Rosenbrock23(evaluator, backend, jacobian, stats)
        iters = min(options.max_newton_iters, NEWTON_MAX_ITERS)
        if self.kind == "radau5":
            if backend.dtype != backend.real_dtype:
                raise ValueError("method='radau5' solves real states only (its Newton "
                                 "systems pair each complex stage with its conjugate); "
                                 "for a complex state use 'sdirk4' or 'kvaerno3', or "
                                 "pass the real and imaginary parts as a real state.")
            return Radau5(evaluator, backend, jacobian, stats, iters)
        newton = StageNewton(evaluator, backend, jacobian, stats, iters)
        return AdaptiveDIRK(self.tableau, evaluator, backend, jacobian, newton)

    def make_controller(self, step, rtol, atol, options):
        from ._switching import StiffController

        step.set_tolerances(rtol, atol)
        return StiffController(self.error_order, rtol, atol, first_step=options.first_step,
                               predictive=self.kind == "radau5")


class AutoSwitchingMethod(OdeMethod):
    """``method="auto"``: dopri5 while the problem is not stiff, radau5 while it is.

    Stiffness is detected by dopri5's own test (Hairer's, HW II Sec. IV.2) and its end by
    ``|h|·‖J‖∞`` falling well inside dopri5's stability region; ``stats.switches`` says
    when it switched. In the spirit of Petzold's LSODA (SIAM J. Sci. Stat. Comput. 4,
    1983), which switches between Adams and BDF. Notebook 02_runge_kutta_multistep.
    """

    name = "auto"
    adaptive = True
    implicit = False  # explicit until the problem is stiff (no Jacobian before that)
    may_switch_to_implicit = True  # so it takes `jac` and the Newton options
    family = "adaptive, switching (stiff)"

    def __init__(self, explicit, stiff):
        self.explicit, self.stiff = explicit, stiff
        self.order = min(explicit.order, stiff.order)
        self.error_order = explicit.error_order

    def make_step(self, evaluator, backend, options, stats):
        from ._switching import SwitchingStep

        return SwitchingStep(self.explicit.make_step(evaluator, backend, options, stats),
                             self.stiff.make_step(evaluator, backend, options, stats))

    def make_controller(self, step, rtol, atol, options):
        from ._switching import SwitchingController

        stiff = self.stiff.make_controller(step.stiff, rtol, atol, options)
        explicit = PIController(self.explicit.error_order, rtol, atol,
                                first_step=options.first_step)
        return SwitchingController(step, explicit, stiff, (self.explicit.name, self.stiff.name))


def _build_stiff():
    from ._stiff_tableaus import RADAU5, STIFF_TABLEAUS

    docs = {
        "kvaerno3": "Kværnø's ESDIRK 3(2) pair: four stages (the first explicit), γ ≈ "
        "0.4359, order 3, L-stable, stiffly accurate; the order-2 embedded solution is "
        "the third stage. Source: Kværnø, BIT 44 (2004) (diffrax's Kvaerno3).",
        "sdirk4": "Hairer & Wanner's L-stable SDIRK method of order 4 with an embedded "
        "order-3 solution: five implicit stages, γ = 1/4, stiffly accurate. Source: "
        f"{_HW2}, Sec. IV.6, Table 6.5.",
        "trbdf2": "TR-BDF2 (a trapezoidal stage to t + γh, γ = 2 - √2, then BDF2) as a "
        "three-stage ESDIRK, order 2, L-stable, with Hosea & Shampine's order-3 "
        "companion for the error estimate. Source: Hosea & Shampine, Appl. Numer. Math. "
        "20 (1996); Bank et al., IEEE Trans. CAD 4 (1985).",
    }
    methods = {}
    methods["radau5"] = AdaptiveStiffMethod(
        "radau5", "radau5", RADAU5.tableau, 5, 3,
        "The 3-stage Radau IIA method: collocation, order 5, L-stable, stiffly accurate, "
        "the method of Hairer & Wanner's RADAU5 and scipy's Radau. Its 3n × 3n Newton "
        "system splits into one real and one complex n × n system (the eigenvalues of "
        "A⁻¹); the error estimate is filtered through the real system's LU; dense output "
        "is the collocation polynomial. Jacobian and LU factors reused across steps. "
        f"Source: {_HW2}, Sec. IV.5 and IV.8. Notebook 02_runge_kutta_multistep.",
    )
    for name, doc in docs.items():
        tableau = STIFF_TABLEAUS[name]
        methods[name] = AdaptiveStiffMethod(
            name, "dirk", tableau, tableau.order,
            min(tableau.order, tableau.embedded_order),
            doc + " Jacobian and LU factors reused across steps; cubic Hermite dense "
            "output. Notebook 02_runge_kutta_multistep.",
        )
    methods["rosenbrock23"] = AdaptiveStiffMethod(
        "rosenbrock23", "rosenbrock23", None, 2, 2,
        "The Rosenbrock 2(3) pair of MATLAB's ode23s: linearly implicit (one Jacobian, "
        "one LU factorisation, three linear solves and three evaluations of f per step, "
        "no Newton iterations), order 2, L-stable, with its own dense output. Source: "
        "Shampine & Reichelt, SIAM J. Sci. Comput. 18 (1997). "
        "Notebook 02_runge_kutta_multistep.",
    )
    methods["auto"] = AutoSwitchingMethod(METHODS["dopri5"], methods["radau5"])
    return methods


METHODS.update(_build_stiff())

_FAMILIES = {
    "explicit": lambda m: isinstance(m, RungeKuttaMethod) and not m.adaptive,
    "adaptive": lambda m: m.adaptive and not m.implicit and not isinstance(m, AutoSwitchingMethod),
    "implicit": lambda m: isinstance(m, (ImplicitRungeKuttaMethod, AdaptiveStiffMethod,
                                         AutoSwitchingMethod)),
    "stiff": lambda m: isinstance(m, (AdaptiveStiffMethod, AutoSwitchingMethod)),
    "multistep": lambda m: isinstance(m, (LinearMultistep, AdamsPredictorCorrector)),
}


def list_methods(family=None):
    """Names of the registered methods, in registry order.

    Parameters
    ----------
    family : {None, "explicit", "adaptive", "implicit", "multistep", "stiff"}
        Keep only fixed-step explicit RK, adaptive explicit pairs, implicit one-step
        (fixed step and adaptive), linear multistep methods, or the adaptive stiff
        solvers (``radau5, kvaerno3, sdirk4, trbdf2, rosenbrock23, auto``).

    Returns
    -------
    list of str
    """
    if family is not None and family not in _FAMILIES:
        raise ValueError(f"`family` must be one of {sorted(_FAMILIES)} or None.")
    keep = _FAMILIES.get(family, lambda m: True)
    return [name for name, m in METHODS.items() if keep(m)]


def resolve_method(method):
    """Turn ``method`` (a name, a ButcherTableau or a method object) into a method object."""
    if isinstance(method, OdeMethod) or getattr(method, "wraps_scipy", False):
        return method
    if isinstance(method, ButcherTableau):
        if method.is_explicit:
            return RungeKuttaMethod(method)
        if all(method.a[i, j] == 0.0 for i in range(method.num_stages)
               for j in range(i + 1, method.num_stages)):
            return ImplicitRungeKuttaMethod(method.name, method, method.reference)
        raise ValueError(
            f"Tableau {method.name!r} is fully implicit (non-zero entries above the "
            "diagonal of `a`); odeint steps explicit and diagonally implicit tableaus."
        )
    if isinstance(method, str) and method.lower() in METHODS:
        return METHODS[method.lower()]
    if method == "scipy_solver":  # not in METHODS: not one of the engine's own methods
        from ._compat import ScipySolver

        return ScipySolver()
    raise ValueError(
        f"Unknown `method` {method!r}. Known methods: {', '.join(METHODS)}, "
        "scipy_solver; or pass a ButcherTableau."
    )
