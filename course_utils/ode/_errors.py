"""Exceptions raised while solving (bad *arguments* raise the built-in ``ValueError``)."""

__all__ = ["ODESolverError", "NewtonConvergenceError"]


class ODESolverError(RuntimeError):
    """The solve started with valid arguments but could not be completed.

    Raised for a step-size underflow, ``max_steps`` exhausted, or NaN/inf appearing in
    the solution. The message says the time reached and what to try next.
    """


class NewtonConvergenceError(ODESolverError):
    """Newton's method did not converge for an implicit step.

    The message says the time of the failing step; usually a smaller ``step_size``
    (or a larger ``max_newton_iters``) fixes it.
    """
