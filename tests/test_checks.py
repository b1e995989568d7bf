"""The checker convention (course_utils.checks)."""

import numpy as np
import pytest

from course_utils import checks
from course_utils.checks import _core


def right(t, y0, lam):
    return y0 * np.exp(lam * np.asarray(t, dtype=float))


def test_pass_prints_one_line(capsys):
    assert checks.decay_solution(right) is None
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("✅ decay_solution: passed")


def test_not_attempted_prints_and_does_not_raise(capsys):
    def stub(t, y0, lam):
        raise NotImplementedError()

    checks.decay_solution(stub)
    assert "not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda t, y0, lam: y0 * np.exp(-lam * np.asarray(t)), "does not satisfy"),
        (lambda t, y0, lam: np.exp(lam * np.asarray(t)), "initial value"),
        (lambda t, y0, lam: y0 * float(np.exp(lam * np.asarray(t).ravel()[0])), "one value"),
        (lambda t, y0, lam: undefined_name, "NameError"),  # noqa: F821
    ],
)
def test_wrong_answer_raises_hint_without_the_answer(wrong, hint):
    with pytest.raises(AssertionError, match=hint) as info:
        checks.decay_solution(wrong)
    message = str(info.value)
    # the expected values (the exact solution at the checked times) never appear
    for t in (0.5, 1.0, 2.0):
        for y0, lam in [(1.0, -1.0), (2.5, -0.3)]:
            assert f"{right(t, y0, lam):.4f}"[:5] not in message


def test_expect_close_never_shows_expected():
    with pytest.raises(AssertionError) as info:
        _core.expect_close([1.0, 2.0], [1.2345678, 2.0], "second stage is off")
    assert "1.2345" not in str(info.value) and "second stage is off" in str(info.value)


def test_expect_close_reports_shape():
    with pytest.raises(AssertionError, match=r"shape \(2,\).*shape \(3,\)"):
        _core.expect_close([1.0, 2.0], [1.0, 2.0, 3.0], "hint")


def test_unknown_check_has_helpful_error():
    with pytest.raises(AttributeError, match="no check named"):
        checks.no_such_exercise  # noqa: B018


def test_every_week_module_exports_only_checks():
    for name in dir(checks):
        obj = getattr(checks, name)
        if hasattr(obj, "__wrapped_check__"):
            assert obj.title
