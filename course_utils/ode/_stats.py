"""The statistics of one solve (returned by ``odeint(..., return_stats=True)``)."""

from dataclasses import dataclass, field

__all__ = ["SolveStats"]


@dataclass
class SolveStats:
    """Counters and step history of one call to :func:`~course_utils.ode.odeint`.

    Introduced in notebook ``02_runge_kutta_multistep`` ("Adaptive step sizes").

    Attributes
    ----------
    nfe : int
        Number of calls of ``func`` for any reason: stages, the automatic initial
        step, finite-difference or autograd Jacobians, Newton iterations, and the
        extra evaluations a fixed-step method needs to interpolate off-grid outputs.
    num_accepted : int
        Accepted steps (for fixed-step methods: all steps taken).
    num_rejected : int
        Steps rejected by the error controller (always 0 for fixed-step methods).
    step_sizes : list of float
        Signed size ``t_{n+1} - t_n`` of every accepted step, in order.
    step_times : list of float
        Start time ``t_n`` of every accepted step (``step_times[i] + step_sizes[i]``
        is where step ``i`` ended; the last one ends exactly at ``t[-1]``).
    njev : int
        Jacobian evaluations (implicit methods only).
    num_newton_iters : int
        Newton iterations, summed over all implicit steps (a Rosenbrock method counts
        each of its linear stage solves, one Newton iteration of the linearised stage).
    num_lu : int
        LU factorisations of the Newton matrix ``I - hγJ`` (adaptive stiff methods).
    switches : list of (float, str)
        ``(t, method)`` each time ``method="auto"`` changed method at ``t``.
    events : list of (float, int)
        ``(time, index)`` of every event found by ``odeint(..., event_fn=...)`` (the
        index says which component of the event function, or which function of a
        list, crossed zero), in the order found; the terminal one last.
    """

    nfe: int = 0
    num_accepted: int = 0
    num_rejected: int = 0
    step_sizes: list = field(default_factory=list)
    step_times: list = field(default_factory=list)
    njev: int = 0
    num_newton_iters: int = 0
    num_lu: int = 0
    switches: list = field(default_factory=list)
    events: list = field(default_factory=list)

    @property
    def num_events(self) -> int:
        """Events found (terminal and non-terminal)."""
        return len(self.events)

    @property
    def num_steps(self) -> int:
        """Accepted plus rejected steps."""
        return self.num_accepted + self.num_rejected

    def __str__(self) -> str:
        text = f"nfe={self.nfe}, accepted={self.num_accepted}, rejected={self.num_rejected}"
        if self.step_sizes:
            sizes = [abs(h) for h in self.step_sizes]
            text += f", |h| in [{min(sizes):.3g}, {max(sizes):.3g}]"
        if self.njev or self.num_newton_iters:
            text += f", njev={self.njev}, newton_iters={self.num_newton_iters}"
        if self.num_lu:
            text += f", lu={self.num_lu}"
        if self.switches:
            text += ", switches: " + ", ".join(f"{m} at t={t:.6g}" for t, m in self.switches)
        if self.events:
            text += f", events={self.num_events}"
        return text
