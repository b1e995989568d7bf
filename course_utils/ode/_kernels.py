"""Fast paths for the stages of an explicit Runge–Kutta step, one per backend.

The reference is :class:`~course_utils.ode._steps.PlainStages`, the formula of week 2
written term by term. These kernels compute the same numbers (a test compares them to
rounding for every tableau) and exist only because ``benchmarks/solvers.py`` shows the
plain version losing more than 15 % where the state is small and Python overhead
dominates:

* NumPy: the stage derivatives are rows of one ``(s, n)`` matrix and each combination
  ``y + h Σ_j a_ij k_j`` is one small matrix product with a precomputed row (3-4x fewer
  NumPy calls than a sum of scaled arrays);
* torch: one fused ``torch.add(y, k, alpha=h a)`` and then an in-place ``add_`` per
  non-zero coefficient (one kernel launch per term instead of two; autograd-safe, since
  the backward of an addition never needs the values it overwrote).

Both return ``StageResult(y_new, f_new, stages, error, y_penultimate)``; ``stages`` is
opaque (a matrix or a list) and only ever passed back to the kernel's :meth:`combine`.
"""

from typing import Any, NamedTuple

import numpy as np

__all__ = ["StageResult", "NumpyStageKernel", "TorchStageKernel", "nonzero_pairs"]


class StageResult(NamedTuple):
    """The stages of one explicit RK step."""

    y_new: Any  # y + h Σ b_i k_i
    f_new: Any  # f(t + h, y_new) when the tableau has it for free (FSAL), else None
    stages: Any  # the k_i, in the kernel's own layout
    error: Any  # h Σ (b_i - b̂_i) k_i for an embedded pair, else None (no autograd graph)
    y_penultimate: Any  # the argument of stage s-1 (for the stiffness test), or None


def nonzero_pairs(row):
    """``((j, a_j), ...)`` for the non-zero entries of a coefficient row, as floats."""
    return tuple((j, float(a)) for j, a in enumerate(row) if a != 0.0)


class NumpyStageKernel:
    """Explicit RK stages for NumPy states; the stages are the rows of an ``(s, n)`` matrix."""

    def __init__(self, tableau, backend):
        self.num_stages = tableau.num_stages
        self.shape = backend.shape
        self.size = backend.size
        self.flat = len(backend.shape) == 1
        dtype = self.dtype = backend.real_dtype  # coefficients in the state's precision
        self.rows = tuple(
            (float(tableau.c[i]), np.array(tableau.a[i, :i], dtype=dtype), i)
            for i in range(1, tableau.num_stages)
        )
        self.b = np.array(tableau.b, dtype=dtype)
        self.e = None if tableau.b_hat is None else np.array(tableau.error_weights, dtype=dtype)
        self.fsal = tableau.is_fsal

    def _shaped(self, flat):
        return flat if self.flat else flat.reshape(self.shape)

    def run(self, evaluator, t, h, t_new, y, f):
        flat, shape = self.flat, self.shape
        y_flat = y if flat else y.reshape(-1)
        ks = np.empty((self.num_stages, self.size), dtype=np.result_type(y, f))
        ks[0] = f if flat else f.reshape(-1)
        y_stage, y_before = y, None
        for c, row, i in self.rows:
            y_before = y_stage
            y_stage = y_flat + (row * h) @ ks[:i]
            if not flat:
                y_stage = y_stage.reshape(shape)
            out = evaluator(t_new if c == 1.0 else t + c * h, y_stage)
            ks[i] = out if flat else out.reshape(-1)
        error = None if self.e is None else self._shaped((self.e * h) @ ks)
        if self.fsal:
            return StageResult(y_stage, self._shaped(ks[-1]), ks, error, y_before)
        y_new = self._shaped(y_flat + (self.b * h) @ ks)
        return StageResult(y_new, None, ks, error, y_stage)

    def combine(self, y, h, weights, ks):
        """``y + h Σ_i weights_i k_i``."""
        y_flat = y if self.flat else y.reshape(-1)
        return self._shaped(y_flat + (np.asarray(weights, dtype=self.dtype) * h) @ ks)


class TorchStageKernel:
    """Explicit RK stages for torch tensors; the stages are a list of tensors."""

    def __init__(self, tableau, backend):
        self.torch = backend.torch
        self.rows = tuple(
            (float(tableau.c[i]), nonzero_pairs(tableau.a[i, :i]))
            for i in range(1, tableau.num_stages)
        )
        self.b = nonzero_pairs(tableau.b)
        self.e = None if tableau.b_hat is None else nonzero_pairs(tableau.error_weights)
        self.fsal = tableau.is_fsal

    def _add(self, base, h, pairs, ks):
        acc = None
        for j, a in pairs:
            if acc is None:
                acc = ks[j] * (h * a) if base is None else self.torch.add(base, ks[j], alpha=h * a)
            else:
                acc.add_(ks[j], alpha=h * a)
        return base if acc is None else acc

    def run(self, evaluator, t, h, t_new, y, f):
        ks = [f]
        y_stage, y_before = y, None
        for c, pairs in self.rows:
            y_before = y_stage
            y_stage = self._add(y, h, pairs, ks)
            ks.append(evaluator(t_new if c == 1.0 else t + c * h, y_stage))
        error = None
        if self.e is not None:
            with self.torch.no_grad():
                error = self._add(None, h, self.e, ks)
        if self.fsal:
            return StageResult(y_stage, ks[-1], ks, error, y_before)
        return StageResult(self._add(y, h, self.b, ks), None, ks, error, y_stage)

    def combine(self, y, h, weights, ks):
        """``y + h Σ_i weights_i k_i``."""
        return self._add(y, h, nonzero_pairs(weights), ks)
