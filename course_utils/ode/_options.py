"""The one table of solver options: name -> (who uses it, default, check, one line of doc).

``odeint`` and ``odeint_adjoint`` take these as keywords or in an ``options`` dict
(torchdiffeq's style); :func:`resolve_options` validates both against this table and the
method, and ``odeint``'s docstring lists them from it.
"""

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["OPTIONS", "SolveOptions", "resolve_options", "options_doc", "check_tolerance"]


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{name}` must be a positive number, got {value!r}.")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"`{name}` must be positive and finite, got {value!r}.")
    return float(value)


def _count(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")
    return int(value)


def _theta(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"`theta` must be a number in [0, 1], got {value!r}.")
    return float(value)


def _flag(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False, got {value!r}.")
    return value


def _callable(name, value):
    if not callable(value):
        raise ValueError(f"`{name}` must be callable as {name}(t, y), got {value!r}.")
    return value


# -- checks of torchdiffeq's options (feature: torchdiffeq compatibility)
def _fraction(name, value):
    value = _positive(name, value)
    if value > 1.0:
        raise ValueError(f"`{name}` must be in (0, 1], got {value!r}.")
    return value


def _at_least_one(name, value):
    value = _positive(name, value)
    if value < 1.0:
        raise ValueError(f"`{name}` must be >= 1, got {value!r}.")
    return value


def _norm(name, value):
    if value == "seminorm" or callable(value):
        return value
    raise ValueError(
        f"`{name}` must be callable as norm(x) -> a number (x: the scaled error, with the "
        f"state's structure), or 'seminorm' in `adjoint_options`; got {value!r}."
    )


def _times(name, value):
    import numpy as np

    from .._arrays import to_numpy

    try:
        times = to_numpy(value, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a 1-D sequence of times, got {value!r}.") from None
    if not np.all(np.isfinite(times)):
        raise ValueError(f"`{name}` contains NaN or inf.")
    return tuple(sorted(set(times.tolist())))


def _dtype(name, value):
    text = str(value)
    if not any(word in text for word in ("float64", "float32", "double", "'float'")) \
            and value is not float:
        raise ValueError(
            f"`{name}` is the dtype of the time variable (float64 or float32), got {value!r}."
        )
    return value


def _interp(name, value):
    if value not in ("linear", "cubic"):
        raise ValueError(f"`{name}` must be 'linear' or 'cubic', got {value!r}.")
    return value


def _boolean(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False, got {value!r}.")
    return value


def _scipy_method(name, value):
    known = ("RK45", "RK23", "DOP853", "Radau", "BDF", "LSODA")
    if value not in known:
        raise ValueError(f"`{name}` must be one of scipy's methods {', '.join(known)}.")
    return value


@dataclass(frozen=True)
class Option:
    """One solver option: which methods use it, its default, its check and its doc."""

    name: str
    used_by: str  # "all", "fixed", "adaptive", "implicit", "theta" or "scipy"
    default: Any
    check: Callable[[str, Any], Any]
    doc: str

    def applies_to(self, method) -> bool:
        return {
            "all": True,
            "fixed": not method.adaptive,
            "adaptive": method.adaptive,
            "implicit": method.implicit or getattr(method, "may_switch_to_implicit", False),
            "theta": getattr(method, "needs_theta", False),
            "scipy": getattr(method, "wraps_scipy", False),
            # the explicit pairs' PI controller (the stiff pairs have their own controller)
            "adaptive_rk": method.adaptive and not getattr(method, "wraps_scipy", False)
            and getattr(method, "make_controller", None) is None,
            "grid": not method.adaptive and not getattr(method, "wraps_scipy", False),
        }[self.used_by]


OPTIONS = {
    option.name: option
    for option in (
        Option("step_size", "fixed", None, _positive,
               "Step size of fixed-step methods. The grid is t[0] + k*step_size; the last "
               "step is shortened to end exactly at t[-1]. Without it (and without "
               "grid_constructor) a fixed-step method steps on the output times t "
               "themselves, uniform or not, as torchdiffeq does."),
        Option("first_step", "adaptive", None, _positive,
               "Size of the first trial step of an adaptive method (default: Hairer's "
               "automatic choice, one extra evaluation of func)."),
        Option("max_steps", "all", 100_000, _count,
               "Steps (accepted plus rejected) before the solve gives up with an error."),
        Option("theta", "theta", None, _theta,
               "θ in [0, 1] for method='theta' (required by it): "
               "y_{n+1} = y_n + h(θ f_n + (1-θ) f_{n+1})."),
        Option("jac", "implicit", None, _callable,
               "jac(t, y) -> ∂f/∂y, shape (n, n) or (*shape, *shape), for implicit methods "
               "(default: autograd for torch, finite differences for NumPy)."),
        Option("newton_tol", "implicit", 1e-10, _positive,
               "Newton stops when its correction (or the error left, estimated from the "
               "contraction rate) is at most newton_tol*(1 + max|y|)."),
        Option("max_newton_iters", "implicit", 25, _count,
               "Newton iterations per implicit solve before giving up."),
        # per-sample step control (issue 17; course_utils/ode/_per_sample.py)
        Option("per_sample", "adaptive", False, _flag,
               "Give each row of a batch y0 (batch, ...) its own step sizes and error "
               "norm (explicit pairs; func then gets t of shape (batch,) and its rows "
               "must be independent)."),
        # stiff solvers (issue 14): let dopri5 crawl on, e.g. to measure what it costs
        Option("stiffness_test", "adaptive", True, _flag,
               "dopri5 stops with an error naming the stiff methods when its steps stay "
               "on the stability limit (Hairer's test); False lets it go on."),
        # -- torchdiffeq's options (feature: torchdiffeq compatibility)
        Option("safety", "adaptive_rk", 0.92, _fraction,
               "Safety factor of the step-size formula (torchdiffeq's default is 0.9)."),
        Option("ifactor", "adaptive_rk", 10.0, _at_least_one,
               "Largest factor by which a step may grow."),
        Option("dfactor", "adaptive_rk", 0.2, _fraction,
               "Smallest factor by which a step may shrink."),
        Option("norm", "adaptive_rk", None, _norm,
               "norm(x) -> number: the error norm applied to the scaled error "
               "err/(atol + rtol*max(|y_n|, |y_n+1|)), with the state's structure (a tuple "
               "for a tuple state); default RMS over all components. 'seminorm' only in "
               "odeint_adjoint's adjoint_options."),
        Option("step_t", "adaptive_rk", None, _times,
               "Times every step must land on (forced step boundaries)."),
        Option("jump_t", "adaptive_rk", None, _times,
               "Discontinuities of func: steps land on them, stages approaching one see "
               "func from the left, and func is re-evaluated on the right (no FSAL across)."),
        Option("min_step", "adaptive_rk", None, _positive,
               "Smallest step size; a step of this size is accepted whatever its error."),
        Option("max_step", "adaptive_rk", None, _positive, "Largest step size."),
        Option("dtype", "adaptive", None, _dtype,
               "torchdiffeq's dtype of the time variable; accepted for compatibility: times "
               "are always Python floats (float64) here."),
        Option("grid_constructor", "grid", None, _callable,
               "grid_constructor(func, y0, t) -> the step grid (starting at t[0], ending at "
               "t[-1], monotonic) for fixed-step methods; excludes step_size."),
        Option("perturb", "grid", False, _boolean,
               "Evaluate func just after each grid time and just before each step's end "
               "(for func discontinuous at the grid times)."),
        Option("interp", "grid", "cubic", _interp,
               "How fixed-step methods serve output times between grid points: 'cubic' "
               "Hermite (the default here) or 'linear' (torchdiffeq's default)."),
        Option("solver", "scipy", "RK45", _scipy_method,
               "method='scipy_solver' only: scipy.integrate.solve_ivp's method."),
    )
}

ALIASES = {"max_num_steps": "max_steps"}
"""torchdiffeq's spellings of options that have another name here."""


class SolveOptions:
    """The validated options of one solve: one attribute per entry of :data:`OPTIONS`."""

    def __init__(self, **values):
        for name, option in OPTIONS.items():
            setattr(self, name, values.get(name, option.default))

    def __repr__(self):
        items = ", ".join(f"{name}={getattr(self, name)!r}" for name in OPTIONS)
        return f"SolveOptions({items})"


def resolve_options(method, keywords, options=None, *, prefix=""):
    """Validate the keyword and ``options``-dict settings for ``method``.

    Parameters
    ----------
    method : method object (``.name``, ``.adaptive``, ``.implicit``)
    keywords : dict
        Options passed as keywords (``None`` values mean "not given").
    options : dict, optional
        torchdiffeq's ``options=`` dict; the same names.
    prefix : str
        ``"adjoint_"`` when validating ``odeint_adjoint``'s backward settings, so that
        messages name the argument the user wrote.

    Returns
    -------
    SolveOptions
    """
    given = {}
    sources = [(keywords, "")]
    if options is not None:
        if not isinstance(options, dict):
            raise ValueError(
                f"`{prefix}options` must be a dict, got {type(options).__name__}."
            )
        sources.append((options, f"in `{prefix}options`"))
    for source, where in sources:
        for name, value in source.items():
            if value is None:
                continue
            name = ALIASES.get(name, name)
            if name not in OPTIONS:
                error = ValueError if where else TypeError  # as Python does for keywords
                raise error(
                    f"Unknown option `{name}`{' ' + where if where else ''}; the solver "
                    f"options are {', '.join(OPTIONS)} (and rtol, atol)."
                )
            if name in given:
                raise ValueError(f"`{name}` given both as a keyword and in `{prefix}options`.")
            given[name] = value
    values = {}
    for name, value in given.items():
        option = OPTIONS[name]
        if not option.applies_to(method):
            raise ValueError(_not_applicable(name, method, prefix))
        values[name] = option.check(prefix + name if prefix else name, value)
    if "step_size" in values and "grid_constructor" in values:
        raise ValueError(
            f"`{prefix}step_size` and `{prefix}grid_constructor` exclude each other: give one."
        )
    if values.get("norm") == "seminorm" and prefix != "adjoint_":
        raise ValueError("norm='seminorm' applies to the backward solve only: put it in "
                         "`adjoint_options` of odeint_adjoint.")
    if getattr(method, "needs_theta", False) and "theta" not in values:
        raise ValueError("method='theta' needs `theta=` (a number in [0, 1]).")
    return SolveOptions(**values)


def _not_applicable(name, method, prefix):
    kind = ("adaptive" if method.adaptive else "fixed step") + (
        ", implicit" if method.implicit else ""
    )
    hint = ""
    if name == "step_size" and method.adaptive:
        hint = (
            " It chooses its own steps from `rtol`/`atol`; use `first_step` to set the "
            "first one."
        )
    elif name == "first_step":
        hint = " It is a fixed-step method: use `step_size`."
    return f"`{prefix}{name}` does not apply to method {method.name!r} ({kind}).{hint}"


def check_tolerance(value, name):
    """A tolerance: a number >= 0 or an array of them (torch tensors are accepted)."""
    import numpy as np

    from .._arrays import to_numpy

    if isinstance(value, bool):
        raise ValueError(f"`{name}` must be a non-negative number, got {value!r}.")
    if isinstance(value, numbers.Real):
        array = np.asarray(float(value))
    else:
        try:
            array = to_numpy(value, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"`{name}` must be a non-negative number, got {value!r}.") from None
    if array.size == 0 or not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError(f"`{name}` must be non-negative and finite, got {value!r}.")
    return value if not isinstance(value, numbers.Real) else float(value)


def options_doc(indent="        "):
    """The table as numpydoc-style entries (for ``odeint``'s docstring)."""
    lines = []
    for option in OPTIONS.values():
        default = "" if option.default is None else f", default {option.default!r}"
        lines.append(f"{indent}{option.name} : used by {option.used_by} methods{default}")
        lines.append(f"{indent}    {option.doc}")
    return "\n".join(lines)
