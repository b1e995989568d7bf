"""Pieces of torchdiffeq's interface that sit around the engine (feature: torchdiffeq
compatibility): step callbacks, linear interpolation between grid points, gradients with
respect to the output times, and ``method='scipy_solver'``.
"""

import numpy as np

from .._arrays import to_numpy

__all__ = ["Callbacks", "LinearInterpolation", "ScipySolver", "time_gradient_start",
           "time_gradient_outputs", "CALLBACK_NAMES"]

CALLBACK_NAMES = ("callback_step", "callback_accept_step", "callback_reject_step")


class Callbacks:
    """``func.callback_step(t0, y0, dt)`` before every step attempt, then
    ``callback_accept_step`` or ``callback_reject_step`` (torchdiffeq's names; ``t0`` and
    ``dt`` as ``func`` receives times, ``y0`` in the user's structure)."""

    @staticmethod
    def of(func, evaluator, structure):
        if not any(callable(getattr(func, name, None)) for name in CALLBACK_NAMES):
            return None
        return Callbacks(func, evaluator, structure)

    def __init__(self, func, evaluator, structure):
        nothing = lambda t0, y0, dt: None
        self._step, self._accept, self._reject = (
            getattr(func, name, None) or nothing for name in CALLBACK_NAMES
        )
        self.time = evaluator.func_time
        self.unflatten = (lambda y: y) if structure is None else structure.unflatten

    def step(self, t, y, h):
        self._step(self.time(t), self.unflatten(y), self.time(h))

    def accept(self, t, y, h):
        self._accept(self.time(t), self.unflatten(y), self.time(h))

    def reject(self, t, y, h):
        self._reject(self.time(t), self.unflatten(y), self.time(h))


class LinearInterpolation:
    """A fixed step whose output times between grid points are interpolated linearly
    (``interp='linear'``, torchdiffeq's default for its fixed-grid solvers)."""

    needs_end_derivative = False

    def __init__(self, step):
        self.inner = step

    def step(self, t, h, t_new, y, f):
        return self.inner.step(t, h, t_new, y, f)

    def interpolate(self, t, h, y, result, theta):
        return y + (result.y_new - y) * theta


# ----------------------------------------------------------------------------- t-gradients
def time_gradient_start(backend, evaluator, t, y0):
    r"""``y0`` shifted by ``-(t_0 - t_0.detach()) f(t_0, y_0)``: the same value, and the
    derivative of every later output with respect to ``t_0``,
    :math:`\partial y(t_i)/\partial t_0 = -\Phi(t_i, t_0) f(t_0, y_0)`, comes out of
    autograd through the solve (costs one evaluation of ``func``)."""
    with backend.no_grad():
        f0 = backend.detach(evaluator(float(t[0]), y0))
    shift = t[0] - backend.detach(t[0])
    return y0 - f0 * shift.to(f0.dtype)


def time_gradient_outputs(backend, evaluator, t, times, ys, y0):
    r"""The outputs with :math:`\partial y(t_i)/\partial t_i = f(t_i, y(t_i))` attached
    for ``i >= 1`` (``ys[0]`` is ``y0`` itself: it does not move with ``t_0``). One
    evaluation of ``func`` per output time."""
    rows = [y0]
    for i in range(1, ys.shape[0]):
        with backend.no_grad():
            f_i = backend.detach(evaluator(times[i], ys[i]))
        shift = t[i] - backend.detach(t[i])
        rows.append(ys[i] + f_i * shift.to(f_i.dtype))
    return backend.stack(rows)


# ----------------------------------------------------------------------------- scipy
class ScipySolver:
    """``method='scipy_solver'``: ``scipy.integrate.solve_ivp`` with ``options['solver']``
    (RK45, RK23, DOP853, Radau, BDF, LSODA), arrays or tensors in and out (torchdiffeq's
    ``scipy_solver``; no gradients flow through it)."""

    name = "scipy_solver"
    adaptive = True
    implicit = False
    needs_theta = False
    wraps_scipy = True
    family = "scipy"
    order = 5
    error_order = 4
    __doc__ = __doc__

    @property
    def options(self):
        from ._options import OPTIONS

        return frozenset(n for n, o in OPTIONS.items() if o.applies_to(self))

    def __repr__(self):
        return "<ScipySolver 'scipy_solver': scipy.integrate.solve_ivp>"

    def solve(self, evaluator, backend, y0, times, rtol, atol, opts, stats):
        from scipy.integrate import solve_ivp

        from .._arrays import is_torch

        shape, like = backend.shape, y0
        as_state = (lambda v: _tensor_like(v.reshape(shape), like)) if is_torch(like) else \
            (lambda v: v.reshape(shape))

        def rhs(t, y):
            out = evaluator(t, as_state(y))
            return to_numpy(out).reshape(-1)

        extra = {}
        if opts.first_step is not None:
            extra["first_step"] = opts.first_step
        if opts.max_step is not None:
            extra["max_step"] = opts.max_step
        host = lambda tol: tol if isinstance(tol, float) else to_numpy(tol).reshape(-1)
        sol = solve_ivp(rhs, (times[0], times[-1]), to_numpy(y0).reshape(-1),
                        method=opts.solver, t_eval=times, rtol=host(rtol), atol=host(atol),
                        **extra)
        if not sol.success:
            from ._errors import ODESolverError

            raise ODESolverError(f"scipy's {opts.solver} failed: {sol.message}",
                                 t=float(sol.t[-1]) if len(sol.t) else times[0], stats=stats)
        return backend.stack([as_state(np.ascontiguousarray(col)) for col in sol.y.T])


def _tensor_like(array, like):
    import sys

    torch = sys.modules["torch"]
    return torch.as_tensor(array, dtype=like.dtype, device=like.device)
