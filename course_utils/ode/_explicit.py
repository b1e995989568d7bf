"""Fixed-step explicit Runge–Kutta methods: one stepper for every tableau."""

from ._base import OdeMethod
from ._fixed import solve_fixed_grid

__all__ = ["ExplicitRungeKutta", "RungeKuttaStepper"]


class RungeKuttaStepper:
    """Takes explicit Runge–Kutta steps with the coefficients of one tableau.

    ``step(t, t_next, y, f_start)`` returns ``(y_next, f_start_used, f_next)``:
    ``f_start`` is ``f(t, y)`` when the caller already knows it (then the first
    stage is free), ``f_next`` is always None here (RK does not compute it).
    """

    def __init__(self, tableau, evaluator, ops):
        self.evaluator = evaluator
        self.kernel = ops.rk_kernel(tableau)

    def step(self, t, t_next, y, f_start):
        k0 = self.evaluator(t, y) if f_start is None else f_start
        y_next, f_next, _ = self.kernel.step(self.evaluator, t, t_next - t, t_next, y, k0)
        return y_next, k0, f_next


class ExplicitRungeKutta(OdeMethod):
    """A fixed-step explicit Runge–Kutta method defined by its Butcher tableau.

    Parameters
    ----------
    tableau : ButcherTableau
        An explicit tableau (strictly lower-triangular ``a``).
    doc : str, optional
        The docstring of this method object (what it is, where it comes from).
    """

    adaptive = False
    implicit = False
    family = "explicit Runge–Kutta"
    options = frozenset({"step_size"})

    def __init__(self, tableau, doc=None):
        if not tableau.is_explicit:
            raise ValueError(
                f"Tableau {tableau.name!r} is implicit; odeint only steps explicit tableaus "
                "(use 'backward_euler', 'trapezoidal', 'implicit_midpoint' or 'theta' "
                "for implicit one-step methods)."
            )
        self.tableau = tableau
        self.name = tableau.name
        self.order = tableau.order
        self.__doc__ = doc or (
            f"Explicit Runge–Kutta method {tableau.name!r} of order {tableau.order}, "
            f"{tableau.num_stages} stages. Source: {tableau.reference or 'user-defined'}."
        )

    def make_stepper(self, evaluator, ops, options, stats, step):
        return RungeKuttaStepper(self.tableau, evaluator, ops)

    def solve(self, evaluator, ops, y0, times, options, stats):
        return solve_fixed_grid(self, evaluator, ops, y0, times, options, stats)
