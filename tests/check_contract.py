"""The checker contract of DESIGN.md, tested once for every week.

Each ``tests/test_checks_weekNN.py`` declares its answers as data and binds the shared
tests with one line::

    RIGHT = {"euler": [euler_loop, euler_lists]}            # name -> answers
    WRONG = [("euler", _euler_end_time, "start"), ...]       # (name, answer, hint regex)
    globals().update(contract_tests("week01", RIGHT, WRONG))

An *answer* is either one callable (the check takes one student function) or a tuple of
callables (the check takes several, e.g. week 5's ``value_ops(mul, tanh)``). The bound tests:

* ``test_right_answers_pass`` — every right answer prints one pass line and nothing else;
* ``test_wrong_answers_get_a_hint`` — every wrong answer raises ``CheckFailure`` (an
  ``AssertionError``) whose message matches the hint regex (``re.search``) and contains no
  long number (no expected value leaks), prints no pass line, and lets no NumPy warning
  (``RuntimeWarning``) through to the notebook;
* ``test_stubs_are_not_attempted`` — all-``NotImplementedError`` stubs print one
  "not attempted" line;
* ``test_every_check_is_covered`` — the week's ``__all__`` equals the checks tested here,
  each has at least ``min_wrong`` (default 3) plausible wrong answers, every wrong answer
  names a tested check, and all answers to one check pass the same number of functions.
"""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from course_utils import checks

#: A number with four or more decimals (``0.12345``, ``-3.14159``, ``.5000``, the mantissa
#: of ``1.2345e-06``): what an expected value looks like when a hint prints it. Write
#: tolerances in a hint as ``1e-9``, and round what you show to at most three decimals.
LONG_NUMBER = re.compile(r"-?(?<![\d.])\d*\.\d{4,}")


def _as_args(answer: Any) -> tuple:
    return tuple(answer) if isinstance(answer, tuple) else (answer,)


def _stub(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError()


def _run_recording_warnings(check: Callable, args: tuple) -> list[warnings.WarningMessage]:
    """Run ``check(*args)`` and return the runtime warnings that reached the caller."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check(*args)
    return [w for w in caught if issubclass(w.category, RuntimeWarning)]


def contract_tests(
    week: str,
    right: dict[str, Sequence[Any]],
    wrong: Sequence[tuple[str, Any, str]],
    *,
    min_wrong: int = 3,
) -> dict[str, Callable]:
    """Return the four contract tests for ``course_utils.checks.<week>`` as a namespace."""
    right_cases = [(name, answer) for name, answers in right.items() for answer in answers]
    right_ids = [f"{name}-{i}" for name, answers in right.items() for i in range(len(answers))]
    wrong_ids = [f"{name}-{hint}" for name, _, hint in wrong]

    @pytest.mark.parametrize("name, answer", right_cases, ids=right_ids)
    def test_right_answers_pass(name, answer, capsys):
        check = getattr(checks, name)
        leaked = _run_recording_warnings(check, _as_args(answer))
        out = capsys.readouterr().out
        assert out.startswith(f"✅ {check.title}: passed") and out.count("\n") == 1, out
        assert not leaked, f"the check let warnings through: {[str(w.message) for w in leaked]}"

    @pytest.mark.parametrize("name, answer, hint", list(wrong), ids=wrong_ids)
    def test_wrong_answers_get_a_hint(name, answer, hint, capsys):
        check = getattr(checks, name)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(AssertionError, match=hint) as info:
                check(*_as_args(answer))
        assert isinstance(info.value, checks.CheckFailure), (
            f"a wrong answer should raise CheckFailure with a hint, not "
            f"{type(info.value).__name__} (a bare `assert` in the check?)"
        )
        leaked = LONG_NUMBER.findall(str(info.value))
        assert not leaked, f"the hint shows numbers {leaked}: it may reveal the answer"
        assert "passed" not in capsys.readouterr().out
        runtime = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
        assert not runtime, f"warnings printed above the hint: {runtime}"

    @pytest.mark.parametrize("name", sorted(right))
    def test_stubs_are_not_attempted(name, capsys):
        check = getattr(checks, name)
        arity = len(_as_args(right[name][0]))
        check(*[_stub] * arity)
        out = capsys.readouterr().out
        assert out.startswith(f"⏳ {check.title}: not attempted yet"), out
        assert out.count("\n") == 1, out

    def test_every_check_is_covered():
        module = importlib.import_module(f"course_utils.checks.{week}")
        assert set(module.__all__) == set(right), "every check needs right answers here"
        empty = sorted(name for name, answers in right.items() if not answers)
        assert not empty, f"checks without a right answer: {empty}"
        unknown = sorted({w[0] for w in wrong} - set(right))
        assert not unknown, f"wrong answers for checks that are not in RIGHT: {unknown}"
        counts = {name: sum(w[0] == name for w in wrong) for name in right}
        few = {name: n for name, n in counts.items() if n < min_wrong}
        assert not few, f"checks with fewer than {min_wrong} wrong answers: {few}"
        arities = {}
        for name, answer in [*right_cases, *((w[0], w[1]) for w in wrong)]:
            arities.setdefault(name, set()).add(len(_as_args(answer)))
        mixed = {name: sorted(a) for name, a in arities.items() if len(a) > 1}
        assert not mixed, f"answers passing different numbers of functions: {mixed}"

    return {
        "test_right_answers_pass": test_right_answers_pass,
        "test_wrong_answers_get_a_hint": test_wrong_answers_get_a_hint,
        "test_stubs_are_not_attempted": test_stubs_are_not_attempted,
        "test_every_check_is_covered": test_every_check_is_covered,
    }
