"""The checker contract of DESIGN.md, tested once for every week.

Each ``tests/test_checks_weekNN.py`` declares its answers as data and binds the shared
tests with one line::

    RIGHT = {"euler": [euler_loop, euler_lists]}            # name -> answers
    WRONG = [("euler", _euler_end_time, "start"), ...]       # (name, answer, hint regex)
    globals().update(contract_tests("week01", RIGHT, WRONG))

An *answer* is either one callable (the check takes one student function) or a tuple of
callables (the check takes several, e.g. week 5's ``value_ops(mul, tanh)``). The bound tests:

* ``test_right_answers_pass`` — every right answer prints one pass line;
* ``test_wrong_answers_get_a_hint`` — every wrong answer raises ``AssertionError`` whose
  message matches the hint regex and contains no long number (no expected value leaks);
* ``test_stubs_are_not_attempted`` — all-``NotImplementedError`` stubs print "not attempted";
* ``test_every_check_is_covered`` — the week's ``__all__`` equals the checks tested here,
  and each has at least ``min_wrong`` (default 3) plausible wrong answers.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from course_utils import checks

_LONG_NUMBER = re.compile(r"-?\d+\.\d{4,}")


def _as_args(answer: Any) -> tuple:
    return tuple(answer) if isinstance(answer, tuple) else (answer,)


def _stub(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError()


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
        getattr(checks, name)(*_as_args(answer))
        out = capsys.readouterr().out
        assert out.startswith(f"✅ {name}: passed") and out.count("\n") == 1, out

    @pytest.mark.parametrize("name, answer, hint", list(wrong), ids=wrong_ids)
    def test_wrong_answers_get_a_hint(name, answer, hint):
        with pytest.raises(AssertionError, match=hint) as info:
            getattr(checks, name)(*_as_args(answer))
        leaked = _LONG_NUMBER.findall(str(info.value))
        assert not leaked, f"the hint shows numbers {leaked}: it may reveal the answer"

    @pytest.mark.parametrize("name", sorted(right))
    def test_stubs_are_not_attempted(name, capsys):
        arity = len(_as_args(right[name][0]))
        getattr(checks, name)(*[_stub] * arity)
        assert "not attempted yet" in capsys.readouterr().out

    def test_every_check_is_covered():
        module = importlib.import_module(f"course_utils.checks.{week}")
        assert set(module.__all__) == set(right), "every check needs right answers here"
        counts = {name: sum(w[0] == name for w in wrong) for name in right}
        few = {name: n for name, n in counts.items() if n < min_wrong}
        assert not few, f"checks with fewer than {min_wrong} wrong answers: {few}"

    return {
        "test_right_answers_pass": test_right_answers_pass,
        "test_wrong_answers_get_a_hint": test_wrong_answers_get_a_hint,
        "test_stubs_are_not_attempted": test_stubs_are_not_attempted,
        "test_every_check_is_covered": test_every_check_is_covered,
    }
