"""The one place that knows whether the state is a NumPy array or a torch tensor.

Steps, controllers and the loop do arithmetic on the state (``+``, ``*``) and call the
few operations below, which differ between the two libraries: norms and finiteness
tests that return Python numbers, stacking, detaching, the Newton linear algebra and
the Jacobian. :func:`get_backend` picks :class:`NumpyBackend` or :class:`TorchBackend`
from ``y0``. torch is never imported here: a tensor can only exist if the user already
imported torch, so the module is taken from ``sys.modules``.

Each backend may also offer a *fast kernel* for explicit Runge–Kutta stages
(:mod:`._kernels`); the plain step in :mod:`._steps` is the reference it is tested
against.
"""

import contextlib
import math
import sys
import warnings

import numpy as np

from .._arrays import is_torch, to_numpy
from ._errors import ODESolverError
from ._kernels import NumpyStageKernel, TorchStageKernel

__all__ = ["get_backend", "NumpyBackend", "TorchBackend", "is_torch", "raise_non_finite"]


def get_backend(y0):
    """Return ``(y0, backend)``: the state as a floating array/tensor and its backend."""
    if is_torch(y0):
        torch = sys.modules["torch"]
        if not (y0.is_floating_point() or y0.is_complex()):
            y0 = y0.to(torch.get_default_dtype())
        return y0, TorchBackend(torch, y0)
    try:
        y0 = np.asarray(y0)
    except Exception as exc:  # e.g. a ragged list
        raise ValueError(f"`y0` must be an array or tensor of numbers: {exc}") from None
    if y0.dtype == object or not np.issubdtype(y0.dtype, np.number):
        raise ValueError(f"`y0` must hold numbers, got dtype {y0.dtype}.")
    if not (np.issubdtype(y0.dtype, np.floating) or np.issubdtype(y0.dtype, np.complexfloating)):
        y0 = y0.astype(np.float64)
    return y0, NumpyBackend(y0)


def _describe(x) -> str:
    if x is None:
        return "None (does `func` end with a `return` statement?)"
    return type(x).__module__.split(".")[0] + "." + type(x).__name__


class Evaluator:
    """Calls ``func(t, y)`` with ``t`` converted for the backend; counts calls in ``nfe``."""

    __slots__ = ("func", "nfe", "time", "convert")

    def __init__(self, func, time=None, convert=None):
        self.func = func
        self.nfe = 0
        self.time = time  # float -> what func receives as t (None: the float itself)
        self.convert = convert  # output converter (None: func already returns arrays)

    def __call__(self, t, y):
        self.nfe += 1
        out = self.func(t if self.time is None else self.time(t), y)
        return out if self.convert is None else self.convert(out)

    def func_time(self, t):
        """``t`` as ``func`` receives it (a float for NumPy, a 0-d tensor for torch)."""
        return t if self.time is None else self.time(t)


class _Backend:
    """What both backends share: the checks of ``func``'s first output."""

    def check_first_output(self, out, t):
        """Raise ``ValueError`` for a ``func`` output of the wrong kind, shape or dtype."""
        if tuple(out.shape) != self.shape:
            raise ValueError(
                f"`func(t, y)` returned an array of shape {tuple(out.shape)} at t={t:g}, but "
                f"`y0` has shape {self.shape}; `func` must return dy/dt with the shape of y."
            )
        if out.dtype != self.dtype:
            raise ValueError(
                f"`func(t, y)` returned dtype {out.dtype} at t={t:g}, but `y0` has dtype "
                f"{self.dtype}: the solution would silently change precision. Return dy/dt "
                "in the dtype of y (create constants with `dtype=y.dtype`), or pass `y0` in "
                "the dtype you want."
            )

    def floor_rtol(self, rtol):
        """Raise a relative tolerance below the dtype's unit roundoff to it, with a warning.

        ``rtol = 0`` (pure absolute control) is left alone.
        """
        floor = self.unit_roundoff
        host = to_numpy(rtol, dtype=float)
        low = (host > 0) & (host < floor)
        if not np.any(low):
            return rtol
        warnings.warn(
            f"`rtol` is below the resolution of {self.dtype} (unit roundoff {floor:.3g}); "
            f"using rtol={floor:.3g} there. Solve in a wider dtype for tighter tolerances.",
            RuntimeWarning,
            stacklevel=4,
        )
        if np.ndim(host) == 0:
            return float(floor)
        return self.tolerance(np.where(low, floor, host), "rtol")


