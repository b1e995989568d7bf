"""ODE solvers for the course: one ``odeint`` for NumPy arrays and torch tensors.

Public API
----------
odeint(func, y0, t, *, method="dopri5", rtol=1e-7, atol=1e-9, options=None, ...)
    Solve ``dy/dt = func(t, y)``; torchdiffeq's calling convention and interface
    (tuple states, its options and method names, ``event_fn``, callbacks, ``t``-grads).
odeint_event(func, y0, t0, *, event_fn, ...)
    Solve until an event; the event time is differentiable (torch).
METHODS, list_methods()
    The registry: name -> method object (``.order``, ``.adaptive``, ``.implicit``,
    and a docstring citing its source).
ButcherTableau, TABLEAUS, theta_tableau
    Runge–Kutta methods as data; pass a tableau as ``method=`` to use your own.
SolveStats
    What ``odeint(..., return_stats=True)`` returns next to the solution.
ODESolverError, NewtonConvergenceError
    Failures during a solve (both are ``RuntimeError``; ``.t`` and ``.stats`` say where).

Reading order
-------------
Four kinds of piece, each using only those above it:

1. **Data** — ``_tableaus.py`` (Butcher tableaus that validate themselves, with their
   order from ``_order_conditions.py`` and dopri5's dense-output weights) and
   ``_coefficients.py`` (the multistep methods' α, β).
2. **Steps** — ``_steps.py``: one explicit Runge–Kutta step for every tableau (the stages
   written plainly in ``PlainStages``; ``_kernels.py`` holds the per-backend fast paths
   that compute the same numbers), one diagonally implicit step through Newton's method
   (``_newton.py``) for backward Euler, trapezoidal, θ and implicit midpoint, and the
   multistep steps. Each returns the new state and a *raw* error estimate;
   ``_interp.py`` interpolates inside a step.
3. **Controllers** — ``_controllers.py``: the constant step and the PI controller, which
   owns ``rtol``/``atol``, the error norm and accept/reject; and the stiffness detector.
4. **The loop** — ``_loop.py``: drives any step with any controller and serves the output
   times from the step's interpolant.

``_odeint.py`` validates the arguments once (``_options.py`` is the one table of solver
options) and picks the pieces; around it, for torchdiffeq's interface, ``_structure.py``
flattens tuple states, ``_events.py`` finds events on the dense output,
``_odeint_event.py`` (a driver above ``odeint``) makes the event time differentiable,
``_compat.py`` holds callbacks, linear interpolation,
``t``-gradients and ``scipy_solver``, and ``_dop853.py`` is ``dopri8`` (a step with
three extra stages for its order-7 dense output); ``_registry.py`` says which pieces
each method name means; ``_backend.py`` is the one place that knows NumPy from torch.

Importing this module never imports torch (weeks 1 and 2 work without it).
"""

from ._errors import NewtonConvergenceError, ODESolverError
from ._odeint import odeint
from ._odeint_event import odeint_event
from ._registry import METHODS, list_methods, theta_tableau
from ._stats import SolveStats
from ._tableaus import TABLEAUS, ButcherTableau

__all__ = [
    "odeint",
    "odeint_event",
    "METHODS",
    "list_methods",
    "ButcherTableau",
    "TABLEAUS",
    "SolveStats",
    "ODESolverError",
    "NewtonConvergenceError",
    "theta_tableau",
]
