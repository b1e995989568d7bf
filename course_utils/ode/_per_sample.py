r"""Per-sample step control: each member of a batch gets its own steps and its own error norm.

``odeint(func, y0, t, per_sample=True)`` with ``y0`` of shape ``(batch, ...)`` treats the
rows of ``y0`` as independent problems that share a vector field, as torchode does
(Lienen & Günnemann 2022). The plain loop (:mod:`._loop`) judges a step by one RMS norm
over the whole batch, so a hard member's error is averaged with ``batch - 1`` easy ones:
its share of the norm shrinks like ``1/sqrt(batch)`` and its error grows with the batch.
Here every sample has its own time ``t_b``, step ``h_b``, error ratio and PI-controller
memory:

::

    h_b = initial step of sample b                       (Hairer's rule, per sample)
    while some sample has output times left:
        one explicit RK step for the whole batch, sample b from t_b with h_b
        err_b = rms over sample b's components           (one norm per sample)
        accept_b = err_b <= 1;  new h_b from the PI formula of ._controllers
        serve sample b's output times in (t_b, t_b + h_b] from its own interpolant
        t_b, y_b = t_b + h_b, y_b_new  where accepted

A finished sample takes steps of size 0 (its row is still evaluated, since ``func`` is
called on the whole batch). ``func`` receives ``t`` as a 1-D array/tensor of shape
``(batch,)``, one time per sample: write it so that row ``b`` of its output uses ``t[b]``
(an autonomous field ignores ``t``). The rows must not interact (no batch norm, no
attention across the batch): each is advanced at its own time.

The statistics count calls of ``func`` on the whole batch in ``nfe``; ``num_accepted``
and ``num_rejected`` sum over the samples, and ``stats.per_sample_accepted`` /
``stats.per_sample_rejected`` (NumPy integer arrays of shape ``(batch,)``) give them per
sample; ``step_sizes`` and ``step_times`` stay empty (each sample has its own).

Explicit embedded pairs only (``dopri5``, ``bosh3``, ``fehlberg45`` or an explicit
``ButcherTableau`` with ``b_hat``).

References: L. Lienen, S. Günnemann, "torchode: A Parallel ODE Solver for PyTorch"
(NeurIPS 2022 workshop "The Symbiosis of Deep Learning and Differential Equations");
Hairer, Nørsett & Wanner, *Solving ODEs I*, Sec. II.4 (the initial step).
"""

import numpy as np

from ._backend import Evaluator, raise_non_finite
from ._controllers import MAX_FACTOR, MIN_FACTOR, SAFETY
from ._errors import ODESolverError
from ._interp import hermite
from ._kernels import nonzero_pairs
from ._steps import lincomb

__all__ = ["integrate_per_sample"]


def _check(method, y0_shape):
    tableau = getattr(method, "tableau", None)
    if (not method.adaptive or method.implicit or tableau is None
            or getattr(tableau, "b_hat", None) is None):
        raise ValueError(
            f"`per_sample=True` needs an explicit embedded Runge–Kutta pair (e.g. "
            f"method='dopri5'), not {method.name!r}."
        )
    if len(y0_shape) < 1:
        raise ValueError(
            "`per_sample=True` needs a batch: `y0` of shape (batch, ...), each row one "
            "sample; got a scalar `y0`."
        )
    return tableau


def integrate_per_sample(func, method, y0, times, *, backend, rtol, atol, first_step,
                         max_steps, stats):
    """Integrate every row of ``y0`` with its own step sizes; return ``(len(times), *y0.shape)``."""
    tableau = _check(method, backend.shape)
    batch = backend.shape[0]
    bshape = (batch,) + (1,) * (len(backend.shape) - 1)
    evaluator = Evaluator(func, backend.from_host)
    try:
        return _loop(tableau, method.error_order, evaluator, y0, times, backend, rtol, atol,
                     first_step, max_steps, stats, batch, bshape)
    finally:
        stats.nfe = evaluator.nfe