class NumpyBackend(_Backend):
    """Backend for NumPy states of any shape."""

    check_every_step = True  # a finiteness test costs a microsecond here

    def __init__(self, y0):
        self.shape = y0.shape
        self.size = y0.size
        self.dtype = y0.dtype
        self.real_dtype = np.finfo(y0.dtype).dtype
        self.eps = float(np.finfo(y0.dtype).eps)
        self.unit_roundoff = self.eps / 2

    def evaluator(self, func):
        return Evaluator(func)  # the loop's times are Python floats already

    def first_call(self, evaluator, t, y):
        """Evaluate ``func(t, y)`` once and check what it returned."""
        out = evaluator(t, y)
        if out is None:
            raise ValueError(f"`func` must return dy/dt, got {_describe(out)}.")
        if not isinstance(out, (np.ndarray, np.generic)):
            if is_torch(out):
                raise ValueError(
                    "`func` returned a torch tensor but `y0` is a NumPy array; "
                    "pass `y0` as a tensor to solve with torch."
                )
            try:
                out = np.asarray(out, dtype=self.dtype)
            except Exception:
                raise ValueError(
                    f"`func` must return an array with the shape of `y` {self.shape}, "
                    f"got {_describe(out)}."
                ) from None
            evaluator.convert = lambda value: np.asarray(value, dtype=self.dtype)
        self.check_first_output(out, t)
        return out

    def stage_kernel(self, tableau):
        """The fast explicit-RK stage kernel (rows of one matrix; see ``_kernels``)."""
        return NumpyStageKernel(tableau, self)

    # -- numbers out of states (Python floats: the controller's decisions)
    def rms(self, x) -> float:
        r = np.ravel(x)
        return math.sqrt(np.vdot(r, r).real / self.size)  # vdot conjugates: |x|² for complex

    def max_abs(self, x) -> float:
        return float(np.max(np.abs(x)))

    @staticmethod
    def all_finite(x) -> bool:
        """No NaN or inf in ``x`` (fast path: a finite sum; confirm if it is not)."""
        with np.errstate(all="ignore"):
            if math.isfinite(abs(np.sum(x))):
                return True
        return bool(np.all(np.isfinite(x)))

    # -- plumbing
    abs = staticmethod(np.abs)
    maximum = staticmethod(np.maximum)

    @staticmethod
    def stack(xs):
        return np.stack([np.asarray(x) for x in xs])

    # -- tuple states and time gradients (feature: torchdiffeq compatibility)
    @staticmethod
    def concat_flat(parts):
        """The parts flattened and joined into one vector."""
        return np.concatenate([np.reshape(part, -1) for part in parts])

    @staticmethod
    def time_gradient_wanted(t):
        return False

    @staticmethod
    def time_value(value, t):
        """A time found by the solver (an event) in the user's kind: a float here."""
        return float(value)

    @staticmethod
    def detach(x):
        return x

    @staticmethod
    def no_grad():
        return contextlib.nullcontext()

    def tolerance(self, value, name):
        """A tolerance as a float, or an array broadcastable to the state."""
        if np.ndim(value) == 0:
            return float(value)
        arr = np.asarray(value, dtype=self.real_dtype)
        _check_broadcast(arr.shape, self.shape, name)
        return arr

    # -- Newton linear algebra (the state flattened to a vector of length n)
    def newton_matrix(self, jac, gamma_h):
        """``I - γh J``, ``(n, n)``."""
        return np.eye(self.size, dtype=jac.dtype) - gamma_h * jac

    def linear_solve(self, matrix, rhs):
        flat = np.reshape(rhs, (self.size,))
        try:
            sol = np.linalg.solve(matrix, flat)
        except np.linalg.LinAlgError:
            sol = np.full_like(flat, np.nan)
        return np.reshape(sol, self.shape)

    # LU factors of a Newton matrix, reused across iterations and steps (stiff solvers,
    # issue 14); a singular matrix gives non-finite solutions, which Newton rejects
    def lu_factor(self, matrix):
        from scipy.linalg import lu_factor

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return lu_factor(matrix, check_finite=False)

    def lu_solve(self, factors, rhs):
        from scipy.linalg import lu_solve

        flat = np.reshape(rhs, (self.size,))
        return np.reshape(lu_solve(factors, flat, check_finite=False), self.shape)

    def jacobian(self, evaluator, t, y, f_y):
        """Forward-difference Jacobian ``∂f/∂y``, ``(n, n)``; costs ``n`` evaluations.

        Complex states keep their dtype (a holomorphic ``f`` is differentiated along the
        real axis of each component).
        """
        y_flat = np.array(y, dtype=self.dtype).reshape(self.size)
        f_flat = np.reshape(f_y, (self.size,))
        jac = np.empty((self.size, self.size), dtype=np.result_type(self.dtype, f_flat))
        root_eps = math.sqrt(self.eps)
        for j in range(self.size):
            shifted = y_flat.copy()
            shifted[j] += root_eps * max(1.0, abs(y_flat[j]))
            step = shifted[j] - y_flat[j]
            f_shift = np.reshape(evaluator(t, shifted.reshape(self.shape)), (self.size,))
            jac[:, j] = (f_shift - f_flat) / step
        return jac

    # -- per-sample step control (``_per_sample.py``): one number per row of the batch
    def from_host(self, array):
        """A host array (e.g. one time per sample) in the state's real dtype."""
        return np.asarray(array, dtype=self.real_dtype)

    @staticmethod
    def from_mask(array):
        return np.asarray(array, dtype=bool)

    where = staticmethod(np.where)

    def sample_rms(self, x):
        """RMS over each row's components: a NumPy array of shape ``(batch,)``."""
        rows = np.abs(np.reshape(x, (self.shape[0], -1)))
        return np.sqrt(np.mean(rows * rows, axis=1))

    def user_jacobian(self, jac_fn, t, y):
        jac = np.asarray(jac_fn(float(t), y))
        if not np.issubdtype(jac.dtype, np.complexfloating):
            jac = jac.astype(self.real_dtype)
        return _square_jacobian(jac, self.size, self.shape)


