"""The one place that knows whether the state is a NumPy array or a torch tensor.

The steppers only do arithmetic on the state and call the few helpers of an *ops*
object (linear combinations of stage derivatives, the error norm, stacking, the
Newton linear algebra). ``NumpyOps`` and ``TorchOps`` implement them; ``get_ops``
picks one from ``y0``. torch is never imported here: a tensor can only exist if
the user already imported torch, so we take the module from ``sys.modules``.

Performance notes (measured, see ``benchmarks/solvers.py``):

* Runge–Kutta stages run in per-backend kernels (``_kernels``);
* other linear combinations (multistep methods) are accumulated term by term,
  skipping zero coefficients, with Python-float coefficients; for torch one fused
  ``torch.add(.., alpha=..)`` followed by in-place ``add_`` per term (autograd-safe:
  the backward of an addition never needs the values it overwrote).
"""

import contextlib
import math
import sys

import numpy as np

from ._errors import ODESolverError
from ._kernels import NumpyRungeKuttaKernel, TorchRungeKuttaKernel

__all__ = ["is_torch", "get_ops", "NumpyOps", "TorchOps"]


def is_torch(x) -> bool:
    """True if ``x`` is a torch tensor (decided without importing torch)."""
    return type(x).__module__.startswith("torch") and "torch" in sys.modules


def get_ops(y0):
    """Return ``(y0, ops)``: the state as a floating array/tensor and its backend."""
    if is_torch(y0):
        torch = sys.modules["torch"]
        if not (y0.is_floating_point() or y0.is_complex()):
            y0 = y0.to(torch.get_default_dtype())
        return y0, TorchOps(torch, y0)
    try:
        y0 = np.asarray(y0)
    except Exception as exc:  # e.g. a ragged list
        raise ValueError(f"`y0` must be an array or tensor of numbers: {exc}") from None
    if y0.dtype == object or not np.issubdtype(y0.dtype, np.number):
        raise ValueError(f"`y0` must hold numbers, got dtype {y0.dtype}.")
    if not (np.issubdtype(y0.dtype, np.floating) or np.issubdtype(y0.dtype, np.complexfloating)):
        y0 = y0.astype(np.float64)
    return y0, NumpyOps(y0)


# ----------------------------------------------------------------------------- evaluators
class _NumpyEvaluator:
    """Calls ``func(t, y)`` with a float ``t`` and counts the calls in ``nfe``."""

    __slots__ = ("func", "nfe")

    def __init__(self, func):
        self.func = func
        self.nfe = 0

    def __call__(self, t, y):
        self.nfe += 1
        return self.func(t, y)

    def time(self, t):
        return t


class _ConvertingNumpyEvaluator(_NumpyEvaluator):
    """As above, for a ``func`` that returns lists or Python floats."""

    __slots__ = ()

    def __call__(self, t, y):
        self.nfe += 1
        return np.asarray(self.func(t, y), dtype=float)


class _TorchEvaluator:
    """Calls ``func(t, y)`` with ``t`` a 0-d tensor of ``y0``'s dtype and device."""

    __slots__ = ("func", "nfe", "_scalar", "_dtype", "_device")

    def __init__(self, func, torch, y0):
        self.func = func
        self.nfe = 0
        self._scalar = torch.scalar_tensor
        self._dtype = y0.real.dtype if y0.is_complex() else y0.dtype
        self._device = y0.device

    def __call__(self, t, y):
        self.nfe += 1
        return self.func(self._scalar(t, dtype=self._dtype, device=self._device), y)

    def time(self, t):
        return self._scalar(t, dtype=self._dtype, device=self._device)


def _describe(x) -> str:
    return type(x).__module__.split(".")[0] + "." + type(x).__name__