def _loop(tableau, error_order, evaluator, y0, times, backend, rtol, atol, first_step,
          max_steps, stats, batch, bshape):
    t0, t_end = times[0], times[-1]
    direction = 1.0 if t_end > t0 else -1.0
    span = abs(t_end - t0)
    num_outputs = len(times)
    rows = tuple((float(tableau.c[i]), nonzero_pairs(tableau.a[i, :i]))
                 for i in range(1, tableau.num_stages))
    b_pairs = nonzero_pairs(tableau.b)
    e_pairs = nonzero_pairs(tableau.error_weights)
    fsal = tableau.is_fsal
    dense = tableau.dense
    alpha, beta = 1.0 / (error_order + 1), 0.2 / (error_order + 1)
    tiny = 0.0 if _all_positive(atol) else float(backend.eps) ** 4

    def column(host):  # a host (batch,) array as a state-broadcastable array
        return backend.from_host(host).reshape(bshape)

    def mask(host):
        return backend.from_mask(host).reshape(bshape)

    t = np.full(batch, t0)
    f = evaluator(backend.from_host(t), y0)
    if not hasattr(f, "shape") or not hasattr(f, "dtype"):
        raise ValueError(
            f"`func` must return an array/tensor with the shape of `y` {backend.shape} "
            f"(with per_sample=True it gets t of shape ({batch},)), got {type(f).__name__}."
        )
    backend.check_first_output(f, t0)
    if first_step is None:
        h_abs = _initial_steps(evaluator, backend, t0, y0, f, t_end, direction, error_order,
                               rtol, atol + tiny, column)
    else:
        h_abs = np.full(batch, min(first_step, span))
    previous_error = np.ones(batch)
    rejected_last = np.zeros(batch, dtype=bool)
    accepted_count = np.zeros(batch, dtype=np.int64)
    rejected_count = np.zeros(batch, dtype=np.int64)
    next_output = np.ones(batch, dtype=np.int64)
    outputs = [y0] + [None] * (num_outputs - 1)
    y, abs_y = y0, None
    iterations = 0
    while np.any(next_output < num_outputs):
        if iterations >= max_steps:
            raise ODESolverError(
                f"Reached `max_steps`={max_steps} batched steps with per_sample=True before "
                f"every sample reached t={t_end:g}; increase `max_steps`.",
                t=float(np.min(direction * t) * direction), stats=stats)
        active = next_output < num_outputs
        # -- propose: every active sample's step; the last one lands on t_end
        h = direction * h_abs
        last = direction * (t + 1.01 * h - t_end) >= 0.0
        t_new = np.where(last, t_end, t + h)
        h = np.where(active, t_new - t, 0.0)
        t_new = np.where(active, t_new, t)
        small = active & (np.abs(h) <= 10.0 * np.spacing(np.maximum(np.abs(t), np.abs(t_new))))
        if np.any(small):
            b = int(np.argmax(small))
            raise ODESolverError(
                f"Step size underflow for sample {b} at t={t[b]:.12g} with per_sample=True: "
                "the solver cannot meet the tolerances there (the solution may blow up, or "
                "the problem may be stiff).", t=float(t[b]), stats=stats)
        # -- one step for the whole batch, sample b from t_b with h_b
        h_col = column(h)
        ks = [f]
        y_stage = y
        for c, pairs in rows:
            y_stage = lincomb(y, h_col, pairs, ks)
            ks.append(evaluator(backend.from_host(t_new if c == 1.0 else t + c * h), y_stage))
        y_new = y_stage if fsal else lincomb(y, h_col, b_pairs, ks)
        with backend.no_grad():
            error = lincomb(None, h_col, e_pairs, ks)
            if abs_y is None:
                abs_y = backend.abs(backend.detach(y))
            abs_new = backend.abs(backend.detach(y_new))
            scale = atol + rtol * backend.maximum(abs_y, abs_new)
            if tiny:
                scale = scale + tiny
            ratio = backend.sample_rms(error / scale)
        iterations += 1
        # -- judge every sample: the PI formula of ._controllers, one controller per row
        finite = np.isfinite(ratio)
        accept = active & finite & (ratio <= 1.0)
        reject = active & ~accept
        safe_ratio = np.where(finite, np.maximum(ratio, 1e-10), 1.0)
        grow = SAFETY * safe_ratio**-alpha * previous_error**beta
        grow = np.clip(grow, MIN_FACTOR, MAX_FACTOR)
        grow = np.where(rejected_last, np.minimum(1.0, grow), grow)
        shrink = np.where(finite, np.maximum(MIN_FACTOR, SAFETY * safe_ratio**-alpha),
                          MIN_FACTOR)
        h_abs = np.where(accept, np.abs(h) * grow, np.where(reject, np.abs(h) * shrink, h_abs))
        previous_error = np.where(accept, np.maximum(safe_ratio, 1e-4), previous_error)
        rejected_last = np.where(active, reject, rejected_last)
        accepted_count += accept
        rejected_count += reject
        if not np.any(accept):
            continue
        accept_col = mask(accept)
        # -- f at the start of the next step
        if fsal:
            f_next = backend.where(accept_col, ks[-1], f)
        else:
            f_next = evaluator(backend.from_host(np.where(accept, t_new, t)),
                               backend.where(accept_col, y_new, y))
        # -- serve each sample's output times in (t_b, t_b + h_b]
        first = int(np.min(np.where(accept, next_output, num_outputs)))
        for j in range(first, num_outputs):
            reached = accept & (direction * (times[j] - t_new) <= 0.0)
            if not np.any(reached):
                break
            serve = reached & (next_output <= j)
            if not np.any(serve):
                continue
            at_end = times[j] == t_new
            if np.all(at_end | ~serve):
                value = y_new
            else:
                theta = np.where(serve & (h != 0.0), (times[j] - t) / np.where(h == 0, 1, h),
                                 0.0)
                value = _interpolate(dense, y, y_new, f, f_next, ks, h, theta, column,
                                     backend)
                value = backend.where(mask(at_end), y_new, value)
            base = y0 if outputs[j] is None else outputs[j]
            outputs[j] = backend.where(mask(serve), value, base)
            next_output = np.where(serve, j + 1, next_output)
        # -- advance the accepted samples
        y = backend.where(accept_col, y_new, y)
        abs_y = backend.where(accept_col, abs_new, abs_y)
        f = f_next
        t = np.where(accept, t_new, t)
    stats.num_accepted += int(accepted_count.sum())
    stats.num_rejected += int(rejected_count.sum())
    stats.per_sample_accepted = accepted_count
    stats.per_sample_rejected = rejected_count
    ys = backend.stack(outputs)
    if not backend.all_finite(ys):
        for i in range(1, num_outputs):
            if not backend.all_finite(outputs[i]):
                raise_non_finite(times[i - 1], times[i], stats=stats)
    return ys