class TorchBackend(_Backend):
    """Backend for torch tensors (any dtype and device; autograd flows through)."""

    check_every_step = False  # a finiteness test syncs the device: once at the end

    def __init__(self, torch, y0):
        self.torch = torch
        self.shape = tuple(y0.shape)
        self.size = y0.numel()
        self.dtype = y0.dtype
        self.device = y0.device
        self.real_dtype = y0.real.dtype if y0.is_complex() else y0.dtype
        self.eps = float(torch.finfo(self.real_dtype).eps)
        self.unit_roundoff = self.eps / 2
        # norms of half-precision states are computed in float32 (no overflow of Σx²)
        low = self.real_dtype in (torch.float16, torch.bfloat16)
        self.norm_dtype = torch.float32 if low else None
        self._inv_sqrt_size = 1.0 / math.sqrt(max(self.size, 1))
        self._like = y0

    def evaluator(self, func):
        scalar, dtype, device = self.torch.scalar_tensor, self.real_dtype, self.device
        return Evaluator(func, lambda t: scalar(t, dtype=dtype, device=device))

    def first_call(self, evaluator, t, y):
        out = evaluator(t, y)
        if not is_torch(out):
            raise ValueError(
                f"`func` must return a torch tensor with the shape of `y` {self.shape}, "
                f"got {_describe(out)}."
            )
        self.check_first_output(out, t)
        return out

    def stage_kernel(self, tableau):
        """The fast explicit-RK stage kernel (fused in-place adds; see ``_kernels``)."""
        return TorchStageKernel(tableau, self)

    def rms(self, x) -> float:
        with self.torch.no_grad():
            norm = self.torch.linalg.vector_norm(x, dtype=self.norm_dtype)
            return norm.item() * self._inv_sqrt_size

    def max_abs(self, x) -> float:
        with self.torch.no_grad():
            return x.detach().abs().max().item()

    def all_finite(self, x) -> bool:
        """No NaN or inf in ``x``: a sum (one reduction, one sync) is 10x faster than
        ``isfinite(x).all()``; only an overflowing sum needs the full check."""
        with self.torch.no_grad():
            if math.isfinite(abs(x.sum(dtype=self.norm_dtype).item())):
                return True
            return bool(self.torch.isfinite(x).all())

    @staticmethod
    def abs(x):
        return x.abs()

    def maximum(self, a, b):
        return self.torch.maximum(a, b)

    def stack(self, xs):
        return self.torch.stack(xs)

    # -- tuple states and time gradients (feature: torchdiffeq compatibility)
    def concat_flat(self, parts):
        """The parts flattened and joined into one vector."""
        return self.torch.cat([part.reshape(-1) for part in parts])

    def time_gradient_wanted(self, t):
        """``t`` is a tensor whose gradient autograd will want."""
        return is_torch(t) and t.requires_grad and self.torch.is_grad_enabled()

    def time_value(self, value, t):
        """A time found by the solver (an event) as a 0-d tensor (``t``'s dtype if it is
        a floating tensor, else the state's real dtype)."""
        dtype = t.dtype if is_torch(t) and t.is_floating_point() else self.real_dtype
        return self.torch.tensor(value, dtype=dtype, device=self.device)

    @staticmethod
    def detach(x):
        return x.detach()

    def no_grad(self):
        return self.torch.no_grad()

    def tolerance(self, value, name):
        if is_torch(value):
            if value.numel() == 1:
                return float(value.detach().reshape(()).item())
            _check_broadcast(tuple(value.shape), self.shape, name)
            return value.detach().to(dtype=self.real_dtype, device=self.device)
        if np.ndim(value) == 0:
            return float(value)
        arr = np.asarray(value, dtype=float)
        _check_broadcast(arr.shape, self.shape, name)
        return self.torch.as_tensor(arr, dtype=self.real_dtype, device=self.device)

    def newton_matrix(self, jac, gamma_h):
        eye = self.torch.eye(self.size, dtype=jac.dtype, device=self.device)
        return eye - gamma_h * jac

    def linear_solve(self, matrix, rhs):
        sol, _ = self.torch.linalg.solve_ex(matrix, rhs.reshape(self.size, 1))
        return sol.reshape(self.shape)

    # LU factors of a Newton matrix (stiff solvers, issue 14); gradients flow to `rhs`
    def lu_factor(self, matrix):
        lu, pivots, _ = self.torch.linalg.lu_factor_ex(matrix)
        return lu, pivots

    def lu_solve(self, factors, rhs):
        lu, pivots = factors
        sol = self.torch.linalg.lu_solve(lu, pivots, rhs.reshape(self.size, 1))
        return sol.reshape(self.shape)

    def jacobian(self, evaluator, t, y, f_y):
        """``∂f/∂y`` at ``(t, y)`` by autograd, ``(n, n)``, without a graph (one call of
        ``func``, vectorised by ``torch.func.jacrev``).

        It is computed under ``enable_grad`` from a fresh leaf, so it is right also where
        the caller runs without a graph (e.g. inside ``odeint_adjoint``'s backward pass).
        A complex state is differentiated through its real view (``f`` holomorphic).
        """
        torch = self.torch
        evaluator.nfe += 1
        t_value = evaluator.func_time(t)
        func = evaluator.func
        y_leaf = y.detach()
        if y_leaf.is_complex():
            real_view = torch.view_as_real(y_leaf)

            def f_real(u):
                return torch.view_as_real(func(t_value, torch.view_as_complex(u)))

            with torch.enable_grad():
                jac = torch.autograd.functional.jacobian(f_real, real_view)
            jac = jac.reshape(self.size, 2, self.size, 2)
            jac = torch.complex(jac[:, 0, :, 0], jac[:, 1, :, 0])
            return jac.detach()
        f_of_y = lambda state: func(t_value, state)
        with torch.enable_grad():
            try:
                jac = torch.func.jacrev(f_of_y)(y_leaf)
            except Exception:  # e.g. func uses an operation vmap cannot batch
                jac = torch.autograd.functional.jacobian(f_of_y, y_leaf)
        return jac.detach().reshape(self.size, self.size)

    # -- per-sample step control (``_per_sample.py``): one number per row of the batch
    def from_host(self, array):
        """A host array (e.g. one time per sample) as a tensor of the state's real dtype."""
        return self.torch.as_tensor(np.asarray(array), dtype=self.real_dtype,
                                    device=self.device)

    def from_mask(self, array):
        return self.torch.as_tensor(np.asarray(array, dtype=bool), device=self.device)

    def where(self, mask, a, b):
        return self.torch.where(mask, a, b)

    def sample_rms(self, x):
        """RMS over each row's components: a NumPy array of shape ``(batch,)``."""
        with self.torch.no_grad():
            rows = x.detach().reshape(self.shape[0], -1)
            norms = self.torch.linalg.vector_norm(rows, dim=1, dtype=self.norm_dtype)
            return norms.double().cpu().numpy() / math.sqrt(max(rows.shape[1], 1))

    def user_jacobian(self, jac_fn, t, y):
        jac = jac_fn(t, y)
        if not is_torch(jac):
            jac = self.torch.as_tensor(np.asarray(jac), device=self.device)
        if not jac.is_complex():
            jac = jac.to(self.real_dtype)
        elif not self._like.is_complex():
            raise ValueError("`jac(t, y)` returned a complex matrix for a real state.")
        return _square_jacobian(jac.detach(), self.size, self.shape)


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


def raise_non_finite(t_start, t_end=None, stats=None):
    """Raise the error for NaN/inf found in the solution."""
    where = (
        f"at t={t_start:.12g}" if t_end is None else f"between t={t_start:.12g} and t={t_end:.12g}"
    )
    raise ODESolverError(
        f"NaN or inf appeared in the solution {where}. The solution may blow up there, "
        "or the step is too large for this problem (it may be stiff): try a smaller "
        "`step_size`, an adaptive method, or an implicit method such as 'bdf2' or "
        "'backward_euler'.",
        t=float(t_start),
        stats=stats,
    )