# ----------------------------------------------------------------------------- NumPy
class NumpyOps:
    """Backend helpers for NumPy states of any shape."""

    name = "numpy"

    def __init__(self, y0):
        self.shape = y0.shape
        self.size = y0.size
        self.dtype = y0.dtype
        self.eps = float(np.finfo(y0.dtype).eps)

    # -- evaluation
    def evaluator(self, func):
        return _NumpyEvaluator(func)

    def first_call(self, evaluator, t, y):
        """Evaluate ``func(t, y)`` once and check what it returned."""
        out = evaluator(t, y)
        if not isinstance(out, (np.ndarray, np.generic)):
            if is_torch(out):
                raise ValueError(
                    "`func` returned a torch tensor but `y0` is a NumPy array; "
                    "pass `y0` as a tensor to solve with torch."
                )
            try:
                out = np.asarray(out, dtype=float)
            except Exception:
                raise ValueError(
                    f"`func` must return an array with the shape of `y` {self.shape}, "
                    f"got {_describe(out)}."
                ) from None
            evaluator.__class__ = _ConvertingNumpyEvaluator
        check_shape(out, self.shape, t)
        return out

    def rk_kernel(self, tableau, rtol=None, atol=None):
        """The Runge–Kutta stage kernel for this backend (see ``_kernels``)."""
        return NumpyRungeKuttaKernel(tableau, self, rtol, atol)

    # -- arithmetic
    @staticmethod
    def combine(base, h, pairs, ks):
        """``base + h * sum(a * ks[j] for j, a in pairs)`` (``base`` may be None)."""
        acc = None
        for j, a in pairs:
            term = ks[j] * (h * a)
            if acc is None:
                acc = term
            else:
                acc += term
        if base is None:
            return acc
        if acc is None:
            return base
        return base + acc

    def scaled_rms(self, xs, scale):
        """RMS norms of each ``x / scale`` as Python floats."""
        out = []
        for x in xs:
            r = np.ravel(np.abs(x) / scale)
            out.append(math.sqrt(float(np.dot(r, r)) / self.size))
        return out

    @staticmethod
    def abs(x):
        return np.abs(x)

    @staticmethod
    def no_grad():
        return contextlib.nullcontext()

    @staticmethod
    def all_finite(x) -> bool:
        """No NaN or inf in ``x`` (fast path: a finite sum; confirm if it is not)."""
        with np.errstate(all="ignore"):
            if math.isfinite(abs(np.sum(x))):
                return True
        return bool(np.all(np.isfinite(x)))

    @staticmethod
    def stack(xs):
        return np.stack([np.asarray(x) for x in xs])

    @staticmethod
    def detach(x):
        return x

    def tolerance(self, value, name):
        """A tolerance as a float, or an array broadcastable to the state."""
        if np.ndim(value) == 0:
            return float(value)
        arr = np.asarray(value, dtype=float)
        _check_broadcast(arr.shape, self.shape, name)
        return arr

    def max_abs(self, delta, y):
        """``(max|delta|, max|y|)`` as Python floats (one host sync)."""
        return float(np.max(np.abs(delta))), float(np.max(np.abs(y)))

    # -- Newton linear algebra (the state flattened to a vector of length n)
    def identity(self, n):
        return np.eye(n)

    def newton_matrix(self, jac, gamma_h):
        return np.eye(self.size) - gamma_h * jac

    def linear_solve(self, matrix, rhs):
        flat = np.reshape(rhs, (self.size,))
        try:
            sol = np.linalg.solve(matrix, flat)
        except np.linalg.LinAlgError:
            sol = np.full_like(flat, np.nan)
        return np.reshape(sol, self.shape)

    def finite_difference_jacobian(self, evaluator, t, y, f_y):
        """Forward-difference Jacobian, ``(n, n)``; costs ``n`` evaluations."""
        y_flat = np.array(y, dtype=float).reshape(self.size)
        f_flat = np.reshape(f_y, (self.size,))
        jac = np.empty((self.size, self.size))
        root_eps = math.sqrt(self.eps)
        for j in range(self.size):
            shifted = y_flat.copy()
            shifted[j] += root_eps * max(1.0, abs(y_flat[j]))
            step = shifted[j] - y_flat[j]
            f_shift = np.reshape(evaluator(t, shifted.reshape(self.shape)), (self.size,))
            jac[:, j] = (f_shift - f_flat) / step
        return jac

    def user_jacobian(self, jac_fn, t, y):
        jac = np.asarray(jac_fn(t, y), dtype=float)
        return _square_jacobian(jac, self.size, self.shape)


