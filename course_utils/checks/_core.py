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
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

PASS = "✅"
TODO = "⏳"


class CheckFailure(AssertionError):
    """A wrong answer: the message is a hint for the student."""


def exercise(title: str) -> Callable:
    """Turn a function that raises ``CheckFailure`` on a wrong answer into a check.

    The decorated function receives the student's object(s) and returns an optional
    short string that is appended to the pass line (e.g. the measured order).
    """

    def decorate(check: Callable) -> Callable:
        @functools.wraps(check)
        def run(*args: Any, **kwargs: Any) -> None:
            try:
                detail = check(*args, **kwargs)
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
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=float)
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
