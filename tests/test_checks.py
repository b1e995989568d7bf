"""The checker convention (course_utils.checks) and the week-0 check.

The week-0 check is held to the shared contract (``check_contract.py``): right answers
written three ways pass, and each wrong answer below reaches its own tailored hint. The
rest tests ``_core``: hints never show expected values, NumPy warnings are silenced, and
inside IPython a failed check shows one line while ``%tb`` still shows the traceback.
"""

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from check_contract import contract_tests

from course_utils import checks
from course_utils.checks import _core, week00


def right(t, y0, lam):
    return y0 * np.exp(lam * np.asarray(t, dtype=float))


def right_loop(t, y0, lam):
    """One math.exp per time, shaped like `t`: slower, just as right."""
    times = np.asarray(t, dtype=float)
    return np.array([y0 * math.exp(lam * s) for s in times.ravel()]).reshape(times.shape)


RIGHT = {
    "decay_solution": [
        right,
        right_loop,
        lambda t, y0, lam: y0 * np.exp(lam) ** t,  # (e^lam)^t is e^(lam t)
    ],
}

def _forgot_return(t, y0, lam):
    y0 * np.exp(lam * np.asarray(t))  # noqa: B018 - the classic slip: no `return`


WRONG = [
    ("decay_solution", lambda t, y0, lam: y0 * np.exp(-lam * t), "sign in the exponent"),
    ("decay_solution", lambda t, y0, lam: y0 * np.exp(t), "whatever lam"),
    ("decay_solution", lambda t, y0, lam: np.exp(lam * t), "whatever y0"),
    ("decay_solution", lambda t, y0, lam: y0 * math.exp(lam * t), r"`math\.exp`"),
    ("decay_solution", lambda t, y0, lam: lam * y0 * np.exp(lam * t), "initial value y0"),
    ("decay_solution", lambda t, y0, lam: y0 * (1 + lam * t), "does not satisfy"),
    ("decay_solution", lambda t, y0, lam: y0 * np.exp(lam * np.atleast_1d(t)),
     "single number"),
    ("decay_solution", lambda t, y0, lam: y0 * float(np.exp(lam * np.ravel(t)[0])),
     "one value per time"),
    ("decay_solution", lambda t, y0, lam: undefined_name, "NameError"),  # noqa: F821
    ("decay_solution", _forgot_return, "`return`"),
]

globals().update(contract_tests("week00", RIGHT, WRONG))


@pytest.mark.parametrize("wrong", [w[1] for w in WRONG])
def test_wrong_answer_hints_never_show_the_solution_values(wrong):
    with pytest.raises(AssertionError) as info:
        checks.decay_solution(wrong)
    for t in (0.5, 1.0, 2.0):
        for y0, lam in week00._CASES:
            assert f"{right(t, y0, lam):.3f}" not in str(info.value)


# ----------------------------------------------------------------------------- _core
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


def test_failure_names_its_exercise():
    with pytest.raises(checks.CheckFailure) as info:
        checks.decay_solution(lambda t, y0, lam: y0 * np.exp(-lam * t))
    assert info.value.exercise == "decay_solution"
    assert _core.hint_line(info.value).startswith("❌ decay_solution: Your function")


@_core.exercise("overflowing")
def _overflowing_check(student_fn):
    values = np.exp(np.asarray(student_fn(), dtype=float))  # overflow -> RuntimeWarning
    _core.expect(bool(np.all(np.isfinite(values))), "too large")


def test_numpy_warnings_are_silenced_inside_checks():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(checks.CheckFailure, match="too large"):
            _overflowing_check(lambda: np.array([1e6]) / np.array([0.0]))
        np.float64(1e308) * 10  # outside a check, NumPy warns as usual
    assert [w.category for w in caught] == [RuntimeWarning]


# ----------------------------------------------------------------------------- IPython
WRONG_CELL = "checks.decay_solution(lambda t, y0, lam: y0 * np.exp(-lam * t))"


@pytest.fixture
def shell(monkeypatch):
    """A fresh IPython shell, as a notebook kernel has (without the ZMQ front end)."""
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.delenv("COURSE_FULL_TRACEBACKS", raising=False)

    shell = InteractiveShell.instance(colors="nocolor")
    shell.set_custom_exc((), None)
    yield shell
    shell.set_custom_exc((), None)
    InteractiveShell.clear_instance()


def test_ipython_shows_the_hint_and_keeps_the_traceback_for_tb(shell, capsys):
    shell.run_cell("import numpy as np\nfrom course_utils import checks")
    assert _core.install_hint_handler()  # what the import did (course_utils was cached)
    capsys.readouterr()
    result = shell.run_cell(WRONG_CELL)
    assert isinstance(result.error_in_exec, checks.CheckFailure)  # the cell still fails
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert "❌ decay_solution: Your function satisfies y' = -lam*y" in text
    assert "%tb" in text
    assert "Traceback" not in text and "_core.py" not in text and "week00.py" not in text
    assert len([line for line in text.splitlines() if line.strip()]) == 1
    shell.run_line_magic("tb", "")
    full = capsys.readouterr()
    assert "week00.py" in full.out + full.err and "CheckFailure" in full.out + full.err


def test_ipython_other_errors_keep_their_traceback(shell, capsys):
    shell.run_cell("from course_utils import checks")
    _core.install_hint_handler()
    capsys.readouterr()
    shell.run_cell("assert 1 == 2, 'a plain assertion'")
    shown = capsys.readouterr()
    assert "Traceback" in shown.out + shown.err


def test_full_tracebacks_switch_and_foreign_handlers_are_respected(shell, monkeypatch):
    monkeypatch.setenv("COURSE_FULL_TRACEBACKS", "1")
    assert not _core.install_hint_handler()
    assert shell.custom_exceptions == ()
    monkeypatch.delenv("COURSE_FULL_TRACEBACKS")
    shell.set_custom_exc((KeyError,), lambda *args, **kwargs: None)
    assert not _core.install_hint_handler()  # someone else's handler is left alone
    assert shell.custom_exceptions == (KeyError,)


def test_outside_ipython_nothing_is_registered():
    code = ("import sys, course_utils.checks as c; "
            "print('IPython' in sys.modules, c._core.install_hint_handler())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]