# ----------------------------------------------------------------------------- torch
class TorchOps:
    """Backend helpers for torch tensors (any dtype/device; autograd flows through)."""

    name = "torch"

    def __init__(self, torch, y0):
        self.torch = torch
        self.shape = tuple(y0.shape)
        self.size = y0.numel()
        self.dtype = y0.dtype
        self.device = y0.device
        real = y0.real.dtype if y0.is_complex() else y0.dtype
        self.eps = float(torch.finfo(real).eps)
        self._inv_sqrt_size = 1.0 / math.sqrt(max(self.size, 1))
        self._like = y0

    def evaluator(self, func):
        return _TorchEvaluator(func, self.torch, self._like)

    def first_call(self, evaluator, t, y):
        out = evaluator(t, y)
        if not is_torch(out):
            raise ValueError(
                f"`func` must return a torch tensor with the shape of `y` {self.shape}, "
                f"got {_describe(out)}."
            )
        check_shape(out, self.shape, t)
        return out

    def rk_kernel(self, tableau, rtol=None, atol=None):
        return TorchRungeKuttaKernel(tableau, self, rtol, atol)

    def combine(self, base, h, pairs, ks):
        acc = None
        for j, a in pairs:
            if acc is None:
                if base is None:
                    acc = ks[j] * (h * a)
                else:
                    acc = self.torch.add(base, ks[j], alpha=h * a)
            else:
                acc.add_(ks[j], alpha=h * a)
        return base if acc is None else acc

    def scaled_rms(self, xs, scale):
        torch = self.torch
        with torch.no_grad():
            if len(xs) == 1:
                return [torch.linalg.vector_norm(xs[0] / scale).item() * self._inv_sqrt_size]
            norms = torch.stack([torch.linalg.vector_norm(x / scale) for x in xs])
            return [v * self._inv_sqrt_size for v in norms.tolist()]

    @staticmethod
    def abs(x):
        return x.abs()

    def no_grad(self):
        return self.torch.no_grad()

    def all_finite(self, x) -> bool:
        """No NaN or inf in ``x``: a sum (one reduction, one sync) is 10x faster than
        ``isfinite(x).all()``; only an overflowing sum needs the full check."""
        with self.torch.no_grad():
            if math.isfinite(abs(x.sum().item())):
                return True
            return bool(self.torch.isfinite(x).all())

    def stack(self, xs):
        return self.torch.stack(xs)

    @staticmethod
    def detach(x):
        return x.detach()

    def tolerance(self, value, name):
        if is_torch(value):
            if value.numel() == 1:
                return float(value.detach().reshape(()).item())
            _check_broadcast(tuple(value.shape), self.shape, name)
            return value.detach().to(dtype=self._like.real.dtype, device=self.device)
        if np.ndim(value) == 0:
            return float(value)
        arr = np.asarray(value, dtype=float)
        _check_broadcast(arr.shape, self.shape, name)
        return self._like.real.new_tensor(arr)

    def max_abs(self, delta, y):
        torch = self.torch
        with torch.no_grad():
            pair = torch.stack([delta.detach().abs().max(), y.detach().abs().max()])
            big, small = pair.tolist()
            return big, small

    def identity(self, n):
        return self.torch.eye(n, dtype=self.dtype, device=self.device)

    def newton_matrix(self, jac, gamma_h):
        return self.identity(self.size) - gamma_h * jac

    def linear_solve(self, matrix, rhs):
        torch = self.torch
        flat = rhs.reshape(self.size, 1)
        sol, info = torch.linalg.solve_ex(matrix, flat)
        return sol.reshape(self.shape)

    def autograd_jacobian(self, raw_func, t_value, y):
        """Jacobian ``d func / d y`` at ``(t, y)``, ``(n, n)``, without a graph."""
        torch = self.torch
        y_detached = y.detach()
        f_of_y = lambda state: raw_func(t_value, state)
        try:
            jac = torch.func.jacrev(f_of_y)(y_detached)
        except Exception:  # e.g. func uses an operation vmap cannot batch
            with torch.enable_grad():
                jac = torch.autograd.functional.jacobian(f_of_y, y_detached)
        return jac.detach().reshape(self.size, self.size)

    def user_jacobian(self, jac_fn, t, y):
        jac = jac_fn(t, y)
        if not is_torch(jac):
            jac = self._like.new_tensor(np.asarray(jac, dtype=float))
        return _square_jacobian(jac.detach(), self.size, self.shape)


# ----------------------------------------------------------------------------- checks
def check_shape(out, shape, t):
    """Raise a ValueError if ``func`` returned an array of the wrong shape."""
    if tuple(out.shape) != tuple(shape):
        raise ValueError(
            f"`func(t, y)` returned an array of shape {tuple(out.shape)} at t={float(t):g}, "
            f"but `y0` has shape {tuple(shape)}; `func` must return dy/dt with the shape of y."
        )


def _check_broadcast(tol_shape, shape, name):
    try:
        result = np.broadcast_shapes(tuple(tol_shape), tuple(shape))
    except ValueError:
        result = None
    if result != tuple(shape):
        raise ValueError(
            f"`{name}` of shape {tuple(tol_shape)} does not broadcast to the shape of "
            f"`y0` {tuple(shape)}."
        )


def _square_jacobian(jac, size, shape):
    if tuple(jac.shape) == (size, size):
        return jac
    if tuple(jac.shape) == tuple(shape) + tuple(shape):
        return jac.reshape(size, size)
    raise ValueError(
        f"`jac(t, y)` returned shape {tuple(jac.shape)}; expected ({size}, {size}) "
        f"for a state of shape {tuple(shape)}."
    )


def raise_non_finite(t_start, t_end=None):
    """Raise the error for NaN/inf found in the solution."""
    where = (
        f"at t={t_start:.12g}" if t_end is None else f"between t={t_start:.12g} and t={t_end:.12g}"
    )
    raise ODESolverError(
        f"NaN or inf appeared in the solution {where}. The solution may blow up there, "
        "or the step is too large for this problem (it may be stiff): try a smaller "
        "`step_size`, an adaptive method, or an implicit method such as 'bdf2' or "
        "'backward_euler'."
    )
