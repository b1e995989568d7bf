"""Exceptions raised while solving (bad *arguments* raise the built-in ``ValueError``)."""

from __future__ import annotations

__all__ = ["ODESolverError", "NewtonConvergenceError"]


class ODESolverError(RuntimeError):
    """The solve started with valid arguments but could not be completed.

    Raised for a step-size underflow, ``max_steps`` exhausted, or NaN/inf appearing in
    the solution. The message says the time reached and what to try next.

    Attributes
    ----------
    t : float or None
        The time the solve reached before failing (read this instead of parsing the
        message).
    stats : SolveStats or None
        The statistics of the solve up to the failure, when they were being collected.
    """

    def __init__(self, message: str, *, t: float | None = None, stats=None):
        super().__init__(message)
        self.t = t
        self.stats = stats


class NewtonConvergenceError(ODESolverError):
    """Newton's method did not converge for an implicit step.

    The message says the time of the failing step; usually a smaller ``step_size``
    (or a larger ``max_newton_iters``) fixes it.
    """
