"""The checker convention shared by every week's exercise checks.

A check is called in a notebook as ``checks.<exercise>(student_fn)`` and

* prints a one-line pass (``✅ <exercise>: passed …``) when the answer is right;
* raises ``AssertionError`` with a *hint* when it is wrong — the hint says what is wrong
  (shape, a property that fails, which case breaks) but never reveals the expected value;
* prints ``⏳ <exercise>: not attempted yet …`` and returns without raising when the
  student's function still raises ``NotImplementedError`` (so an untouched student
  notebook runs top to bottom).

Checks compare with independent truth (closed forms, scipy, autograd, finite
differences), never with a copy of the solution.

Two things keep the feedback to that one line:

* NumPy's floating-point warnings (overflow, invalid value, …) and other runtime warnings
  (``RuntimeWarning``) raised while a check runs the student's code are silenced: the
  hint says what is wrong, a warning above it would only distract.
* Inside IPython (JupyterLab, Colab, a terminal IPython) importing the checks registers
  :func:`show_hint` for ``CheckFailure`` with ``get_ipython().set_custom_exc``, so a wrong
  answer shows ``❌ <exercise>: <hint>`` instead of a traceback through this module. The
  exception is still raised (the cell fails, nbval and pytest see an ``AssertionError``);
  **run** ``%tb`` **in a new cell to see the full traceback**, or set the environment
  variable ``COURSE_FULL_TRACEBACKS=1`` before starting the kernel to keep IPython's usual
  tracebacks. Outside IPython nothing changes.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .._arrays import to_numpy
from .._setup import env_flag

PASS = "✅"
TODO = "⏳"
FAIL = "❌"
#: Set to ``1`` to keep IPython's full tracebacks for failed checks (see ``env_flag``).
FULL_TRACEBACKS_ENV = "COURSE_FULL_TRACEBACKS"


class CheckFailure(AssertionError):
    """A wrong answer: the message is a hint for the student.

    ``exercise`` is the title of the check that raised it (set by :func:`exercise`).
    """

    exercise: str | None = None


def exercise(title: str) -> Callable:
    """Turn a function that raises ``CheckFailure`` on a wrong answer into a check.

    The decorated function receives the student's object(s) and returns an optional
    short string that is appended to the pass line (e.g. the measured order).
    """

    def decorate(check: Callable) -> Callable:
        @functools.wraps(check)
        def run(*args: Any, **kwargs: Any) -> None:
            try:
                with quiet_numpy():
                    detail = check(*args, **kwargs)
            except CheckFailure as failure:
                failure.exercise = title
                raise
            except NotImplementedError:
                print(
                    f"{TODO} {title}: not attempted yet — replace `raise NotImplementedError()` "
                    "with your code, then run this cell again."
                )
                return None
            suffix = f" ({detail})" if detail else ""
            print(f"{PASS} {title}: passed{suffix}.")
            return None

        run.title = title
        run.__wrapped_check__ = check
        return run

    return decorate


@contextlib.contextmanager
def quiet_numpy():
    """A context in which NumPy's floating-point warnings and ``RuntimeWarning`` are off.

    Every check runs in it: a wrong answer often overflows or divides by zero, and the
    hint explains that better than a warning printed above it would.
    """
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for name in ("ComplexWarning", "RankWarning"):
            category = getattr(getattr(np, "exceptions", np), name, None)
            if category is not None:
                warnings.simplefilter("ignore", category)
        yield


def expect(condition: bool, hint: str) -> None:
    """Raise ``CheckFailure(hint)`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailure(hint)


def call(student_fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call the student's function; turn an unexpected exception into a hint.

    ``NotImplementedError`` passes through (the exercise is not attempted yet).
    """
    name = getattr(student_fn, "__name__", "your function")
    try:
        return student_fn(*args, **kwargs)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - any student error becomes a hint
        raise CheckFailure(
            f"`{name}` raised {type(error).__name__}: {error}. Test it on a small input "
            "in a new cell and read the traceback."
        ) from error


def as_array(value: Any, name: str = "your result") -> np.ndarray:
    """Convert a student's result (NumPy, torch, list, float) to a float NumPy array."""
    if value is None:  # NumPy would make it a NaN, and the hint would be about the value
        raise CheckFailure(f"{name} is None: does your function `return` its result?")
    try:
        return to_numpy(value, dtype=float)
    except (TypeError, ValueError) as error:
        raise CheckFailure(
            f"{name} should be a number or an array of numbers, got {type(value).__name__}"
        ) from error


def expect_close(
    actual: Any,
    expected: Any,
    hint: str,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    name: str = "your result",
) -> None:
    """Check shape, finiteness and closeness; the message never shows ``expected``."""
    actual = as_array(actual, name)
    expected = np.asarray(expected, dtype=float)
    expect(
        actual.shape == expected.shape,
        f"{name} has shape {actual.shape}, but it should have shape {expected.shape}.",
    )
    expect(bool(np.all(np.isfinite(actual))), f"{name} contains NaN or inf. {hint}")
    expect(bool(np.allclose(actual, expected, rtol=rtol, atol=atol)), hint)


def hint_line(failure: CheckFailure) -> str:
    """The one line a notebook shows for a failed check: ``❌ <exercise>: <hint>``."""
    title = failure.exercise or "check"
    return f"{FAIL} {title}: {failure}"


def show_hint(shell, etype, value, tb, tb_offset=None) -> list[str]:
    """IPython's custom exception handler for ``CheckFailure``: show the hint, not a traceback.

    Registered by :func:`install_hint_handler`. It publishes an *error* output (so a
    notebook, nbclient and nbval still see the cell fail) whose traceback is the one hint
    line with a pointer to ``%tb``, and it records the exception as the last one, so that
    ``%tb`` in the next cell prints the full traceback.
    """
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb
    if sys.version_info >= (3, 12):
        sys.last_exc = value
    stb = [f"\x1b[31m{hint_line(value)}\x1b[0m  \x1b[2m(full traceback: run %tb)\x1b[0m"]
    show = getattr(shell, "_showtraceback", None)
    if show is None:  # not an IPython shell we know: print the line ourselves
        print(stb[0], file=sys.stderr)
    else:
        show(etype, value, stb)
    return stb


def _ours(exceptions: tuple) -> bool:
    """Whether a ``custom_exceptions`` tuple was registered by (some import of) this module."""
    return all(
        getattr(e, "__module__", None) == __name__ and e.__qualname__ == "CheckFailure"
        for e in exceptions
    )


def install_hint_handler() -> bool:
    """Inside IPython, show a failed check as its one-line hint (see :func:`show_hint`).

    Called when :mod:`course_utils.checks` is imported. Does nothing outside IPython
    (IPython is not even imported), when ``COURSE_FULL_TRACEBACKS`` is set, or when another
    custom exception handler is already registered (it is left alone). Returns whether
    the handler is installed.
    """
    if env_flag(FULL_TRACEBACKS_ENV):
        return False
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False
    if shell.custom_exceptions and not _ours(shell.custom_exceptions):
        return False
    shell.set_custom_exc((CheckFailure,), show_hint)
    return True
