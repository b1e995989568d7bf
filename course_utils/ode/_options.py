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


@dataclass(frozen=True)
class Option:
    """One solver option: which methods use it, its default, its check and its doc."""

    name: str
    used_by: str  # "all", "fixed", "adaptive", "implicit" or "theta"
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
        }[self.used_by]


OPTIONS = {
    option.name: option
    for option in (
        Option("step_size", "fixed", None, _positive,
               "Step size of fixed-step methods (required by them). The grid is "
               "t[0] + k*step_size; the last step is shortened to end exactly at t[-1]."),
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
    )
}


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
    if not method.adaptive and "step_size" not in values:
        raise ValueError(
            f"Method {method.name!r} is a fixed-step method and needs `{prefix}step_size` "
            "(e.g. step_size=0.01)."
        )
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
