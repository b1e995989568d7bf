"""What every method object has, and the options one call of ``odeint`` carries."""

from dataclasses import dataclass
from typing import Any, Optional

__all__ = ["OdeMethod", "SolveOptions"]


@dataclass
class SolveOptions:
    """The keyword options of one ``odeint`` call, validated (internal)."""

    rtol: Any = 1e-7
    atol: Any = 1e-9
    step_size: Optional[float] = None
    max_steps: int = 100_000
    first_step: Optional[float] = None
    theta: Optional[float] = None
    jac: Any = None
    newton_tol: float = 1e-10
    max_newton_iters: int = 25


class OdeMethod:
    """Base class of the method objects in :data:`~course_utils.ode.METHODS`.

    A method object is data plus a ``solve`` entry point used by ``odeint``:

    1. ``name``, ``order`` and a docstring citing where the method comes from;
    2. ``adaptive`` (chooses its own steps from ``rtol``/``atol``) or fixed step
       (needs ``step_size``); ``implicit`` (solves a nonlinear equation by Newton);
    3. ``options``: the method-specific keywords of ``odeint`` it accepts
       (``step_size``, ``first_step``, ``theta``, ``jac``, ``newton_tol``,
       ``max_newton_iters``); passing any other one is an error;
    4. ``solve(evaluator, ops, y0, times, options, stats)`` returns the stacked
       outputs; fixed-step methods implement ``make_stepper`` instead and share the
       fixed-grid driver.
    """

    name = "method"
    order = 0
    adaptive = False
    implicit = False
    family = ""
    options = frozenset()

    def __repr__(self) -> str:
        kind = "adaptive" if self.adaptive else "fixed step"
        kind += ", implicit" if self.implicit else ""
        return f"<{type(self).__name__} {self.name!r}: order {self.order}, {kind}>"
