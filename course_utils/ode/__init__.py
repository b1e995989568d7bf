"""ODE solvers for the course: one ``odeint`` for NumPy arrays and torch tensors.

Public API
----------
odeint(func, y0, t, *, method="dopri5", rtol=1e-7, atol=1e-9, step_size=None, ...)
    Solve ``dy/dt = func(t, y)``; torchdiffeq's calling convention.
METHODS, list_methods()
    The registry: name -> method object (``.order``, ``.adaptive``, ``.implicit``,
    and a docstring citing its source).
ButcherTableau
    A Runge–Kutta method as data; pass one as ``method=`` to use your own.
SolveStats
    What ``odeint(..., return_stats=True)`` returns next to the solution.
ODESolverError, NewtonConvergenceError
    Failures during a solve (both are ``RuntimeError``).

Importing this module never imports torch (week 1 and 2 work without it).
"""

from ._errors import NewtonConvergenceError, ODESolverError
from ._implicit import theta_tableau
from ._odeint import odeint
from ._registry import METHODS, list_methods
from ._stats import SolveStats
from ._tableaus import TABLEAUS, ButcherTableau

__all__ = [
    "odeint",
    "METHODS",
    "list_methods",
    "ButcherTableau",
    "TABLEAUS",
    "SolveStats",
    "ODESolverError",
    "NewtonConvergenceError",
    "theta_tableau",
]