def _interpolate(dense, y, y_new, f, f_new, ks, h, theta, column, backend):
    """Each sample's interpolant at its own ``θ_b``: the tableau's continuous extension, or
    the cubic Hermite polynomial."""
    if dense is None:
        return hermite(y, y_new, f, f_new, column(h), column(theta))
    powers = theta[:, None] ** np.arange(1, dense.shape[1] + 1)  # (batch, K)
    weights = powers @ dense.T  # (batch, s): b_i(θ_b)
    value = y
    for i, k in enumerate(ks):
        if np.any(weights[:, i] != 0.0):
            value = value + k * column(h * weights[:, i])
    return value


def _initial_steps(evaluator, backend, t0, y0, f0, t_end, direction, error_order, rtol,
                   atol, column):
    """Hairer's initial step (``._controllers.initial_step_size``), one per sample."""
    span = abs(t_end - t0)
    with backend.no_grad():
        y0d, f0d = backend.detach(y0), backend.detach(f0)
        scale = backend.abs(y0d) * rtol + atol
        d0, d1 = backend.sample_rms(y0d / scale), backend.sample_rms(f0d / scale)
        h0 = np.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / np.maximum(d1, 1e-300))
        h0 = np.minimum(h0, span)
        y1 = y0d + f0d * column(direction * h0)
    f1 = backend.detach(evaluator(backend.from_host(t0 + direction * h0), y1))
    with backend.no_grad():
        d2 = backend.sample_rms((f1 - f0d) / scale) / h0
    biggest = np.maximum(d1, d2)
    with np.errstate(divide="ignore"):
        h1 = np.where(biggest <= 1e-15, np.maximum(1e-6, h0 * 1e-3),
                      (0.01 / np.maximum(biggest, 1e-300)) ** (1.0 / (error_order + 1)))
    h1 = np.where(np.isfinite(d2), h1, h0)
    return np.minimum(np.minimum(100.0 * h0, h1), span)


def _all_positive(value):
    try:
        return bool(value > 0) if isinstance(value, float) else bool((value > 0).all())
    except (TypeError, ValueError):
        return False
